"""Searches logged to a real ``mlflow server`` (SQLite backend): layout, curves, outages and replay."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from raynas.config import SearchConfig
from raynas.tracking import TrialStore, flatten, key_text
from raynas.tune import run_search
from tests.mlflow_helpers import MlflowServer, search_runs, trial_runs_by_id

pytestmark = pytest.mark.ray

NOISE = {"pid", "timestamp", "time_total_s", "time_this_iter_s", "training_iteration", "date", "hostname", "node_ip",
         "done", "trial_id", "time_since_restore", "iterations_since_restore", "raynas_status", "raynas_time"}


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


def _client(uri):
    from mlflow import MlflowClient

    return MlflowClient(uri)


def _tabular(tmp_path, name, uri, **overrides):
    data = {"name": name, "workdir": str(tmp_path / "work"), "max_trials": 40, "max_concurrent": 4,
            "gpus_per_trial": 0, "cpus_per_trial": 0.5, "mlflow": {"tracking_uri": uri, "flush_timeout": "90s"},
            "benchmark": {"failure_rate": 0.15, "nan_rate": 0.1}}
    data.update(overrides)
    return SearchConfig.from_dict(data)


def test_tabular_search_has_one_nested_child_run_per_trial(ray_cluster, mlflow_server, tmp_path):
    # every status comes up (P(no invalid trial) ~ 5e-4), and the failure budget never cancels it
    config = _tabular(tmp_path, "tabular-layout", mlflow_server.uri, max_failed=30,
                      benchmark={"failure_rate": 0.15, "nan_rate": 0.2})
    result = run_search(config)
    records = {r.trial_id: r for r in TrialStore(result.store_dir).records()}
    assert len(records) == 40 and {r.status for r in records.values()} == {"completed", "failed", "invalid"}
    assert result.extra["mlflow"]["pending"] == [] and result.extra["mlflow"]["refused"] == {}

    client = _client(mlflow_server.uri)
    runs = search_runs(mlflow_server.uri, config.experiment_dir)
    parents = [r for r in runs if r.data.tags.get("raynas.role") == "parent"]
    assert len(parents) == 1
    parent = parents[0]
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.name == "tabular-layout"
    by_trial = trial_runs_by_id(runs)
    assert set(by_trial) == set(records) and all(len(v) == 1 for v in by_trial.values())
    mlflow_status = {"completed": "FINISHED", "failed": "FAILED", "invalid": "FAILED"}
    for trial_id, (run,) in by_trial.items():
        record = records[trial_id]
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["raynas.stage"] == "search" and tags["raynas.status"] == record.status
        assert run.info.status == mlflow_status[record.status]
        assert tags.get("raynas.failure_reason") == record.failure_reason
        expected_arch = {k: str(v) for k, v in flatten(record.arch, "arch").items()}
        assert {k: v for k, v in params.items() if k.startswith("arch.")} == expected_arch
        assert params["genotype"] == ",".join(map(str, record.genotype))
        assert params["variant"] == "proxy" and params["task"] == "nasbench201" and params["seed"] == str(record.seed)
        assert params["resources.cpu"] == "0.5"
        assert not (NOISE & (set(params) | set(metrics)))
        if record.status == "completed":
            assert metrics["reward"] == pytest.approx(record.reward)
            assert metrics["val_accuracy"] == pytest.approx(record.metrics["val_accuracy"])
        else:
            assert "reward" not in metrics
        artifact = client.download_artifacts(run.info.run_id, "architecture.json", str(tmp_path / trial_id))
        assert json.loads(Path(artifact).read_text())["arch"] == record.arch
    # the parent: the search config, the summary and the final status
    assert parent.info.status == "FINISHED" and parent.data.tags["raynas.status"] == "completed"
    assert parent.data.params["config.max_trials"] == "40" and parent.data.params["config.controller.name"] == "surrogate"
    assert parent.data.metrics["trials_done"] == 40
    assert parent.data.metrics["trials_failed"] == result.counts["failed"]
    assert parent.data.metrics["best_reward"] == pytest.approx(result.best_reward)
    assert parent.data.tags["raynas.stop_reason"] == result.reason
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["search_config.json", "search_plot.png"]


def test_training_search_logs_epoch_curves_and_the_full_training_checkpoint(ray_cluster, mlflow_server, tmp_path):
    task = yaml.safe_load(Path("proxy_tasks/digits.yaml").read_text())
    task["variants"] = {"full": {"epochs": 3, "data_fraction": 0.5, "width_mult": 0.5},
                        "proxy": {"epochs": 2, "data_fraction": 0.3, "width_mult": 0.5}}
    task_path = tmp_path / "digits-small.yaml"
    task_path.write_text(yaml.safe_dump(task))
    common = {"task": str(task_path), "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 1,
              "workdir": str(tmp_path / "work"), "mlflow": {"tracking_uri": mlflow_server.uri}}
    client = _client(mlflow_server.uri)
    for variant, trials, epochs in (("proxy", 3, 2), ("full", 2, 3)):
        config = SearchConfig.from_dict({**common, "name": f"digits-{variant}", "max_trials": trials, "variant": variant})
        result = run_search(config)
        assert result.counts["completed"] == trials
        records = {r.trial_id: r for r in TrialStore(result.store_dir).records()}
        by_trial = trial_runs_by_id(search_runs(mlflow_server.uri, config.experiment_dir))
        assert set(by_trial) == set(records)
        for trial_id, (run,) in by_trial.items():
            for key in ("train_loss", "val_accuracy", "lr", "epoch_time", "reward"):
                history = client.get_metric_history(run.info.run_id, key)
                assert [m.step for m in history] == list(range(1, epochs + 1)), key
                assert [m.value for m in history] == pytest.approx([h[key] for h in records[trial_id].history])
            assert run.data.params["variant"] == variant and run.data.params["task"] == config.task
            assert run.data.params["resources.workers"] == "1"
            artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
            if variant == "full":
                assert artifacts == {"architecture.json", "checkpoint"}
                assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")] == ["checkpoint/model.pt"]
            else:
                assert artifacts == {"architecture.json"}


def test_search_survives_a_tracking_server_outage_and_sends_everything_after(ray_cluster, tmp_path):
    server = MlflowServer(tmp_path / "server").start()
    config = _tabular(tmp_path, "outage", server.uri, max_trials=60, max_concurrent=2,
                      benchmark={"sleep_fraction": 1.0, "max_sleep_s": 0.5, "failure_rate": 0.1})
    store = TrialStore(config.experiment_dir / "trials")
    events: list[str] = []

    def chaos():
        deadline = time.time() + 300
        while time.time() < deadline and not (store.directory.is_dir() and len(store) >= 8):
            time.sleep(0.3)
        server.stop()
        events.append(f"stopped at {len(store)}")
        while time.time() < deadline and len(store) < 20:
            time.sleep(0.3)
        events.append(f"restarting at {len(store)}")
        server.start()

    thread = threading.Thread(target=chaos, daemon=True)
    thread.start()
    try:
        result = run_search(config)
        thread.join(200)
        assert result.status == "completed" and result.trials == 60
        assert len(events) == 2 and server.healthy(), events
        if result.extra["mlflow"]["pending"]:  # the search outran the restart: the documented replay sends the rest
            assert f"raynas mlflow sync {config.experiment_dir}" in "\n".join(
                _report_lines(result.extra["mlflow"], str(config.experiment_dir)))
            _cli("mlflow", "sync", str(config.experiment_dir))
        by_trial = trial_runs_by_id(search_runs(server.uri, config.experiment_dir))
        records = {r.trial_id: r for r in store.records()}
        assert set(by_trial) == set(records)
        assert all(len(runs) == 1 for runs in by_trial.values())
        assert all(runs[0].data.tags["raynas.status"] == records[t].status for t, runs in by_trial.items())
    finally:
        server.stop()


def test_unreachable_server_at_the_end_is_reported_and_mlflow_sync_replays_it(ray_cluster, tmp_path):
    server = MlflowServer(tmp_path / "server")  # not started yet: nothing answers on its port
    config = _tabular(tmp_path, "offline", server.uri, max_trials=25,
                      mlflow={"tracking_uri": server.uri, "flush_timeout": 2})
    result = run_search(config)
    assert result.status == "completed" and result.trials == 25  # the search itself is unaffected
    assert len(result.extra["mlflow"]["pending"]) == 25
    lines = _report_lines(result.extra["mlflow"], str(config.experiment_dir))
    assert any(f"raynas mlflow sync {config.experiment_dir}" in line for line in lines)
    sync = _cli("mlflow", "sync", str(config.experiment_dir), check=False)
    assert sync.returncode == 1 and "could not be sent" in sync.stdout  # still down: nothing lost, told so
    server.start()
    try:
        sync = _cli("mlflow", "sync", str(config.experiment_dir))
        assert "sent 25 trial records" in sync.stdout
        again = _cli("mlflow", "sync", str(config.experiment_dir))  # idempotent
        assert "sent 0 trial records" in again.stdout and "(25 were there already)" in again.stdout
        runs = search_runs(server.uri, config.experiment_dir)
        by_trial = trial_runs_by_id(runs)
        assert len(by_trial) == 25 and all(len(v) == 1 for v in by_trial.values())
        parent = [r for r in runs if r.data.tags.get("raynas.role") == "parent"]
        assert len(parent) == 1 and parent[0].data.tags["raynas.status"] == "completed"
    finally:
        server.stop()


def _report_lines(report: dict, experiment: str) -> list[str]:
    from raynas.tracking import SyncReport

    return SyncReport(**report).lines(experiment)


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    raynas = str(Path(sys.executable).with_name("raynas"))
    done = subprocess.run([raynas, *args], capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def test_metric_keys_are_sanitised_like_param_keys():
    assert key_text("0->1") == "0-to-1" and key_text("a<b>") == "a_b_"
