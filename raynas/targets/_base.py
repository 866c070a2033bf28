"""The target seam: what a trial trains (or looks up) and how it reports, the same for every stage.

A :class:`Target` is built once on the driver from a task file or a benchmark table. Every stage asks it for
the same few things, and never asks what kind of target it is:

1. ``space()``: the search space of architectures;
2. ``prepare(experiment_dir)``: one-time work before any trial (the two-stage data split), returning the split
   or None when the target has no data to split;
3. ``evaluator(variant=..., stage=..., experiment_dir=...)``: a picklable object that Ray workers call as
   ``evaluate(arch, seed=..., report=...)``. It calls ``report(metrics)`` once per epoch and returns the final
   metrics, which include ``val_accuracy``, ``reward`` and ``train_seconds``. ``variant`` is ``"proxy"`` (stage-1
   data split) or ``"full"`` (all training data, the real validation set); ``spec`` overrides the settings trained
   (a proxy candidate, a fraction of full training);
4. ``baseline_arch()``, ``candidates()``, ``full_variant()``: what the proxy-design tools need.

The outcome rules are the same for every target and are applied by the engine, not here: an exception ends the
trial ``failed`` with its message, a NaN or Inf metric ``invalid``, out of memory ``failed``.

Three kinds ship (:data:`raynas.targets.TARGET_KINDS`): the built-in trainer on a task, a user trainer (a task
with ``trainer:``), and a benchmark table. A new kind is one new module implementing this class.
"""

from __future__ import annotations

import abc
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Protocol

#: Final-metrics key naming a directory that becomes the trial's checkpoint (kept in the experiment's storage).
CHECKPOINT_KEY = "raynas_checkpoint_dir"


class Stage(str, Enum):
    """Why a trial runs; user trainers see it as ``ctx.stage``."""

    SEARCH = "search"
    BASELINE = "baseline"
    REFERENCE = "reference_model"
    CANDIDATE = "proxy_candidate"
    VARIANCE = "variance_repeat"
    STAGE2 = "stage2"
    LATENCY = "latency"


class Evaluator(Protocol):
    """Evaluates one architecture: calls ``report`` once per epoch, returns the final metrics."""

    def evaluate(self, arch: Any, *, seed: int, report: Callable[..., None] | None = None) -> dict[str, Any]: ...


class Target(abc.ABC):
    """What trials train: see the module docstring for the lifecycle every stage follows."""

    #: The kind's name in :data:`raynas.targets.TARGET_KINDS`.
    kind: str = ""
    #: Whether its evaluators take an augmentation policy per trial (``search_type: augmentation``).
    searches_augmentation: bool = False

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """A short name (the task's or the table's), used in folder and MLflow names."""

    @abc.abstractmethod
    def space(self) -> Any:
        """The search space (a :class:`raynas.space.SearchSpace`)."""

    def prepare(self, experiment_dir: Path) -> Any:
        """Make (or reuse) what trials need before any runs, e.g. the data split; None when there is nothing."""
        return None

    @abc.abstractmethod
    def evaluator(self, *, variant: str, stage: Stage, experiment_dir: Path, device: str = "auto",
                  spec: Any = None, keep_checkpoint: bool | None = None,
                  augmentation: dict[str, Any] | None = None, init: Any = None) -> Evaluator:
        """The evaluator of ``variant`` ("proxy" or "full"), trained with ``spec`` when given; ``init``
        (:class:`raynas.training.PretrainedWeights`) are weights every model starts from (stage 2's ``--init``)."""

    @abc.abstractmethod
    def baseline_arch(self) -> Any:
        """The architecture ``raynas baseline`` full-trains (ConfigError naming the fix when there is none)."""

    @abc.abstractmethod
    def candidates(self, raw: Any = None) -> list[Any]:
        """The proxy candidates (:class:`raynas.proxy.ProxyCandidate`)."""

    def model_for(self, arch: Any, variant: str = "full") -> tuple[Any, tuple[int, ...]]:
        """A freshly built ``torch.nn.Module`` of ``arch`` at ``variant``'s scale and one input's shape (what
        ``raynas latency`` measures); ConfigError naming the fix when the target builds no models itself."""
        from raynas.errors import ConfigError

        raise ConfigError("target", self.kind, "a target whose models raynas builds (a task with the built-in trainer)",
                          "measure latency inside your trials and report it (e.g. latency_ms)")

    def model_spec(self, arch: Any, variant: str = "full") -> Any:
        """How raynas builds ``arch`` again (a :class:`raynas.training.ModelSpec` for ``raynas export``), or None
        when raynas does not build this target's models (a table; a user trainer writes its own beside its model)."""
        return None

    def fraction_spec(self, fraction: float) -> Any:
        """Settings for training to ``fraction`` of full training (None: the target cannot, it runs its proxy)."""
        return None

    def max_epochs(self, variant: str) -> int:
        """Epochs a ``variant`` trial reports at most (early-stopping schedulers' horizon)."""
        return 100

    @property
    def has_data(self) -> bool:
        """Whether trials train on data raynas splits (False: a table of recorded results)."""
        return True

    @property
    def latency_key(self) -> str:
        """The metric standing in for latency when references are chosen for spread."""
        return "flops"

    @property
    def latency_in_reward(self) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        """What the target is, for configs, MLflow params and model cards."""
        return {"kind": self.kind, "label": self.label}
