"""``raynas proxy variance``: run-to-run variance and curve smoothness of the chosen proxy."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.cli._proxy import add_target_args, target_from_args


def add_parser(tools: argparse._SubParsersAction) -> None:
    """Add the ``variance`` tool to ``raynas proxy``."""
    parser = tools.add_parser(
        "variance", help="repeat the proxy on one model with different seeds: variance and curve smoothness",
        description="Train one model --repeats times with a proxy candidate and different seeds (all at once), "
                    "then report the coefficient of variation (std/mean) of the final val_accuracy and the mean "
                    "smoothness of the validation curves (1 - decreases / absolute changes), against --max-cv and "
                    "--min-smoothness. Writes variance.json, curves.parquet and curves.png in "
                    "<workdir>/<name>/variance. Running it again resumes.")
    add_target_args(parser)
    parser.add_argument("--repeats", type=int, default=5, help="runs of the same model, at least 2 (default 5)")
    parser.add_argument("--candidate", metavar="NAME",
                        help="proxy candidate (default: the one `raynas proxy search` chose, else the first candidate)")
    parser.add_argument("--model", metavar="ID",
                        help="reference model of `raynas proxy select-models`, or `baseline` (default: the reference "
                             "model with the median full-training accuracy; without references the baseline)")
    parser.add_argument("--max-cv", type=float, default=0.05,
                        help="largest coefficient of variation that passes (default 0.05)")
    parser.add_argument("--min-smoothness", type=float, default=0.7,
                        help="smallest mean curve smoothness that passes (default 0.7)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; repeat i uses seed*1000+i (default 0)")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.proxy._variance import VarianceSettings, proxy_variance

    settings = VarianceSettings(repeats=args.repeats, candidate=args.candidate, model=args.model, max_cv=args.max_cv,
                                min_smoothness=args.min_smoothness, seed=args.seed)
    result = proxy_variance(target_from_args(args), settings, overwrite=args.overwrite)
    if args.format == "json":
        print_json(result.to_dict())
        return 0 if result.passed else 1
    cv_ok = result.cv == result.cv and result.cv <= settings.max_cv
    smooth_ok = result.smoothness == result.smoothness and result.smoothness >= settings.min_smoothness
    rows = [
        ["cv (std/mean)", result.cv, f"<= {settings.max_cv:g}", "pass" if cv_ok else "fail"],
        ["smoothness (mean)", result.smoothness, f">= {settings.min_smoothness:g}", "pass" if smooth_ok else "fail"],
        ["failure rate", result.failure_rate, "-", f"{result.failed}/{result.repeats} failed"],
        ["val_accuracy mean", result.mean, "-", "-"],
        ["val_accuracy std", result.std, "-", "-"],
    ]
    print(f"proxy {result.candidate}, model {result.model}, {result.repeats} repeats")
    print_table(rows, ["quantity", "value", "threshold", "result"])
    failures = [f"repeat {i}: {s} ({r})" for i, (s, r) in enumerate(zip(result.statuses, result.reasons))
                if s != "completed"]
    if failures:
        print()
        print("failed repeats: " + "; ".join(failures))
    if result.note:
        print()
        print(f"note: {result.note}")
    print()
    print(result.summary())
    print(f"results: {result.directory}/variance.json")
    for path in result.artifacts:
        print(f"         {path}")
    return 0 if result.passed else 1
