"""A real ``mlflow server`` process for tests, and queries of what a search logged."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a SQLite backend; can be stopped and started again on the same port."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> "MlflowServer":
        command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{self.root / 'db.sqlite'}",
                   "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1"]
        log = open(self.root / "server.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                                             "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-2000:]}")
            if self.healthy():
                return self
            time.sleep(0.3)
        raise RuntimeError("mlflow server did not answer /health in time")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=1.0) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # as abrupt as a crashed server
            self.process.wait(30)
        self.process = None
        deadline = time.time() + 30
        while self.healthy() and time.time() < deadline:
            time.sleep(0.2)


def search_runs(uri: str, experiment_dir: str | Path) -> list[Any]:
    """Every active run of the raynas experiment in ``experiment_dir`` (parents and trials)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    uid = (Path(experiment_dir) / "uid").read_text().strip()
    runs, token = [], None
    while True:
        page = client.search_runs(search_all_experiments(client), f"tags.`raynas.experiment_uid` = '{uid}'",
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def search_all_experiments(client: Any) -> list[str]:
    return [e.experiment_id for e in client.search_experiments()]


def trial_runs_by_id(runs: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for run in runs:
        if run.data.tags.get("raynas.role") == "trial":
            out[run.data.tags["raynas.trial_id"]].append(run)
    return dict(out)


def assert_one_mlflow_run_per_trial(experiment_dir, records):
    """A search's MLflow runs (in the session store) match its trial store: one parent, one child run per stored
    trial with the trial's status (after resumes, restarts and interruptions too)."""
    runs = search_runs(os.environ["MLFLOW_TRACKING_URI"], experiment_dir)
    by_trial = trial_runs_by_id(runs)
    stored = {r.trial_id for r in records}
    assert set(by_trial) == stored, {"runs without a stored trial": sorted(set(by_trial) - stored),
                                     "stored trials without a run": sorted(stored - set(by_trial))}
    assert all(len(v) == 1 for v in by_trial.values()), {k: len(v) for k, v in by_trial.items() if len(v) > 1}
    status = {r.trial_id: r.status for r in records}
    mismatched = {k: (v[0].data.tags["raynas.status"], status[k]) for k, v in by_trial.items()
                  if v[0].data.tags["raynas.status"] != status[k]}
    assert not mismatched
    assert sum(r.data.tags.get("raynas.role") == "parent" for r in runs) == 1
