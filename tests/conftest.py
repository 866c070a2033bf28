"""Shared fixtures: one local Ray cluster for the in-process search tests, one MLflow store per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no network here, and no need for it in tests


@pytest.fixture(scope="session", autouse=True)
def session_mlflow_store(tmp_path_factory):
    """Every search in the tests logs to MLflow, as users' searches do: by default into one SQLite store per
    session (``MLFLOW_TRACKING_URI``), which saves creating a database per test. Tests of the embedded default
    store unset the variable."""
    root = tmp_path_factory.mktemp("mlflow-session")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    # create the database once, here: processes of a search creating it at the same moment race on its schema
    # (sqlite3.OperationalError: duplicate column name) with MLflow 3.17 / SQLAlchemy 2.1
    from mlflow import MlflowClient

    MlflowClient(uri).search_experiments()
    yield uri
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray instance (2 CPUs, no GPU), shared by the tests of one session."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
