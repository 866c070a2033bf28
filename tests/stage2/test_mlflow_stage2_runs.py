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
