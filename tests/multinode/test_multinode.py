"""Searches on a real multi-node Ray cluster (head + 2 worker nodes with 2 GPUs each), driven like on a cluster.

The driver is ``raynas/cluster/launcher.py``, the file ``ray submit`` copies to the head, connected to the
running cluster through ``RAY_ADDRESS``. Trials are simulated NAS-Bench-201 trials that sleep a little.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from raynas.tracking import TrialStore
from tests.mlflow_helpers import assert_one_mlflow_run_per_trial

pytestmark = pytest.mark.ray

LAUNCHER = Path(__file__).resolve().parents[2] / "raynas" / "cluster" / "launcher.py"


def _write_config(tmp_path: Path, name: str, **settings) -> Path:
    config = {"name": name, "workdir": str(tmp_path / "work"), "gpus_per_trial": 2, "cpus_per_trial": 1,
              "controller": "random", "seed": 1, **settings}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _launch(cluster, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(LAUNCHER), *args], env=cluster.env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _finish(proc: subprocess.Popen, timeout_s: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, out[-4000:]
    return out


def _wait_for_trials(store: TrialStore, proc: subprocess.Popen, count: int, timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        if store.directory.is_dir() and len(store) >= count:
            return
        time.sleep(0.3)
    raise AssertionError(f"{len(store) if store.directory.is_dir() else 0} trials stored; driver output: "
                         f"{proc.stdout.read()[-3000:] if proc.poll() is not None else '(still running)'}")


def _assert_every_trial_once(records, max_trials: int) -> None:
    assert sorted(r.number for r in records) == list(range(1, max_trials + 1))
    assert len({r.trial_id for r in records}) == max_trials
    assert {r.status for r in records} == {"completed"}, [(r.number, r.status, r.failure_reason) for r in records]


def _overlaps(intervals: list[tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(later[0] < earlier[1] for earlier, later in zip(ordered, ordered[1:]))


def test_a_2_gpu_search_spreads_its_trials_over_the_worker_nodes_one_per_node_at_a_time(multinode, tmp_path):
    config = _write_config(tmp_path, "spread", max_trials=6, max_concurrent=4,
                           benchmark={"sleep_fraction": 1.0, "max_sleep_s": 4.0})
    out = _finish(_launch(multinode, "search", "--config", str(config)))
    assert "completed" in out
    records = TrialStore(tmp_path / "work" / "spread" / "trials").records()
    _assert_every_trial_once(records, 6)
    workers = multinode.worker_ids()
    by_node: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        by_node.setdefault(record.node, []).append((record.start_time, record.end_time))
        assert record.resources == {"cpu": 1.0, "gpu": 2.0}
    assert set(by_node) == workers, by_node  # both worker nodes ran trials; the head (no GPU) none
    for node, intervals in by_node.items():
        assert not _overlaps(intervals), f"two 2-GPU trials at once on node {node}: {sorted(intervals)}"
    everything = [interval for intervals in by_node.values() for interval in intervals]
    assert _overlaps(everything)  # the two nodes did run trials at the same time


def test_a_driver_killed_on_the_cluster_is_resumed_there_with_every_trial_once(multinode, tmp_path):
    config = _write_config(tmp_path, "driver-killed", max_trials=12, max_concurrent=2,
                           benchmark={"sleep_fraction": 1.0, "max_sleep_s": 1.0})
    env = {**multinode.env, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "search", "--config", str(config)], env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = TrialStore(tmp_path / "work" / "driver-killed" / "trials")
    _wait_for_trials(store, proc, 4)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver dies; the cluster stays up
    proc.wait()
    before = store.records()
    assert 4 <= len(before) < 12
    resumed = subprocess.run([sys.executable, str(LAUNCHER), "resume", "driver-killed", "--workdir",
                              str(tmp_path / "work")], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    records = store.records()
    _assert_every_trial_once(records, 12)
    assert {r.trial_id for r in before} <= {r.trial_id for r in records}
    assert {r.node for r in records} <= multinode.worker_ids()
    assert_one_mlflow_run_per_trial(tmp_path / "work" / "driver-killed", records)
    runs = json.loads((tmp_path / "work" / "driver-killed" / "runs.json").read_text())
    assert [r["ended"] for r in runs] == [None, "completed"] or runs[-1]["ended"] == "completed"


def test_a_worker_node_that_dies_mid_search_costs_no_trial_and_no_failure(multinode, tmp_path):
    """Kill one worker node's raylet while trials run: its trial starts again elsewhere, the search completes
    with every trial once, and the loss is not a failure (max_failed 1 would have cancelled the search)."""
    config = _write_config(tmp_path, "node-lost", max_trials=10, max_concurrent=2, max_failed=1,
                           benchmark={"sleep_fraction": 1.0, "max_sleep_s": 2.0})
    proc = _launch(multinode, "search", "--config", str(config), "--format", "json")
    store = TrialStore(tmp_path / "work" / "node-lost" / "trials")
    _wait_for_trials(store, proc, 2)
    time.sleep(0.7)  # into the next trials, which now run on both nodes
    victim = next(node for node in multinode.nodes if node.kind == "worker" and node.process.poll() is None)
    os.kill(victim.raylet_pid(), signal.SIGKILL)
    victim.kind = "lost"  # its `ray start` exits too; the fixture no longer expects it to be alive
    out = _finish(proc)
    status = json.loads(out[out.index("{"):])
    assert status["status"] == "completed", status
    records = store.records()
    _assert_every_trial_once(records, 10)
    assert status["counts"]["failed"] == 0
    restarted = [r for r in records if r.restarts]
    assert restarted, "no trial was running on the node that died"
    alive = multinode.worker_ids()
    assert all(r.node in alive for r in restarted)  # they finished on the surviving node
    ledger = tmp_path / "work" / "node-lost" / "failure_budget.json"  # written on the first counted failure
    assert not ledger.exists() or json.loads(ledger.read_text())["failed"] == 0
    assert all(r.status == "completed" and r.failure_reason is None for r in restarted)
    assert_one_mlflow_run_per_trial(tmp_path / "work" / "node-lost", records)
