"""The timeout and resume policy: 14 days a run, one resume after a timeout, 28 days in all (configurable)."""

from __future__ import annotations

import json
import time

import pytest

from raynas.errors import RaynasError
from raynas.tune import begin_run, deadline_reached, end_run, used_seconds
from raynas.tune._runs import start_clock

DAY = 86400.0


def _fake_history(path, runs):
    path.write_text(json.dumps(runs))


def test_a_new_run_gets_the_timeout_and_a_resumed_one_what_is_left(tmp_path):
    path = tmp_path / "runs.json"
    run = begin_run(path, timeout_s=14 * DAY, max_total_s=28 * DAY, max_resumes=1, resume=False)
    assert run["deadline"] - run["start"] == pytest.approx(14 * DAY)
    now = time.time()
    _fake_history(path, [{"start": now - 20 * DAY, "deadline": now - 6 * DAY, "end": now - 6 * DAY,
                          "ended": "timed_out", "after": None}])
    run = begin_run(path, timeout_s=14 * DAY, max_total_s=28 * DAY, max_resumes=1, resume=True)
    assert run["after"] == "timed_out"
    assert run["deadline"] - run["start"] == pytest.approx(14 * DAY)  # 14 of the 28 days are left
    assert len(json.loads(path.read_text())) == 2


def test_a_second_timeout_is_not_resumed_and_the_refusal_explains_the_rule(tmp_path):
    path = tmp_path / "runs.json"
    now = time.time()
    _fake_history(path, [
        {"start": now - 30, "deadline": now - 20, "end": now - 20, "ended": "timed_out", "after": None},
        {"start": now - 10, "deadline": now - 5, "end": now - 5, "ended": "timed_out", "after": "timed_out"}])
    with pytest.raises(RaynasError) as info:
        begin_run(path, timeout_s=10, max_total_s=100, max_resumes=1, resume=True, name="s")
    text = str(info.value)
    assert "allows 1 resume(s) after a timeout" in text and "max_resumes" in text and "raynas estimate" in text
    begin_run(path, timeout_s=10, max_total_s=100, max_resumes=2, resume=True)  # a higher limit lets it go on


def test_crash_resumes_are_allowed_but_count_towards_the_total_time(tmp_path):
    path = tmp_path / "runs.json"
    now = time.time()
    _fake_history(path, [{"start": now - 27 * DAY, "deadline": now - 13 * DAY, "end": None, "ended": None,
                          "after": None}])
    # killed: no end recorded; its time counts until its last stored trial
    assert used_seconds(json.loads(path.read_text()), store_end=now - 20 * DAY) == pytest.approx(7 * DAY, rel=1e-6)
    run = begin_run(path, timeout_s=14 * DAY, max_total_s=28 * DAY, max_resumes=1, resume=True,
                    store_end=now - 20 * DAY)
    assert run["after"] == "interrupted" and run["deadline"] - run["start"] == pytest.approx(14 * DAY)
    _fake_history(path, [{"start": now - 29 * DAY, "deadline": now - DAY, "end": now - DAY, "ended": "interrupted",
                          "after": None}])
    with pytest.raises(RaynasError, match="max_total_time"):
        begin_run(path, timeout_s=14 * DAY, max_total_s=28 * DAY, max_resumes=1, resume=True)


def test_deadline_and_end_are_recorded(tmp_path):
    path = tmp_path / "runs.json"
    begin_run(path, timeout_s=0.01, max_total_s=1.0, max_resumes=1, resume=False)
    time.sleep(0.02)
    assert not deadline_reached(path)  # no trial has started: the clock waits (tests/tune/test_rules.py)
    start_clock(path)
    time.sleep(0.02)
    assert deadline_reached(path)
    end_run(path, "timed_out")
    assert json.loads(path.read_text())[-1]["ended"] == "timed_out"
