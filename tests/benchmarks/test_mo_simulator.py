"""Multi-objective simulation (``simulate_multiobjective``): budget accounting, the objective vectors controllers
observe, and the hypervolumes of the front found against the table's own front."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.benchmarks import (
    load_table,
    parse_objectives_text,
    resolve_objectives,
    simulate_multiobjective,
)
from raynas.controllers import TrialStatus, make_controller
from raynas.errors import ConfigError
from raynas.pareto import hypervolume, pareto_mask
from tests.benchmarks.test_declared_table import declare, toy_frame

OBJECTIVES = [("accuracy", "max"), ("size", "min")]


def sized_frame():
    frame = toy_frame()
    frame["size"] = frame["depth"] * frame["width"] + 10.0 * (frame["op"] == "conv")
    return frame


def toy(tmp_path, frame=None):
    return load_table(declare(tmp_path, frame=sized_frame() if frame is None else frame, metrics=["size"]))


class Recorder:
    """A controller factory that proposes every architecture in the table's order (each ``repeat`` times) and
    records what it observes."""

    def __init__(self, repeat=1):
        self.observed = []
        self.repeat = repeat

    def __call__(self, space, *, seed, max_trials, num_objectives):
        order = [g for g in space.enumerate() for _ in range(self.repeat)]
        recorder = self

        class Walk:
            def propose(self):
                return order.pop(0) if order else None

            def observe(self, genotype, reward, status):
                recorder.observed.append((genotype, reward, TrialStatus(status)))

        return Walk()


def test_covering_the_table_finds_its_whole_front(tmp_path):
    table = toy(tmp_path)
    summary = simulate_multiobjective(table, controller="random", objectives=OBJECTIVES,
                                      budget_seconds=float(table.proxy_cost().sum()), seeds=3, top_k=100)
    assert summary.objectives == (("proxy_acc", "max"), ("size", "min"))
    assert summary.mean_evaluations == len(table)
    # proxy and full accuracy rank the toy rows alike: the front by proxy values is the true front
    assert summary.hypervolume_mean == pytest.approx(1.0) and summary.proxy_hypervolume_mean == pytest.approx(1.0)
    assert summary.stage2_hypervolume_mean == pytest.approx(1.0)
    true = np.column_stack([table.full(), -table.column("size")])
    assert summary.true_front_size == int(pareto_mask(true).sum())
    assert summary.reference == (table.full().min(), table.column("size").max())  # the table's worst values, stated
    assert summary.proxy_reference == (table.proxy().min(), table.column("size").max())
    assert summary.true_front_hypervolume == pytest.approx(hypervolume(true, [table.full().min(),
                                                                              -table.column("size").max()]))


def test_a_small_budget_finds_less_of_the_front_and_charges_proxy_time(tmp_path):
    table = toy(tmp_path)
    budget = 0.2 * float(table.proxy_cost().sum())
    summary = simulate_multiobjective(table, controller="random", objectives=OBJECTIVES, budget_seconds=budget,
                                      seeds=6)
    assert summary.hypervolume_mean < 1.0 and summary.mean_evaluations < len(table)
    for run in summary.runs:
        costs = table.proxy_cost()
        assert budget <= run.simulated_seconds < budget + costs.max()  # stops once the budget is spent
        assert 0 <= run.hypervolume <= 1
        front, stage2 = set(run.front_rows), set(run.stage2_rows)  # raynas.pareto.spread: whole fronts, then thinned
        assert stage2 <= front if len(front) >= summary.top_k else front <= stage2
        assert len(stage2) == min(summary.top_k, run.evaluations)


def test_controllers_observe_maximised_vectors_with_min_objectives_negated(tmp_path):
    frame = sized_frame()
    frame.loc[5, "proxy_acc"] = np.nan  # a diverged architecture: failed, never charged
    table = toy(tmp_path, frame)
    recorder = Recorder()
    summary = simulate_multiobjective(table, controller=recorder, objectives=OBJECTIVES, budget_seconds=1e9, seeds=1,
                                      name="walk")
    assert summary.controller == "walk" and summary.runs[0].evaluations == len(table) - 1
    assert summary.runs[0].simulated_seconds == pytest.approx(float(np.delete(table.proxy_cost(), 5).sum()))
    for genotype, reward, status in recorder.observed:
        row = table.row_of_genotype[genotype]
        if row == 5:
            assert status is TrialStatus.FAILED and reward is None
        else:
            assert status is TrialStatus.COMPLETED
            assert reward == (table.proxy()[row], -table.column("size")[row])
    assert 5 not in summary.runs[0].front_rows


def test_an_architecture_proposed_again_is_charged_again_but_on_the_front_once(tmp_path):
    table = toy(tmp_path)
    once = simulate_multiobjective(table, controller=Recorder(), objectives=OBJECTIVES, budget_seconds=1e9, seeds=1)
    twice = simulate_multiobjective(table, controller=Recorder(repeat=2), objectives=OBJECTIVES, budget_seconds=1e9,
                                    seeds=1, top_k=3)
    assert twice.runs[0].evaluations == 2 * len(table)
    assert twice.runs[0].simulated_seconds == pytest.approx(2 * once.runs[0].simulated_seconds)
    assert twice.runs[0].front_rows == once.runs[0].front_rows and len(set(twice.runs[0].stage2_rows)) == 3
    assert twice.runs[0].hypervolume == once.runs[0].hypervolume


def test_the_true_hypervolume_judges_the_front_by_full_accuracy(tmp_path):
    frame = sized_frame()
    frame["full_acc"] = frame["full_acc"].to_numpy()[::-1]  # full training disagrees with the proxy
    table = toy(tmp_path, frame)
    summary = simulate_multiobjective(table, controller="random", objectives=OBJECTIVES,
                                      budget_seconds=float(table.proxy_cost().sum()), seeds=1)
    assert summary.proxy_hypervolume_mean == pytest.approx(1.0)
    assert summary.hypervolume_mean < 0.99


def test_stage2_keeps_a_spread_of_the_front(tmp_path):
    table = toy(tmp_path)
    summary = simulate_multiobjective(table, controller="random", objectives=OBJECTIVES,
                                      budget_seconds=float(table.proxy_cost().sum()), seeds=2, top_k=2)
    for run in summary.runs:
        assert len(run.stage2_rows) == 2 < run.front_size
        sizes = table.column("size")[list(run.front_rows)]
        assert sorted(table.column("size")[list(run.stage2_rows)]) == [sizes.min(), sizes.max()]  # its two ends
        assert run.stage2_hypervolume <= run.hypervolume


def test_objectives_text_and_bad_objectives(tmp_path):
    assert parse_objectives_text("accuracy:max, size:min") == [("accuracy", "max"), ("size", "min")]
    assert parse_objectives_text("accuracy,size:min") == [("accuracy", "max"), ("size", "min")]
    with pytest.raises(ConfigError, match="COLUMN:MODE"):
        parse_objectives_text("accuracy:,size:min")
    table = toy(tmp_path)
    with pytest.raises(ConfigError, match="objectives: got 'sise'.*did you mean 'size'"):
        resolve_objectives(table, [("accuracy", "max"), ("sise", "min")])
    with pytest.raises(ConfigError, match="got 'full_acc'.*not known during a search"):
        resolve_objectives(table, [("full_acc", "max"), ("size", "min")])
    with pytest.raises(ConfigError, match="got 'size:smallest'.*max or min"):
        resolve_objectives(table, [("accuracy", "max"), ("size", "smallest")])
    with pytest.raises(ConfigError, match="named twice"):
        resolve_objectives(table, [("accuracy", "max"), ("proxy_acc", "max")])
    with pytest.raises(ConfigError, match="at least 2 objectives"):
        resolve_objectives(table, [("accuracy", "max")])
    assert resolve_objectives(table, [("proxy_s", "min"), ("accuracy", "max")]) == (("proxy_s", "min"),
                                                                                   ("proxy_acc", "max"))


def test_a_single_objective_controller_is_refused(tmp_path):
    table = toy(tmp_path)
    with pytest.raises(ConfigError, match="got 'evolution'; expected a multi-objective controller"):
        make_controller("evolution", table.space, num_objectives=2)
    with pytest.raises(ConfigError, match="got 'evolution'; expected a multi-objective controller"):
        simulate_multiobjective(table, controller="evolution", objectives=OBJECTIVES, budget_seconds=100, seeds=1)


def test_bundled_table_accuracy_vs_params_is_scored_on_its_true_front():
    table = load_table()
    summary = simulate_multiobjective(table, controller="nsga2", objectives=[("accuracy", "max"), ("params", "min")],
                                      budget_seconds=3000, seeds=2)
    assert summary.reference == (table.full().min(), table.column("params").max())
    assert all(0 < r.hypervolume < 1 and r.evaluations > 10 for r in summary.runs)
