"""Pareto fronts of reward against the measured cost of each architecture (lower cost is better)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from raynas._plotting import pyplot as _pyplot
from raynas._plotting import save_figure
from raynas.trials import TrialStatus

#: Cost metrics a trial may report (lower is better), in the order the report shows them.
COST_METRICS = ("latency_ms", "memory_mb", "flops", "params")
POINT_COLUMNS = ("number", "trial_id", "reward", "cost", "on_front")


@dataclass(frozen=True, eq=False)  # holds DataFrames: compared by identity
class ParetoFront:
    """Completed trials that measured ``cost``: ``points`` (columns number, trial_id, reward, cost, on_front),
    sorted by cost; ``front`` holds the non-dominated ones (no other trial is at least as cheap and at least as
    good, and strictly better in one of the two)."""

    cost: str
    points: Any
    mode_max: bool

    @property
    def front(self) -> Any:
        return self.points[self.points["on_front"]].reset_index(drop=True)


def pareto_mask(costs: Sequence[float], rewards: Sequence[float], *, mode_max: bool = True) -> list[bool]:
    """Which (cost, reward) points are non-dominated, lower cost and higher reward (lower when ``mode_max`` is
    false) being better. Identical points do not dominate each other (:func:`raynas.pareto.pareto_mask`)."""
    import numpy as np

    from raynas.pareto import pareto_mask as maximised_mask

    cost = np.asarray(costs, dtype=float)
    value = np.asarray(rewards, dtype=float)
    if len(cost) == 0:
        return []
    return maximised_mask(np.column_stack([-cost, value if mode_max else -value])).tolist()


def pareto_front(records: Iterable[Any], cost: str, *, mode_max: bool = True) -> ParetoFront:
    """The Pareto front of reward against the metric ``cost`` over the completed records that measured it."""
    import pandas as pd

    rows = []
    for r in records:
        value = (r.metrics or {}).get(cost)
        if r.status is not TrialStatus.COMPLETED or r.reward is None or not _finite(r.reward) or not _finite(value):
            continue
        rows.append((int(r.number), str(r.trial_id), float(r.reward), float(value)))
    points = pd.DataFrame(rows, columns=list(POINT_COLUMNS[:-1]))
    points["on_front"] = pareto_mask(points["cost"], points["reward"], mode_max=mode_max) if len(points) else []
    points = points.sort_values(["cost", "number"], kind="stable").reset_index(drop=True)
    points["on_front"] = points["on_front"].astype(bool)
    return ParetoFront(cost=cost, points=points, mode_max=mode_max)


def cost_metrics_present(records: Iterable[Any], candidates: Sequence[str] = COST_METRICS) -> list[str]:
    """The cost metrics that at least two completed records measured (finite values), in ``candidates`` order."""
    counts = {name: 0 for name in candidates}
    for r in records:
        if r.status is not TrialStatus.COMPLETED:
            continue
        metrics = r.metrics or {}
        for name in candidates:
            if _finite(metrics.get(name)):
                counts[name] += 1
    return [name for name in candidates if counts[name] >= 2]


def pareto_fronts(records: Sequence[Any], *, mode_max: bool = True,
                  costs: Sequence[str] | None = None) -> dict[str, ParetoFront]:
    """A :class:`ParetoFront` for every cost metric measured by the completed records."""
    records = list(records)
    names = list(costs) if costs is not None else cost_metrics_present(records)
    return {name: pareto_front(records, name, mode_max=mode_max) for name in names}


def pareto_plot(front: ParetoFront, path: str | Path, *, annotate: int = 15) -> Path:
    """All measured trials in grey, the front in red (a step line, each front trial numbered); log scale for a
    cost spanning more than two decades."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = front.points
    ax.scatter(pts["cost"], pts["reward"], s=12, c="#bbbbbb", linewidths=0, label=f"trials ({len(pts)})")
    best = front.front
    if len(best):
        ax.step(best["cost"], best["reward"], where="post", color="#d62728", linewidth=1.2)
        ax.scatter(best["cost"], best["reward"], s=24, c="#d62728", label=f"Pareto front ({len(best)})", zorder=3)
        if len(best) <= annotate:
            for row in best.itertuples():
                ax.annotate(f"#{row.number}", (row.cost, row.reward), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    positive = pts["cost"][pts["cost"] > 0]
    if len(positive) >= 2 and positive.max() / positive.min() > 100 and (pts["cost"] > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel(f"{front.cost} (lower is better)")
    ax.set_ylabel("reward" + ("" if front.mode_max else " (lower is better)"))
    ax.set_title(f"Reward vs {front.cost}")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy numbers included
        return False
    return math.isfinite(float(value))
