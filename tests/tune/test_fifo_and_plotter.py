"""Driver-side costs that must not grow with the search: the FIFO scheduler and the search plot's redraws."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from raynas.config import SearchConfig
from raynas.tune import LiveTrialsFIFOScheduler, SearchPlotter, build_scheduler


@dataclass(eq=False)
class FakeTrial:
    trial_id: str
    status: str = "PENDING"


class FakeController:
    """What Tune hands a scheduler: ``get_live_trials()`` (the scheduler must not need ``get_trials()``)."""

    def __init__(self) -> None:
        self.live: set[FakeTrial] = set()

    def get_live_trials(self) -> set[FakeTrial]:
        return self.live

    def get_trials(self) -> list[FakeTrial]:
        raise AssertionError("the scheduler walked every trial of the experiment")


def test_fifo_picks_the_earliest_added_pending_trial_from_the_live_ones_only():
    scheduler, controller = LiveTrialsFIFOScheduler(), FakeController()
    trials = [FakeTrial(f"t{i}") for i in range(6)]
    for t in trials:
        scheduler.on_trial_add(controller, t)
        controller.live.add(t)
    assert scheduler.choose_trial_to_run(controller) is trials[0]
    trials[0].status = trials[1].status = "RUNNING"
    assert scheduler.choose_trial_to_run(controller) is trials[2]
    trials[2].status = "TERMINATED"
    scheduler.on_trial_complete(controller, trials[2], {})
    controller.live.discard(trials[2])
    assert scheduler.choose_trial_to_run(controller) is trials[3]
    for t in trials[3:]:
        t.status = "RUNNING"
    assert scheduler.choose_trial_to_run(controller) is None
    trials[5].status = trials[4].status = "PAUSED"
    assert scheduler.choose_trial_to_run(controller) is trials[4]  # paused ones when nothing is pending
    late = FakeTrial("late")
    scheduler.on_trial_add(controller, late)
    controller.live.add(late)
    assert scheduler.choose_trial_to_run(controller) is late  # pending goes before paused
    assert "t2" not in scheduler._order  # finished trials are forgotten: memory stays flat


def test_fifo_is_the_default_scheduler_and_survives_pickling():
    import pickle

    scheduler = build_scheduler(SearchConfig.from_dict({"name": "x"}))
    assert isinstance(scheduler, LiveTrialsFIFOScheduler)
    scheduler.on_trial_add(FakeController(), FakeTrial("a"))
    restored = pickle.loads(pickle.dumps(scheduler))  # Tune saves it with the experiment for resume
    restored.on_trial_add(FakeController(), FakeTrial("b"))
    assert restored._order == {"a": 0, "b": 1}


@pytest.mark.parametrize("draw_s, expected_wait", [(0.0, 30.0), (0.05, 5.0)])
def test_plot_redraws_wait_longer_when_a_redraw_gets_expensive(monkeypatch, tmp_path, draw_s, expected_wait):
    import time

    import raynas.tracking
    import raynas.tune._search_plot

    drawn = []

    class Store:
        def __init__(self, path):
            pass

        def reader(self):
            return self

        def new_records(self):  # one more record each time: every call redraws
            return [SimpleNamespace(trial_id=str(len(drawn)), number=len(drawn), reward=None, status="failed")]

    def slow_plot(records, path, **kwargs):
        time.sleep(draw_s)
        drawn.append(len(records))

    monkeypatch.setattr(raynas.tracking, "TrialStore", Store)
    monkeypatch.setattr(raynas.tune._search_plot, "search_plot", slow_plot)
    plotter = SearchPlotter(str(tmp_path), str(tmp_path / "p.png"), interval_s=0.0 if draw_s else 30.0,
                            busy_factor=100.0)
    plotter.draw()
    assert drawn == [1]
    assert plotter._wait >= expected_wait
    plotter.on_trial_complete(0, [], None)  # right after a redraw: too early for another one
    assert drawn == [1]
    plotter.on_experiment_end([])  # the end always redraws
    assert drawn == [1, 2]
