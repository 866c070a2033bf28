"""Tracking: the on-disk trial store (Parquet via pyarrow) and MLflow logging (driver side).

MLflow itself is imported only when a :class:`MlflowTracker` is created.
"""

from raynas.tracking._ledger import RunLedger, TrialRun, ledger_path, load_ledger, save_ledger
from raynas.tracking._mlflow_layout import (
    TrialContext,
    config_params,
    flatten,
    key_text,
    summary_metrics,
    trial_metric_points,
    trial_params,
    trial_tags,
)
from raynas.tracking._mlflow_search import (
    SearchTracking,
    SyncReport,
    finish_stage,
    log_inline_training,
    search_context,
    search_tracking,
    sync_search,
    tracking_target,
)
from raynas.tracking._mlflow_sync import (
    MlflowTracker,
    TrackingTarget,
    embedded_target,
    is_transient,
    limit_http_retries,
    reachable,
    resolve_target,
)
from raynas.tracking._store import SCHEMA, StoreReader, TrialRecord, TrialStore, check_file

__all__ = ["MlflowSyncProcess", "MlflowTracker", "RunLedger", "SCHEMA", "SearchTracking", "StoreReader",
           "SyncReport", "TrackingTarget", "TrialContext", "TrialRecord", "TrialRun", "TrialStore", "check_file", "config_params",
           "embedded_target", "finish_stage", "flatten", "is_transient", "key_text", "ledger_path",
           "limit_http_retries", "load_ledger", "log_inline_training",
           "reachable", "resolve_target", "save_ledger", "search_context",
           "search_tracking", "summary_metrics", "sync_search", "tracking_target", "trial_metric_points",
           "trial_params", "trial_tags"]


def __getattr__(name: str) -> object:
    # the MLflow sender's module runs as `python -m raynas.tracking._mlflow_worker`: importing it with the package
    # would make runpy warn in every sender process, so it is imported when asked for
    if name == "MlflowSyncProcess":
        from raynas.tracking._mlflow_worker import MlflowSyncProcess

        return MlflowSyncProcess
    raise AttributeError(f"module 'raynas.tracking' has no attribute {name!r}")
