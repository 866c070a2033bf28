"""The Pareto front of a multi-objective search as it runs: which completed trials are on it, its hypervolume.

The progress line, ``progress.json`` (``raynas monitor``) and the MLflow parent run show what a :class:`FrontTracker`
holds. It follows the rules of :mod:`raynas.config` (:func:`raynas.config.front_summary`: objective vectors, the
reference point fixed by the first completed trials or the config), so the report computes the same numbers.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from raynas.config import FrontSummary, Objective, completed_in_order, front_summary, objective_vector


class FrontTracker:
    """Objective vectors of the completed trials, in completion order (a trial recorded again replaces its vector)."""

    def __init__(self, objectives: Sequence[Objective]) -> None:
        self.objectives = tuple(objectives)
        self.trial_ids: list[str] = []
        self.vectors: list[tuple[float, ...]] = []
        self._index: dict[str, int] = {}  # trial id -> its place in the lists (a 10,000-trial search adds in O(1))
        self._summary: FrontSummary | None = None

    def add(self, trial_id: str, metrics: Mapping[str, Any]) -> None:
        """A trial completed with these metrics."""
        vector = objective_vector(self.objectives, metrics)
        if trial_id in self._index:
            self.vectors[self._index[trial_id]] = vector
        else:
            self._index[trial_id] = len(self.trial_ids)
            self.trial_ids.append(trial_id)
            self.vectors.append(vector)
        self._summary = None

    def seed(self, records: Sequence[Any]) -> None:
        """The completed trials of earlier runs (trial-store records), in their completion order."""
        for record in completed_in_order(records):
            self.add(record.trial_id, record.metrics)

    @property
    def summary(self) -> FrontSummary:
        if self._summary is None:
            self._summary = front_summary(self.objectives, self.vectors)
        return self._summary

    def on_front(self) -> set[str]:
        """The trial ids on the front now."""
        return {self.trial_ids[i] for i in self.summary.front}

    def fields(self) -> dict[str, Any]:
        """``front_size`` and ``hypervolume`` (None until the reference point is fixed)."""
        return {"front_size": self.summary.size, "hypervolume": self.summary.hypervolume}

    def words(self) -> str:
        """``front 7, hypervolume 0.4213`` for the progress line."""
        hv = self.summary.hypervolume
        return f"front {self.summary.size}, hypervolume {'-' if hv is None else f'{hv:.4g}'}"


#: Tag of a multi-objective search's trial run in MLflow: "true" when the trial is on the front of the stored trials.
TAG_ON_FRONT = "raynas.on_front"


def front_tracking(objectives: Sequence[Objective], records: Sequence[Any]) -> tuple[dict[str, float],
                                                                                     dict[str, dict[str, str]]]:
    """What the final MLflow sync of a multi-objective search sends: the parent's ``front_size`` and
    ``hypervolume`` (when fixed) and every completed trial's ``raynas.on_front`` tag ("true"/"false")."""
    from raynas.config import records_front

    summary, done = records_front(objectives, records)
    on_front = {done[i].trial_id for i in summary.front}
    metrics = {"front_size": float(summary.size)}
    if summary.hypervolume is not None:
        metrics["hypervolume"] = summary.hypervolume
    return metrics, {r.trial_id: {TAG_ON_FRONT: str(r.trial_id in on_front).lower()} for r in done}
