"""What the proxy-design tools work on: a real task (training on its data) or the tabular benchmark (where the
12-epoch column plays the proxy and the 200-epoch column full training).

A :class:`DesignTarget` hands out the evaluators the tools run as Ray Tune jobs: full training, training to a
fraction of full training (reference-model selection rounds) and each proxy candidate. It also says where the
tools keep their results (the workspace) and under which MLflow experiment they log.
"""

from __future__ import annotations

import functools
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raynas.config import Resources, TrackingConfig  # Resources: the one resources type, re-exported here
from raynas.errors import ConfigError
from raynas.experiment import DEFAULT_WORKDIR, ExperimentPaths
from raynas.space import SearchSpace
from raynas.targets import TABLE_BASELINE as TABULAR_BASELINE
from raynas.targets import TABLE_CANDIDATE as TABULAR_CANDIDATE
from raynas.targets import Stage

__all__ = ["TABULAR_BASELINE", "TABULAR_CANDIDATE", "DesignTarget", "Resources"]


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
        from raynas._parse import as_str
        from raynas.config import NAME_PATTERN

        as_str("name", self.name, pattern=NAME_PATTERN)
        if not isinstance(self.resources, Resources):
            raise ConfigError("resources", self.resources, "a raynas.config.Resources")
        if self.task is not None:
            self.task_config()  # a bad task file fails here

    # --- what it is --------------------------------------------------------------------------------------
    @functools.cached_property
    def target(self) -> Any:
        """The :class:`raynas.targets.Target` trials train (or look up)."""
        from raynas.targets import table_target, task_target

        if self.task is None:
            from raynas.benchmarks import TabularTrialSettings

            return table_target(TabularTrialSettings(table=self.table, sleep_fraction=self.sleep_fraction))
        return task_target(self.task)

    @property
    def tabular(self) -> bool:
        """True when trials read recorded results (a table) instead of training on data."""
        return not self.target.has_data

    @property
    def label(self) -> str:
        if self.task is None:
            return self.target.label  # the table's declared name (nasbench201 for the bundled one)
        return Path(self.task).stem if self.task.endswith((".yaml", ".yml")) else self.task

    def task_config(self) -> Any:
        from raynas.tasks import load_task

        return load_task(self.task)

    def space(self) -> SearchSpace:
        return self.target.space()

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
        return self.target.baseline_arch()

    @property
    def accuracy_key(self) -> str:
        return "val_accuracy"

    @property
    def latency_key(self) -> str:
        """The metric standing in for latency: measured latency when the task's reward uses it, FLOPs otherwise;
        the recorded training cost on the tabular benchmark (it has no latency column)."""
        return self.target.latency_key

    @property
    def latency_in_reward(self) -> bool:
        return self.target.latency_in_reward

    # --- evaluators --------------------------------------------------------------------------------------
    def full_evaluator(self, experiment_dir: Path, *, stage: Stage = Stage.REFERENCE) -> Any:
        return self.target.evaluator(variant="full", stage=stage, experiment_dir=Path(experiment_dir),
                                     device=self.resources.device)

    def fraction_evaluator(self, fraction: float, experiment_dir: Path) -> Any:
        """Training to ``fraction`` of full training's epochs (on the tabular benchmark: the 12-epoch column)."""
        return self.target.evaluator(variant="full", stage=Stage.REFERENCE, experiment_dir=Path(experiment_dir),
                                     device=self.resources.device, spec=self.target.fraction_spec(fraction),
                                     keep_checkpoint=False)

    def candidates(self, raw: Any = None) -> list[Any]:
        """The proxy candidates (ProxyCandidate)."""
        return self.target.candidates(raw)

    def candidate_evaluator(self, candidate: Any, experiment_dir: Path, *, stage: Stage = Stage.CANDIDATE) -> Any:
        return self.target.evaluator(variant="proxy", stage=stage, experiment_dir=Path(experiment_dir),
                                     device=self.resources.device, spec=candidate.variant, keep_checkpoint=False)

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
        from raynas.tracking import SearchTracking, TrialContext, config_params, resolve_target

        target = resolve_target(self.mlflow.tracking_uri, self.workdir)
        return SearchTracking(target=target, experiment_name=str(self.name), experiment_dir=str(root),
                              experiment_uid=ExperimentPaths(root).uid(), stage=tool,
                              context=TrialContext(tool, self.task or "nasbench201", variant),
                              parent_params=config_params(params), parent_artifacts={f"{tool}_settings.json": params},
                              flush_timeout_s=self.mlflow.flush_timeout_s)
