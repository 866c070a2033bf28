"""``raynas analyze EXPERIMENT``: the analysis report (HTML and Markdown) of what a search saved."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json
from raynas.experiment import DEFAULT_WORKDIR, find_experiment
from raynas.trials import TrialStatus


def register(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser(
        "analyze", help="report on an experiment: search curve, per-decision statistics, Pareto fronts, stage 2",
        description="Analyse what a search saved and write <experiment>/report/report.html (self-contained, plots "
                    "embedded) and report.md (plots as PNG files next to it): the search curve, the top trials, "
                    "per-option statistics and decision importance, Pareto fronts of reward vs measured cost, "
                    "failure reasons, stage-1 vs stage-2 correlation, and suggestions for the next search space.")
    analyze.add_argument("experiment", help="experiment name (under --workdir) or directory")
    analyze.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    analyze.add_argument("--top-k", type=int, default=10, help="trials in the top-trials table (default 10)")
    analyze.add_argument("--output", "-o", help="directory for the report (default <experiment>/report)")
    add_format_flag(analyze)
    analyze.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.analysis import analyze
    from raynas.cli._paths import check_output_folder

    output = check_output_folder(args.output)  # a file, or a path under one, is refused before anything is read
    paths = find_experiment(args.experiment, args.workdir)
    report = analyze(paths, top_k=args.top_k, output=None if output is None else str(output))
    if args.format == "json":
        print_json(report.to_dict())
        return 0
    counts = report.status_counts
    parts = [f"{counts.get(s, 0)} {s}" for s in TrialStatus if counts.get(s)]
    best = report.best
    best_text = f"; best reward {best['reward']:.6g} (trial #{best['number']}, {best['trial_id']})" if best else ""
    print(f"analysed {report.n_trials} trials of {report.name!r} ({', '.join(parts) or 'none finished'}){best_text}")
    for flag in report.flags:
        print(f"warning: {flag}")
    print(f"report: {report.html}")
    print(f"markdown: {report.markdown}")
    return 0
