"""``WORKFLOW.yaml``: the whole two-stage workflow as one file (``raynas run``).

A workflow file is validated whole when it is loaded (or a :class:`WorkflowConfig` built): every section, the
``search:`` section as the :class:`raynas.config.SearchConfig` the search step runs, ``select_models``,
``proxy_search``, the variance and check settings, stage 2's and ``mlflow``. A typo in any of them is a ConfigError
naming the section and the key (``search.max_trails ... did you mean 'max_trials'``) before any step runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from raynas._parse import as_int, as_mapping, as_str, reject_unknown
from raynas.config import Resources, check_name
from raynas.errors import ConfigError

#: The workflow `raynas run` runs without a file (`make demo`): MNIST-1D on CPU, in raynas/examples/.
BUNDLED_WORKFLOW = "mnist1d_workflow.yaml"
#: The steps in the order they run.
STEPS = ("split", "baseline", "proxy", "check", "estimate", "search", "stage2", "analyze", "export")
#: Keys of the search section the workflow sets itself (at its top level).
WORKFLOW_SETS = ("name", "task", "workdir", "space", "mlflow")
#: max_trials of the search when its section does not set it.
DEFAULT_MAX_TRIALS = 100

T = TypeVar("T")


@dataclass(frozen=True)
class WorkflowConfig:
    """Every step's settings. ``search`` holds search-config keys (``raynas search --config``); name, task and
    workdir come from the workflow. ``on_failed_check``: ``stop`` ends the workflow when the checklist has a
    failure, ``continue`` goes on (a dry run that shows every step). ``seed`` seeds every step (reference models,
    proxy search, the search's controller and trials, stage 2) unless a section sets its own; ``controls``: lower-
    ranked stage-1 trials stage 2 also full-trains, so that a real search bias can be seen when the top-k is tied.

    ``max_concurrent``, ``cpus_per_trial``, ``gpus_per_trial`` and ``device`` are every step's
    :class:`raynas.config.Resources` (the search section may set its own). Construction validates every section
    (see the module docstring)."""

    name: str
    task: str | None = None
    workdir: str = "raynas-work"
    steps: tuple[str, ...] = STEPS
    max_concurrent: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    device: str = "auto"
    select_models: Mapping[str, Any] = field(default_factory=dict)
    proxy_search: Mapping[str, Any] = field(default_factory=dict)
    variance_repeats: int = 5
    on_failed_check: str = "stop"
    trials_to_converge: int | None = None
    search: Mapping[str, Any] = field(default_factory=dict)
    top_k: int = 10
    controls: int = 0
    seed: int = 0
    #: Formats the ``export`` step writes the stage-2 pick in (``raynas export``): state_dict, torchscript, onnx.
    export: tuple[str, ...] = ("state_dict", "torchscript")
    mlflow: Any = True
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_name(self.name)  # it names the search and its folders: length and characters
        if self.task is not None:
            as_str("task", self.task)
        as_str("workdir", self.workdir)
        if isinstance(self.steps, str) or not all(isinstance(s, str) for s in self.steps):
            raise ConfigError("steps", self.steps, f"a list of steps: {', '.join(STEPS)}", "e.g. steps: [split, search]")
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            from raynas.errors import UnknownNameError

            raise UnknownNameError("workflow step", unknown[0], STEPS, "Steps run in this order; list the ones you want.")
        object.__setattr__(self, "steps", tuple(s for s in STEPS if s in self.steps))
        object.__setattr__(self, "max_concurrent", self.resources.max_concurrent)  # validates the resources
        as_int("variance_repeats", self.variance_repeats, minimum=2)
        as_int("top_k", self.top_k, minimum=2)
        as_int("controls", self.controls, minimum=0)
        as_int("seed", self.seed, minimum=0)
        if self.trials_to_converge is not None:
            as_int("trials_to_converge", self.trials_to_converge, minimum=1)
        from raynas.export import parse_formats

        try:
            object.__setattr__(self, "export", tuple(parse_formats(list(self.export))))
        except ConfigError as exc:
            raise ConfigError("export", self.export, exc.expected, "e.g. export: [torchscript, onnx]") from None
        if self.on_failed_check not in ("stop", "continue"):
            raise ConfigError("on_failed_check", self.on_failed_check, "'stop' or 'continue'")
        # every section, as the settings object its step builds
        self.tracking  # the mlflow section
        self.selection_settings()
        self.proxy_search_settings()
        self.variance_settings()
        search = self.search_config()
        self.check_settings(search)
        self.stage2_settings()

    # --- what each step runs with ------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.workdir).expanduser().resolve()

    @property
    def resources(self) -> Resources:
        """What each job of every step holds, and how many run at once (the search section may set its own)."""
        return Resources(cpus_per_trial=self.cpus_per_trial, gpus_per_trial=self.gpus_per_trial,
                         max_concurrent=self.max_concurrent, device=self.device)

    @property
    def tracking(self) -> Any:
        """The ``mlflow:`` setting as a :class:`raynas.config.TrackingConfig`."""
        from raynas.config import TrackingConfig

        if isinstance(self.mlflow, TrackingConfig):
            return self.mlflow
        return TrackingConfig.from_value(self.mlflow)

    def selection_settings(self) -> Any:
        """``select_models:`` as :class:`raynas.proxy.SelectionSettings` (the workflow's seed unless it sets one)."""
        from raynas.proxy import SelectionSettings

        data = _section("select_models", self.select_models, SelectionSettings)
        if "fractions" in data and isinstance(data["fractions"], (list, tuple)):
            data["fractions"] = tuple(data["fractions"])
        return _build("select_models", data, lambda: SelectionSettings(**{"seed": self.seed, **data}))

    def proxy_search_settings(self) -> Any:
        """``proxy_search:`` as :class:`raynas.proxy.ProxySearchSettings`."""
        from raynas.proxy import ProxySearchSettings

        data = _section("proxy_search", self.proxy_search, ProxySearchSettings)
        if "candidates" in data and isinstance(data["candidates"], (list, tuple)):
            data["candidates"] = tuple(data["candidates"])
        return _build("proxy_search", data, lambda: ProxySearchSettings(**{"seed": self.seed, **data}))

    def variance_settings(self) -> Any:
        """``variance_repeats`` as :class:`raynas.proxy.VarianceSettings`."""
        from raynas.proxy import VarianceSettings

        return VarianceSettings(repeats=self.variance_repeats, seed=self.seed)

    def search_settings(self, task: str | None = None) -> dict[str, Any]:
        """The search config the search step runs, as a mapping: the workflow's resources, seed and MLflow setting,
        then the ``search:`` section, then the workflow's name, workdir and task (``task``: a task file to search
        instead of the workflow's, e.g. its copy with the chosen proxy)."""
        search = as_mapping("search", self.search)
        for key in WORKFLOW_SETS:
            if key in search:
                raise ConfigError(f"search.{key}", search[key], "no such key in the workflow's search section",
                                  f"the workflow sets it (`{key}:` at the top level)" if key != "space" else
                                  "the workflow searches its task's model family (or the NAS-Bench-201 table)")
        data = {"max_trials": DEFAULT_MAX_TRIALS, "seed": self.seed, **self.resources.to_dict(), **search}
        data["name"] = self.name
        data["workdir"] = str(self.root)
        data["mlflow"] = self.tracking.to_dict()
        if self.task is not None:
            data["task"] = task or self.task
        return data

    def search_config(self, task: str | None = None) -> Any:
        """The ``search:`` section as the :class:`raynas.config.SearchConfig` the search step runs (see
        :meth:`search_settings`); errors name ``search.KEY`` for the keys the section sets."""
        from raynas.config import SearchConfig

        data = self.search_settings(task)
        return _build("search", as_mapping("search", self.search), lambda: SearchConfig.from_dict(data))

    def check_settings(self, search: Any) -> Any:
        """The checklist's settings for the search ``search`` (a SearchConfig)."""
        from raynas.proxy import CheckSettings

        converge = self.trials_to_converge or min(3000, int(search.max_trials))
        return _build("search", as_mapping("search", self.search), lambda: CheckSettings(
            max_trials=search.max_trials, trials_to_converge=converge, max_concurrent=search.max_concurrent,
            gpus_per_trial=search.gpus_per_trial))

    def stage2_settings(self) -> Any:
        """Stage 2's settings (``top_k``, ``controls``, the resources' ``max_concurrent``, ``seed``, MLflow)."""
        from raynas.stage2 import Stage2Settings

        return Stage2Settings(top_k=self.top_k, controls=self.controls, max_concurrent=self.max_concurrent,
                              seed=self.seed, mlflow=None if self.tracking.enabled else False)


def _section(section: str, value: Any, cls: type) -> dict[str, Any]:
    """A settings section as a mapping whose keys are ``cls``'s fields (unknown keys: ConfigError with a suggestion)."""
    data = as_mapping(section, value)
    reject_unknown(data, [f.name for f in fields(cls)], section=section)
    return data


def _build(section: str, keys: Mapping[str, Any], make: Callable[[], T]) -> T:
    """``make()``, with a ConfigError about a key the section sets renamed ``section.KEY``."""
    try:
        return make()
    except ConfigError as exc:
        top = exc.field.split(".")[0]
        if exc.source or exc.field.startswith(f"{section}.") or not (top in keys or f"{top}_s" in keys):
            raise
        raise ConfigError(f"{section}.{exc.field}", exc.value, exc.expected, exc.fix) from None


def load_workflow(path: str | Path | None) -> WorkflowConfig:
    """Read a workflow YAML (None: the bundled CPU workflow on MNIST-1D, :data:`BUNDLED_WORKFLOW`) and validate it
    whole (see :class:`WorkflowConfig`). Its ``task`` becomes the absolute path of the task file: a relative path is
    resolved against the workflow file's folder, a name is looked up in ``./proxy_tasks``, the ``proxy_tasks/``
    beside the workflow file, then the bundled tasks."""
    if path is None:
        from importlib import resources

        ref = resources.files("raynas") / "examples" / BUNDLED_WORKFLOW
        with resources.as_file(ref) as real:
            text, source, origin = Path(real).read_text(), f"bundled:{BUNDLED_WORKFLOW}", Path(real)
    else:
        path = Path(path)
        if not path.is_file():
            raise ConfigError("workflow", str(path), "an existing YAML file", "check the path")
        from raynas.config import read_yaml_file

        # not UTF-8 (a binary file), malformed, nested too deeply or empty: one line naming the file
        data = read_yaml_file(path, what="a workflow")
        return workflow_from_dict(data, source=str(path), origin=path)
    return workflow_from_dict(_parse_yaml(text, source), source=source, origin=origin)


def _parse_yaml(text: str, source: str) -> Any:
    from raynas.config import parse_yaml_text

    return parse_yaml_text(text, source)


def workflow_from_dict(data: Any, *, source: str | None = None, origin: str | Path | None = None) -> WorkflowConfig:
    """A :class:`WorkflowConfig` from a parsed workflow file; ``origin``: the file (relative task paths resolve
    against its folder). Every problem is a ConfigError naming the field and, when given, ``source``."""
    data = dict(as_mapping("workflow", data))
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(str(key), data[key], "string keys", "quote the key or fix the indentation", source=source)
    reject_unknown(data, [f.name for f in fields(WorkflowConfig) if f.name != "source"], source=source)
    if "name" not in data:
        raise ConfigError("name", None, "a workflow name", "add `name:` (it names the search and its folders)",
                          source=source)
    if isinstance(data.get("steps"), (list, tuple)):
        data["steps"] = tuple(data["steps"])
    elif isinstance(data.get("steps"), str):
        data["steps"] = tuple(s.strip() for s in data["steps"].split(",") if s.strip())
    if isinstance(data.get("export"), (list, tuple, str)):
        data["export"] = tuple([data["export"]] if isinstance(data["export"], str) else data["export"])
    if isinstance(data.get("task"), str):
        from raynas.tasks import find_task

        try:  # a relative path is relative to this file; the absolute path found is what every step uses
            data["task"] = str(find_task(data["task"], relative_to=origin))
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=source) from None
    try:
        return WorkflowConfig(**data, source=source)
    except ConfigError as exc:
        if exc.source:
            raise
        raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=source) from None
