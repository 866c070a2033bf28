"""``raynas run [WORKFLOW.yaml]``: the whole workflow, resumable (finished steps are skipped)."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from raynas.cli._output import add_format_flag, print_json


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="the whole workflow: split, baseline, proxy design, checks, estimate, search, "
                                          "stage 2, analysis",
                              description="Run every step of a workflow file in order, skipping steps whose results "
                                          "exist (run it again to resume). Without a file: the bundled CPU workflow "
                                          "on the MNIST-1D task (the package's examples/mnist1d_workflow.yaml).")
    run.add_argument("workflow", nargs="?", help="workflow YAML (default: the bundled MNIST-1D workflow)")
    run.add_argument("--workdir", help="override the workflow's workdir")
    run.add_argument("--steps", help="comma-separated steps to run (default: the workflow's)")
    add_format_flag(run)
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.cli._paths import check_folder
    from raynas.workflow import load_workflow, run_workflow

    config = load_workflow(args.workflow)
    if args.workdir is not None:
        config = replace(config, workdir=args.workdir)
    # the workflow's own workdir too: a file, or a folder this user cannot write in, is refused before any step
    check_folder(config.workdir, flag="--workdir" if args.workdir is not None else "workdir")
    if args.steps:
        config = replace(config, steps=tuple(s.strip() for s in args.steps.split(",") if s.strip()))
    result = run_workflow(config)
    if args.format == "json":
        print_json(asdict(result))
        return 0
    print(f"workflow {result.name!r} finished in {result.wall_seconds:.0f} s")
    for step, outcome in result.steps.items():
        print(f"  {step:9s} {outcome}")
    if result.report:
        print(f"report: {result.report}")
    if result.ui_command:
        print(f"MLflow UI: {result.ui_command}")
    return 0
