"""``raynas doctor EXPERIMENT [--repair]``: check every file of an experiment; set aside and rebuild what is damaged."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json
from raynas.experiment import DEFAULT_WORKDIR, find_experiment


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor", help="check every file of an experiment; --repair sets damaged ones aside and rebuilds them",
        description="Check every file of an experiment (trial store parts and chunks, config.json, status.json, "
                    "runs.json, failure_budget.json, auto_stop.json, progress.json, uid, a lock, Ray Tune's tune/ "
                    "folder, the MLflow run ledgers): one line per file, ok / damaged / missing, and what can be "
                    "rebuilt. --repair moves damaged store files into trials/damaged/ (data is never deleted) and "
                    "rebuilds what the trial store can rebuild. Exit 0 when the experiment is healthy (after the "
                    "repair), 1 when something is still damaged.")
    doctor.add_argument("experiment", help="experiment name (under --workdir) or directory")
    doctor.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    doctor.add_argument("--repair", action="store_true",
                        help="set damaged files aside (never deleted) and rebuild status.json, runs.json, "
                             "failure_budget.json and uid from the trial store; remove a stale lock")
    add_format_flag(doctor)
    doctor.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.doctor import check_experiment, repair

    paths = find_experiment(args.experiment, args.workdir)
    report = check_experiment(paths.root)
    if args.repair:
        report = repair(report)
    if args.format == "json":
        print_json(report.to_dict())
    else:
        for check in report.files:
            print(check.line())
        bad = [f for f in report.files if f.state.bad()]
        if report.healthy:
            print(f"{paths.root}: healthy" + (" after the repair" if args.repair and any(f.repaired for f in report.files)
                                              else ""))
        else:
            hint = "" if args.repair else "; `raynas doctor --repair` sets damaged files aside and rebuilds what it can"
            print(f"{paths.root}: {len(bad)} file(s) damaged or missing{hint}")
    return 0 if report.healthy else 1
