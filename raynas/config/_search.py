"""Configuration of a stage-1 search (``raynas search --config FILE.yaml``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from raynas._parse import (
    as_bool,
    as_duration,
    as_float,
    as_int,
    as_mapping,
    as_str,
    reject_unknown,
)
from raynas.config._autostop import AutoStopConfig
from raynas.config._objectives import DEFAULT_MO_CONTROLLER, Mode, Objective, parse_objectives
from raynas.config._resources import Resources
from raynas.config._tracking import TrackingConfig
from raynas.config._yaml import read_yaml_file
from raynas.errors import ConfigError, RaynasError, UnknownNameError
from raynas.plugins import Registry

DEFAULT_TIMEOUT_S = 14 * 86400.0
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
#: The longest experiment name: it names a folder (file systems allow 255 bytes) and MLflow experiments.
MAX_NAME_LENGTH = 128
#: What the built-in trainer reports for every trial (:mod:`raynas.training`: each epoch's numbers, the trial's
#: cost, the reward terms of :func:`raynas.rewards.compute_reward`; latency, memory and GPU numbers when measured).
BUILTIN_TRAINER_METRICS = ("reward", "accuracy", "val_accuracy", "train_loss", "epoch", "lr", "epoch_time",
                           "train_seconds", "workers", "latency_factor", "memory_factor", "params", "flops",
                           "latency_ms", "memory_mb", "gpu_peak_mb", "gpu_total_mb")


def check_name(name: Any, field: str = "name") -> str:
    """An experiment name: letters, digits, '.', '_' and '-' (no path separators, nothing a file system refuses),
    at most :data:`MAX_NAME_LENGTH` characters; ConfigError naming the problem otherwise."""
    import re

    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        raise ConfigError(field, name, f"at most {MAX_NAME_LENGTH} characters (it names the experiment's folder); "
                          f"this one has {len(name)}", "shorten the name")
    if isinstance(name, str) and name.strip() and not re.fullmatch(NAME_PATTERN, name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        what = f"it holds {', '.join(repr(c) for c in bad)}" if bad else "it must start with a letter or digit"
        raise ConfigError(field, name, "a name of letters, digits, '.', '_' and '-' (it names a folder: no '/' or "
                          f"other characters a file system refuses); {what}", "e.g. name: my-search-1")
    return as_str(field, name, pattern=NAME_PATTERN)


def _check_nesting(field: str, value: Any) -> None:
    from raynas.space import MAX_DEPTH, nesting_depth

    depth = nesting_depth(value, limit=MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise ConfigError(field, f"a value nested more than {MAX_DEPTH} levels deep", f"at most {MAX_DEPTH} levels "
                          "of nested mappings and lists", f"`{field}:` fixes parts of the space by their paths "
                          "(e.g. cell.edge0: conv): flatten it")


@dataclass(frozen=True)
class ControllerConfig:
    """Which controller proposes architectures, and its options."""

    name: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from raynas.controllers import DEFAULT_CONTROLLER, controller_options

        name = self.name or DEFAULT_CONTROLLER
        object.__setattr__(self, "name", name)
        known = controller_options(name)  # raises UnknownNameError for an unknown controller
        reject_unknown(self.options, known, section="controller")
        object.__setattr__(self, "options", dict(self.options))


#: Early-stopping schedulers (Ray Tune) and the options each accepts; ``time_attr`` is always the epoch count.
SCHEDULERS: Mapping[str, tuple[str, ...]] = {
    "fifo": (),
    "asha": ("max_t", "grace_period", "reduction_factor", "brackets"),
    "hyperband": ("max_t", "reduction_factor"),
    "median": ("grace_period", "min_samples_required"),
}
_RAY = "ray.tune.schedulers"
#: Scheduler classes by name (imported on first use): raynas's own (:data:`SCHEDULERS`), Ray Tune's by Ray's own
#: names (as in ``ray.tune.schedulers.create_scheduler``), ``@SCHEDULER_REGISTRY.register("mine")`` classes,
#: ``raynas.schedulers`` entry points, and ``module:Class`` / ``./file.py:Class`` (a Ray Tune TrialScheduler).
SCHEDULER_REGISTRY: Registry[Any] = Registry(
    "scheduler", group="raynas.schedulers",
    fix="Set `scheduler:` to one of them, or to module:Class (a Ray Tune TrialScheduler), or install a package "
        "declaring a 'raynas.schedulers' entry point.",
    builtins={
        "fifo": "raynas.tune:LiveTrialsFIFOScheduler", "asha": f"{_RAY}:ASHAScheduler",
        "hyperband": f"{_RAY}:HyperBandScheduler", "median": f"{_RAY}:MedianStoppingRule",
        "async_hyperband": f"{_RAY}:AsyncHyperBandScheduler", "asynchyperband": f"{_RAY}:AsyncHyperBandScheduler",
        "median_stopping_rule": f"{_RAY}:MedianStoppingRule", "medianstopping": f"{_RAY}:MedianStoppingRule",
        "hb_bohb": f"{_RAY}:HyperBandForBOHB", "pbt": f"{_RAY}:PopulationBasedTraining",
        "pbt_replay": f"{_RAY}:PopulationBasedTrainingReplay", "pb2": f"{_RAY}.pb2:PB2",
        "resource_changing": f"{_RAY}:ResourceChangingScheduler",
    })


@dataclass(frozen=True)
class SchedulerConfig:
    """Early stopping of individual trials over their per-epoch reports (a Ray Tune scheduler)."""

    name: str = "fifo"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", dict(self.options))
        if self.name in SCHEDULERS:
            reject_unknown(self.options, SCHEDULERS[self.name], section="scheduler")
            for key, value in self.options.items():
                as_int(f"scheduler.{key}", value, minimum=1)
            return
        if not isinstance(self.name, str):
            raise UnknownNameError("scheduler", str(self.name), SCHEDULERS, "Set `scheduler:` to one of them.")
        if self.name not in SCHEDULER_REGISTRY:  # Ray Tune's own names (pbt, async_hyperband...) need no import
            SCHEDULER_REGISTRY.get(self.name)  # a user's module:Class is imported; an unknown name is refused


@dataclass(frozen=True)
class InlineStage2Config:
    """Full-train the current top ``top_k`` distinct architectures after every ``every`` completed trials, while
    the search goes on (``inline_stage2: {every: 100, top_k: 5}``)."""

    every: int
    top_k: int = 5

    def __post_init__(self) -> None:
        as_int("inline_stage2.every", self.every, minimum=1)
        as_int("inline_stage2.top_k", self.top_k, minimum=2)


@dataclass(frozen=True)
class SearchConfig:
    """Everything a stage-1 search needs; validated on construction (errors name the field and the fix)."""

    name: str = "raynas-search"
    space: str | None = None
    task: str | None = None
    search_type: str = "architecture"
    arch: Any = None
    augmentation_space: str = "randaugment"
    variant: str = "proxy"
    device: str = "auto"
    max_trials: int = 100
    max_concurrent: int = 4
    max_failed: int | None = None
    #: How often a trial lost to the infrastructure (its node died, its actor was lost) is started again; such
    #: losses never count toward ``max_failed``. Model failures (exceptions, NaN, out of memory) are not retried.
    max_retries: int = 3
    gpus_per_trial: float = 2.0
    cpus_per_trial: float = 1.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    metric: str = "reward"
    mode: Mode = Mode.MAX
    #: Multi-objective search: the Pareto front of these metrics (at least 2) instead of one reward; ``metric`` and
    #: ``mode`` are then the first objective's (what schedulers and the "best" trial go by).
    objectives: tuple[Objective, ...] = ()
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    seed: int = 0
    workdir: str = "raynas-work"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    allow_huge_space: bool = False
    benchmark: Mapping[str, Any] = field(default_factory=dict)
    ray_address: str | None = None
    mlflow: TrackingConfig = field(default_factory=TrackingConfig)
    auto_stop: AutoStopConfig = field(default_factory=AutoStopConfig)
    #: Resume policy: how often a search that hit its ``timeout`` may be resumed, and its most search time in all
    #: (default: (max_resumes + 1) x timeout, i.e. 28 days for the 14-day timeout and one resume).
    max_resumes: int = 1
    max_total_time_s: float | None = None
    inline_stage2: InlineStage2Config | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.task is not None:
            as_str("task", self.task)
            if self.space is not None:
                raise ConfigError("space", self.space, "no space when a task is given (the task's model family "
                                  "defines the space)", "remove `space:` or `task:`")
        elif self.space is None:  # the space of the declared benchmark table (default: NAS-Bench-201)
            object.__setattr__(self, "space", self._table_declaration().name if self._table_ref() else "nasbench201")
        if self.space is not None:
            as_str("space", self.space)
        if self.search_type not in ("architecture", "augmentation"):
            raise ConfigError("search_type", self.search_type, "'architecture' or 'augmentation'")
        if self.search_type == "augmentation":
            if self.task is None or self.arch is None:
                raise ConfigError("arch", self.arch, "a task and a fixed architecture for an augmentation search",
                                  "augmentation is searched on a fixed architecture: set `task:` and `arch:`")
            if self.augmentation_space not in ("randaugment", "autoaugment"):
                raise ConfigError("augmentation_space", self.augmentation_space, "randaugment or autoaugment")
        elif self.arch is not None:
            raise ConfigError("arch", self.arch, "no fixed `arch` in an architecture search",
                              "use `fixed:` to fix parts of the space, or set search_type: augmentation")
        if self.variant not in ("proxy", "full"):
            raise ConfigError("variant", self.variant, "'proxy' (stage-1 search) or 'full'")
        as_int("max_trials", self.max_trials, minimum=1)
        resources = self.resources  # the one validation of cpus/gpus_per_trial, max_concurrent and device
        object.__setattr__(self, "max_concurrent", resources.max_concurrent)
        if self.max_failed is None:
            object.__setattr__(self, "max_failed", math.ceil(self.max_trials / 3))
        max_failed = as_int("max_failed", self.max_failed, minimum=1)
        if max_failed > self.max_trials:
            raise ConfigError("max_failed", self.max_failed, f"at most max_trials ({self.max_trials})",
                              "lower max_failed or raise max_trials (default: a third of max_trials)")
        as_int("max_retries", self.max_retries, minimum=0)
        as_float("timeout_s", self.timeout_s, minimum=1e-9)
        as_str("metric", self.metric)
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError:
            raise ConfigError("mode", self.mode, "'max' or 'min'") from None
        if not isinstance(self.controller, ControllerConfig):
            raise ConfigError("controller", self.controller, "a ControllerConfig")
        self._check_objectives()
        if not isinstance(self.scheduler, SchedulerConfig):
            raise ConfigError("scheduler", self.scheduler, "a SchedulerConfig")
        as_int("seed", self.seed, minimum=0)
        as_str("workdir", self.workdir)
        as_mapping("fixed", self.fixed)
        _check_nesting("fixed", self.fixed)
        _check_nesting("arch", self.arch)
        as_bool("allow_huge_space", self.allow_huge_space)
        as_mapping("benchmark", self.benchmark)
        if self.ray_address is not None:
            as_str("ray_address", self.ray_address)
        if not isinstance(self.mlflow, TrackingConfig):
            raise ConfigError("mlflow", self.mlflow, "a TrackingConfig")
        if self.inline_stage2 is not None and not isinstance(self.inline_stage2, InlineStage2Config):
            raise ConfigError("inline_stage2", self.inline_stage2, "an InlineStage2Config")
        if not isinstance(self.auto_stop, AutoStopConfig):
            raise ConfigError("auto_stop", self.auto_stop, "an AutoStopConfig")
        as_int("max_resumes", self.max_resumes, minimum=0)
        if self.max_total_time_s is None:
            object.__setattr__(self, "max_total_time_s", (self.max_resumes + 1) * float(self.timeout_s))
        if as_float("max_total_time", self.max_total_time_s, minimum=1e-9) < self.timeout_s:
            raise ConfigError("max_total_time", self.max_total_time_s, f"at least timeout ({self.timeout_s:g} s)",
                              "max_total_time covers the first run and its resumes (default 28d: one resume)")
        from raynas.registry import BUILTIN_SPACES, TABULAR_SPACES

        if self.task is not None:
            task = self.task_config()  # validates the task file
            if self.search_type == "augmentation":
                from raynas.families import load_family

                # the fixed architecture must be in its family
                load_family(task.family, relative_to=task.source).space.encode(self.arch)
            if self.benchmark:
                raise ConfigError("benchmark", dict(self.benchmark), "no benchmark section with a task",
                                  "the benchmark section only applies to tabular spaces such as nasbench201")
            return
        if self._table_ref():
            settings = self.benchmark_settings()  # validates the section
            declared = self._table_declaration()
            if self.space != declared.name:
                raise ConfigError("space", self.space, f"{declared.name!r}, the space the table {settings.table} "
                                  "declares", "set `space:` to the table's name, or leave `space:` out")
            return
        if self.space not in BUILTIN_SPACES:
            raise UnknownNameError("search space", str(self.space), BUILTIN_SPACES, "List them with `raynas space list`.")
        if self.benchmark:
            if self.space not in TABULAR_SPACES:
                raise ConfigError("benchmark", dict(self.benchmark), f"no benchmark section for space {self.space!r}",
                                  "the benchmark section only applies to tabular spaces such as nasbench201")
            self.benchmark_settings()  # validates the section

    # --- derived ---------------------------------------------------------------------------------------
    @property
    def resources(self) -> Resources:
        """What each trial holds and how many run at once (validated: see :mod:`raynas.config._resources`)."""
        return Resources(cpus_per_trial=self.cpus_per_trial, gpus_per_trial=self.gpus_per_trial,
                         max_concurrent=self.max_concurrent, device=self.device)

    @property
    def experiment_dir(self) -> Path:
        """``<workdir>/<name>``, or the folder :meth:`located_at` pinned."""
        pinned = self.__dict__.get("_located_at")
        return pinned if pinned is not None else Path(self.workdir).expanduser().resolve() / self.name

    def located_at(self, experiment_dir: str | Path) -> "SearchConfig":
        """This config for the experiment in folder ``experiment_dir`` (e.g. a moved or copied one): its
        ``experiment_dir`` is that folder, whatever its name, and ``workdir`` its parent; ``name`` (the MLflow
        experiment) is kept."""
        import dataclasses

        folder = Path(experiment_dir).expanduser().resolve()
        located = dataclasses.replace(self, workdir=str(folder.parent))
        object.__setattr__(located, "_located_at", folder)
        return located

    def _table_ref(self) -> str | None:
        """``benchmark.table``: a bundled name, a declaration YAML or a CSV/Parquet file (None: not given)."""
        return self.benchmark.get("table") if isinstance(self.benchmark, Mapping) else None

    def _table_declaration(self):
        from raynas.benchmarks import load_declaration

        try:
            return load_declaration(self._table_ref())
        except ConfigError as exc:
            field_ = exc.field if exc.field != "table" else "benchmark.table"
            raise ConfigError(field_, exc.value, exc.expected, exc.fix, source=exc.source) from None

    @property
    def tabular(self) -> bool:
        """Whether trials look up a benchmark table (a tabular space, or a declared table)."""
        from raynas.registry import TABULAR_SPACES

        return self.task is None and (self.space in TABULAR_SPACES or self._table_ref() is not None)

    def benchmark_settings(self):
        """The validated ``benchmark:`` section as TabularTrialSettings."""
        from raynas.benchmarks import TabularTrialSettings

        known = [f.name for f in fields(TabularTrialSettings)]
        reject_unknown(self.benchmark, known, section="benchmark")
        return TabularTrialSettings(**self.benchmark)

    def task_config(self):
        """The task this search trains (None for tabular spaces)."""
        if self.task is None:
            return None
        from raynas.tasks import load_task

        return load_task(self.task)

    def build_space(self):
        """The search space with ``fixed`` parts applied and the size limit enforced."""
        from raynas.registry import get_space
        from raynas.space import SearchSpace

        if self.search_type == "augmentation":
            from raynas.augment import augmentation_space

            base = augmentation_space(self.augmentation_space)
        elif self.task is not None:
            from raynas.families import load_family

            task = self.task_config()
            base = load_family(task.family, relative_to=task.source).space
        elif self._table_ref() is not None:
            base = self.benchmark_settings().declaration().space()
        else:
            base = get_space(self.space)
        space = SearchSpace(base.root, name=base.name, allow_huge=True)
        if self.fixed:
            space = space.fix(self.fixed)
        return SearchSpace(space.root, name=space.name, allow_huge=self.allow_huge_space)

    def build_controller(self, space):
        from raynas.controllers import make_controller

        return make_controller(self.controller.name, space, seed=self.seed, max_trials=self.max_trials,
                               options=self.controller.options, num_objectives=self.num_objectives)

    @property
    def num_objectives(self) -> int:
        """How many numbers each reward the controller gets holds (1 without ``objectives:``)."""
        return len(self.objectives) or 1

    def _check_objectives(self) -> None:
        """``objectives:`` (when given): at least 2 distinct ones, ``metric``/``mode`` the first one's, a
        multi-objective controller (default mo-surrogate), no single-reward targets in the task."""
        objectives = parse_objectives(self.objectives)
        object.__setattr__(self, "objectives", objectives)
        if not objectives:
            return
        first = objectives[0]
        if self.metric == "reward" and self.mode is Mode.MAX:  # the defaults: the first objective stands for them
            object.__setattr__(self, "metric", first.metric)
            object.__setattr__(self, "mode", first.mode)
        if self.metric != first.metric or self.mode is not first.mode:
            raise ConfigError("metric", f"{self.metric} ({self.mode.value})", f"the first objective, {first.label()}, "
                              "or no `metric:`/`mode:` with `objectives:`", "remove `metric:` and `mode:` (the "
                              "objectives say what is searched for)")
        if self.controller == ControllerConfig():  # none named: the multi-objective default
            object.__setattr__(self, "controller", ControllerConfig(DEFAULT_MO_CONTROLLER))
        _check_mo_controller(self.controller.name, len(objectives))
        if self.task is not None:
            targets = self.task_config().targets
            set_ = [f"targets.{k}" for k in ("latency_ms", "memory_mb") if getattr(targets, k) is not None]
            if set_:
                raise ConfigError(set_[0], getattr(targets, set_[0].split(".")[1]), "no reward targets with "
                                  "`objectives:` (targets fold latency and memory into one reward; objectives search "
                                  "for the front of them instead)", f"remove {' and '.join(set_)} from the task file "
                                  f"{self.task}, or remove `objectives:` to keep the single reward with targets")

    def validate_deep(self) -> None:
        """Build the space, the controller and (for tabular spaces) load the table, so bad values fail before
        any cluster starts."""
        self.build_controller(self.build_space())
        task = self.task_config()
        if task is not None:
            from raynas.targets import task_target

            task_target(task)  # a user trainer that cannot be imported, or has the wrong signature, fails here
            if task.dataset is not None:
                from raynas.data import load_dataset

                load_dataset(task.dataset_spec())  # a missing dataset fails here
        elif self.tabular:
            from raynas.benchmarks import load_table

            load_table(self.benchmark_settings().table)
        self._check_metric()
        for i, objective in enumerate(self.objectives):
            self._check_metric(objective.metric, f"objectives[{i}].metric")

    def reported_metrics(self) -> tuple[str, ...] | None:
        """The metrics every trial of this search reports (None when they cannot be known before a trial runs:
        a user trainer or target reports what it returns; its trials then say which metrics they reported)."""
        if self.search_type == "augmentation" or self.task is not None:
            task = self.task_config()
            if task.target not in (None, "builtin") or (task.target is None and task.trainer):
                return None
            return BUILTIN_TRAINER_METRICS
        if not self.tabular:
            return None
        declared = self.benchmark_settings().declaration()
        variant = str(getattr(self.benchmark_settings().variant, "value", self.benchmark_settings().variant))
        out = ["reward", "val_accuracy", "train_seconds", *getattr(declared, "metrics", ())]
        if variant == "full" and declared.full_epochs:
            out.append("epoch")
        if declared.test_column(variant) is not None:
            out.append("test_accuracy")
        return tuple(out)

    def _check_metric(self, metric: str | None = None, field: str = "metric") -> None:
        """``metric`` (or an objective's) must be one the trials report (when that is known): else every trial would
        be invalid."""
        metric = self.metric if metric is None else metric
        known = self.reported_metrics()
        if known is BUILTIN_TRAINER_METRICS and self.objectives:  # no reward targets, hence no reward factors
            known = tuple(m for m in known if m not in ("latency_factor", "memory_factor"))
        if known is None or metric in known:
            return
        from raynas.errors import suggest

        what = "the built-in trainer" if self.task is not None else "the benchmark table's trials"
        default = " (default: reward)" if field == "metric" else ""
        raise ConfigError(field, metric, f"a metric {what} report{'s' if self.task is not None else ''}: "
                          f"{', '.join(known)}", f"set `{field.split('.')[-1]}:` to one of them{suggest(metric, known)}"
                          f"{default}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mode"] = self.mode.value
        out["objectives"] = [o.to_dict() for o in self.objectives]
        out["controller"] = {"name": self.controller.name, **dict(self.controller.options)}
        out["scheduler"] = {"name": self.scheduler.name, **dict(self.scheduler.options)}
        out["timeout"] = out.pop("timeout_s")
        out["fixed"] = dict(self.fixed)
        out["benchmark"] = dict(self.benchmark)
        out["mlflow"] = self.mlflow.to_dict()
        out["auto_stop"] = self.auto_stop.to_dict()
        out["inline_stage2"] = None if self.inline_stage2 is None else asdict(self.inline_stage2)
        out["max_total_time"] = out.pop("max_total_time_s")
        return out

    # --- loading ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> "SearchConfig":
        """Build from a parsed YAML/JSON mapping. Every problem is a ConfigError naming the field."""
        try:
            return cls._from_dict(data)
        except ConfigError as exc:
            if source and not exc.source:
                raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=source) from None
            raise
        except RaynasError:
            raise

    @classmethod
    def _from_dict(cls, data: Any) -> "SearchConfig":
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError("config", data, "a mapping of settings (key: value lines)")
        data = dict(data)
        known = [f.name for f in fields(cls) if f.name not in ("timeout_s", "max_total_time_s")] + ["timeout",
                                                                                                  "max_total_time"]
        for key in data:
            if not isinstance(key, str):
                raise ConfigError(str(key), data[key], "string keys", "quote the key or fix the indentation")
        reject_unknown(data, known)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "timeout":
                kwargs["timeout_s"] = as_duration("timeout", value)
            elif key == "max_total_time":
                kwargs["max_total_time_s"] = as_duration("max_total_time", value)
            elif key == "auto_stop":
                kwargs["auto_stop"] = AutoStopConfig.from_value(value)
            elif key == "inline_stage2":
                if value is not None and value is not False:
                    data_ = dict(as_mapping("inline_stage2", value))
                    reject_unknown(data_, ["every", "top_k"], section="inline_stage2")
                    if "every" not in data_:
                        raise ConfigError("inline_stage2.every", None, "how many completed trials between snapshots",
                                          "e.g. inline_stage2: {every: 100, top_k: 5}")
                    kwargs["inline_stage2"] = InlineStage2Config(**data_)
            elif key == "controller":
                kwargs["controller"] = _controller_from(value)
            elif key == "scheduler":
                kwargs["scheduler"] = _scheduler_from(value)
            elif key == "mlflow":
                kwargs["mlflow"] = TrackingConfig.from_value(value)
            elif key in ("fixed", "benchmark"):
                kwargs[key] = as_mapping(key, value)
            elif key == "max_failed" and value is None:
                continue
            elif key == "objectives":
                kwargs[key] = parse_objectives(value)
            else:
                kwargs[key] = value
        if kwargs.get("objectives") and "controller" in kwargs:  # named explicitly: even the single-objective default
            _check_mo_controller(kwargs["controller"].name, len(kwargs["objectives"]))
        return cls(**kwargs)


def _check_mo_controller(name: str, num_objectives: int) -> None:
    """A ConfigError unless controller ``name`` searches for a Pareto front."""
    from raynas.controllers import controller_class

    if not controller_class(name).multi_objective:
        raise ConfigError("controller", name, f"a multi-objective controller for {num_objectives} objectives",
                          f"use controller {DEFAULT_MO_CONTROLLER!r} (the default with `objectives:`) or 'nsga2', or "
                          "remove `objectives:` for a single reward")


def _named_section(section: str, value: Any, cls: type, default_name: str) -> Any:
    """``name`` or ``{name: ..., option: value, ...}`` (or nothing) -> ``cls(name, options)``."""
    if value is None:
        return cls()
    if isinstance(value, str):
        return cls(value)
    options = as_mapping(section, value)
    name = options.pop("name", default_name)
    if not isinstance(name, str):
        raise ConfigError(f"{section}.name", name, f"a {section} name string")
    return cls(name, options)


def _controller_from(value: Any) -> ControllerConfig:
    return _named_section("controller", value, ControllerConfig, "")


def _scheduler_from(value: Any) -> SchedulerConfig:
    return _named_section("scheduler", value, SchedulerConfig, "fifo")


def load_search_config(path: str | Path) -> SearchConfig:
    """Read a YAML search config; malformed YAML, an empty file and bad values become ConfigError with the file
    name."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError("--config", source, "an existing YAML file", "check the path", source=None)
    data = read_yaml_file(path, what="a search config")  # not UTF-8, malformed, too deep or empty: refused
    if isinstance(data, Mapping) and isinstance(data.get("task"), str):
        from raynas.tasks import find_task

        try:  # a relative path is relative to this file; the absolute path found is what workers and resume use
            data = {**data, "task": str(find_task(data["task"], relative_to=path))}
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=source) from None
    benchmark = data.get("benchmark") if isinstance(data, Mapping) else None
    if isinstance(benchmark, Mapping) and isinstance(benchmark.get("table"), str) and benchmark["table"].strip():
        beside = path.parent / benchmark["table"]  # a table file beside the config (else: relative to the cwd)
        if not Path(benchmark["table"]).is_absolute() and beside.is_file():
            data = {**data, "benchmark": {**benchmark, "table": str(beside.resolve())}}
    return SearchConfig.from_dict(data, source=source)
