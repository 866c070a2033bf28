"""The trial vocabulary: the words every layer above the search space shares about one trial.

Ground floor (it imports nothing of raynas but errors): how a trial ended (:class:`TrialStatus`), why it ran
(:class:`Stage`), the finished trial as stored (:class:`TrialRecord`), what trains it (the :class:`Target` protocol
and its :class:`Evaluator`), the final-metrics key naming its checkpoint (:data:`CHECKPOINT_KEY`), reading a metric
or a cost off a record (:func:`metric`, :func:`cost_seconds`) and the top-k selection every stage uses
(:func:`ranked_trials`, :func:`top_trials`).

The target lifecycle every stage follows: a :class:`Target` is built once on the driver from a task file or a
benchmark table. Every stage asks it for the same few things, and never asks what kind of target it is:

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
"""

from __future__ import annotations

import abc
import json
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

__all__ = [
    "CHECKPOINT_KEY",
    "Evaluator",
    "Stage",
    "Target",
    "TrialRecord",
    "TrialStatus",
    "cost_seconds",
    "metric",
    "ranked_trials",
    "top_trials",
]


class TrialStatus(str, Enum):
    """How a trial ended. A ``str`` (``TrialStatus.COMPLETED == "completed"``); ``str()`` and f-strings give the value."""

    COMPLETED = "completed"  # finished and reported a finite reward
    FAILED = "failed"  # raised, ran out of memory, or its process died
    INVALID = "invalid"  # the architecture could not be built or its loss/reward was NaN/Inf
    STOPPED = "stopped"  # stopped early by a scheduler or because the search ended

    def __str__(self) -> str:
        return str(self.value)

    def counts_as_failure(self) -> bool:
        """Failed and invalid trials count toward the search's failure budget."""
        return self in (TrialStatus.FAILED, TrialStatus.INVALID)


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
    """What trials train: see :mod:`raynas.trials` for the lifecycle every stage follows."""

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


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial as stored. ``metrics`` holds the last reported values; ``history`` every report."""

    trial_id: str
    number: int
    arch: Any
    genotype: tuple[int, ...]
    reward: float | None
    status: TrialStatus
    failure_reason: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    iterations: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    #: Directory of the trial's final checkpoint (full-training runs), None when it kept none.
    checkpoint: str | None = None
    #: What the trial is within a tool run, e.g. ``{"candidate": "e4", "model": "ref-03"}`` (proxy-design tools).
    labels: dict[str, str] = field(default_factory=dict)
    #: Ray node id of the node the trial (last) ran on.
    node: str | None = None
    #: How often the trial was started again after the infrastructure lost it (a node died, its actor was lost).
    restarts: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.status, TrialStatus):
            object.__setattr__(self, "status", TrialStatus(self.status))

    def to_row(self) -> dict[str, Any]:
        duration = None
        if self.start_time is not None and self.end_time is not None:
            duration = self.end_time - self.start_time
        reward = self.reward if self.reward is not None and math.isfinite(self.reward) else None
        return {
            "trial_id": self.trial_id,
            "number": int(self.number),
            "arch": json.dumps(self.arch, sort_keys=True),
            "genotype": [int(g) for g in self.genotype],
            "reward": reward,
            "status": self.status.value,
            "failure_reason": self.failure_reason,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration_s": duration,
            "iterations": int(self.iterations),
            "metrics": _dumps(self.metrics),
            "history": _dumps(self.history),
            "resources": json.dumps(self.resources, sort_keys=True),
            "seed": self.seed,
            "checkpoint": self.checkpoint,
            "labels": json.dumps(self.labels, sort_keys=True) if self.labels else None,
            "node": self.node,
            "restarts": int(self.restarts),
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


def metric(record: TrialRecord | None, key: str) -> float:
    """A final metric of a completed job (NaN for a missing, failed or invalid one)."""
    if record is None or record.status is not TrialStatus.COMPLETED:
        return math.nan
    value = record.metrics.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan


def cost_seconds(record: TrialRecord | None) -> float:
    """What a job cost: its reported ``train_seconds`` (tabular: the table's recorded time), else its wall time."""
    if record is None:
        return 0.0
    value = record.metrics.get("train_seconds")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if record.start_time is not None and record.end_time is not None:
        return max(0.0, record.end_time - record.start_time)
    return 0.0


def top_trials(records: Sequence[TrialRecord], top_k: int, *, mode: str = "max") -> tuple[list[TrialRecord], int]:
    """The ``top_k`` best completed trials with distinct architectures (by genotype; the first trial of an
    architecture found several times wins), best first, and how many distinct completed architectures there are.

    ``mode`` ``max`` ranks the highest reward first, ``min`` the lowest; equal rewards keep trial-number order.
    """
    distinct = ranked_trials(records, mode=mode)
    return distinct[:top_k], len(distinct)


def ranked_trials(records: Sequence[TrialRecord], *, mode: str = "max") -> list[TrialRecord]:
    """Every completed trial with a distinct architecture, best reward first (see :func:`top_trials`)."""
    completed = [r for r in records
                 if r.status is TrialStatus.COMPLETED and r.reward is not None and math.isfinite(float(r.reward))]
    sign = -1.0 if str(getattr(mode, "value", mode)) == "max" else 1.0
    ordered = sorted(completed, key=lambda r: (sign * float(r.reward or 0.0), r.number, r.trial_id))
    seen: set[Any] = set()
    distinct = []
    for record in ordered:
        key = tuple(record.genotype) if record.genotype else json.dumps(record.arch, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            distinct.append(record)
    return distinct
