"""Stage-1 search on a real local Ray cluster: store, failure budget, concurrency, statuses."""

from __future__ import annotations

import json

import pytest

from raynas.benchmarks import arch_to_string, load_table
from raynas.config import SearchConfig
from raynas.tracking import TrialStore
from raynas.tune import run_search

pytestmark = pytest.mark.ray


def config(tmp_path, **overrides) -> SearchConfig:
    base = {"name": "t", "workdir": str(tmp_path), "max_trials": 20, "max_concurrent": 2, "gpus_per_trial": 0,
            "cpus_per_trial": 0.5, "seed": 1}
    base.update(overrides)
    return SearchConfig.from_dict(base)


def test_every_trial_lands_in_the_store_with_its_architecture_and_reward(ray_cluster, tmp_path):
    cfg = config(tmp_path, max_trials=30, max_concurrent=3)
    result = run_search(cfg)
    assert result.status == "completed" and result.trials == 30
    records = TrialStore(result.store_dir).records()
    assert sorted(r.number for r in records) == list(range(1, 31))
    table = load_table()
    space = cfg.build_space()
    for r in records:
        assert r.status == "completed"
        assert space.decode(r.genotype) == r.arch
        assert r.reward == table.column("val_acc_12ep")[table.row_of[arch_to_string(r.arch)]]
        assert r.metrics["val_accuracy"] == r.reward and "pid" not in r.metrics and "time_total_s" not in r.metrics
        assert r.end_time >= r.start_time and r.resources == {"cpu": 0.5, "gpu": 0.0}
    assert len({r.genotype for r in records}) == 30
    assert result.best_reward == max(r.reward for r in records)
    status = json.loads((cfg.experiment_dir / "status.json").read_text())
    assert status["status"] == "completed" and status["trials"] == 30


def test_failure_budget_cancels_the_search_at_the_100th_failure(ray_cluster, tmp_path):
    # auto_stop off: after 200 trials its "converged" rule may end the search first, depending on trial order
    cfg = config(tmp_path, max_trials=300, max_concurrent=4, benchmark={"failure_rate": 0.4}, auto_stop=False)
    assert cfg.max_failed == 100
    result = run_search(cfg, progress_interval_s=1e9)
    records = TrialStore(result.store_dir).records()
    failed = sorted((r for r in records if r.status == "failed"), key=lambda r: r.end_time)
    assert result.status == "cancelled"
    # Trials run in parallel: one already finishing when the 100th failure lands may still fail as well.
    assert 100 <= len(failed) < 100 + cfg.max_concurrent
    hundredth = failed[99]
    assert not [r for r in records if r.start_time > hundredth.end_time + 1e-3]  # nothing started after it
    assert "failure budget reached" in result.status_line() and "max_failed is 100" in result.status_line()
    assert result.status_line().startswith("search 't' cancelled: failure budget reached")
    assert result.trials == len(records) < 300
    assert all(r.failure_reason and "InjectedFailure" in r.failure_reason for r in failed)
    # every trial that ran is in the store; the only numbers missing are trials proposed but not yet started
    # when the search was cancelled (at most max_concurrent of them)
    numbers = [r.number for r in records]
    assert len(set(numbers)) == len(numbers)
    assert len(set(range(1, max(numbers) + 1)) - set(numbers)) <= cfg.max_concurrent


def test_concurrency_limit_is_respected(ray_cluster, tmp_path):
    cfg = config(tmp_path, max_trials=8, max_concurrent=2,
                 benchmark={"sleep_fraction": 1.0, "max_sleep_s": 2.0})  # long enough for a busy machine
    result = run_search(cfg)
    records = TrialStore(result.store_dir).records()
    events = sorted([(r.start_time, 1) for r in records] + [(r.end_time, -1) for r in records])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert result.trials == 8
    assert peak == 2


def test_invalid_trials_and_minimisation(ray_cluster, tmp_path):
    cfg = config(tmp_path, max_trials=30, mode="min", benchmark={"nan_rate": 0.3})
    result = run_search(cfg)
    records = TrialStore(result.store_dir).records()
    invalid = [r for r in records if r.status == "invalid"]
    completed = [r for r in records if r.status == "completed"]
    assert invalid and all("nan" in r.failure_reason.lower() for r in invalid)
    assert all(r.reward is None for r in invalid)
    assert result.best_reward == min(r.reward for r in completed)


def test_existing_experiment_is_not_overwritten_by_accident(ray_cluster, tmp_path):
    from raynas.errors import ConfigError

    cfg = config(tmp_path, max_trials=3)
    run_search(cfg)
    with pytest.raises(ConfigError, match="already exists"):
        run_search(cfg)
    assert run_search(cfg, overwrite=True).trials == 3


def test_gpu_trials_on_a_cpu_only_cluster_are_refused_clearly(ray_cluster, tmp_path):
    from raynas.errors import ConfigError

    with pytest.raises(ConfigError, match="gpus_per_trial.*gpus_per_trial: 0"):
        run_search(config(tmp_path, gpus_per_trial=2))


def test_fixed_part_of_the_space_is_respected(ray_cluster, tmp_path):
    fixed = {"cell.0->1": "nor_conv_3x3", "cell.0->2": "nor_conv_3x3", "cell.1->2": "skip_connect",
             "cell.0->3": "none", "cell.1->3": "nor_conv_3x3"}
    cfg = config(tmp_path, max_trials=8, controller="random", fixed=fixed)
    assert cfg.build_space().size == 5
    result = run_search(cfg)
    assert result.status == "exhausted" and result.trials == 5
    records = TrialStore(result.store_dir).records()
    assert {r.arch["cell"]["2->3"] for r in records} == {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                         "avg_pool_3x3"}
    assert all(r.arch["cell"]["0->1"] == "nor_conv_3x3" for r in records)


def test_timeout_ends_the_search_with_a_clear_status(ray_cluster, tmp_path):
    cfg = config(tmp_path, max_trials=200, max_concurrent=2, timeout=10, auto_stop=False,
                 benchmark={"sleep_fraction": 1.0, "max_sleep_s": 0.5})
    result = run_search(cfg)
    assert result.status == "timed_out" and 0 < result.trials < 200
    assert "timeout of 10 s reached" in result.status_line()
