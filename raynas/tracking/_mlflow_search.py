"""MLflow tracking of a stage-1 search: what its parent run holds, and replaying its trial store to MLflow.

The trial store is the source of truth; :func:`sync_search` sends every stored trial that the run ledger does
not mark as sent (``raynas mlflow sync`` and the end of every search call it), then closes the parent run with
the search's final status.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from raynas.experiment import ExperimentPaths
from raynas.tracking._ledger import ledger_path, load_ledger
from raynas.tracking._mlflow_layout import (
    PARENT_TAG,
    TAG_EXPERIMENT_DIR,
    TAG_EXPERIMENT_UID,
    TAG_REASON,
    TAG_ROLE,
    TAG_STAGE,
    TAG_STATUS,
    TAG_STOP_REASON,
    TrialContext,
    config_params,
    flatten,
    param_text,
    run_status,
    summary_metrics,
)
from raynas.tracking._mlflow_sync import (
    MlflowTracker,
    TrackingTarget,
    _quote,
    is_transient,
    reachable,
    resolve_target,
)
from raynas.tracking._store import TrialStore

if TYPE_CHECKING:
    from raynas.config import SearchConfig

log = logging.getLogger(__name__)

#: The stage name of a stage-1 search's parent run.
STAGE_SEARCH = "search"


@dataclass(frozen=True)
class SearchTracking:
    """What the MLflow callback needs to know about the search it logs."""

    target: TrackingTarget
    experiment_name: str
    experiment_dir: str
    experiment_uid: str
    stage: str
    context: TrialContext
    parent_params: Mapping[str, str]
    parent_artifacts: Mapping[str, Any]
    flush_timeout_s: float = 60.0
    interval_s: float = 1.0


@dataclass
class SyncReport:
    """What a sync sent, and what is left (``pending``: not sent because the store was unreachable;
    ``refused``: rejected by MLflow, with the reason)."""

    tracking_uri: str
    experiment: str
    sent: int = 0
    already: int = 0
    pending: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    experiment_id: str | None = None
    unreachable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self, experiment: str) -> list[str]:
        """What a user should read about it (``experiment``: how ``raynas mlflow sync`` finds it)."""
        from raynas._command import raynas_command

        raynas, out = raynas_command(), []  # spelled so that it works in a fresh shell
        if self.pending:
            why = f" ({self.unreachable})" if self.unreachable else ""
            out.append(f"MLflow: {len(self.pending)} trial records could not be sent to {self.tracking_uri}{why}; "
                       f"they are safe in the trial store: send them with `{raynas} mlflow sync {experiment}`")
        if self.refused:
            first = next(iter(self.refused.items()))
            out.append(f"MLflow: {len(self.refused)} trial records were refused (first: trial {first[0]}: "
                       f"{first[1]}); `{raynas} mlflow sync {experiment}` tries them again")
        if not self.pending and not self.refused:
            if self.tracking_uri.startswith(("http://", "https://")) and self.experiment_id is not None:
                where = f"open {self.tracking_uri.rstrip('/')}/#/experiments/{self.experiment_id}"
            elif self.tracking_uri.startswith("sqlite:///"):
                import shlex

                database = Path(self.tracking_uri[len("sqlite:///"):])
                flag = (f"--workdir {shlex.quote(str(database.parent))}" if database.name == "mlflow.db"
                        else f"--tracking-uri {self.tracking_uri}")
                where = f"view it with `{raynas} ui {flag}`"
            else:
                where = f"at {self.tracking_uri}"
            out.append(f"MLflow: experiment {self.experiment!r}, one run per trial under parent run "
                       f"{self.parent_run_id}; {where}")
        return out


def tracking_target(config: "SearchConfig", tracking_uri: str | None = None) -> TrackingTarget:
    """Where a search's runs go (``tracking_uri`` overrides the config)."""
    return resolve_target(tracking_uri or config.mlflow.tracking_uri, config.workdir)


def search_context(config: "SearchConfig") -> TrialContext:
    if config.task is not None:
        task = config.task
        if config.search_type == "augmentation":
            task = f"{task} (augmentation)"
    else:
        task = str(config.space)
        if config.benchmark.get("variant"):
            return TrialContext(STAGE_SEARCH, task, str(config.benchmark["variant"]), config.controller.name)
    return TrialContext(STAGE_SEARCH, task, config.variant, config.controller.name)


def search_parent(config: "SearchConfig") -> tuple[dict[str, str], dict[str, Any]]:
    """Params (the search config, flattened) and JSON artifacts of the search's parent run."""
    data = config.to_dict()
    data.pop("mlflow", None)  # where the runs go is not part of the experiment (and may change on resume)
    return config_params(data), {"search_config.json": config.to_dict()}


def search_tracking(config: "SearchConfig", *, interval_s: float = 1.0,
                    tracking_uri: str | None = None) -> SearchTracking:
    params, artifacts = search_parent(config)
    paths = ExperimentPaths(config.experiment_dir)
    return SearchTracking(target=tracking_target(config, tracking_uri), experiment_name=config.name,
                          experiment_dir=str(paths.root), experiment_uid=paths.uid(), stage=STAGE_SEARCH,
                          context=search_context(config), parent_params=params, parent_artifacts=artifacts,
                          flush_timeout_s=config.mlflow.flush_timeout_s, interval_s=interval_s)


def sync_search(config: "SearchConfig", *, status: Mapping[str, Any] | None = None, tracking_uri: str | None = None,
                progress_every_s: float = 5.0, trial_tags: Mapping[str, Mapping[str, str]] | None = None) -> SyncReport:
    """Send every stored trial of a search that MLflow has not received yet; with ``status`` (a SearchResult
    as a dict) also write the final summary and close the parent run. Safe to run any number of times.

    ``trial_tags`` (trial id -> tags, e.g. a multi-objective search's ``raynas.on_front``) are set on the trials' runs.
    """
    return sync_stage(search_tracking(config, tracking_uri=tracking_uri), status=status,
                      progress_every_s=progress_every_s, trial_tags=trial_tags)


def sync_stage(tracking: SearchTracking, *, status: Mapping[str, Any] | None = None,
               progress_every_s: float = 5.0, trial_tags: Mapping[str, Mapping[str, str]] | None = None) -> SyncReport:
    """:func:`sync_search` for any stage whose trials are in the trial store of ``tracking.experiment_dir``
    (a search, or a proxy-design tool run). ``status`` needs ``status``, ``reason`` and ``best_reward`` keys.
    ``trial_tags`` (trial id -> tags) are set on those trials' runs once they are sent."""
    target = tracking.target
    paths = ExperimentPaths(Path(tracking.experiment_dir))
    records = TrialStore(paths.trials).records()
    report = SyncReport(tracking_uri=target.uri, experiment=tracking.experiment_name)
    if not reachable(target):
        report.unreachable = "no answer from its /health endpoint"
        tracker_ledger = _ledger_synced(target, paths)
        report.pending = [r.trial_id for r in records if r.trial_id not in tracker_ledger]
        return report
    tracker = MlflowTracker(target, tracking.experiment_name, paths.root, tracking.experiment_uid)
    stage = tracking.stage
    synced = tracker.ledger.synced_ids()
    todo = [r for r in records if r.trial_id not in synced]
    report.already = len(records) - len(todo)
    try:
        report.parent_run_id = tracker.ensure_parent(stage, params=tracking.parent_params,
                                                     artifacts=tracking.parent_artifacts)
        report.experiment_id = tracker.ledger.experiment_id
        last = time.time()
        for index, record in enumerate(todo):
            try:
                tracker.sync_trial(stage, tracking.context, record)
                report.sent += 1
            except Exception as exc:  # noqa: BLE001
                if is_transient(exc) or not reachable(target):
                    raise
                report.refused[record.trial_id] = f"{type(exc).__name__}: {exc}"[:300]
            if time.time() - last >= progress_every_s:
                last = time.time()
                tracker.save()
                log.info(f"MLflow sync: {index + 1}/{len(todo)} trial records sent")
        for trial_id, tags in (trial_tags or {}).items():
            run = tracker.ledger.trials.get(trial_id)
            if run is not None and tags:
                tracker.tag_run(run.run_id, dict(tags))
        if status is not None:
            _close_parent(tracker, stage, records, status)
    except Exception as exc:  # noqa: BLE001 - the store went away in the middle: report what is left
        if not (is_transient(exc) or not reachable(target)):
            raise
        report.unreachable = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        done = tracker.ledger.synced_ids()
        report.pending = [r.trial_id for r in records if r.trial_id not in done and r.trial_id not in report.refused]
    finally:
        tracker.save()
    return report


def _ledger_synced(target: TrackingTarget, paths: ExperimentPaths) -> set[str]:
    return load_ledger(ledger_path(paths.root, target.uri), target.uri, paths.uid()).synced_ids()


#: How a search ends when no trial of it will ever run again (its lost trials' runs can be settled).
SEARCH_OVER = frozenset({"completed", "exhausted"})


def _close_parent(tracker: MlflowTracker, stage: str, records: list, status: Mapping[str, Any]) -> None:
    if str(status.get("status")) in SEARCH_OVER:
        tracker.retire_lost_trials(stage, {record.trial_id for record in records})
    counts = Counter(record.status for record in records)
    metrics = summary_metrics(counts, status.get("best_reward"))
    for key, value in dict(status.get("metrics") or {}).items():  # a tool's own results (e.g. Kendall tau)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            metrics[key] = float(value)
    tracker.log_parent_metrics(stage, metrics, len(records))
    tags = {TAG_STOP_REASON: str(status.get("reason", ""))[:5000]}
    if status.get("best_trial_id"):
        tags["raynas.best_trial_id"] = str(status["best_trial_id"])
    tracker.close_parent(stage, str(status.get("status", "completed")), tags, artifacts=status.get("artifacts") or ())


def finish_stage(tracking: Any, *, status: str, reason: str, metrics: Mapping[str, float] | None = None,
                artifacts: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Send what MLflow has not received and close a stage's parent run (never fails the stage: results are on disk)."""
    if tracking is None:
        return {}
    try:
        report = sync_stage(tracking, status={"status": status, "reason": reason, "metrics": dict(metrics or {}),
                                              "artifacts": [str(a) for a in artifacts]})
    except Exception as exc:  # noqa: BLE001 - results are on disk whatever MLflow does
        log.warning(f"MLflow: logging failed ({type(exc).__name__}: {exc}); results are in {tracking.experiment_dir}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    for line in report.lines(tracking.experiment_dir):
        log.info(line)
    return report.to_dict()


#: ``raynas.role`` of a full training that a search runs inline (``inline_stage2:``): a child of the search's parent.
ROLE_INLINE_STAGE2 = "inline_stage2"
#: Which inline training a run is (``<after trials>-<rank>``): a training logged again finds its run by it.
TAG_INLINE_KEY = "raynas.inline_key"


def log_inline_training(tracking: SearchTracking, *, after_trials: int, row: Mapping[str, Any],
                        metrics: Mapping[str, Any] | None = None) -> str | None:
    """Log one full training that a search ran inline as a child run of the search's parent run
    (``raynas.role: inline_stage2``, ``raynas.stage: stage2``): params = the architecture (``arch.<path>``) and
    the snapshot it belongs to, metrics = the full-training result (``full_accuracy``, ``full_reward``, the
    stage-1 reward and the training's other numbers in ``metrics``). Safe to call again for the same training
    (its run is found by its ``raynas.inline_key`` tag). Returns the run id, or None while the search's parent
    run is not known (MLflow has not received the search yet). MLflow's errors are raised: callers decide.

    The search's run ledger is only read (the search's MLflow sender owns it)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag


    target = tracking.target
    root = Path(tracking.experiment_dir)
    uid = tracking.experiment_uid
    client = MlflowClient(tracking_uri=target.uri)
    ledger = load_ledger(ledger_path(root, target.uri), target.uri, uid)
    experiment_id, parent = ledger.experiment_id, ledger.parents.get(STAGE_SEARCH)
    if experiment_id is None:
        experiment = client.get_experiment_by_name(tracking.experiment_name)
        if experiment is None:
            return None
        experiment_id = experiment.experiment_id
    if parent is None:
        found = client.search_runs([experiment_id], f"tags.`{TAG_ROLE}` = 'parent' and tags.`{TAG_STAGE}` = "
                                   f"'{STAGE_SEARCH}' and tags.`{TAG_EXPERIMENT_UID}` = '{_quote(uid)}'", max_results=1)
        if not found:
            return None
        parent = found[0].info.run_id
    rank = int(row["rank"])
    key = f"{int(after_trials)}-{rank}"
    status = str(row.get("status", "completed"))
    existing = client.search_runs([experiment_id], f"tags.`{PARENT_TAG}` = '{parent}' and tags.`{TAG_INLINE_KEY}` = "
                                  f"'{key}'", max_results=1)
    if existing:
        run_id = existing[0].info.run_id
    else:
        tags = {PARENT_TAG: parent, TAG_ROLE: ROLE_INLINE_STAGE2, TAG_STAGE: "stage2", TAG_INLINE_KEY: key,
                TAG_EXPERIMENT_DIR: str(root), TAG_EXPERIMENT_UID: uid}
        run_id = client.create_run(experiment_id, run_name=f"inline-after-{after_trials}-rank-{rank}",
                                   tags=tags).info.run_id
    params = {key_: param_text(value) for key_, value in flatten(row.get("arch") or {}, "arch").items()}
    params.update({"after_trials": str(int(after_trials)), "stage1_rank": str(rank),
                   "stage1_trial_id": str(row.get("trial_id"))})
    values = {k: v for k, v in dict(metrics or {}).items() if k not in ("val_accuracy", "reward")}
    values.update({"full_accuracy": row.get("full_accuracy"), "full_reward": row.get("full_reward"),
                   "stage1_reward": row.get("stage1_reward")})
    now = int(time.time() * 1000)
    points = [Metric(k, float(v), now, 0) for k, v in values.items()
              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    tags_now = [RunTag(TAG_STATUS, status)]
    if row.get("failure_reason"):
        tags_now.append(RunTag(TAG_REASON, str(row["failure_reason"])[:5000]))
    param_list = [Param(k, v) for k, v in params.items()]
    for start in range(0, max(len(param_list), 1), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run_id, metrics=points if start == 0 else [], params=param_list[start:start + 100],
                         tags=tags_now if start == 0 else [])
    client.set_terminated(run_id, run_status(status if status in ("completed", "failed", "invalid") else "failed"))
    return run_id
