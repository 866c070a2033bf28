"""A SQLite tracking store is created whole or not at all: a kill during MLflow's table creation leaves none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from raynas.tracking._mlflow_worker import create_sqlite_store


def _tables(path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}


def test_a_new_store_is_complete_and_an_existing_one_is_left_alone(tmp_path):
    database = tmp_path / "sub" / "mlflow.db"
    assert create_sqlite_store(database) is True
    assert {"experiments", "runs", "alembic_version"} <= _tables(database)
    assert not [p for p in database.parent.iterdir() if p.name.endswith(".partial")]
    before = database.read_bytes()
    assert create_sqlite_store(database) is False
    assert database.read_bytes() == before
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{database}")
    assert client.get_experiment_by_name("Default") is not None


def test_a_kill_during_creation_leaves_no_half_built_store(tmp_path):
    database = tmp_path / "mlflow.db"
    script = ("import sys; from raynas.tracking._mlflow_worker import create_sqlite_store; "
              "create_sqlite_store(sys.argv[1])")
    process = subprocess.Popen([sys.executable, "-c", script, str(database)])
    # kill it while MLflow runs its migrations: as soon as the partial file appears
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
            time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    # either the kill came in time (no store at all) or creation finished first (a whole store): never a half
    if database.exists():
        assert {"experiments", "runs", "alembic_version"} <= _tables(database)
    assert create_sqlite_store(database) in (True, False)
    assert {"experiments", "runs", "alembic_version"} <= _tables(database)
