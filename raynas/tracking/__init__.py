"""Tracking: the on-disk trial store (Parquet via pyarrow) and MLflow logging (driver side).

MLflow itself is imported only when a :class:`MlflowTracker` is created.
"""

from raynas.tracking._mlflow_search import SyncReport, sync_search
from raynas.tracking._mlflow_sync import MlflowTracker, TrackingTarget, resolve_target
from raynas.tracking._store import SCHEMA, TrialRecord, TrialStore

__all__ = ["SCHEMA", "MlflowTracker", "SyncReport", "TrackingTarget", "TrialRecord", "TrialStore", "resolve_target",
           "sync_search"]
