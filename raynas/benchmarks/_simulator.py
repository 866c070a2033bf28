"""Offline simulator: run a controller against a tabular benchmark without Ray, charging simulated time."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from raynas.benchmarks._table import BenchmarkTable
from raynas.controllers import TrialStatus, make_controller
from raynas.selection import References, choose_for_full_training

STAGE2_TOP_K = 10
#: Fully trained reference models per run (what proxy design trains: its minimum for a rank correlation).
REFERENCE_MODELS = 10
#: How stage 2 chooses its set: ``corrected`` (:func:`raynas.selection.choose_for_full_training`) or ``proxy`` (top-k).
SELECTIONS = ("corrected", "proxy")
#: The reference rows of seed s are drawn by ``numpy.random.default_rng([_REFERENCE_STREAM, s])``: a stream of their
#: own, so that the controller's proposals are the same with and without references.
_REFERENCE_STREAM = 0x5E1EC7


@dataclass(frozen=True)
class SimulatedRun:
    """One seed: what stage 1 picked (best proxy score) and what stage 2 picked: the best full accuracy of the set
    the selection chose (``stage2_full_accuracy``) and of the top-k by proxy (``stage2_proxy_full_accuracy``);
    ``selection`` is how the set was chosen: ``corrected``, or why it fell back to proxy rank (one of
    :data:`raynas.selection.FALLBACKS`), or ``top-k by proxy``."""

    seed: int
    evaluations: int
    simulated_seconds: float
    stage1_full_accuracy: float
    stage2_full_accuracy: float
    stage2_proxy_full_accuracy: float = math.nan
    selection: str = ""


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
    #: How stage 2 chose its set (``corrected`` or ``proxy``), with how many reference models per run; the top-k by
    #: proxy score's stage 2 (the same as ``stage2_*`` when ``selection`` is ``proxy``); how many runs used the
    #: correction, and why the others fell back to proxy rank (reason -> runs).
    selection: str = "proxy"
    reference_models: int = 0
    stage2_proxy_mean: float = math.nan
    stage2_proxy_std: float = math.nan
    stage2_proxy_nan: int = 0
    corrected_runs: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)

    def selection_note(self) -> str:
        """How the stage-2 sets were chosen, in one line."""
        if self.selection == "proxy":
            return f"{self.controller}: stage 2 full-trains the top {self.top_k} by proxy score"
        line = (f"{self.controller}: stage 2 chosen with {self.reference_models} fully trained reference models per run "
                f"(random rows, not charged to the budget): {self.top_k - self.top_k // 2} by proxy rank + "
                f"{self.top_k // 2} by corrected prediction in {self.corrected_runs} of {self.seeds} runs")
        if self.fallbacks:
            line += "; proxy rank only in " + ", ".join(f"{n} ({why})" for why, n in sorted(self.fallbacks.items()))
        return line

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


def run_within_budget(ctrl: Any, table: BenchmarkTable, budget_seconds: float, *, usable: np.ndarray,
                      reward: Callable[[int], Any]) -> tuple[float, list[int]]:
    """One simulated search (the published NAS-Bench-201 protocol): ``ctrl`` proposes while the spent proxy time is
    below ``budget_seconds``; each proposal's table row is charged its proxy cost and ``ctrl`` observes ``reward(row)``;
    an architecture the table lacks, or whose row is not ``usable``, is observed as failed and costs nothing.
    Returns the time spent and the rows evaluated, in order (a row proposed again appears again: it was paid again).
    """
    row_of_genotype = table.row_of_genotype
    canonical = table.space.canonical if table.space.is_conditional else None
    cost = table.proxy_cost()
    spent, rows = 0.0, []
    while spent < budget_seconds:
        genotype = ctrl.propose()
        if genotype is None:
            break
        row = row_of_genotype.get(canonical(genotype) if canonical else genotype)
        if row is None or not usable[row]:
            ctrl.observe(genotype, None, TrialStatus.FAILED)
            continue
        spent += float(cost[row])
        rows.append(row)
        ctrl.observe(genotype, reward(row), TrialStatus.COMPLETED)
    return spent, rows


def simulate(table: BenchmarkTable, *, controller: str, budget_seconds: float, seeds: int,
             options: Mapping[str, Any] | None = None, top_k: int = STAGE2_TOP_K, first_seed: int = 0,
             progress: Callable[[int], None] | None = None, selection: str = "corrected",
             reference_models: int = REFERENCE_MODELS) -> SimulationSummary:
    """Run ``controller`` once per seed against ``table`` under a budget of simulated proxy seconds.

    Each evaluation charges the table's proxy cost (NAS-Bench-201: ``12 * train_sec_per_epoch + eval_sec``) and
    observes its proxy column (``val_acc_12ep``); evaluations continue while the spent time is below the budget
    (the published NAS-Bench-201 protocol). Architectures the table lacks are observed as failed.

    Stage 2 full-trains ``top_k`` of the evaluated architectures. ``selection="proxy"``: the top-k by proxy score;
    ``"corrected"`` (default): :func:`raynas.selection.choose_for_full_training`, which learns the proxy-vs-full
    disagreement from ``reference_models`` fully trained models. These stand for the reference models proxy design
    trains before a search: random table rows (with a finite proxy score, full accuracy and cost) drawn per seed
    from a random stream of their own, and **not charged to the budget** (they are paid for once, before the
    search). Both results are reported (``stage2_*`` for the chosen selection, ``stage2_proxy_*`` for top-k).
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    space = table.space
    proxy = table.proxy()
    full = table.full()
    cost = table.proxy_cost()
    expected_trials = max(1, int(math.ceil(budget_seconds / float(np.mean(cost)))))
    known = np.flatnonzero(np.isfinite(proxy) & np.isfinite(full) & np.isfinite(cost))
    references = reference_models if selection == "corrected" else 0
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        ctrl = make_controller(controller, space, seed=seed, max_trials=expected_trials, options=options)
        spent, rows_run = run_within_budget(ctrl, table, budget_seconds, usable=np.isfinite(proxy),
                                            reward=lambda row: float(proxy[row]))
        evaluated = {row: float(proxy[row]) for row in rows_run}
        ranked = sorted(evaluated, key=lambda r: evaluated[r], reverse=True)
        stage1 = float(full[ranked[0]]) if ranked else math.nan
        by_proxy = _best(full, ranked[:top_k])
        stage2, how = by_proxy, "top-k by proxy"
        if selection == "corrected":
            rows = np.random.default_rng([_REFERENCE_STREAM, seed]).choice(known, min(references, len(known)),
                                                                            replace=False)
            chosen = choose_for_full_training(ranked, [evaluated[r] for r in ranked], top_k, cost=cost[ranked],
                                              references=References(proxy[rows], full[rows], cost[rows]))
            stage2, how = _best(full, chosen.chosen), chosen.fallback or chosen.method
        runs.append(SimulatedRun(seed, len(evaluated), spent, stage1, stage2, by_proxy, how))
        if progress is not None:
            progress(1)
    s1 = np.array([r.stage1_full_accuracy for r in runs])
    s2 = np.array([r.stage2_full_accuracy for r in runs])
    s2p = np.array([r.stage2_proxy_full_accuracy for r in runs])
    with warnings.catch_warnings():  # every run NaN: the means are NaN, and stage1_nan/stage2_nan say why
        warnings.simplefilter("ignore", RuntimeWarning)
        means = (float(np.nanmean(s1)), float(np.nanstd(s1)), float(np.nanmean(s2)), float(np.nanstd(s2)),
                 float(np.nanmean(s2p)), float(np.nanstd(s2p)))
    fallbacks: dict[str, int] = {}
    for run in runs:
        if selection == "corrected" and run.selection != "corrected":
            fallbacks[run.selection] = fallbacks.get(run.selection, 0) + 1
    return SimulationSummary(
        controller=controller, options=dict(options or {}), budget_seconds=budget_seconds, seeds=seeds, top_k=top_k,
        table_source=table.source, optimum_full_accuracy=float(np.nanmax(full)),
        stage1_mean=means[0], stage1_std=means[1], stage2_mean=means[2], stage2_std=means[3],
        mean_evaluations=float(np.mean([r.evaluations for r in runs])), runs=tuple(runs),
        stage1_nan=int(np.isnan(s1).sum()), stage2_nan=int(np.isnan(s2).sum()),
        selection=selection, reference_models=references, stage2_proxy_mean=means[4], stage2_proxy_std=means[5],
        stage2_proxy_nan=int(np.isnan(s2p).sum()),
        corrected_runs=sum(1 for r in runs if r.selection == "corrected"), fallbacks=fallbacks,
    )


def _best(full: np.ndarray, rows: Any) -> float:
    """The best finite full accuracy of ``rows`` (NaN when none: max() over NaNs would depend on the order)."""
    values = [float(full[r]) for r in rows if math.isfinite(full[r])]
    return max(values) if values else math.nan
