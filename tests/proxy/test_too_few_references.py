"""Too few reference models: no whole-space tau figure but "too few reference models (n=...)" and an inconclusive
verdict, in the estimate, the proxy search's summary and the checklist. The minimum is measured on NAS-Bench-201."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from raynas.benchmarks import load_table
from raynas.proxy import SelectionSettings, load_result, tabular_study, whole_space_tau
from raynas.proxy._check import CheckResult
from raynas.proxy._stats import MIN_SPACE_REFERENCES, SPACE_INTERVAL_WIDTH, tau_interval_width
from tests.proxy.test_check import candidate, make_target, run, write_search


def _references(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=60)
    proxy, full = quality + rng.normal(scale=0.5, size=60), quality + rng.normal(scale=0.3, size=60)
    covariates = np.column_stack([proxy + rng.normal(scale=0.2, size=60), rng.normal(size=60)])
    rows = np.arange(n) * 3
    return dict(covariates=covariates, reference_rows=rows, proxy=proxy[rows], full=full[rows])


def test_five_reference_models_give_no_figure_but_say_too_few():
    estimate = whole_space_tau(**_references(5))
    assert math.isnan(estimate.tau) and math.isnan(estimate.low) and math.isnan(estimate.high)
    assert estimate.verdict == "inconclusive" and estimate.references == 5
    assert estimate.note.startswith(f"too few reference models (n=5; at least {MIN_SPACE_REFERENCES} needed for an "
                                    f"interval narrower than {SPACE_INTERVAL_WIDTH:g})")
    assert math.isfinite(estimate.reference_tau) and "inconclusive: too few" in estimate.text()
    enough = whole_space_tau(**_references(MIN_SPACE_REFERENCES))
    assert enough.verdict == "estimated" and enough.note is None and math.isfinite(enough.tau)
    # non-finite pairs do not count as reference models
    refs = _references(MIN_SPACE_REFERENCES)
    refs["full"] = refs["full"].copy()
    refs["full"][0] = math.nan
    assert whole_space_tau(**refs).note.startswith(f"too few reference models (n={MIN_SPACE_REFERENCES - 1};")


def test_the_issues_case_on_the_table_is_inconclusive_instead_of_one():
    """Five spread-selected reference models of NAS-Bench-201 often estimate exactly 1.0 (bench/reference_models.py):
    now every seed says too few, and the default ten still estimate."""
    few = tabular_study(seeds=range(6), settings=SelectionSettings(initial=15, keep=5, fractions=(0.5,)))
    assert all(math.isnan(r.space_tau) and math.isfinite(r.reference_tau) for r in few.runs)
    default = tabular_study(seeds=range(2), settings=SelectionSettings(fractions=(0.5,)))
    assert all(-1 <= r.space_tau <= 1 and r.low <= r.high for r in default.runs)


def test_the_minimum_is_where_the_tau_of_random_sets_gets_informative():
    """The noise the minimum is chosen from: the 95% range of Kendall tau over random sets of n table cells is wider
    than SPACE_INTERVAL_WIDTH at 5 models and narrower at MIN_SPACE_REFERENCES (800 draws, seeded)."""
    table = load_table()
    *_, at_five = tau_interval_width(table.proxy(), table.full(), 5, draws=800, seed=1)
    low, high, at_minimum = tau_interval_width(table.proxy(), table.full(), MIN_SPACE_REFERENCES, draws=800, seed=1)
    assert at_five >= SPACE_INTERVAL_WIDTH > at_minimum and 0 < low < high < 1


def test_search_summary_and_checklist_say_too_few_instead_of_a_number(tmp_path):
    target = make_target(tmp_path)
    note = "too few reference models (n=5; at least 10 needed for an interval narrower than 0.7): run ..."
    few = dataclasses.replace(candidate("e8", space_tau=math.nan), space_tau_low=math.nan, space_tau_high=math.nan,
                              space_note=note)
    write_search(target, few, chosen="e8")
    loaded = load_result(target)
    assert loaded.candidates[0].space_note == note  # kept through the JSON file
    assert "whole-space estimate inconclusive: too few reference models (n=5" in loaded.summary()
    assert "nan" not in loaded.summary()
    row = run(target).row("whole-space correlation")
    assert row.result is CheckResult.WARN and row.value == "inconclusive"
    assert row.detail.startswith("inconclusive: too few reference models (n=5; at least 10")
    assert "raynas proxy search" in row.detail
    write_search(target, candidate("e8", space_tau=0.7), chosen="e8")  # an estimate: its figure as before
    assert run(target).row("whole-space correlation").value == "0.700 [0.60, 0.80]"


@pytest.mark.parametrize("n", [3, 9])
def test_any_number_below_the_minimum_is_refused(n):
    assert whole_space_tau(**_references(n)).verdict == "inconclusive"
