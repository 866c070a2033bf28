"""Monitoring: progress and the search plot of a running search, then of the finished one, from its store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.ray

PNG = b"\x89PNG\r\n\x1a\n"


def _monitor(raynas: str, work: Path) -> dict:
    out = subprocess.run([raynas, "monitor", "watched", "--workdir", str(work), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_monitor_follows_a_running_search_and_the_plot_reaches_mlflow(tmp_path, session_mlflow_store):
    raynas = str(Path(sys.executable).with_name("raynas"))
    work = tmp_path / "work"
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "name": "watched", "workdir": str(work), "max_trials": 30, "max_concurrent": 2, "gpus_per_trial": 0,
        "cpus_per_trial": 0.5, "benchmark": {"sleep_fraction": 1.0, "max_sleep_s": 0.6, "failure_rate": 0.2}}))
    proc = subprocess.Popen([raynas, "search", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    seen_running = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (work / "watched" / "progress.json").is_file():
            state = _monitor(raynas, work)
            if state["state"] == "running" and 0 < state["done"] < 30:
                seen_running = state
                break
        time.sleep(1.0)
    output, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, output[-2000:]
    assert seen_running is not None, "monitor never saw the search running"
    assert seen_running["max_trials"] == 30 and seen_running["running"] is not None
    assert Path(seen_running["plot"]).read_bytes()[:8] == PNG
    final = _monitor(raynas, work)
    assert final["state"] == "finished" and final["done"] == 30
    assert final["counts"].get("failed", 0) > 0  # the 10% injected failures are counted (and marked on the plot)
    assert "completed: all max_trials=30 trials ran" in final["status_line"]
    text = subprocess.run([raynas, "monitor", "watched", "--workdir", str(work)], capture_output=True, text=True)
    assert "30/30 trials done" in text.stdout and "search plot:" in text.stdout
    from tests.mlflow_helpers import search_runs

    parent = next(r for r in search_runs(session_mlflow_store, work / "watched")
                  if r.data.tags.get("raynas.role") == "parent")
    from mlflow import MlflowClient

    names = [a.path for a in MlflowClient(session_mlflow_store).list_artifacts(parent.info.run_id)]
    assert "search_plot.png" in names
