"""The bundled NAS-Bench-201 table, its search space, tabular trials and the offline simulator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from raynas.benchmarks import (
    InjectedFailure,
    TabularEvaluator,
    TabularTrialSettings,
    arch_to_string,
    load_table,
    nasbench201_space,
    simulate,
    string_to_arch,
)
from raynas.controllers import DEFAULT_CONTROLLER
from raynas.errors import ConfigError


@pytest.fixture(scope="module")
def table():
    return load_table()


def test_bundled_table_matches_the_known_figures(table):
    assert len(table) == 15625
    assert table.column("val_acc_200ep").max() == pytest.approx(91.6067)
    assert table.column("test_acc_200ep").max() == pytest.approx(91.5233)
    tau = kendalltau(table.column("val_acc_12ep"), table.column("val_acc_200ep")).statistic
    assert tau == pytest.approx(0.65, abs=0.01)
    ratio = table.proxy_cost().mean() / table.full_cost().mean()
    assert ratio == pytest.approx(0.06, abs=0.01)
    assert table.full_cost().mean() == pytest.approx(1828, abs=1)


def test_space_covers_exactly_the_table(table):
    space = nasbench201_space()
    assert space.size == 15625 == len(table)
    strings = {arch_to_string(space.decode(g)) for g in space.enumerate()}
    assert strings == set(table.arch)
    for text in table.arch[:50]:
        assert arch_to_string(string_to_arch(text)) == text


def test_evaluator_looks_up_the_right_column(table):
    row = int(np.argmax(table.column("val_acc_200ep")))
    arch = string_to_arch(table.arch[row])
    proxy = TabularEvaluator(TabularTrialSettings()).evaluate(arch, seed=0)
    full = TabularEvaluator(TabularTrialSettings(variant="full")).evaluate(arch, seed=0)
    assert proxy["val_accuracy"] == table.column("val_acc_12ep")[row] == proxy["reward"]
    assert full["val_accuracy"] == pytest.approx(91.6067)
    assert full["train_seconds"] == pytest.approx(200 * table.column("train_sec_per_epoch")[row])


def test_injected_failures_and_nans_follow_their_rates(table):
    evaluator = TabularEvaluator(TabularTrialSettings(failure_rate=0.3, nan_rate=0.2))
    space = nasbench201_space()
    failures = nans = 0
    for seed in range(1000):
        try:
            out = evaluator.evaluate(space.sample(seed), seed=seed)
        except InjectedFailure:
            failures += 1
            continue
        nans += math.isnan(out["reward"])
    assert 250 < failures < 350 and 150 < nans < 250


def test_custom_table_with_the_same_columns(tmp_path, table):
    frame = pd.DataFrame({"arch": list(table.arch), "val_acc_12ep": 1.0, "val_acc_200ep": 2.0,
                          "train_sec_per_epoch": 1.0, "eval_sec": 0.5})
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    mine = load_table(path)
    assert mine.source == str(path) and mine.proxy_cost()[0] == 12.5
    frame.drop(columns=["eval_sec"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ConfigError, match="eval_sec"):
        load_table(tmp_path / "bad.csv")
    with pytest.raises(ConfigError, match="existing"):
        load_table(tmp_path / "missing.csv")


def test_bad_tabular_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="benchmark.variant"):
        TabularTrialSettings(variant="medium")
    with pytest.raises(ConfigError, match="failure_rate"):
        TabularTrialSettings(failure_rate=1.5)


def test_simulator_reproduces_the_published_protocol(table):
    """Dong & Yang (ICLR 2020): random ~90.93, REA(10, 3) ~91.19 at 12,000 s, mean of many runs."""
    random_search = simulate(table, controller="random", budget_seconds=12000, seeds=300)
    evolution = simulate(table, controller="evolution", budget_seconds=12000, seeds=300,
                         options={"population_size": 10, "sample_size": 3})
    assert random_search.stage1_mean == pytest.approx(90.93, abs=0.1)
    assert evolution.stage1_mean == pytest.approx(91.19, abs=0.1)
    assert 90 < random_search.mean_evaluations < 120
    # stage 2 (full-train the top 10 by proxy) can only help
    assert random_search.stage2_mean >= random_search.stage1_mean
    assert evolution.stage2_mean >= evolution.stage1_mean


def test_default_controller_beats_the_bar_with_stage_two(table):
    summary = simulate(table, controller=DEFAULT_CONTROLLER, budget_seconds=12000, seeds=300)
    assert summary.stage2_mean >= 91.45
    assert summary.stage2_mean <= summary.optimum_full_accuracy


def test_simulation_is_reproducible_and_seed_dependent(table):
    a = simulate(table, controller="evolution", budget_seconds=3000, seeds=5)
    b = simulate(table, controller="evolution", budget_seconds=3000, seeds=5)
    c = simulate(table, controller="evolution", budget_seconds=3000, seeds=5, first_seed=100)
    assert a.runs == b.runs and a.runs != c.runs
    assert all(r.simulated_seconds >= 3000 for r in a.runs)
