"""How well the whole-space estimate recovers a proxy's true rank correlation, on the tabular benchmark (no Ray).

For each seed this does what ``raynas proxy select-models`` and ``raynas proxy search`` do on the table -- the
same sample of architectures, the same rounds of spread pruning on (12-epoch accuracy, recorded cost), the same
estimator -- with table look-ups in place of Ray jobs, so hundreds of seeds take seconds. The tests check that
it matches the real tools seed for seed, and ``bench/proxy_estimate.py`` reports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from raynas.proxy._select import SelectionSettings
from raynas.proxy._spread import prune_for_spread
from raynas.proxy._stats import whole_space_tau


@dataclass(frozen=True)
class StudyRun:
    seed: int
    reference_tau: float
    space_tau: float
    low: float
    high: float


@dataclass(frozen=True)
class StudySummary:
    """Per-seed results and the whole-table Kendall tau they estimate."""

    true_tau: float
    runs: tuple[StudyRun, ...]

    @property
    def mean_reference_tau(self) -> float:
        return float(np.nanmean([r.reference_tau for r in self.runs]))

    @property
    def mean_space_tau(self) -> float:
        return float(np.nanmean([r.space_tau for r in self.runs]))

    @property
    def coverage(self) -> float:
        """Share of seeds whose interval holds the true value."""
        inside = [r.low <= self.true_tau <= r.high for r in self.runs if math.isfinite(r.low)]
        return float(np.mean(inside)) if inside else math.nan


def tabular_study(*, seeds: range, settings: SelectionSettings | None = None, table: str | None = None,
                  progress: Callable[[int], None] | None = None) -> StudySummary:
    """Reference-set tau and whole-space estimate of the 12-epoch proxy vs 200-epoch training, per seed."""
    from dataclasses import replace

    from scipy import stats

    from raynas.benchmarks import load_table
    from raynas.proxy._target import DesignTarget

    settings = settings or SelectionSettings()
    data = load_table(table)
    proxy, full, cost = data.proxy(), data.full(), data.proxy_cost()
    valid = np.isfinite(proxy) & np.isfinite(full)
    true_tau = float(stats.kendalltau(proxy[valid], full[valid]).statistic)
    target = DesignTarget(table=table)
    runs = []
    for seed in seeds:
        rows = [data.row_of_arch(a) for a in target.sample(settings.initial, seed)]
        points = np.column_stack([proxy[rows], cost[rows]])
        alive = list(range(len(rows)))
        for size in replace(settings, seed=seed).round_sizes():
            alive = [alive[k] for k in prune_for_spread(points[alive], size)]
        refs = [k for k in alive if np.isfinite(full[rows[k]])]
        measured = [k for k in range(len(rows)) if np.all(np.isfinite(points[k]))]
        position = {k: i for i, k in enumerate(measured)}
        estimate = whole_space_tau(covariates=points[measured], reference_rows=[position[k] for k in refs],
                                   proxy=proxy[[rows[k] for k in refs]], full=full[[rows[k] for k in refs]], seed=seed)
        runs.append(StudyRun(seed, estimate.reference_tau, estimate.tau, estimate.low, estimate.high))
        if progress is not None:
            progress(1)
    return StudySummary(true_tau, tuple(runs))
