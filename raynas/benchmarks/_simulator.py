"""Offline simulator: run a controller against a tabular benchmark without Ray, charging simulated time."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from raynas.benchmarks._table import BenchmarkTable
from raynas.controllers import TrialStatus, make_controller

STAGE2_TOP_K = 10


@dataclass(frozen=True)
class SimulatedRun:
    """One seed: what stage 1 picked (best proxy score) and what stage 2 picked (best full accuracy of top-k)."""

    seed: int
    evaluations: int
    simulated_seconds: float
    stage1_full_accuracy: float
    stage2_full_accuracy: float


@dataclass(frozen=True)
class SimulationSummary:
    controller: str
    options: dict[str, Any]
    budget_seconds: float
    seeds: int
    top_k: int
    table_source: str
    optimum_full_accuracy: float
    stage1_mean: float
    stage1_std: float
    stage2_mean: float
    stage2_std: float
    mean_evaluations: float
    runs: tuple[SimulatedRun, ...]
    #: Runs whose stage-1 (stage-2) pick has no full accuracy (NaN in the table, or nothing evaluated): they are
    #: left out of the means and standard deviations, which are NaN when every run is.
    stage1_nan: int = 0
    stage2_nan: int = 0

    def nan_note(self) -> str | None:
        """A line saying how many runs the averages leave out (None when none)."""
        if not (self.stage1_nan or self.stage2_nan):
            return None
        parts = [f"{n} of {self.seeds} {which} picks" for n, which in ((self.stage1_nan, "stage-1"),
                                                                       (self.stage2_nan, "stage-2")) if n]
        return (f"{self.controller}: {' and '.join(parts)} have no full accuracy (NaN in the table, or nothing "
                "evaluated within the budget); the averages leave them out")

    def to_dict(self, *, include_runs: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "runs"}
        if include_runs:
            out["runs"] = [r.__dict__ for r in self.runs]
        return out


def simulate(table: BenchmarkTable, *, controller: str, budget_seconds: float, seeds: int,
             options: Mapping[str, Any] | None = None, top_k: int = STAGE2_TOP_K, first_seed: int = 0,
             progress: Callable[[int], None] | None = None) -> SimulationSummary:
    """Run ``controller`` once per seed against ``table`` under a budget of simulated proxy seconds.

    Each evaluation charges the table's proxy cost (NAS-Bench-201: ``12 * train_sec_per_epoch + eval_sec``) and
    observes its proxy column (``val_acc_12ep``); evaluations continue while the spent time is below the budget
    (the published NAS-Bench-201 protocol). Architectures the table lacks are observed as failed.
    """
    space = table.space
    row_of_genotype = table.row_of_genotype
    canonical = space.canonical if space.is_conditional else None
    proxy = table.proxy()
    full = table.full()
    cost = table.proxy_cost()
    expected_trials = max(1, int(math.ceil(budget_seconds / float(np.mean(cost)))))
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        ctrl = make_controller(controller, space, seed=seed, max_trials=expected_trials, options=options)
        spent, evaluated = 0.0, {}
        while spent < budget_seconds:
            genotype = ctrl.propose()
            if genotype is None:
                break
            row = row_of_genotype.get(canonical(genotype) if canonical else genotype)
            if row is None or not math.isfinite(proxy[row]):
                ctrl.observe(genotype, None, TrialStatus.FAILED)
                continue
            spent += float(cost[row])
            evaluated[row] = float(proxy[row])
            ctrl.observe(genotype, float(proxy[row]), TrialStatus.COMPLETED)
        ranked = sorted(evaluated, key=lambda r: evaluated[r], reverse=True)
        stage1 = float(full[ranked[0]]) if ranked else math.nan
        top = [float(full[r]) for r in ranked[:top_k] if math.isfinite(full[r])]  # max() of NaNs depends on order
        stage2 = max(top) if top else math.nan
        runs.append(SimulatedRun(seed, len(evaluated), spent, stage1, stage2))
        if progress is not None:
            progress(1)
    s1 = np.array([r.stage1_full_accuracy for r in runs])
    s2 = np.array([r.stage2_full_accuracy for r in runs])
    with warnings.catch_warnings():  # every run NaN: the means are NaN, and stage1_nan/stage2_nan say why
        warnings.simplefilter("ignore", RuntimeWarning)
        means = (float(np.nanmean(s1)), float(np.nanstd(s1)), float(np.nanmean(s2)), float(np.nanstd(s2)))
    return SimulationSummary(
        controller=controller, options=dict(options or {}), budget_seconds=budget_seconds, seeds=seeds, top_k=top_k,
        table_source=table.source, optimum_full_accuracy=float(np.nanmax(full)),
        stage1_mean=means[0], stage1_std=means[1], stage2_mean=means[2], stage2_std=means[3],
        mean_evaluations=float(np.mean([r.evaluations for r in runs])), runs=tuple(runs),
        stage1_nan=int(np.isnan(s1).sum()), stage2_nan=int(np.isnan(s2).sum()),
    )
