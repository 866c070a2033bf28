"""The rules of issue 16: the ">20% invalid" auto-stop counts failed and invalid trials; the timeout clock."""

from __future__ import annotations

import pytest

from raynas.config import AutoStopConfig
from raynas.tune._convergence import RunningOutcomes, auto_stop_decision


def test_nine_failed_of_forty_stop_the_search():
    """The issue's case: 9 of 40 trials failed (22.5%), none NaN, and the search ran on."""
    outcomes = [("failed", None) if i % 4 == 0 and i < 36 else ("completed", 60.0 + i % 7) for i in range(40)]
    assert sum(s == "failed" for s, _ in outcomes) == 9
    decision = auto_stop_decision(outcomes, AutoStopConfig(invalid_min_trials=40))
    assert decision is not None and decision.rule == "too_many_invalid"
    assert decision.reason.startswith("9 of 40 trials (22.5%) gave no valid reward (9 failed, 0 invalid)")


def test_failed_and_invalid_add_up_but_stopped_trials_do_not():
    config = AutoStopConfig(invalid_min_trials=20)
    base = [("completed", float(i)) for i in range(15)]
    mixed = base + [("failed", None)] * 3 + [("invalid", None)] * 2  # 5 of 20 = 25%
    decision = auto_stop_decision(mixed, config)
    assert decision is not None and "(3 failed, 2 invalid)" in decision.reason
    stopped = base + [("stopped", 1.0)] * 3 + [("invalid", None)] * 2  # 2 of 20 = 10%: stopped early is no failure
    assert auto_stop_decision(stopped, config) is None
    assert auto_stop_decision(mixed[:19], config) is None  # not before invalid_min_trials


def test_a_failed_trial_recorded_again_as_completed_no_longer_counts():
    config = AutoStopConfig(invalid_min_trials=10)
    running = RunningOutcomes()
    for number in range(10):
        running.add(number, "failed" if number < 3 else "completed", None if number < 3 else 1.0 * number)
    assert running.failed == 3 and running.decision(config) is not None  # 30%
    running.add(0, "completed", 5.0)
    running.add(1, "completed", 6.0)
    assert running.failed == 1 and running.decision(config) is None  # 10%


# --- the timeout clock starts at the first trial of a run --------------------------------------------------------

def test_a_run_has_no_deadline_until_its_first_trial_starts(tmp_path, monkeypatch):
    import raynas.tune._runs as runs_module
    from raynas.tune._runs import DeadlineStopper, begin_run, deadline_reached, end_run, read_runs, start_clock, used_seconds

    clock = {"now": 1000.0}
    monkeypatch.setattr(runs_module.time, "time", lambda: clock["now"])
    path = tmp_path / "runs.json"
    begin_run(path, timeout_s=60.0, max_total_s=120.0, max_resumes=1, resume=False)
    stopper = DeadlineStopper(str(path))
    clock["now"] = 1500.0  # Ray start-up and restore took 500 s, longer than the timeout
    assert not stopper.stop_all() and not deadline_reached(path)
    assert start_clock(path)["start"] == 1500.0  # the first trial starts now
    assert start_clock(path, now=1600.0) is None  # once per run
    run = read_runs(path)[-1]
    assert (run["launched"], run["start"], run["deadline"]) == (1000.0, 1500.0, 1560.0)
    clock["now"] = 1559.0
    assert not stopper.stop_all()  # the whole 60 s of trial time
    clock["now"] = 1560.0
    assert stopper.stop_all() and deadline_reached(path)
    end_run(path, "timed_out")
    assert used_seconds(read_runs(path)) == 60.0  # trial time only: the 500 s of start-up are not used time
    # the resume gets what is left of max_total_time; its start-up is free too, and a run without trials costs nothing
    clock["now"] = 2000.0
    assert begin_run(path, timeout_s=60.0, max_total_s=120.0, max_resumes=1, resume=True)["budget"] == 60.0
    clock["now"] = 2300.0
    end_run(path, "interrupted")  # killed during start-up: no trial ran
    assert used_seconds(read_runs(path)) == 60.0


@pytest.mark.ray
def test_a_slow_start_up_leaves_the_search_its_whole_timeout(ray_cluster, tmp_path, monkeypatch):
    import json
    import time

    import raynas.tune._runner as runner
    from raynas.config import SearchConfig
    from raynas.tracking import TrialStore
    from raynas.tune import run_search

    slow = 3.0  # with the clock started at launch, these 3 s would come off the timeout
    ensure_ray = runner.ensure_ray

    def slow_start(*args, **kwargs):
        time.sleep(slow)
        return ensure_ray(*args, **kwargs)

    monkeypatch.setattr(runner, "ensure_ray", slow_start)
    config = SearchConfig.from_dict({"name": "slow-start", "workdir": str(tmp_path), "max_trials": 100000,
                                     "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5,
                                     "controller": "random", "timeout": "12s", "mlflow": False, "auto_stop": False})
    result = run_search(config)
    assert result.status == "timed_out"
    run = json.loads((config.experiment_dir / "runs.json").read_text())[-1]
    records = TrialStore(config.experiment_dir / "trials").records()
    assert run["start"] >= run["launched"] + slow  # the clock started after the slow start-up...
    assert run["start"] <= min(r.start_time for r in records) + 1.0  # ...when the first trial started (the driver
    # hears of the start a moment after the trial's own clock read it)
    assert run["deadline"] - run["start"] == pytest.approx(12.0)
    assert sum(r.status == "completed" for r in records) > 0  # trial time was left
