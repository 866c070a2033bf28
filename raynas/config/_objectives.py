"""Multi-objective search settings (``objectives:``) and the rules every stage shares about them.

``objectives: [{metric: val_accuracy, mode: max}, {metric: params, mode: min}]`` makes a search look for the Pareto
front of those metrics instead of one reward. What every layer above agrees on lives here, so the search engine,
the report and stage 2 compute the same things:

- a trial's **objective vector** (:func:`objective_vector`): each objective's value from the trial's metrics,
  every component maximised (a ``min`` objective negated); a missing or non-finite value makes it non-finite;
- the **reference point** of the hypervolume (:func:`reference_point`): per objective, the configured ``reference``
  (in the metric's own units) or else, fixed once :data:`REFERENCE_TRIALS` trials have completed, the worst value of
  those first completed trials moved a tenth of their range further (so that they count too);
- the **front and its hypervolume** (:func:`front_summary`), computed with :mod:`raynas.pareto`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from raynas._parse import as_float, as_str, reject_unknown
from raynas.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

#: Completed trials (in completion order) whose objective values fix the reference point of an objective that has
#: no configured ``reference``.
REFERENCE_TRIALS = 10
#: How far beyond the worst of those trials the derived reference lies, as a fraction of their range.
REFERENCE_MARGIN = 0.1
#: The multi-objective controller used when a config with ``objectives:`` names none.
DEFAULT_MO_CONTROLLER = "mo-surrogate"
_EXAMPLE = "e.g. objectives: [{metric: val_accuracy, mode: max}, {metric: params, mode: min}]"


class Mode(str, Enum):
    """Whether the search metric is maximised or minimised."""

    MAX = "max"
    MIN = "min"


@dataclass(frozen=True)
class Objective:
    """One objective of a multi-objective search: a reported ``metric``, whether it is maximised or minimised, and
    optionally the ``reference`` value (the metric's own units) the hypervolume is measured from."""

    metric: str
    mode: Mode = Mode.MAX
    reference: float | None = None

    def __post_init__(self) -> None:
        as_str("objectives.metric", self.metric)
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError:
            raise ConfigError("objectives.mode", self.mode, "'max' or 'min'") from None
        if self.reference is not None:
            value = as_float("objectives.reference", self.reference)
            if not math.isfinite(value):
                raise ConfigError("objectives.reference", self.reference, "a finite number",
                                  "leave it out to fix it from the first completed trials")
            object.__setattr__(self, "reference", value)

    @property
    def sign(self) -> float:
        """+1 for a maximised objective, -1 for a minimised one (its values are negated)."""
        return 1.0 if self.mode is Mode.MAX else -1.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "mode": self.mode.value}
        if self.reference is not None:
            out["reference"] = self.reference
        return out

    def label(self) -> str:
        return f"{self.metric} ({self.mode.value})"


def parse_objectives(value: Any) -> tuple[Objective, ...]:
    """``objectives:`` as written in a config (a list of ``{metric, mode[, reference]}``) -> validated objectives:
    at least 2, distinct metrics. Every problem is one ConfigError naming the entry."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return ()
    if not isinstance(value, (list, tuple)):
        raise ConfigError("objectives", value, "a list of {metric: NAME, mode: max|min} entries (at least 2)", _EXAMPLE)
    if len(value) < 2:
        raise ConfigError("objectives", value, "at least 2 objectives (a Pareto front needs two)",
                          "for one objective set `metric:` and `mode:` instead (with optional task targets)")
    out: list[Objective] = []
    for i, entry in enumerate(value):
        field = f"objectives[{i}]"
        if isinstance(entry, Objective):
            out.append(entry)
            continue
        if not isinstance(entry, Mapping):
            raise ConfigError(field, entry, "a mapping {metric: NAME, mode: max|min}", _EXAMPLE)
        reject_unknown(entry, ["metric", "mode", "reference"], section=field)
        if entry.get("metric") is None:
            raise ConfigError(f"{field}.metric", None, "the name of a metric the trials report", _EXAMPLE)
        metric = as_str(f"{field}.metric", entry["metric"])
        mode = entry.get("mode", "max")
        if mode not in ("max", "min", Mode.MAX, Mode.MIN):
            raise ConfigError(f"{field}.mode", mode, "'max' or 'min'", f"e.g. {{metric: {metric}, mode: max}}")
        reference = entry.get("reference")
        if reference is not None:
            reference = as_float(f"{field}.reference", reference)
            if not math.isfinite(reference):
                raise ConfigError(f"{field}.reference", entry["reference"], "a finite number",
                                  "leave it out to fix it from the first completed trials")
        out.append(Objective(metric, Mode(mode), reference))
    seen: dict[str, int] = {}
    for i, objective in enumerate(out):
        if objective.metric in seen:
            raise ConfigError(f"objectives[{i}].metric", objective.metric,
                              f"distinct metrics (objectives[{seen[objective.metric]}] is {objective.metric!r} too)",
                              "remove the repeated objective")
        seen[objective.metric] = i
    return tuple(out)


def objective_vector(objectives: Sequence[Objective], metrics: Mapping[str, Any]) -> tuple[float, ...]:
    """A trial's objective values from its ``metrics``, every component maximised (``min`` objectives negated); a
    value that is missing, not a number or not finite is NaN (the trial is then invalid for the controller)."""
    out = []
    for objective in objectives:
        raw = metrics.get(objective.metric)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(float(raw)):
            out.append(math.nan)
        else:
            out.append(objective.sign * float(raw))
    return tuple(out)


def finite(vector: Sequence[float]) -> bool:
    """Whether every component of an objective vector is a finite number."""
    return all(math.isfinite(v) for v in vector)


def reference_point(objectives: Sequence[Objective], vectors: Sequence[Sequence[float]]) -> "np.ndarray | None":
    """The hypervolume's reference point (maximised form: a ``min`` objective's reference negated).

    Per objective: its configured ``reference``; else derived from the first :data:`REFERENCE_TRIALS` finite vectors
    of ``vectors`` (completed trials in completion order): their worst value minus :data:`REFERENCE_MARGIN` of
    their range (of the value's magnitude, or 1, when the range is zero). None while an objective without a
    configured reference has fewer than :data:`REFERENCE_TRIALS` completed trials to derive it from.
    """
    import numpy as np

    first = [list(v) for v in vectors if finite(v)][:REFERENCE_TRIALS]
    ref = np.empty(len(objectives))
    for j, objective in enumerate(objectives):
        if objective.reference is not None:
            ref[j] = objective.sign * objective.reference
            continue
        if len(first) < REFERENCE_TRIALS:
            return None
        values = np.array([v[j] for v in first])
        span = float(values.max() - values.min())
        if span <= 0:
            span = abs(float(values.min())) or 1.0
        ref[j] = float(values.min()) - REFERENCE_MARGIN * span
    return ref


@dataclass(frozen=True)
class FrontSummary:
    """The Pareto front of a set of trials: which of them are on it (indices into the vectors given), its
    hypervolume against ``reference`` (None while the reference point is not fixed yet)."""

    front: tuple[int, ...]
    hypervolume: float | None
    reference: tuple[float, ...] | None

    @property
    def size(self) -> int:
        return len(self.front)


def front_summary(objectives: Sequence[Objective], vectors: Sequence[Sequence[float]]) -> FrontSummary:
    """The front of ``vectors`` (completed trials' objective vectors in completion order; non-finite ones are left
    out) and its hypervolume against :func:`reference_point` (see the module docstring)."""
    import numpy as np

    from raynas.pareto import hypervolume, pareto_mask

    keep = [i for i, v in enumerate(vectors) if len(v) == len(objectives) and finite(v)]
    if not keep:
        return FrontSummary((), None, None)
    points = np.array([list(vectors[i]) for i in keep], dtype=float)
    mask = pareto_mask(points)
    front = tuple(keep[i] for i in np.flatnonzero(mask))
    ref = reference_point(objectives, [vectors[i] for i in keep])
    if ref is None:
        return FrontSummary(front, None, None)
    return FrontSummary(front, float(hypervolume(points[mask], ref)), tuple(float(r) for r in ref))


def in_metric_units(objectives: Sequence[Objective], vector: Sequence[float]) -> tuple[float, ...]:
    """A maximised vector (or reference point) back in each metric's own units (``min`` objectives negated back)."""
    return tuple(o.sign * float(v) for o, v in zip(objectives, vector))


def completed_in_order(records: Sequence[Any]) -> list[Any]:
    """The completed trials of ``records`` (trial-store records) in completion order (end time, then number; a
    trial without an end time last): the order that fixes the reference point."""
    done = [r for r in records if str(getattr(r.status, "value", r.status)) == "completed"]
    return sorted(done, key=lambda r: (r.end_time is None, r.end_time or 0.0, r.number))


def records_front(objectives: Sequence[Objective], records: Sequence[Any]) -> tuple[FrontSummary, list[Any]]:
    """The front of a search's stored trials: the :class:`FrontSummary` of its completed trials' objective vectors
    and those trials (``summary.front`` indexes them), in completion order (see :func:`completed_in_order`)."""
    done = completed_in_order(records)
    return front_summary(objectives, [objective_vector(objectives, r.metrics) for r in done]), done
