"""``WORKFLOW.yaml``: the whole two-stage workflow as one file (``raynas run``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from raynas.config._parse import as_float, as_int, as_mapping, as_str, reject_unknown
from raynas.config._search import NAME_PATTERN
from raynas.errors import ConfigError

#: The workflow `raynas run` runs without a file (`make demo`): MNIST-1D on CPU, in raynas/examples/.
BUNDLED_WORKFLOW = "mnist1d_workflow.yaml"
#: The steps in the order they run.
STEPS = ("split", "baseline", "proxy", "check", "estimate", "search", "stage2", "analyze", "export")


@dataclass(frozen=True)
class WorkflowConfig:
    """Every step's settings. ``search`` holds search-config keys (``raynas search --config``); name, task and
    workdir come from the workflow. ``on_failed_check``: ``stop`` ends the workflow when the checklist has a
    failure, ``continue`` goes on (a dry run that shows every step). ``seed`` seeds every step (reference models,
    proxy search, the search's controller and trials, stage 2) unless a section sets its own; ``controls``: lower-
    ranked stage-1 trials stage 2 also full-trains, so that a real search bias can be seen when the top-k is tied."""

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
        as_str("name", self.name, pattern=NAME_PATTERN)
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            from raynas.errors import UnknownNameError

            raise UnknownNameError("workflow step", unknown[0], STEPS, "Steps run in this order; list the ones you want.")
        object.__setattr__(self, "steps", tuple(s for s in STEPS if s in self.steps))
        as_int("max_concurrent", self.max_concurrent, minimum=1)
        as_float("cpus_per_trial", self.cpus_per_trial, minimum=0.0)
        as_float("gpus_per_trial", self.gpus_per_trial, minimum=0.0)
        as_int("variance_repeats", self.variance_repeats, minimum=2)
        as_int("top_k", self.top_k, minimum=2)
        as_int("controls", self.controls, minimum=0)
        as_int("seed", self.seed, minimum=0)
        from raynas.export import parse_formats

        try:
            object.__setattr__(self, "export", tuple(parse_formats(list(self.export))))
        except ConfigError as exc:
            raise ConfigError("export", self.export, exc.expected, "e.g. export: [torchscript, onnx]") from None
        if self.on_failed_check not in ("stop", "continue"):
            raise ConfigError("on_failed_check", self.on_failed_check, "'stop' or 'continue'")
        reject_unknown(as_mapping("select_models", self.select_models), ["initial", "keep", "fractions", "seed"],
                       section="select_models")
        reject_unknown(as_mapping("proxy_search", self.proxy_search),
                       ["min_tau", "min_valid", "min_valid_fraction", "time_limit_s", "top_k", "candidates", "seed"],
                       section="proxy_search")
        for key in ("name", "task", "workdir", "space"):
            if key in self.search:
                raise ConfigError(f"search.{key}", self.search[key], "no such key in the workflow's search section",
                                  f"the workflow sets it (`{key}:` at the top level)" if key != "space" else
                                  "the workflow searches its task's model family (or the NAS-Bench-201 table)")

    @property
    def root(self) -> Path:
        return Path(self.workdir).expanduser().resolve()


def load_workflow(path: str | Path | None) -> WorkflowConfig:
    """Read a workflow YAML (None: the bundled CPU workflow on MNIST-1D, :data:`BUNDLED_WORKFLOW`). Its ``task`` becomes
    the absolute path of the task file: a relative path is resolved against the workflow file's folder, a name is
    looked up in ``./proxy_tasks``, the ``proxy_tasks/`` beside the workflow file, then the bundled tasks."""
    import yaml

    if path is None:
        from importlib import resources

        ref = resources.files("raynas") / "examples" / BUNDLED_WORKFLOW
        with resources.as_file(ref) as real:
            text, source, origin = Path(real).read_text(), f"bundled:{BUNDLED_WORKFLOW}", Path(real)
    else:
        path = Path(path)
        if not path.is_file():
            raise ConfigError("workflow", str(path), "an existing YAML file", "check the path")
        text, source, origin = path.read_text(), str(path), path
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError("YAML", "malformed", "valid YAML", str(exc).splitlines()[0], source=source) from None
    data = dict(as_mapping("workflow", data))
    reject_unknown(data, [f for f in WorkflowConfig.__dataclass_fields__ if f != "source"], source=source)
    if "name" not in data:
        raise ConfigError("name", None, "a workflow name", "add `name:` (it names the search and its folders)",
                          source=source)
    if "steps" in data:
        data["steps"] = tuple(data["steps"])
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
