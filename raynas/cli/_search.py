"""``raynas search``, ``raynas resume`` and ``raynas validate``."""

from __future__ import annotations

import argparse
import logging
from importlib import resources
from pathlib import Path

from raynas.cli._output import add_format_flag, experiment_words, print_json, print_next, print_table, raynas_step
from raynas.experiment import DEFAULT_WORKDIR, find_experiment

log = logging.getLogger(__name__)

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

    validate = commands.add_parser("validate", help="check a search config, a workflow or a task file without running it",
                                   description="Check a file without running anything: a search config (`raynas "
                                               "search --config`), a workflow (`raynas run`) or a task file "
                                               "(proxy_tasks/*.yaml). The kind is told from the file's keys (or "
                                               "given with --kind); every section is checked, then the space, the "
                                               "controller, the trainer and the data are loaded.")
    validate.add_argument("file", nargs="?", help="the YAML file to check")
    validate.add_argument("--config", help="the file to check (the same as FILE)")
    validate.add_argument("--kind", choices=KINDS, help="read the file as this kind (default: told from its keys)")
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
    if workdir is not None or table:
        data = config.to_dict()
        if workdir is not None:
            data["workdir"] = workdir
        if table:
            data["benchmark"] = {**data["benchmark"], "table": table}
            data["space"] = None  # the table's declared space
        config = SearchConfig.from_dict(data, source=path)
    return config


def _run_search(args: argparse.Namespace) -> int:
    from raynas.cli._paths import check_folder

    config = _with_tracking(_load(args.config, args.workdir, args.table), args)
    # the config's own workdir too: a file, or a folder this user cannot write in, is refused before anything runs
    check_folder(config.workdir, flag="--workdir" if args.workdir is not None else "workdir")
    config.validate_deep()
    note = max_trials_note(args.config, config.max_trials)
    if note:
        log.warning(note)
    from raynas.tune import run_search

    what = f"task {config.task} ({config.variant})" if config.task else f"space {config.space}"
    log.info(f"search {config.name!r}: {what}, controller {config.controller.name}, "
             f"{config.max_trials} trials, {config.max_concurrent} in parallel; experiment dir {config.experiment_dir}")
    from raynas.stage2 import inline_stage2_callbacks

    result = run_search(config, overwrite=args.overwrite, callbacks=inline_stage2_callbacks(config))
    return _report(result, args.format)


#: What a real search needs, in trials (the note a search left at the default ``max_trials`` prints).
REAL_SEARCH_TRIALS = "5,000-10,000"


def max_trials_note(config_file: str | None, max_trials: int) -> str | None:
    """A note for a search whose file leaves ``max_trials`` at its default (the embedded dry run sets it): the
    default is a dry run's size, a real search needs thousands of trials. None when the file sets it."""
    if config_file is None:
        return None
    from raynas.config import read_yaml_file
    from raynas.errors import RaynasError

    try:
        data = read_yaml_file(Path(config_file))
    except RaynasError:
        return None  # the config loaded already: nothing to say here
    if isinstance(data, dict) and "max_trials" in data:
        return None
    return (f"note: max_trials is left at its default ({max_trials}), a dry run's size; a real search needs "
            f"thousands of trials (typically {REAL_SEARCH_TRIALS}): size it with `raynas estimate` and set max_trials")


def _run_resume(args: argparse.Namespace) -> int:
    from raynas.config import SearchConfig
    from raynas.tune import run_search

    paths = find_experiment(args.experiment, args.workdir)
    # the folder given is the experiment (a moved or copied one too), not the workdir its config.json names
    config = _with_tracking(SearchConfig.from_dict(paths.read_config(), source=str(paths.config)), args)
    config = config.located_at(paths.root)
    from raynas.stage2 import inline_stage2_callbacks

    result = run_search(config, resume=True, callbacks=inline_stage2_callbacks(config))
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


#: What `raynas validate` reads, and how it names each kind.
KINDS = ("search", "workflow", "task")
KIND_WORDS = {"search": "search config", "workflow": "workflow", "task": "task file"}


def _kind_keys() -> dict[str, list[str]]:
    """The top-level keys of each kind of file."""
    from dataclasses import fields

    from raynas.config import SearchConfig
    from raynas.tasks import TaskConfig
    from raynas.workflow import WorkflowConfig

    search = [f.name for f in fields(SearchConfig) if f.name not in ("timeout_s", "max_total_time_s")]
    return {"search": search + ["timeout", "max_total_time"],
            "workflow": [f.name for f in fields(WorkflowConfig) if f.name != "source"],
            "task": [f.name for f in fields(TaskConfig) if f.name != "source"]}


def file_kind(data: object) -> str | None:
    """The kind of file (``search``, ``workflow`` or ``task``) whose keys ``data``'s top-level keys match best (a
    key counts when it is one of the kind's keys or close to one, so a typo does not change the kind); ties go to
    the first of :data:`KINDS`. None when no key matches any kind."""
    import difflib

    if data is None:
        return None
    if not isinstance(data, dict):
        return None
    keys = [str(k) for k in data]
    scores = {}
    for kind, known in _kind_keys().items():
        scores[kind] = sum(1 for k in keys if k in known or difflib.get_close_matches(k, known, n=1, cutoff=0.8))
    best = max(KINDS, key=lambda kind: scores[kind])  # max keeps the first of equal scores
    return best if scores[best] else None


def _read_yaml(path: Path) -> object:
    """The parsed file (ConfigError when missing, not UTF-8, malformed, too deeply nested or empty)."""
    from raynas.config import read_yaml_file
    from raynas.errors import ConfigError

    if not path.is_file():
        raise ConfigError("FILE", str(path), "an existing YAML file", "check the path")
    return read_yaml_file(path, what="a search config, a workflow or a task file")


def _run_validate(args: argparse.Namespace) -> int:
    from raynas.errors import ConfigError, RaynasError

    if args.file and args.config and args.file != args.config:
        raise ConfigError("--config", args.config, f"no --config with FILE ({args.file})", "give the file once")
    name = args.file or args.config
    if not name:
        raise ConfigError("FILE", None, "a search config, a workflow or a task file to check",
                          "e.g. raynas validate workflow.yaml")
    path = Path(name)
    kind = args.kind
    if kind is None:
        kind = file_kind(_read_yaml(path))
        if kind is None:
            raise ConfigError("FILE", str(path), "a search config, a workflow or a task file (none of their keys "
                              f"found: {KIND_WORDS['search']} keys such as max_trials, workflow keys such as steps "
                              "and search, task keys such as family and variants)",
                              "check that it is the right file, or give --kind search|workflow|task")
    try:
        summary = _VALIDATORS[kind](path)
    except RaynasError as exc:
        if args.kind:
            raise
        raise RaynasError(f"{exc} [{path} was read as a {KIND_WORDS[kind]}; --kind reads it as another kind]") from None
    if args.format == "json":
        print_json({"valid": True, "kind": kind, **summary})
    else:
        print(f"{path}: valid {KIND_WORDS[kind]}")
        print_table([[k, v] for k, v in summary["config"].items()], ["setting", "value"])
    return 0


def _validate_search(path: Path) -> dict:
    from raynas.config import load_search_config

    config = load_search_config(path)
    config.validate_deep()
    space = config.build_space()
    return {"config": config.to_dict(), "space_size": str(space.size)}


def _validate_workflow(path: Path) -> dict:
    from raynas.workflow import load_workflow

    workflow = load_workflow(path)  # every section, the search section as a SearchConfig
    search = workflow.search_config()
    search.validate_deep()
    space = search.build_space()
    config = {"name": workflow.name, "task": workflow.task, "steps": ", ".join(workflow.steps),
              **workflow.resources.to_dict(), "search": _brief(search), "top_k": workflow.top_k,
              "controls": workflow.controls, "seed": workflow.seed, "mlflow": workflow.tracking.enabled}
    return {"config": config, "search": search.to_dict(), "space_size": str(space.size)}


def _validate_task(path: Path) -> dict:
    from raynas.config import SearchConfig
    from raynas.tasks import load_task

    task = load_task(path)
    search = SearchConfig(name="validate", task=str(task.source), gpus_per_trial=0)  # the family, trainer and data
    search.validate_deep()
    space = search.build_space()
    config = {"name": task.name, "family": task.family, "dataset": task.dataset, "trainer": task.trainer,
              "proxy epochs": task.variant("proxy").epochs, "full epochs": task.variant("full").epochs,
              "space size": str(space.size)}
    return {"config": config, "space_size": str(space.size)}


def _brief(search) -> str:
    return (f"{search.max_trials} trials, controller {search.controller.name}, {search.max_concurrent} at once, "
            f"scheduler {search.scheduler.name}")


_VALIDATORS = {"search": _validate_search, "workflow": _validate_workflow, "task": _validate_task}
