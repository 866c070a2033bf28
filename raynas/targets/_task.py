"""What the two task-based targets share: a task file's model family, baseline, variants and data split."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from raynas.errors import ConfigError
from raynas.trials import Target


class TaskTarget(Target):
    """A task file (``proxy_tasks/NAME.yaml`` or a path): its family's space, its variants and its data split."""

    def __init__(self, task: Any) -> None:
        self.task = task

    @property
    def label(self) -> str:
        return str(self.task.name)

    def family(self) -> Any:
        from raynas.families import load_family

        return load_family(self.task.family)

    def space(self) -> Any:
        return self.family().space

    def prepare(self, experiment_dir: Path) -> Any:
        """The task's split in ``<experiment_dir>/split.parquet`` (reused when the data and settings match)."""
        if self.task.dataset is None:
            return None
        from raynas.training import ensure_split

        path = Path(experiment_dir) / "split.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        return ensure_split(self.task, str(path))

    def split_path(self, experiment_dir: Path) -> str | None:
        return None if self.task.dataset is None else str(Path(experiment_dir) / "split.parquet")

    def baseline_arch(self) -> Any:
        arch = self.task.baseline
        if arch is None:
            arch = getattr(self.family(), "baseline", None)
        if arch is None:
            raise ConfigError("baseline", None, f"a baseline architecture for task {self.task.name!r}",
                              "add `baseline:` (an architecture of the task's family) to the task file, or BASELINE "
                              "to the family's file", source=self.task.source)
        self.space().encode(arch)  # SpaceError naming the bad decision
        return arch

    def candidates(self, raw: Any = None) -> list[Any]:
        from raynas.tasks import task_candidates

        return task_candidates(self.task, raw)

    def fraction_spec(self, fraction: float) -> Any:
        full = self.task.variant("full")
        return replace(full, epochs=max(1, round(fraction * full.epochs)))

    def max_epochs(self, variant: str) -> int:
        return int(self.task.variant(variant).epochs)

    @property
    def latency_key(self) -> str:
        return "latency_ms" if self.task.targets.latency_ms is not None else "flops"

    @property
    def latency_in_reward(self) -> bool:
        return self.task.targets.latency_ms is not None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "task": self.task.source, "family": self.task.family,
                "dataset": self.task.dataset}
