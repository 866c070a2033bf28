"""``raynas trials EXPERIMENT``: the trial store as a table, or exported to CSV/JSON/Parquet."""

from __future__ import annotations

import argparse
import json
import sys

from raynas._log import logger
from raynas.cli._output import print_json, print_table
from raynas.errors import ConfigError, DamagedFileError
from raynas.experiment import DEFAULT_WORKDIR, ExperimentPaths, find_experiment


def register(commands: argparse._SubParsersAction) -> None:
    trials = commands.add_parser("trials", help="show or export the trials of an experiment",
                                 description="Print the trial store of an experiment, or export it.")
    trials.add_argument("experiment", help="experiment name (under --workdir) or directory")
    trials.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    trials.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table",
                        help="table (default), or an export format")
    trials.add_argument("--output", "-o", help="file to write (required for parquet; default stdout)")
    trials.add_argument("--sort", choices=["number", "reward"], default="number", help="row order (default number)")
    trials.add_argument("--limit", type=int, help="show at most this many rows (table format)")
    trials.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.cli._paths import check_output_file
    from raynas.tracking import TrialStore

    if args.output is not None:  # a folder, or a path under a file, is refused before anything is read
        args.output = str(check_output_file(args.output))
    paths = find_experiment(args.experiment, args.workdir)
    store = TrialStore(paths.trials)
    frame = store.read_pandas()
    if args.sort == "reward" and len(frame):
        mode = _mode(paths)
        frame = frame.sort_values("reward", ascending=(mode == "min"), na_position="last")
    if args.format == "parquet":
        if not args.output:
            raise ConfigError("--output", None, "a file path for --format parquet", "add -o trials.parquet")
        frame.to_parquet(args.output, index=False)
        print(f"wrote {len(frame)} trials to {args.output}", file=sys.stderr)
        return 0
    if args.format == "csv":
        text = frame.to_csv(index=False)
        _write(text, args.output)
        return 0
    if args.format == "json":
        records = json.loads(frame.to_json(orient="records"))
        for record in records:
            for key in ("arch", "metrics", "history", "resources"):
                if isinstance(record.get(key), str):
                    record[key] = json.loads(record[key])
        if args.output:
            with open(args.output, "w") as handle:
                print_json(records, handle)
        else:
            print_json(records)
        return 0
    shown = frame if args.limit is None else frame.head(args.limit)
    rows = [[r.number, r.trial_id, r.status, r.reward, r.duration_s, _arch_short(r.arch), r.failure_reason]
            for r in shown.itertuples()]
    print_table(rows, ["#", "trial_id", "status", "reward", "seconds", "arch", "failure_reason"])
    print(f"{len(frame)} trials in {paths.trials}", file=sys.stderr)
    return 0


def _mode(paths: ExperimentPaths) -> str:
    """The search's mode from config.json ("max" when it is missing or damaged: said as a warning)."""
    try:
        return str(paths.read_config().get("mode", "max"))
    except DamagedFileError as exc:
        logger().warning("%s; sorting as mode max", exc)
        return "max"


def _arch_short(arch_json: str, limit: int = 60) -> str:
    text = arch_json.replace('"', "").replace(" ", "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _write(text: str, output: str | None) -> None:
    if output:
        with open(output, "w") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
