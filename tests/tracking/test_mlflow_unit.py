"""MLflow layout, run ledger, tracking settings and the tracker itself on a SQLite store (no Ray)."""

from __future__ import annotations

import time

import pytest

from raynas.config import SearchConfig, TrackingConfig
from raynas.errors import ConfigError
from raynas.tracking import (
    MlflowTracker,
    RunLedger,
    TrackingTarget,
    TrialContext,
    TrialRecord,
    TrialRun,
    config_params,
    embedded_target,
    flatten,
    is_transient,
    ledger_path,
    load_ledger,
    resolve_target,
    save_ledger,
    trial_metric_points,
    trial_params,
    trial_tags,
)

CONTEXT = TrialContext("search", "digits", "proxy", "surrogate")


def _record(trial_id="t1", status="completed", epochs=3, **kw):
    start = 1_700_000_000.0
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_accuracy": 50.0 + e, "lr": 0.1, "epoch_time": 0.5,
                "reward": 50.0 + e, "params": 1234, "workers": 1, "time": start + e} for e in range(1, epochs + 1)]
    defaults = dict(trial_id=trial_id, number=7, arch={"cell": {"0->1": "conv", "ops": ["a", "b"]}, "depth": 3},
                    genotype=(1, 0, 2), reward=50.0 + epochs if status == "completed" else None, status=status,
                    failure_reason=None if status == "completed" else "boom", start_time=start,
                    end_time=start + epochs + 1, iterations=epochs, metrics=dict(history[-1]) if history else {},
                    history=history if epochs > 1 else [], resources={"cpu": 1.0, "gpu": 0.0}, seed=11)
    defaults.update(kw)
    return TrialRecord(**defaults)


def test_params_flatten_every_decision_and_name_the_run_context():
    params = trial_params(_record(), CONTEXT)
    assert params["arch.cell.0-to-1"] == "conv" and params["arch.cell.ops.0"] == "a" and params["arch.depth"] == "3"
    assert params["genotype"] == "1,0,2" and params["task"] == "digits" and params["variant"] == "proxy"
    assert params["seed"] == "11" and params["resources.cpu"] == "1.0" and params["resources.workers"] == "1"
    assert "time" not in params and "epoch" not in params
    assert flatten({"a": [], "b": {}}, "arch") == {"arch.a": "[]", "arch.b": "{}"}


def test_metric_points_are_curves_with_epoch_steps_and_report_timestamps():
    points = trial_metric_points(_record())
    by_key: dict[str, list] = {}
    for p in points:
        by_key.setdefault(p.key, []).append(p)
    assert set(by_key) == {"train_loss", "val_accuracy", "lr", "epoch_time", "reward", "params"}
    assert [p.step for p in by_key["val_accuracy"]] == [1, 2, 3]
    assert [p.timestamp_ms for p in by_key["val_accuracy"]] == [1_700_000_001_000, 1_700_000_002_000, 1_700_000_003_000]
    assert trial_metric_points(_record(), skip_reports=2) == [p for p in points if p.step == 3]
    single = _record(epochs=1)
    assert {p.step for p in trial_metric_points(single)} == {1}
    assert trial_metric_points(single, skip_reports=1) == []
    nan = _record(epochs=1, metrics={"reward": float("nan"), "val_accuracy": 3.0})
    assert [p.key for p in trial_metric_points(nan)] == ["val_accuracy"]  # non-finite values are not logged


def test_tags_carry_stage_status_and_reason():
    tags = trial_tags(_record(status="failed"), CONTEXT, "parent-1")
    assert tags["mlflow.parentRunId"] == "parent-1" and tags["raynas.status"] == "failed"
    assert tags["raynas.failure_reason"] == "boom" and tags["raynas.stage"] == "search"
    assert "raynas.failure_reason" not in trial_tags(_record(), CONTEXT, "p")


def test_config_params_leave_out_nothing_a_user_set_but_stay_within_one_batch():
    params = config_params(SearchConfig.from_dict({"max_trials": 7}).to_dict())
    assert params["config.max_trials"] == "7" and params["config.controller.name"] == "surrogate"
    assert len(params) <= 100


def test_ledger_round_trip_and_merge(tmp_path):
    path = ledger_path(tmp_path, "sqlite:///x.db")
    ledger = RunLedger("sqlite:///x.db", "u", "1", {"search": "p"}, {"a": TrialRun("r1", 2, False)})
    save_ledger(path, ledger)
    assert load_ledger(path, "sqlite:///x.db", "u").to_dict() == ledger.to_dict()
    assert load_ledger(path, "http://elsewhere", "u").trials == {}  # another store: another ledger
    assert load_ledger(path, "sqlite:///x.db", "v").trials == {}  # an experiment that replaced this one
    newer = RunLedger("sqlite:///x.db", "u", "1", {}, {"a": TrialRun("r1", 3, True), "b": TrialRun("r2")})
    ledger.merge(newer)
    assert ledger.trials["a"] == TrialRun("r1", 3, True) and ledger.trials["b"].run_id == "r2"
    ledger.merge(RunLedger("sqlite:///x.db", "u", trials={"a": TrialRun("r1", 0, False)}))  # older: ignored
    assert ledger.synced_ids() == {"a"}


def test_tracking_settings_are_validated_and_resolved(tmp_path, monkeypatch):
    assert TrackingConfig.from_value(False).enabled is False
    assert TrackingConfig.from_value("http://head:5000").tracking_uri == "http://head:5000"
    assert TrackingConfig.from_value({"flush_timeout": "2m"}).flush_timeout_s == 120
    with pytest.raises(ConfigError, match="tracking_uri"):
        TrackingConfig.from_value({"tracking_uri": "ftp://nope"})
    with pytest.raises(ConfigError, match="mlflow.flush"):
        SearchConfig.from_dict({"mlflow": {"flush": 3}})
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    embedded = resolve_target(None, tmp_path)
    assert embedded == embedded_target(tmp_path) and embedded.uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")
    assert resolve_target(None, tmp_path).uri == "http://from-env:5000"
    assert resolve_target("http://configured:5000", tmp_path).uri == "http://configured:5000"  # config wins
    with pytest.raises(ConfigError, match="file stores"):
        resolve_target("file:///tmp/mlruns", tmp_path)
    assert is_transient(ConnectionError("Max retries exceeded")) and not is_transient(ValueError("bad key"))


@pytest.fixture
def tracker(tmp_path):
    target = TrackingTarget(f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts"))
    (tmp_path / "exp").mkdir()
    return MlflowTracker(target, "unit", tmp_path / "exp", "uid-1")


def test_sending_a_trial_twice_leaves_one_run_with_the_same_points(tracker):
    tracker.ensure_parent("search", params={"config.x": "1"})
    record = _record()
    first = tracker.sync_trial("search", CONTEXT, record)
    again = MlflowTracker(tracker.target, "unit", tracker.experiment_dir, "uid-1")  # a later process, same ledger
    assert again.sync_trial("search", CONTEXT, record) == first
    history = tracker.client.get_metric_history(first, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 51.0), (2, 52.0), (3, 53.0)]
    run = tracker.client.get_run(first)
    assert run.info.status == "FINISHED" and run.info.run_name == "trial-00007-t1"
    assert run.info.end_time == int(record.end_time * 1000)


def test_a_run_the_ledger_lost_is_found_again_and_duplicates_are_removed(tracker):
    parent = tracker.ensure_parent("search")
    run_id = tracker.sync_trial("search", CONTEXT, _record("lost"))
    # a second run of the same trial (e.g. a create whose answer never arrived) and a ledger that forgot both
    tracker.client.create_run(tracker.ledger.experiment_id, tags={"mlflow.parentRunId": parent,
                                                                  "raynas.trial_id": "lost"})
    time.sleep(0.01)
    tracker.ledger.trials.clear()
    tracker.forget_reconciliation()
    assert tracker.sync_trial("search", CONTEXT, _record("lost")) == run_id
    active = tracker.client.search_runs([tracker.ledger.experiment_id], "tags.`raynas.trial_id` = 'lost'")
    assert [r.info.run_id for r in active] == [run_id]


def test_a_restarted_trial_is_sent_again_in_full(tracker):
    tracker.ensure_parent("search")
    run_id = tracker.sync_trial("search", CONTEXT, _record("r", status="stopped", reward=None, epochs=2))
    tracker.restart_trial("r")
    assert tracker.sync_trial("search", CONTEXT, _record("r", epochs=3)) == run_id
    run = tracker.client.get_run(run_id)
    assert run.data.tags["raynas.status"] == "completed" and run.info.status == "FINISHED"
    assert [m.step for m in tracker.client.get_metric_history(run_id, "reward")] == [1, 2, 3]


def test_overwriting_an_experiment_tags_the_runs_of_the_one_it_replaced_superseded(tracker):
    tracker.ensure_parent("search")
    old = tracker.sync_trial("search", CONTEXT, _record("old"))
    replacement = MlflowTracker(tracker.target, "unit", tracker.experiment_dir, "uid-2")
    new_parent = replacement.ensure_parent("search")
    run = tracker.client.get_run(old)
    assert run.info.lifecycle_stage == "active" and run.data.tags["raynas.superseded_by"] == new_parent  # never deleted
    assert run.data.tags["raynas.role"] == "trial"
    assert replacement.ledger.parents["search"] != tracker.ledger.parents["search"]


def test_a_trial_lost_with_its_driver_keeps_its_run_tagged_lost_once_the_search_is_over(tracker):
    tracker.ensure_parent("search")
    kept = tracker.sync_trial("search", CONTEXT, _record("kept"))
    lost = tracker.start_trial("search", CONTEXT, "gone", 2, time.time())  # started, never stored
    running = tracker.start_trial("search", CONTEXT, "later", 3, time.time())
    assert tracker.retire_lost_trials("search", {"kept", "later"}) == 1  # "later" is stored by then: not lost
    run = tracker.client.get_run(lost)
    assert run.info.status == "KILLED" and run.data.tags["raynas.role"] == "lost_trial"  # kept, not deleted
    assert tracker.client.get_run(kept).data.tags["raynas.role"] == "trial"
    assert tracker.client.get_run(running).data.tags["raynas.role"] == "trial"
    assert tracker.retire_lost_trials("search", {"kept", "later"}) == 0  # settled once
