"""``raynas benchmark TABLE``: controllers against a declared tabular benchmark, offline (no Ray)."""

from __future__ import annotations

import argparse
import logging

import yaml

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.errors import ConfigError

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("benchmark", help="simulate controllers on a tabular benchmark (no Ray)",
                                 description="Run a controller against a benchmark table without Ray, "
                                             "charging simulated proxy time, and report the picked "
                                             "architectures' full-training validation accuracy (NAS-Bench-201: "
                                             "200 epochs).")
    parser.add_argument("benchmark", metavar="TABLE",
                        help="a bundled table (nasbench201) or a table's declaration YAML (see docs/benchmarks.md, "
                             "section 'Your own benchmark table')")
    parser.add_argument("--controller", action="append",
                        help="controller name (repeat to compare several; default: random, evolution, rl and "
                             "the default controller)")
    parser.add_argument("--budget-seconds", type=float, default=12000.0,
                        help="simulated proxy seconds per run (default 12000, the published protocol)")
    parser.add_argument("--seeds", type=int, default=100, help="independent runs (default 100)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--top-k", type=int, default=10, help="stage-2 size: distinct top proxy archs (default 10)")
    parser.add_argument("--table", help="a CSV/Parquet file with the same columns as the declared table "
                                        "(default: the declaration's own, for nasbench201 the bundled CIFAR-10 one)")
    parser.add_argument("--selection", choices=("corrected", "proxy"), default="corrected",
                        help="how stage 2 chooses its set: 'corrected' (default: half by proxy rank, half by the full "
                             "accuracy predicted from fully trained reference models, when that beats the proxy on "
                             "them) or 'proxy' (the top-k by proxy score); the top-k by proxy is always reported too")
    parser.add_argument("--reference-models", type=int, default=10,
                        help="fully trained reference models per run for --selection corrected (default 10, what "
                             "proxy design trains): random table rows, not charged to the budget")
    parser.add_argument("--objectives", metavar="COLUMN:MODE,...",
                        help="multi-objective: search for the Pareto front of these columns, e.g. "
                             "accuracy:max,params:min (accuracy: the proxy column; or a metrics or cost column the "
                             "table declares) and report each controller's hypervolume against the table's true "
                             "front (default controllers: random, nsga2, mo-surrogate)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="controller option, e.g. --option population_size=10 (YAML value)")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _parse_options(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("--option", item, "KEY=VALUE", "e.g. --option sample_size=3")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _mean_text(mean: float, std: float, nans: int) -> str:
    """``mean +- std``, with how many runs the average leaves out (their pick's full accuracy is NaN)."""
    text = "n/a" if mean != mean else f"{mean:.3f} +- {std:.3f}"
    return f"{text} ({nans} NaN)" if nans else text


def _run(args: argparse.Namespace) -> int:
    from raynas.benchmarks import load_table, simulate
    from raynas.controllers import DEFAULT_CONTROLLER

    if args.seeds < 1:
        raise ConfigError("--seeds", args.seeds, "an integer >= 1")
    if not args.budget_seconds > 0:
        raise ConfigError("--budget-seconds", args.budget_seconds, "a positive number of seconds")
    if args.top_k < 1:
        raise ConfigError("--top-k", args.top_k, "an integer >= 1")
    if args.reference_models < 0:
        raise ConfigError("--reference-models", args.reference_models, "an integer >= 0",
                          "e.g. --reference-models 10 (0: stage 2 always falls back to proxy rank)")
    options = _parse_options(args.option)
    from raynas.cli._benchmark_mo import check_options, run_multiobjective

    if args.objectives is not None:  # multi-objective: hypervolume of the front found (raynas/cli/_benchmark_mo.py)
        return run_multiobjective(args, options)
    names = args.controller or list(dict.fromkeys(["random", "evolution", "rl", DEFAULT_CONTROLLER]))
    accepted = check_options(names, options)
    table = load_table(args.benchmark, data=args.table)
    summaries = []
    for name in names:
        own = {k: v for k, v in options.items() if k in accepted[name]}
        if args.format == "text":
            log.info(f"simulating {name} x {args.seeds} seeds ...")
        summaries.append(simulate(table, controller=name, budget_seconds=args.budget_seconds, seeds=args.seeds,
                                  options=own, top_k=args.top_k, first_seed=args.first_seed,
                                  selection=args.selection, reference_models=args.reference_models))
    if args.format == "json":
        print_json([s.to_dict() for s in summaries])
        return 0
    first = summaries[0]
    declared = table.declaration
    print(f"{declared.label} ({first.table_source}), budget {args.budget_seconds:g} simulated s, {args.seeds} seeds; "
          f"table optimum ({declared.full_label()}) {first.optimum_full_accuracy:.4f}")
    corrected = args.selection == "corrected"
    rows = [[s.controller + (" (default)" if s.controller == DEFAULT_CONTROLLER else ""),
             _mean_text(s.stage1_mean, s.stage1_std, s.stage1_nan),
             _mean_text(s.stage2_proxy_mean, s.stage2_proxy_std, s.stage2_proxy_nan)]
            + ([_mean_text(s.stage2_mean, s.stage2_std, s.stage2_nan)] if corrected else [])
            + [f"{s.mean_evaluations:.1f}", _mean_text(first.optimum_full_accuracy - s.stage2_mean, 0.0, 0).split(" +- ")[0]]
            for s in summaries]
    print_table(rows, ["controller", f"stage-1 pick ({declared.full_label(short=True)})",
                       f"after stage 2 (top {args.top_k} by proxy)"]
                + ([f"after stage 2 ({args.top_k} chosen, corrected)"] if corrected else []) + ["evaluations", "gap to optimum"])
    for summary in summaries:  # how each stage-2 set was chosen; NaN full accuracies are left out of the averages
        print(f"stage 2: {summary.selection_note()}")
        note = summary.nan_note()
        if note:
            print(f"note: {note}")
    return 0
