"""``raynas baseline``: full-train the baseline architecture and keep its validation curve."""

from __future__ import annotations

import argparse
import sys

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.cli._proxy_target import add_target_args, target_from_args, workspace_lock


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``baseline`` subcommand."""
    parser = commands.add_parser(
        "baseline", help="full-train the baseline architecture and keep its validation curve",
        description="Full training of the task's baseline architecture (the task's `baseline:`, else its family's "
                    "BASELINE; on the NAS-Bench-201 table its ResNet-like cell) as one Ray Tune job, logged to "
                    "MLflow as stage `baseline`. Writes baseline.json, curve.parquet and curve.png in "
                    "<workdir>/<name>/baseline. Running it again resumes (a finished run is not trained again).")
    add_target_args(parser)
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.proxy import baseline

    with workspace_lock(target_from_args(args)) as target:
        result = baseline(target, overwrite=args.overwrite, seed=args.seed)
    if args.format == "json":
        print_json(result.to_dict())
    else:
        print_table([["status", result.status], ["val_accuracy", result.accuracy], ["epochs", result.epochs],
                     ["cost (s)", result.cost_s]], ["quantity", "value"])
        print()
        print(result.summary())
        print(f"curve: {result.curve}")
        print(f"plot: {result.png}")
    if not result.completed:
        print(f"raynas: error: {result.summary()}", file=sys.stderr)
        return 1
    return 0
