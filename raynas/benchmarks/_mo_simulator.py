"""Offline multi-objective simulation: a controller searches a table for the Pareto front of several columns
(e.g. proxy accuracy vs parameter count), charged simulated proxy time; each run is scored by hypervolume.

Objectives are ``(column, mode)`` pairs: ``accuracy`` (the proxy column), the proxy column by name, a declared
``metrics`` column (NAS-Bench-201: ``params``, ``flops``) or a cost column; ``mode`` is ``max`` or ``min``. The
controller observes each evaluation's objective vector with every component maximised (``min`` columns negated),
as the search engine gives it.

Scores of one run, each a hypervolume divided by that of the table's own front over every row (1.0: the run found
the best front the table holds):

- ``hypervolume``: the front the run found (the distinct evaluated architectures no other evaluated one dominates
  by the values the search saw), measured by **true** values: the full-training accuracy in place of the proxy accuracy,
  the other columns as they are;
- ``proxy_hypervolume``: the same front by the values the search saw;
- ``stage2_hypervolume``: the ``top_k`` architectures stage 2 would full-train, by true values: the rule of a
  search's own stage 2 (:func:`raynas.pareto.spread`: whole fronts while they fit, then max-min distance along the
  front that does not, extremes kept).

Reference point (stated in the summary, :attr:`MultiObjectiveSummary.reference`): per objective, the worst value
over the whole table (the lowest accuracy, the largest parameter count); the proxy scores use the worst proxy
accuracy. Points no better than it in some objective add nothing.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from raynas.benchmarks._simulator import STAGE2_TOP_K, run_within_budget
from raynas.benchmarks._table import BenchmarkTable
from raynas.controllers import make_controller
from raynas.errors import ConfigError, suggest
from raynas.pareto import hypervolume, pareto_mask
from raynas.pareto import spread as pareto_spread

#: The objective name that stands for the table's proxy accuracy column.
ACCURACY = "accuracy"
MODES = ("max", "min")
#: Builds a controller for one seed: ``factory(space, seed=..., max_trials=..., num_objectives=...)``; it needs
#: ``propose()`` and ``observe(genotype, reward, status)`` as :class:`raynas.controllers.Controller` has them.
ControllerFactory = Callable[..., Any]


@dataclass(frozen=True)
class MultiObjectiveRun:
    """One seed: evaluations, simulated seconds, the front found and its normalised hypervolumes."""

    seed: int
    evaluations: int
    simulated_seconds: float
    front_size: int
    hypervolume: float
    proxy_hypervolume: float
    stage2_hypervolume: float
    #: Table rows of the front found (by the values the search saw) and of its stage-2 spread.
    front_rows: tuple[int, ...] = ()
    stage2_rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class MultiObjectiveSummary:
    """Mean and standard deviation over seeds of the three normalised hypervolumes (see the module docstring)."""

    controller: str
    options: dict[str, Any]
    #: (column, mode) of each objective, ``accuracy`` resolved to the proxy column.
    objectives: tuple[tuple[str, str], ...]
    budget_seconds: float
    seeds: int
    top_k: int
    table_source: str
    #: The reference point of the true-value hypervolumes, in each column's own units (full accuracy first when
    #: the proxy accuracy is an objective), and of the proxy-value ones.
    reference: tuple[float, ...]
    proxy_reference: tuple[float, ...]
    #: Hypervolume (unnormalised, maximised form) of the table's true front and of its proxy front.
    true_front_hypervolume: float
    proxy_front_hypervolume: float
    true_front_size: int
    hypervolume_mean: float
    hypervolume_std: float
    proxy_hypervolume_mean: float
    proxy_hypervolume_std: float
    stage2_hypervolume_mean: float
    stage2_hypervolume_std: float
    mean_evaluations: float
    mean_front_size: float
    runs: tuple[MultiObjectiveRun, ...]

    def to_dict(self, *, include_runs: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "runs"}
        out["objectives"] = [list(o) for o in self.objectives]
        if include_runs:
            out["runs"] = [r.__dict__ for r in self.runs]
        return out


def objective_columns(table: BenchmarkTable) -> list[str]:
    """The names an objective may take on ``table``: ``accuracy`` (its proxy column), the proxy column, its
    ``metrics`` columns and its cost columns."""
    declared = table.declaration
    names = [ACCURACY, declared.proxy, *declared.metrics]
    names += [c for c, _ in declared.proxy_cost + declared.full_cost]
    return list(dict.fromkeys(names))


def resolve_objectives(table: BenchmarkTable, objectives: Sequence[tuple[str, str]], *,
                       field: str = "objectives") -> tuple[tuple[str, str], ...]:
    """Check ``objectives`` against ``table`` ((column, mode) pairs, at least 2, distinct) and resolve
    ``accuracy`` to the proxy column; ConfigError (``field`` named) naming the bad value and the fix otherwise."""
    declared = table.declaration
    names = objective_columns(table)
    example = f"e.g. {ACCURACY}:max,{declared.metrics[0] if declared.metrics else declared.proxy_cost[0][0]}:min"
    pairs = list(objectives)
    if len(pairs) < 2:
        raise ConfigError(field, ",".join(f"{c}:{m}" for c, m in pairs) or None,
                          "at least 2 objectives (a Pareto front needs two)", example)
    out: list[tuple[str, str]] = []
    for column, mode in pairs:
        if column not in names:
            hint = ""
            if column in (declared.full, *(c for _, c in declared.test)):
                hint = " (full-training and test accuracies are not known during a search: use the proxy)"
            raise ConfigError(field, column, f"a column of {declared.label} a search observes: {', '.join(names)}"
                              f"{hint}", f"check the name{suggest(column, names)}")
        if mode not in MODES:
            raise ConfigError(field, f"{column}:{mode}", "a mode of max or min", f"e.g. {column}:max or {column}:min")
        resolved = declared.proxy if column == ACCURACY else column
        if resolved in (c for c, _ in out):
            raise ConfigError(field, column, "distinct objectives", f"{resolved!r} is named twice: remove one")
        out.append((resolved, mode))
    return tuple(out)


def parse_objectives_text(text: str, *, field: str = "--objectives") -> list[tuple[str, str]]:
    """``accuracy:max,params:min`` -> [("accuracy", "max"), ("params", "min")] (a missing mode is ``max``);
    ConfigError naming the bad entry otherwise."""
    out = []
    for item in str(text).split(","):
        column, sep, mode = item.strip().partition(":")
        if not column or (sep and not mode):
            raise ConfigError(field, text, "COLUMN:MODE entries separated by commas",
                              "e.g. --objectives accuracy:max,params:min")
        out.append((column.strip(), mode.strip() if sep else "max"))
    return out


def _values(table: BenchmarkTable, objectives: Sequence[tuple[str, str]], *, true: bool) -> np.ndarray:
    """The (rows, objectives) array of each row's maximised objective values: proxy accuracy replaced by the full
    accuracy when ``true``."""
    declared = table.declaration
    columns = []
    for column, mode in objectives:
        values = table.full() if (true and column == declared.proxy) else table.column(column)
        columns.append(values if mode == "max" else -values)
    return np.column_stack(columns).astype(float)


def _reference(values: np.ndarray) -> np.ndarray:
    """The worst value of each objective over the table's rows with every objective finite."""
    finite = np.isfinite(values).all(axis=1)
    return values[finite].min(axis=0)


def simulate_multiobjective(table: BenchmarkTable, *, controller: str | ControllerFactory,
                            objectives: Sequence[tuple[str, str]], budget_seconds: float, seeds: int,
                            options: Mapping[str, Any] | None = None, top_k: int = STAGE2_TOP_K,
                            first_seed: int = 0, name: str | None = None,
                            progress: Callable[[int], None] | None = None) -> MultiObjectiveSummary:
    """Run ``controller`` (a registered multi-objective controller, or a :data:`ControllerFactory`) once per seed
    against ``table`` under a budget of simulated proxy seconds, observing ``objectives`` (see the module docstring).

    Each evaluation charges the table's proxy cost and observes the row's objective vector (maximised form);
    evaluations continue while the spent time is below the budget, as :func:`raynas.benchmarks.simulate` does. An
    architecture the table lacks, or whose objective values are not all finite, is observed as failed (no cost).
    """
    resolved = resolve_objectives(table, objectives)
    space = table.space
    seen_values = _values(table, resolved, true=False)
    true_values = _values(table, resolved, true=True)
    usable = np.isfinite(seen_values).all(axis=1)
    cost = table.proxy_cost()
    true_ref, proxy_ref = _reference(true_values), _reference(seen_values)
    true_best, proxy_best = _front_hypervolume(true_values, true_ref), _front_hypervolume(seen_values, proxy_ref)
    expected_trials = max(1, int(math.ceil(budget_seconds / float(np.mean(cost)))))
    label = name or (controller if isinstance(controller, str) else getattr(controller, "__name__", "controller"))
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        if isinstance(controller, str):
            ctrl = make_controller(controller, space, seed=seed, max_trials=expected_trials, options=options,
                                   num_objectives=len(resolved))
        else:
            ctrl = controller(space, seed=seed, max_trials=expected_trials, num_objectives=len(resolved))
        spent, evaluated = run_within_budget(ctrl, table, budget_seconds, usable=usable,
                                             reward=lambda row: tuple(float(v) for v in seen_values[row]))
        runs.append(_score(seed, spent, evaluated, seen_values, true_values, (true_ref, true_best),
                           (proxy_ref, proxy_best), top_k))
        if progress is not None:
            progress(1)
    stats = {}
    for key in ("hypervolume", "proxy_hypervolume", "stage2_hypervolume"):
        values = np.array([getattr(r, key) for r in runs])
        stats[key] = (float(np.mean(values)), float(np.std(values)))
    signs = np.array([1.0 if mode == "max" else -1.0 for _, mode in resolved])
    return MultiObjectiveSummary(
        controller=label, options=dict(options or {}), objectives=resolved, budget_seconds=budget_seconds,
        seeds=seeds, top_k=top_k, table_source=table.source,
        reference=tuple(float(v) for v in signs * true_ref), proxy_reference=tuple(float(v) for v in signs * proxy_ref),
        true_front_hypervolume=true_best, proxy_front_hypervolume=proxy_best,
        true_front_size=int(pareto_mask(true_values[np.isfinite(true_values).all(axis=1)]).sum()),
        hypervolume_mean=stats["hypervolume"][0], hypervolume_std=stats["hypervolume"][1],
        proxy_hypervolume_mean=stats["proxy_hypervolume"][0], proxy_hypervolume_std=stats["proxy_hypervolume"][1],
        stage2_hypervolume_mean=stats["stage2_hypervolume"][0], stage2_hypervolume_std=stats["stage2_hypervolume"][1],
        mean_evaluations=float(np.mean([r.evaluations for r in runs])),
        mean_front_size=float(np.mean([r.front_size for r in runs])), runs=tuple(runs))


def _front_hypervolume(values: np.ndarray, reference: np.ndarray) -> float:
    finite = values[np.isfinite(values).all(axis=1)]
    return hypervolume(finite, reference)


def _score(seed: int, spent: float, evaluated: list[int], seen: np.ndarray, true: np.ndarray,
           true_norm: tuple[np.ndarray, float], proxy_norm: tuple[np.ndarray, float], top_k: int) -> MultiObjectiveRun:
    """One run's front (by the values seen), its stage-2 spread and their normalised hypervolumes."""
    if not evaluated:
        return MultiObjectiveRun(seed, 0, spent, 0, 0.0, 0.0, 0.0)
    rows = np.array(sorted(set(evaluated)))  # a controller that proposes a row again paid twice, finds it once
    front = rows[pareto_mask(seen[rows])]
    spread = rows[pareto_spread(seen[rows], top_k)]  # the rule `raynas train` uses (raynas.pareto.spread)
    with warnings.catch_warnings():  # a table whose front has no volume over the reference: the ratio is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        found = np.float64(hypervolume(true[front], true_norm[0])) / true_norm[1]
        seen_hv = np.float64(hypervolume(seen[front], proxy_norm[0])) / proxy_norm[1]
        stage2 = np.float64(hypervolume(true[spread], true_norm[0])) / true_norm[1]
    return MultiObjectiveRun(seed, len(evaluated), spent, len(front), float(found), float(seen_hv), float(stage2),
                             tuple(int(r) for r in front), tuple(int(r) for r in spread))
