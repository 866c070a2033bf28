"""``raynas proxy variance``: run-to-run noise of the chosen proxy against the spread it must rank, and curve
smoothness."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.cli._proxy_target import add_target_args, target_from_args, workspace_lock
from raynas.trials import TrialStatus


def add_parser(tools: argparse._SubParsersAction) -> None:
    """Add the ``variance`` tool to ``raynas proxy``."""
    parser = tools.add_parser(
        "variance", help="repeat the proxy on one model with different seeds: is its noise small against the "
                         "spread of the models it must rank?",
        description="Train one model --repeats times with a proxy candidate and different seeds (all at once). "
                    "The run-to-run sd of the final val_accuracy is compared with the spread (sd) of the better "
                    "half of the reference models under the same proxy (from `raynas proxy search`; else their "
                    "full-training accuracies): separation = spread / sd, less one run's noise, with an interval. "
                    "pass: separation >= --pass-separation and its low end >= --fail-separation; fail: separation "
                    "< --fail-separation and its high end < --pass-separation; warn in between; inconclusive when "
                    "the interval spans both or there are too few repeats or reference models. Also reports the "
                    "mean smoothness of the validation curves (1 - decreases / absolute changes) against "
                    "--min-smoothness and the coefficient of variation (information). Writes variance.json, "
                    "curves.parquet and curves.png in <workdir>/<name>/variance. Running it again resumes "
                    "(finished repeats are reused, the verdict is computed again). Exit status 1 when the verdict "
                    "is fail or the smoothness misses its bar.")
    add_target_args(parser)
    parser.add_argument("--repeats", type=int, default=5, help="runs of the same model, at least 2 (default 5)")
    parser.add_argument("--candidate", metavar="NAME",
                        help="proxy candidate (default: the one `raynas proxy search` chose, else the only one; when "
                             "no candidate passed, nothing is measured unless you name one here)")
    parser.add_argument("--model", metavar="ID",
                        help="reference model of `raynas proxy select-models`, or `baseline` (default: the reference "
                             "model with the median full-training accuracy; without references the baseline)")
    parser.add_argument("--pass-separation", type=float, default=2.0,
                        help="separation (spread of the top reference models / run-to-run sd) that passes "
                             "(default 2: one run's expected Kendall tau among them is 0.70)")
    parser.add_argument("--fail-separation", type=float, default=1.0,
                        help="separation below which the proxy fails (default 1: noise as large as the spread, "
                             "expected tau 0.50)")
    parser.add_argument("--level", type=float, default=0.8,
                        help="confidence level of the separation's interval (default 0.8: 10%% on each side)")
    parser.add_argument("--min-smoothness", type=float, default=0.7,
                        help="smallest mean curve smoothness that passes (default 0.7)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; repeat i uses seed*1000+i (default 0)")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _fmt(value: float, digits: str = ".3g") -> str:
    return "-" if value != value else format(value, digits)


def _run(args: argparse.Namespace) -> int:
    from raynas.proxy import VarianceSettings, Verdict, proxy_variance

    settings = VarianceSettings(repeats=args.repeats, candidate=args.candidate, model=args.model,
                                pass_separation=args.pass_separation, fail_separation=args.fail_separation,
                                level=args.level, min_smoothness=args.min_smoothness, seed=args.seed)
    with workspace_lock(target_from_args(args)) as target:
        result = proxy_variance(target, settings, overwrite=args.overwrite)
    smooth_ok = result.smoothness == result.smoothness and result.smoothness >= settings.min_smoothness
    code = 1 if result.verdict == Verdict.FAIL.value or not smooth_ok else 0
    if args.format == "json":
        print_json(result.to_dict())
        return code
    sep = result.separation
    interval = f"{settings.level:.0%} interval"
    rows = [
        ["run-to-run sd", _fmt(sep.noise_sd), f"{interval} {_fmt(sep.noise_low)} to {_fmt(sep.noise_high)}",
         f"{sep.repeats} repeats"],
        [f"spread of top {sep.models} reference models (sd)", _fmt(sep.spread), f"basis: {sep.basis}", "-"],
        ["separation", _fmt(sep.ratio, ".2f"), f"{interval} {_fmt(sep.low, '.2f')} to {_fmt(sep.high, '.2f')}; "
         f"pass >= {settings.pass_separation:g}, fail < {settings.fail_separation:g}", result.verdict],
        ["smoothness (mean)", _fmt(result.smoothness), f">= {settings.min_smoothness:g}",
         "pass" if smooth_ok else "fail"],
        ["failure rate", _fmt(result.failure_rate), "-", f"{result.failed}/{result.repeats} failed"],
        ["val_accuracy mean", _fmt(result.mean, ".4g"), "-", "-"],
        ["cv (std/mean)", _fmt(result.cv), "information only", "-"],
    ]
    print(f"proxy {result.candidate}, model {result.model}, {result.repeats} repeats")
    print_table(rows, ["quantity", "value", "bars", "result"])
    failures = [f"repeat {i}: {s} ({r})" for i, (s, r) in enumerate(zip(result.statuses, result.reasons))
                if s != TrialStatus.COMPLETED]
    if failures:
        print()
        print("failed repeats: " + "; ".join(failures))
    print()
    print(f"verdict: {result.verdict}: {sep.reason}")
    if result.note and result.note != sep.reason:
        print()
        print(f"note: {result.note}")
    print()
    print(result.summary())
    print(f"results: {result.directory}/variance.json")
    for path in result.artifacts:
        print(f"         {path}")
    return code
