"""A resumed searcher catches its controller up by replay: the trial store's records as a history, in order."""

from __future__ import annotations

import pytest

from raynas.config import Mode, SearchConfig
from raynas.controllers import PastTrial, TrialStatus
from raynas.tracking import TrialRecord, TrialStore

pytest.importorskip("ray.tune")


def record(number: int, genotype, status: str = "completed", reward: float | None = 1.0,
           start: float | None = None, end: float | None = None) -> TrialRecord:
    return TrialRecord(trial_id=f"t{number}", number=number, arch={}, genotype=tuple(genotype), reward=reward,
                       status=TrialStatus(status), start_time=start, end_time=end)


def test_store_history_interleaves_proposals_and_outcomes_by_time():
    from raynas.tune._searcher import store_history

    records = [record(3, (3,), start=3.0, end=10.0), record(1, (1,), start=0.0, end=5.0),
               record(2, (2,), start=1.0, end=2.0), record(4, (4,), start=6.0, end=7.0)]
    events = [(e.number, e.status is not None) for e in store_history(records, Mode.MAX)]
    assert events == [(1, False), (2, False), (2, True), (3, False), (1, True), (4, False), (4, True), (3, True)]


def test_store_history_tells_rewards_as_the_live_searcher_does():
    from raynas.tune._searcher import store_history

    records = [record(1, (1,), "completed", 2.0), record(2, (2,), "failed", None), record(3, (3,), "stopped", 5.0),
               record(4, (4,), "invalid", 7.0)]
    events = store_history(records, Mode.MIN)  # no times: each record is one event (proposal and outcome)
    assert events == [PastTrial((1,), "completed", -2.0, 1), PastTrial((2,), "failed", None, 2),
                      PastTrial((3,), "stopped", -5.0, 3), PastTrial((4,), "invalid", None, 4)]


def test_resumed_searcher_proposes_what_the_dead_one_would_have(tmp_path):
    """The driver died with no saved searcher state at all: replaying the whole trial store (with trials ending out of
    launch order, failures, a min metric) makes the rebuilt searcher propose exactly what the one that lived them
    proposes next."""
    from raynas.tune import ControllerSearcher
    from raynas.tune._resume import plan_resume

    store = TrialStore(tmp_path / "trials")
    config = SearchConfig.from_dict({"max_trials": 40, "seed": 4, "controller": {
        "name": "evolution", "population_size": 4, "sample_size": 2}})

    def searcher():
        return ControllerSearcher(config.build_controller(config.build_space()), max_trials=40, metric="loss",
                                  mode="min", seed=4, store_dir=str(store.directory))

    lived = searcher()
    clock = 0.0
    for i in range(6):
        cfg = lived.suggest(f"t{i}")
        lived.on_trial_complete(f"t{i}", {"loss": float(sum(cfg["genotype"])), "raynas_status": "completed"})
        store.append(record(cfg["number"], cfg["genotype"], "completed", float(sum(cfg["genotype"])),
                            start=clock, end=clock + 0.5))
        clock += 1.0
    clock, running = 100.0, {}
    for i in range(6, 18):  # two trials at a time; every one ends before the driver dies
        cfg = lived.suggest(f"t{i}")
        running[f"t{i}"] = (cfg, clock)
        clock += 1.0
        if len(running) == 2:
            tid = min(running)
            cfg, started = running.pop(tid)
            failed = cfg["number"] % 5 == 0
            loss = None if failed else float(sum(cfg["genotype"]))
            lived.on_trial_complete(tid, {"loss": loss, "raynas_status": "failed" if failed else "completed"})
            store.append(record(cfg["number"], cfg["genotype"], "failed" if failed else "completed", loss,
                                start=started, end=clock))
            clock += 1.0
    tid, (cfg, started) = running.popitem()
    lived.on_trial_complete(tid, {"loss": 0.5, "raynas_status": "completed"})
    store.append(record(cfg["number"], cfg["genotype"], "completed", 0.5, start=started, end=clock))

    restored = searcher()
    restored.resume(plan_resume(store.records(), {}, [], max_trials=40, direction=Mode.MIN, seed=4))
    assert restored.num_suggested == lived.num_suggested == 18
    assert restored.controller.num_failed == lived.controller.num_failed > 0
    assert restored.controller.best == lived.controller.best
    for i in range(18, 40):
        assert restored.suggest(f"t{i}") == lived.suggest(f"t{i}")


def test_store_history_puts_trials_to_run_again_as_proposals_in_their_place():
    from raynas.tune._searcher import store_history

    records = [record(1, (1,), start=0.0, end=5.0), record(3, (3,), start=2.0, end=3.0)]
    events = [(e.number, e.status is not None) for e in store_history(records, Mode.MAX, pending=[(2, (2,))])]
    assert events == [(1, False), (2, False), (3, False), (3, True), (1, True)]
    untimed = store_history([record(1, (1,)), record(3, (3,))], Mode.MAX, pending=[(2, (2,))])
    assert [(e.number, e.status is not None) for e in untimed] == [(1, True), (2, False), (3, True)]
