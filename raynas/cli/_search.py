"""``raynas search``, ``raynas resume`` and ``raynas validate``."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from raynas.cli._output import add_format_flag, experiment_words, print_json, print_next, print_table, raynas_step
from raynas.experiment import DEFAULT_WORKDIR, find_experiment

EMBEDDED_DEFAULT = "nasbench201_dryrun.yaml"


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="run a stage-1 architecture search on Ray Tune",
                                 description="Run a stage-1 search from a YAML config. Without --config, runs the "
                                             "embedded default: a CPU dry run on the bundled NAS-Bench-201 table.")
    search.add_argument("--config", help="search config (YAML); default: the embedded NAS-Bench-201 dry run")
    search.add_argument("--overwrite", action="store_true", help="replace an existing experiment of the same name")
    search.add_argument("--workdir", help="override the config's workdir")
    search.add_argument("--table", help="tabular spaces: a table's declaration YAML, or a CSV/Parquet table with "
                                        "the NAS-Bench-201 columns, instead of the bundled one (overrides "
                                        "benchmark.table; the space is the table's)")
    _add_tracking_flags(search)
    add_format_flag(search)
    search.set_defaults(handler=_run_search)

    resume = commands.add_parser("resume", help="continue an interrupted search where it stopped")
    resume.add_argument("experiment", help="experiment name (under --workdir) or directory")
    resume.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    _add_tracking_flags(resume)
    add_format_flag(resume)
    resume.set_defaults(handler=_run_resume)

    validate = commands.add_parser("validate", help="check a search config without running it")
    validate.add_argument("--config", required=True, help="search config (YAML)")
    add_format_flag(validate)
    validate.set_defaults(handler=_run_validate)


def _add_tracking_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (overrides the config's mlflow.tracking_uri and "
                                               "MLFLOW_TRACKING_URI; default: SQLite store in the work directory)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow (the trial store is kept)")


def _with_tracking(config, args: argparse.Namespace):
    """The config with the command line's MLflow flags applied (saved with the experiment, so resume keeps them)."""
    from raynas.config import SearchConfig

    if not args.tracking_uri and not args.no_mlflow:
        return config
    data = config.to_dict()
    mlflow = dict(data["mlflow"])
    if args.tracking_uri:
        mlflow["tracking_uri"] = args.tracking_uri
    if args.no_mlflow:
        mlflow["enabled"] = False
    data["mlflow"] = mlflow
    return SearchConfig.from_dict(data)


def _load(path: str | None, workdir: str | None = None, table: str | None = None):
    from raynas.config import SearchConfig, load_search_config

    if path is None:
        ref = resources.files("raynas") / "examples" / EMBEDDED_DEFAULT
        with resources.as_file(ref) as real:
            config = load_search_config(real)
    else:
        config = load_search_config(path)
    if workdir or table:
        data = config.to_dict()
        if workdir:
            data["workdir"] = workdir
        if table:
            data["benchmark"] = {**data["benchmark"], "table": table}
            data["space"] = None  # the table's declared space
        config = SearchConfig.from_dict(data, source=path)
    return config


def _run_search(args: argparse.Namespace) -> int:
    config = _with_tracking(_load(args.config, args.workdir, args.table), args)
    config.validate_deep()
    from raynas.tune import run_search

    what = f"task {config.task} ({config.variant})" if config.task else f"space {config.space}"
    print(f"[raynas] search {config.name!r}: {what}, controller {config.controller.name}, "
          f"{config.max_trials} trials, {config.max_concurrent} in parallel; experiment dir {config.experiment_dir}")
    result = run_search(config, overwrite=args.overwrite)
    return _report(result, args.format)


def _run_resume(args: argparse.Namespace) -> int:
    from raynas.config import SearchConfig
    from raynas.tune import run_search

    paths = find_experiment(args.experiment, args.workdir)
    config = _with_tracking(SearchConfig.from_dict(paths.read_config(), source=str(paths.config)), args)
    result = run_search(config, resume=True)
    return _report(result, args.format)


def _report(result, fmt: str) -> int:
    if fmt == "json":
        print_json(result.to_dict())
    else:
        print(result.status_line())
        print_next(_next_steps(result))
    return {"cancelled": 3, "interrupted": 130}.get(result.status, 0)


def _next_steps(result) -> list[tuple[str, str]]:
    """What to run after a search that ended with ``result`` (commands spelled to work in a fresh shell)."""
    experiment = experiment_words(result.experiment_dir)
    if result.status in ("interrupted", "timed_out"):
        return [(raynas_step("resume", experiment), "continue the search where it stopped")]
    if result.status in ("completed", "stopped", "exhausted") and result.trials:
        return [(raynas_step("train", experiment), "stage 2: full-train the top trials"),
                (raynas_step("analyze", experiment), "the report: search curve, decisions, suggestions")]
    return []


def _run_validate(args: argparse.Namespace) -> int:
    config = _load(args.config)
    config.validate_deep()
    space = config.build_space()
    if args.format == "json":
        print_json({"valid": True, "config": config.to_dict(), "space_size": str(space.size)})
    else:
        print(f"{Path(args.config)}: valid")
        print_table([[k, v] for k, v in config.to_dict().items()], ["setting", "value"])
    return 0
