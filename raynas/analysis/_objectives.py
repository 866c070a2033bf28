"""The Pareto front of a multi-objective search's configured ``objectives`` and its hypervolume, with plots.

The numbers follow the rules every stage shares (:func:`raynas.config.records_front`: objective vectors, the
reference point fixed by the first completed trials or the config; the math in :mod:`raynas.pareto`), so the report
shows what the search showed while it ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

from raynas._plotting import pyplot as _pyplot
from raynas._plotting import save_figure


@dataclass(frozen=True, eq=False)  # holds a DataFrame: compared by identity
class ObjectivesFront:
    """Completed trials of a multi-objective search: ``points`` (columns number, trial_id, one per objective metric
    in its own units, on_front), the objectives, the front's ``hypervolume`` and its ``reference`` point (metric
    units; None while fewer trials completed than fix it)."""

    objectives: tuple[Any, ...]
    points: Any
    hypervolume: float | None
    reference: tuple[float, ...] | None

    @property
    def front(self) -> Any:
        return self.points[self.points["on_front"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"objectives": [o.to_dict() for o in self.objectives], "front_size": int(self.points["on_front"].sum()),
                "trials": len(self.points), "hypervolume": self.hypervolume,
                "reference": None if self.reference is None else list(self.reference),
                "front_trials": [str(t) for t in self.front["trial_id"]]}


def objectives_front(objectives: Sequence[Any], records: Sequence[Any]) -> ObjectivesFront:
    """The front of ``records`` (a search's trial-store records) over ``objectives``."""
    import pandas as pd

    from raynas.config import in_metric_units, records_front

    summary, done = records_front(objectives, records)
    on_front = set(summary.front)
    rows = []
    for i, record in enumerate(done):
        values = [record.metrics.get(o.metric) for o in objectives]
        rows.append([int(record.number), str(record.trial_id), *values, i in on_front])
    columns = ["number", "trial_id", *[o.metric for o in objectives], "on_front"]
    points = pd.DataFrame(rows, columns=columns)
    points = points[points[[o.metric for o in objectives]].notna().all(axis=1)].reset_index(drop=True)
    points["on_front"] = points["on_front"].astype(bool)
    first = objectives[0]
    points = points.sort_values([first.metric, "number"], ascending=[first.mode.value == "min", True],
                                kind="stable").reset_index(drop=True)
    reference = None if summary.reference is None else in_metric_units(objectives, summary.reference)
    return ObjectivesFront(tuple(objectives), points, summary.hypervolume, reference)


def objectives_plots(front: ObjectivesFront, out_dir: str | Path, *, annotate: int = 15) -> list[Path]:
    """One plot per pair of objectives (one for 2 objectives): every completed trial in grey, the front in red
    (each front trial numbered when there are at most ``annotate``), the reference point dashed when fixed."""
    out = []
    for a, b in combinations(range(len(front.objectives)), 2):
        out.append(_pair_plot(front, a, b, Path(out_dir) / f"front-{front.objectives[a].metric}-"
                                                            f"{front.objectives[b].metric}.png", annotate=annotate))
    return out


def _pair_plot(front: ObjectivesFront, a: int, b: int, path: Path, *, annotate: int) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    oa, ob = front.objectives[a], front.objectives[b]
    pts, best = front.points, front.front
    ax.scatter(pts[ob.metric], pts[oa.metric], s=12, c="#bbbbbb", linewidths=0, label=f"trials ({len(pts)})")
    if len(best):
        ax.scatter(best[ob.metric], best[oa.metric], s=24, c="#d62728", zorder=3,
                   label=f"Pareto front of all objectives ({len(best)})")
        if len(best) <= annotate:
            for row in best.itertuples(index=False):
                ax.annotate(f"#{row.number}", (getattr(row, ob.metric), getattr(row, oa.metric)), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
    if front.reference is not None:
        ax.axvline(front.reference[b], color="#555555", linestyle="--", linewidth=0.8)
        ax.axhline(front.reference[a], color="#555555", linestyle="--", linewidth=0.8, label="reference point")
    positive = pts[ob.metric][pts[ob.metric] > 0]
    if len(positive) >= 2 and len(positive) == len(pts) and positive.max() / positive.min() > 100:
        ax.set_xscale("log")
    ax.set_xlabel(f"{ob.metric} ({'lower' if ob.mode.value == 'min' else 'higher'} is better)")
    ax.set_ylabel(f"{oa.metric} ({'lower' if oa.mode.value == 'min' else 'higher'} is better)")
    hv = "" if front.hypervolume is None else f", hypervolume {front.hypervolume:.4g}"
    ax.set_title(f"{oa.metric} vs {ob.metric}{hv}")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)
