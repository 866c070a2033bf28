"""Stage 2 in MLflow: ``raynas train --overwrite`` keeps the earlier runs (tagged superseded, never deleted), and the
full trainings a search runs inline are child runs of the search's parent run. No Ray: the MLflow side only."""

from __future__ import annotations

import time

import pytest

from raynas.config import SearchConfig
from raynas.stage2 import Stage2Settings
from raynas.stage2._train import _params, _prepare, _tracking
from raynas.tracking import TrialRecord, TrialStore
from raynas.tracking._mlflow_search import sync_stage


def _record(number: int, reward: float, status: str = "completed") -> TrialRecord:
    start = time.time()
    return TrialRecord(trial_id=f"job{number}-{int(start * 1e6)}", number=number, arch={"depth": number},
                       genotype=(number,), reward=reward if status == "completed" else None, status=status,
                       failure_reason=None, start_time=start, end_time=start + 1, iterations=1,
                       metrics={"reward": reward}, history=[], resources={"cpu": 1.0, "gpu": 0.0}, seed=0)


@pytest.fixture
def stage2(tmp_path):
    config = SearchConfig(name="s2-mlflow", workdir=str(tmp_path / "work"), gpus_per_trial=0, cpus_per_trial=1)
    config.experiment_dir.mkdir(parents=True)
    settings = Stage2Settings(top_k=2, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return config, settings


def _run_stage2(config, settings, root, params, *, overwrite, rewards, close=True):
    """What `raynas train` does around its jobs: prepare the folder, log the parent and one child per job."""
    from mlflow import MlflowClient

    _prepare(root, params, overwrite=overwrite)
    tracking = _tracking(config, root, params, settings, config.experiment_dir.parent)
    store = TrialStore(root / "trials")
    for number, reward in enumerate(rewards, start=1):
        store.append(_record(number, reward))
    status = {"status": "completed", "reason": "done", "metrics": {}} if close else None
    report = sync_stage(tracking, status=status)
    return MlflowClient(settings.tracking_uri), report.parent_run_id


def test_overwrite_tags_the_earlier_stage2_runs_superseded_and_deletes_none(stage2):
    config, settings = stage2
    root = config.experiment_dir / "stage2"
    first = _params(config, settings, [], None)
    client, old_parent = _run_stage2(config, settings, root, first, overwrite=False, rewards=[90.0, 80.0], close=False)
    experiment = client.get_run(old_parent).info.experiment_id
    old_runs = client.search_runs([experiment], "tags.`raynas.role` = 'trial'")
    assert len(old_runs) == 2 and client.get_run(old_parent).info.status == "RUNNING"  # e.g. interrupted

    second = {**first, "seed": 1}
    client, new_parent = _run_stage2(config, settings, root, second, overwrite=True, rewards=[70.0, 60.0])
    assert new_parent != old_parent
    for run_id in [old_parent, *(r.info.run_id for r in old_runs)]:
        run = client.get_run(run_id)
        assert run.info.lifecycle_stage == "active"  # kept
        assert run.data.tags["raynas.superseded_by"] == new_parent
    assert client.get_run(old_parent).data.tags["raynas.role"] == "parent"  # role unchanged
    assert client.get_run(old_parent).info.status == "KILLED"  # it was running: ended
    assert {client.get_run(r.info.run_id).data.tags["raynas.role"] for r in old_runs} == {"trial"}
    new = client.get_run(new_parent)
    assert "raynas.superseded_by" not in new.data.tags and new.info.status == "FINISHED"
    children = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{new_parent}'")
    assert len(children) == 2 and all("raynas.superseded_by" not in c.data.tags for c in children)
    current = client.search_runs([experiment], "tags.`raynas.superseded_by` IS NULL")  # the filter docs/mlflow.md gives
    assert {r.info.run_id for r in current} == {new_parent, *(c.info.run_id for c in children)}

    # a third overwrite: the first runs keep pointing at the run that replaced them
    client, third_parent = _run_stage2(config, settings, root, {**first, "seed": 2}, overwrite=True, rewards=[1.0, 2.0])
    assert client.get_run(old_parent).data.tags["raynas.superseded_by"] == new_parent
    assert client.get_run(new_parent).data.tags["raynas.superseded_by"] == third_parent
    deleted = client.search_runs([experiment], "", run_view_type=2)  # ViewType.DELETED_ONLY
    assert deleted == []


def _search_tracking(tmp_path, name="inline-unit"):
    """A search's tracking with its MLflow parent run made (as the search's sender makes it) and its ledger saved."""
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import MlflowTracker, search_tracking

    config = SearchConfig.from_dict({"name": name, "workdir": str(tmp_path / "work"), "gpus_per_trial": 0,
                                     "mlflow": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}})
    config.experiment_dir.mkdir(parents=True)
    (config.experiment_dir / "config.json").write_text(__import__("json").dumps(config.to_dict()))
    tracking = search_tracking(config)
    tracker = MlflowTracker(tracking.target, config.name, config.experiment_dir, ExperimentPaths(config.experiment_dir).uid())
    parent = tracker.ensure_parent("search")
    tracker.save()
    return config, tracking, tracker.client, parent


ROW = {"rank": 2, "trial_id": "abc", "arch": {"cell": {"0->1": "conv3"}, "depth": 3}, "stage1_reward": 71.5,
       "full_accuracy": 93.25, "full_reward": 93.25, "status": "completed", "failure_reason": None}


def test_an_inline_training_is_a_child_of_the_search_parent_with_its_arch_and_result(tmp_path):
    from raynas.tracking import log_inline_training

    config, tracking, client, parent = _search_tracking(tmp_path)
    run_id = log_inline_training(tracking, after_trials=100, row=ROW, metrics={"val_accuracy": 93.25, "epoch_time": 2.0})
    run = client.get_run(run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent and run.data.tags["raynas.role"] == "inline_stage2"
    assert run.data.tags["raynas.status"] == "completed" and run.info.status == "FINISHED"
    assert run.data.params["arch.cell.0-to-1"] == "conv3" and run.data.params["arch.depth"] == "3"
    assert run.data.params["after_trials"] == "100" and run.data.params["stage1_rank"] == "2"
    assert run.data.metrics == {"full_accuracy": 93.25, "full_reward": 93.25, "stage1_reward": 71.5, "epoch_time": 2.0}
    # logged again (a resumed search, a retry): the same run
    assert log_inline_training(tracking, after_trials=100, row=ROW) == run_id
    failed = {**ROW, "rank": 3, "status": "failed", "full_accuracy": None, "full_reward": None, "failure_reason": "OOM"}
    other = client.get_run(log_inline_training(tracking, after_trials=100, row=failed))
    assert other.info.status == "FAILED" and other.data.tags["raynas.failure_reason"] == "OOM"
    assert "full_accuracy" not in other.data.metrics
    children = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(children) == 2


def test_an_inline_training_waits_for_the_search_parent_run(tmp_path):
    from raynas.tracking import log_inline_training, search_tracking

    config = SearchConfig.from_dict({"name": "no-parent", "workdir": str(tmp_path / "work"),
                                     "mlflow": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}})
    config.experiment_dir.mkdir(parents=True)
    assert log_inline_training(search_tracking(config), after_trials=10, row=ROW) is None  # MLflow has no search yet


def _callback(config, tmp_path):
    from raynas.stage2._inline import InlineStage2

    callback = InlineStage2(every=10, top_k=2, experiment_dir=str(config.experiment_dir), metric="reward",
                            mode_max=True, evaluator=None, resources={"cpu": 1.0})
    callback.snapshots = {10: {"rows": [dict(ROW, rank=1), dict(ROW)], "done": True}}
    return callback


def test_the_callback_sends_its_finished_trainings_and_notes_their_runs(tmp_path):
    config, tracking, client, parent = _search_tracking(tmp_path)
    callback = _callback(config, tmp_path)
    callback.on_experiment_end([])  # nothing pending: every finished row not yet in MLflow is sent
    rows = callback.snapshots[10]["rows"]
    assert all(row["mlflow_run_id"] for row in rows)
    assert {client.get_run(row["mlflow_run_id"]).data.tags["mlflow.parentRunId"] for row in rows} == {parent}
    import json

    saved = json.loads((config.experiment_dir / "stage2-inline" / "after-10.json").read_text())
    assert [row["mlflow_run_id"] for row in saved["rows"]] == [row["mlflow_run_id"] for row in rows]


def test_mlflow_failing_never_fails_the_search(tmp_path, monkeypatch, caplog):
    import raynas.tracking

    config, tracking, client, parent = _search_tracking(tmp_path)

    def broken(*args, **kwargs):
        raise ConnectionError("MLflow is down")

    monkeypatch.setattr(raynas.tracking, "log_inline_training", broken)
    callback = _callback(config, tmp_path)
    with caplog.at_level("WARNING"):
        callback.on_experiment_end([])
    assert all("mlflow_run_id" not in row for row in callback.snapshots[10]["rows"])  # sent again next time
    assert "MLflow is down" in caplog.text and "the search goes on" in caplog.text
    (config.experiment_dir / "config.json").write_text("{garbled")  # its settings unreadable: a warning, no error
    callback = _callback(config, tmp_path)
    with caplog.at_level("WARNING"):
        callback.on_experiment_end([])
    assert "will not be logged" in caplog.text


@pytest.mark.ray
def test_a_search_logs_its_inline_trainings_under_its_parent_run(ray_cluster, tmp_path):
    import json

    from mlflow import MlflowClient

    from raynas.stage2 import inline_stage2_callbacks
    from raynas.tune import run_search

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = SearchConfig.from_dict({"name": "inline-mlflow", "workdir": str(tmp_path), "max_trials": 12,
                                     "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5,
                                     "controller": "random", "seed": 3, "mlflow": {"tracking_uri": uri},
                                     "inline_stage2": {"every": 6, "top_k": 2}})
    assert run_search(config, callbacks=inline_stage2_callbacks(config)).status == "completed"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("inline-mlflow").experiment_id
    parent = client.search_runs([experiment], "tags.`raynas.role` = 'parent'")[0].info.run_id
    inline = client.search_runs([experiment], "tags.`raynas.role` = 'inline_stage2'")
    assert len(inline) == 4 and {r.data.tags["mlflow.parentRunId"] for r in inline} == {parent}
    for at in (6, 12):
        rows = json.loads((tmp_path / "inline-mlflow" / "stage2-inline" / f"after-{at}.json").read_text())["rows"]
        for row in rows:
            run = client.get_run(row["mlflow_run_id"])
            assert run.data.metrics["full_accuracy"] == pytest.approx(row["full_accuracy"])
            assert run.data.params["after_trials"] == str(at) and run.data.params["stage1_trial_id"] == row["trial_id"]
    trials = client.search_runs([experiment], "tags.`raynas.role` = 'trial'")
    assert len(trials) == 12  # the trials' own runs are untouched
