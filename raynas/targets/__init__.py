"""Targets: what a trial trains and how it reports, one protocol for every stage (see :mod:`raynas.targets._base`).

Kinds are found by name through :data:`TARGET_KINDS` (imported only when used), or as ``module:Class`` strings
and ``raynas.targets`` entry points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from raynas.targets._base import Evaluator, Stage, Target
from raynas.targets._context import SplitIndices, TrainerContext, TrainerContractBroken, TrainerContractError

#: Target kind -> "module:Class" (imported on first use).
TARGET_KINDS: Mapping[str, str] = {
    "builtin": "raynas.targets._builtin:BuiltinTrainerTarget",
    "user": "raynas.targets._user:UserTrainerTarget",
    "table": "raynas.targets._table:TableTarget",
}


def target_class(kind: str) -> type:
    """The class of a target kind: a name in :data:`TARGET_KINDS`, an entry point of the ``raynas.targets``
    group, or ``module:Class``."""
    from raynas.plugins import load_plugin

    return load_plugin("target kind", kind, TARGET_KINDS, group="raynas.targets")


def task_target(task: Any) -> Target:
    """The target of a task: its ``trainer:`` when it names one, else the built-in trainer."""
    if isinstance(task, (str, Path)):
        from raynas.tasks import load_task

        task = load_task(task)
    return target_class("user" if task.trainer else "builtin")(task)


def search_target(config: Any) -> Target:
    """The target of a search config: its task's, or its benchmark table's."""
    if config.task is not None:
        return task_target(config.task_config())
    return table_target(config.benchmark_settings())


def table_target(settings: Any = None) -> Target:
    """A benchmark table's target (``settings``: the ``benchmark:`` section; None: the bundled table)."""
    return target_class("table")(settings)


__all__ = [
    "TARGET_KINDS",
    "Evaluator",
    "SplitIndices",
    "Stage",
    "Target",
    "TrainerContext",
    "TrainerContractBroken",
    "TrainerContractError",
    "table_target",
    "search_target",
    "target_class",
    "task_target",
]
