"""The rules of issue 16: the ">20% invalid" auto-stop counts failed and invalid trials; the timeout clock."""

from __future__ import annotations

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
