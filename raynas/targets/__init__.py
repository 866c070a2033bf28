"""Targets: what a trial trains and how it reports, one protocol for every stage (see :mod:`raynas.trials`).

Kinds are found by name through :data:`TARGET_REGISTRY`: the built-in :data:`TARGET_KINDS` (imported only when
used), classes registered with ``@TARGET_REGISTRY.register("mine")``, ``raynas.targets`` entry points, or
``module:Class`` strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from raynas.errors import ConfigError
from raynas.plugins import Registry
from raynas.targets._context import CONTRACT_PREFIX, SplitIndices, TrainerContext, TrainerContractBroken, TrainerContractError
from raynas.targets._table import TABLE_BASELINE, TABLE_CANDIDATE, TableTarget
from raynas.trials import Evaluator, Stage, Target


def _check_target(kind: str, cls: object) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise ConfigError("target", kind, "a subclass of raynas.targets.Target",
                          "implement the protocol in raynas/trials.py (space, evaluator, baseline_arch, ...)")


#: Target kinds by name -> class; the built-in ones are "module:Class" strings imported on first use.
TARGET_REGISTRY: Registry[type] = Registry("target kind", group="raynas.targets", check=_check_target, builtins={
    "builtin": "raynas.targets._builtin:BuiltinTrainerTarget",
    "user": "raynas.targets._user:UserTrainerTarget",
    "table": "raynas.targets._table:TableTarget",
})
#: Built-in target kind -> "module:Class" (imported on first use).
TARGET_KINDS: Mapping[str, str] = TARGET_REGISTRY.builtins


def target_class(kind: str, *, base_dir: str | Path | None = None) -> type:
    """The class of a target kind: a name in :data:`TARGET_KINDS`, a registered one, an entry point of the
    ``raynas.targets`` group, or ``module:Class`` (``./file.py:Class`` relative to ``base_dir``); a subclass of
    :class:`Target`."""
    return TARGET_REGISTRY.get(kind, base_dir=base_dir)


def task_target(task: Any) -> Target:
    """The target of a task: its own ``target:`` kind, else its ``trainer:`` when it names one, else the built-in
    trainer."""
    if isinstance(task, (str, Path)):
        from raynas.tasks import load_task

        task = load_task(task)
    kind = task.target or ("user" if task.trainer else "builtin")
    return target_class(kind, base_dir=Path(task.source).parent if task.source else None)(task)


def search_target(config: Any) -> Target:
    """The target of a search config: its task's, or its benchmark table's."""
    if config.task is not None:
        target = task_target(config.task_config())
        measured = {o.metric for o in getattr(config, "objectives", ())} & {"latency_ms", "memory_mb"}
        if measured and hasattr(target, "measure_cost"):  # objectives name what only reward targets measure
            target.measure_cost = True
        return target
    return table_target(config.benchmark_settings())


def table_target(settings: Any = None) -> Target:
    """A benchmark table's target (``settings``: the ``benchmark:`` section; None: the bundled table)."""
    return target_class("table")(settings)


__all__ = ["CONTRACT_PREFIX", "Evaluator", "SplitIndices", "Stage", "TABLE_BASELINE", "TABLE_CANDIDATE",
           "TARGET_KINDS", "TARGET_REGISTRY", "TableTarget", "Target", "TrainerContext", "TrainerContractBroken",
           "TrainerContractError", "search_target", "table_target", "target_class", "task_target"]
