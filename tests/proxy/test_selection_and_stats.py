"""Pure parts of proxy design: spread pruning, rank agreement, the whole-space estimate, candidates, settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from scipy import stats

from raynas.errors import ConfigError
from raynas.proxy import (
    CandidatePolicy,
    ProxySearchSettings,
    SelectionSettings,
    prune_for_spread,
    rank_agreement,
    relative_cost,
    tabular_study,
    whole_space_tau,
)
from raynas.tasks import Variant, load_task
from raynas.tune import Job


def test_spread_pruning_keeps_the_extremes_and_drops_the_crowded_point():
    points = [[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.51, 0.5], [0.0, 1.0]]
    kept = prune_for_spread(points, 4)
    assert kept == [0, 1, 2, 4] or kept == [0, 1, 3, 4]  # one of the near-duplicate pair goes
    assert prune_for_spread(points, 2) and set(prune_for_spread(points, 2)) <= {0, 1, 4}


def test_spread_pruning_drops_failed_models_first_and_is_deterministic():
    rng = np.random.default_rng(3)
    points = rng.random((20, 2))
    points[[4, 9], 0] = np.nan
    kept = prune_for_spread(points, 10)
    assert len(kept) == 10 and 4 not in kept and 9 not in kept
    assert kept == prune_for_spread(points, 10)
    assert prune_for_spread(points, 30) == [i for i in range(20) if i not in (4, 9)]


def test_rank_agreement_matches_scipy_and_counts_top_k():
    proxy = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, math.nan]
    full = [1.5, 1.0, 3.5, 3.0, 6.0, 5.0, 2.0]
    got = rank_agreement(proxy, full, top_k=2)
    assert got.n == 6
    assert got.kendall_tau == pytest.approx(stats.kendalltau(proxy[:6], full[:6]).statistic)
    assert got.spearman == pytest.approx(stats.spearmanr(proxy[:6], full[:6]).statistic)
    assert got.top_k_overlap == pytest.approx(1.0)  # both top-2 sets are {4, 5}
    assert rank_agreement(proxy, full, top_k=1).top_k_overlap == 0.0


def test_whole_space_estimate_is_close_to_the_raw_tau_when_references_are_a_random_sample():
    rng = np.random.default_rng(0)
    quality = rng.normal(size=400)
    proxy = quality + rng.normal(scale=0.6, size=400)
    full = quality + rng.normal(scale=0.3, size=400)
    covariates = np.column_stack([proxy + rng.normal(scale=0.2, size=400), rng.normal(size=400)])
    refs = np.arange(0, 400, 2)  # an unselected half: nothing to correct
    estimate = whole_space_tau(covariates=covariates, reference_rows=refs, proxy=proxy[refs], full=full[refs])
    assert estimate.tau == pytest.approx(stats.kendalltau(proxy, full).statistic, abs=0.05)
    assert estimate.low < estimate.tau < estimate.high


def test_whole_space_estimate_recovers_the_tables_proxy_correlation_over_seeds():
    """Acceptance: averaged over seeds the estimate is within 0.05 of the whole table's tau (0.648), while the
    reference sets chosen for spread overstate it."""
    study = tabular_study(seeds=range(40))
    assert study.true_tau == pytest.approx(0.648, abs=0.002)
    assert abs(study.mean_space_tau - study.true_tau) < 0.05
    assert study.mean_reference_tau - study.true_tau > 0.07  # the bias the correction removes
    assert study.coverage > 0.6


def test_selection_settings_refuse_too_few_references_and_bad_fractions():
    with pytest.raises(ConfigError, match="at least 5 reference models"):
        SelectionSettings(keep=4)
    with pytest.raises(ConfigError, match="initial"):
        SelectionSettings(initial=8, keep=10)
    with pytest.raises(ConfigError, match="increasing fractions"):
        SelectionSettings(fractions=(0.5, 0.25))
    with pytest.raises(ConfigError, match="increasing fractions"):
        SelectionSettings(fractions=(0.5, 1.0))
    assert SelectionSettings().round_sizes() == [21, 14, 10]
    assert SelectionSettings(initial=12, keep=6, fractions=(0.5,)).round_sizes() == [6]


def _task(tmp_path, **extra):
    body = yaml.safe_load(open("proxy_tasks/digits.yaml"))
    body.update(extra)
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_candidates_from_a_list_a_grid_or_generated(tmp_path):
    from raynas.proxy import task_candidates

    generated = task_candidates(load_task("digits"))
    assert [c.name for c in generated] == ["e4", "e8", "e16"]
    listed = task_candidates(load_task(_task(tmp_path, proxy_candidates=[
        {"name": "quick", "epochs": 2}, {"epochs": 6, "data_fraction": 1.0}])))
    assert [c.name for c in listed] == ["quick", "e6-d1"]
    assert listed[0].variant == Variant(epochs=2, data_fraction=0.5, width_mult=0.5)
    grid = task_candidates(load_task(_task(tmp_path, proxy_candidates={"grid": {"epochs": [2, 4], "width_mult": [0.5, 1.0]}})))
    assert len(grid) == 4
    full = Variant(epochs=30)
    assert relative_cost(Variant(epochs=15, data_fraction=0.5, width_mult=0.5), full) == pytest.approx(0.0625)


def test_a_proxy_as_expensive_as_full_training_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_task(_task(tmp_path, proxy_candidates=[{"name": "same", "epochs": 30, "data_fraction": 1.0,
                                                     "width_mult": 1.0}]))
    text = str(info.value)
    assert "same" in text and "100% of full training" in text and "lower its epochs" in text
    with pytest.raises(ConfigError, match="no larger than the full variant"):
        load_task(_task(tmp_path, proxy_candidates=[{"epochs": 40}]))
    with pytest.raises(ConfigError, match="distinct candidate names"):
        load_task(_task(tmp_path, proxy_candidates=[{"epochs": 2}, {"epochs": 2}]))


def _job(group: str, model: str) -> Job:
    return Job(1, {}, 0, group, {"model": model, "candidate": group})


def test_candidate_policy_stops_candidates_that_can_no_longer_be_cheapest():
    full = {f"m{i}": float(i) for i in range(6)}
    policy = CandidatePolicy(ProxySearchSettings(min_tau=0.6), full, accuracy_key="val_accuracy")
    for i in range(6):  # a cheap candidate that ranks perfectly: passes
        policy.observe(_job("cheap", f"m{i}"), "completed", {"val_accuracy": float(i), "train_seconds": 1.0})
    assert policy.successes == {"cheap": 6.0}
    policy.observe(_job("slow", "m0"), "completed", {"val_accuracy": 0.0, "train_seconds": 4.0})
    assert policy.cancelled("slow") is None  # 4 s spent, still below 6 s
    policy.observe(_job("slow", "m1"), "completed", {"val_accuracy": 1.0, "train_seconds": 4.0})
    assert "more than the successful candidate cheap" in policy.cancelled("slow")
    assert policy.cancelled("cheap") is None
    for i in range(2, 6):  # jobs still running when it was stopped end too: it stays stopped, never passes
        policy.observe(_job("slow", f"m{i}"), "stopped" if i == 5 else "completed",
                       {"val_accuracy": float(i), "train_seconds": 0.1})
    assert "more than the successful candidate cheap" in policy.cancelled("slow")
    assert "slow" not in policy.successes


def test_candidate_policy_time_limit_and_failures():
    full = {f"m{i}": float(i) for i in range(6)}
    policy = CandidatePolicy(ProxySearchSettings(time_limit_s=5.0), full, accuracy_key="val_accuracy")
    policy.observe(_job("a", "m0"), "completed", {"val_accuracy": 0.0, "train_seconds": 6.0})
    assert "time limit" in policy.cancelled("a")
    policy.observe(_job("b", "m0"), "failed", {})
    assert policy.cancelled("b") is None  # 5 of 6 can still be valid (needs 5 and 70%)
    policy.observe(_job("b", "m1"), "invalid", {})
    assert "fewer valid models than the bar needs" in policy.cancelled("b")
