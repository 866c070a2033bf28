"""What the proxy-design tools work on: a real task (training on its data) or the tabular benchmark (where the
12-epoch column plays the proxy and the 200-epoch column full training).

A :class:`DesignTarget` hands out the evaluators the tools run as Ray Tune jobs: full training, training to a
fraction of full training (reference-model selection rounds) and each proxy candidate. It also says where the
tools keep their results (the workspace) and under which MLflow experiment they log.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from raynas.config import TrackingConfig
from raynas.errors import ConfigError
from raynas.experiment import DEFAULT_WORKDIR, ExperimentPaths
from raynas.space import SearchSpace

#: NAS-Bench-201's ResNet-like cell, the tabular benchmark's baseline (Dong & Yang, ICLR 2020).
TABULAR_BASELINE = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
TABULAR_CANDIDATE = "12-epoch"


@dataclass(frozen=True)
class Resources:
    """What each job holds and how many run at once."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int = 4
    device: str = "auto"

    def __post_init__(self) -> None:
        from raynas.config._parse import as_float, as_int

        as_float("cpus_per_trial", self.cpus_per_trial, minimum=0.0)
        as_float("gpus_per_trial", self.gpus_per_trial, minimum=0.0)
        as_int("max_concurrent", self.max_concurrent, minimum=1)


@dataclass(frozen=True)
class DesignTarget:
    """A task file (``task``) or the tabular benchmark (``table``: None for the bundled one); the tools keep
    their results in ``<workdir>/<name>/<tool>`` and log to the MLflow experiment ``name``."""

    task: str | None = None
    table: str | None = None
    name: str | None = None
    workdir: str = DEFAULT_WORKDIR
    resources: Resources = field(default_factory=Resources)
    mlflow: TrackingConfig = field(default_factory=TrackingConfig)
    ray_address: str | None = None
    #: Tabular jobs sleep this fraction of their recorded cost (so timelines and early stops are real).
    sleep_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.task is not None and self.table is not None:
            raise ConfigError("--table", self.table, "no table with --task", "give --task or the tabular benchmark")
        if self.name is None:
            object.__setattr__(self, "name", f"{self.label}-proxy")
        from raynas.config._parse import as_str
        from raynas.config._search import NAME_PATTERN

        as_str("name", self.name, pattern=NAME_PATTERN)
        if self.task is not None:
            self.task_config()  # a bad task file fails here

    # --- what it is --------------------------------------------------------------------------------------
    @property
    def tabular(self) -> bool:
        return self.task is None

    @property
    def label(self) -> str:
        if self.task is None:
            return "nasbench201"
        return Path(self.task).stem if self.task.endswith((".yaml", ".yml")) else self.task

    def task_config(self) -> Any:
        from raynas.tasks import load_task

        return load_task(self.task)

    def space(self) -> SearchSpace:
        if self.tabular:
            from raynas.benchmarks import nasbench201_space

            return nasbench201_space()
        from raynas.families import load_family

        return load_family(self.task_config().family).space

    def sample(self, count: int, seed: int) -> list[Any]:
        """``count`` distinct architectures drawn at random (fewer when the space is smaller)."""
        space = self.space()
        rng = random.Random(seed)
        seen: dict[tuple[int, ...], Any] = {}
        tries = 0
        while len(seen) < min(count, space.size) and tries < count * 50:
            genotype = tuple(space.sample_genotype(rng))
            seen.setdefault(genotype, space.decode(genotype))
            tries += 1
        return list(seen.values())

    def baseline_arch(self) -> Any:
        """The architecture ``raynas baseline`` full-trains (ConfigError naming the fix when there is none)."""
        if self.tabular:
            from raynas.benchmarks import string_to_arch

            return string_to_arch(TABULAR_BASELINE)
        task = self.task_config()
        arch = task.baseline
        if arch is None:
            from raynas.families import load_family

            arch = getattr(load_family(task.family), "baseline", None)
        if arch is None:
            raise ConfigError("baseline", None, f"a baseline architecture for task {task.name!r}",
                              "add `baseline:` (an architecture of the task's family) to the task file, or BASELINE "
                              "to the family's file", source=task.source)
        self.space().encode(arch)  # SpaceError naming the bad decision
        return arch

    @property
    def accuracy_key(self) -> str:
        return "val_accuracy"

    @property
    def latency_key(self) -> str:
        """The metric standing in for latency: measured latency when the task's reward uses it, FLOPs otherwise;
        the recorded training cost on the tabular benchmark (it has no latency column)."""
        if self.tabular:
            return "train_seconds"
        return "latency_ms" if self.task_config().targets.latency_ms is not None else "flops"

    @property
    def latency_in_reward(self) -> bool:
        return not self.tabular and self.task_config().targets.latency_ms is not None

    # --- evaluators --------------------------------------------------------------------------------------
    def full_evaluator(self, experiment_dir: Path) -> Any:
        if self.tabular:
            return self._tabular("full")
        return self._training(experiment_dir, "full")

    def fraction_evaluator(self, fraction: float, experiment_dir: Path) -> Any:
        """Training to ``fraction`` of full training's epochs (on the tabular benchmark: the 12-epoch column)."""
        if self.tabular:
            return self._tabular("proxy")
        full = self.task_config().variant("full")
        return self._training(experiment_dir, "full", replace(full, epochs=max(1, round(fraction * full.epochs))),
                              keep_checkpoint=False)

    def candidates(self, raw: Any = None) -> list[Any]:
        """The proxy candidates (ProxyCandidate)."""
        from raynas.proxy._candidates import ProxyCandidate, task_candidates

        if self.tabular:
            from raynas.benchmarks import Variant, load_table

            if raw not in (None, [TABULAR_CANDIDATE]):
                raise ConfigError("candidates", raw, f"[{TABULAR_CANDIDATE!r}] on the tabular benchmark",
                                  "the table only has a 12-epoch proxy column (the 200-epoch one is full training)")
            table = load_table(self.table)
            ratio = float((table.proxy_cost() / table.full_cost()).mean())
            return [ProxyCandidate(TABULAR_CANDIDATE, Variant.PROXY, ratio)]  # type: ignore[arg-type]
        return task_candidates(self.task_config(), raw)

    def candidate_evaluator(self, candidate: Any, experiment_dir: Path) -> Any:
        if self.tabular:
            return self._tabular("proxy")
        return self._training(experiment_dir, "proxy", candidate.variant, keep_checkpoint=False)

    def _tabular(self, variant: str) -> Any:
        from raynas.benchmarks import TabularEvaluator, TabularTrialSettings

        settings = TabularTrialSettings(table=self.table, variant=variant, sleep_fraction=self.sleep_fraction)
        evaluator = TabularEvaluator(settings)
        _ = evaluator.table  # a bad table path fails on the driver
        return evaluator

    def _training(self, experiment_dir: Path, variant: str, spec: Any = None, keep_checkpoint: bool | None = None) -> Any:
        from raynas.families import load_family
        from raynas.training._evaluator import TrainingEvaluator, ensure_split

        task = self.task_config()
        split_path = Path(experiment_dir) / "split.parquet"
        split_path.parent.mkdir(parents=True, exist_ok=True)
        ensure_split(task, str(split_path))
        return TrainingEvaluator(task, variant, str(split_path), self.resources.device, load_family(task.family).source,
                                 variant_spec=spec, keep_checkpoint=keep_checkpoint)

    # --- where results go --------------------------------------------------------------------------------
    @property
    def workspace(self) -> Path:
        return Path(self.workdir).expanduser().resolve() / str(self.name)

    def stage_dir(self, tool: str, *, settings: dict[str, Any], overwrite: bool = False) -> Path:
        """The directory of one tool's run, created with its settings; the same settings resume it, other
        settings need ``overwrite``."""
        root = self.workspace / tool
        saved = root / "settings.json"
        settings = json.loads(json.dumps(settings, default=str))
        if root.exists() and overwrite:
            shutil.rmtree(root)
        if saved.is_file():
            before = json.loads(saved.read_text())
            if before != settings:
                changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
                raise ConfigError(f"{tool} settings", ", ".join(changed),
                                  f"the settings of the earlier run in {root} (to resume it)",
                                  "pass the same settings to resume, or --overwrite to start it again")
        root.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(settings, indent=2, sort_keys=True))
        ExperimentPaths(root).uid()
        return root

    def tracking(self, tool: str, root: Path, *, params: dict[str, Any], variant: str) -> Any:
        """How one tool's jobs log to MLflow (None when turned off): stage ``tool`` of experiment ``name``."""
        if not self.mlflow.enabled:
            return None
        from raynas.tracking._mlflow_layout import TrialContext, config_params
        from raynas.tracking._mlflow_search import SearchTracking
        from raynas.tracking._mlflow_sync import resolve_target

        target = resolve_target(self.mlflow.tracking_uri, self.workdir)
        return SearchTracking(target=target, experiment_name=str(self.name), experiment_dir=str(root),
                              experiment_uid=ExperimentPaths(root).uid(), stage=tool,
                              context=TrialContext(tool, self.task or "nasbench201", variant),
                              parent_params=config_params(params), parent_artifacts={f"{tool}_settings.json": params},
                              flush_timeout_s=self.mlflow.flush_timeout_s)
