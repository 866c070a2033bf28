"""Sending raynas results to an MLflow tracking store: experiment, parent runs, one child run per trial.

:class:`MlflowTracker` does the MLflow calls (through ``MlflowClient``, batched with ``log_batch``) and keeps the
run ledger up to date. Every operation is idempotent: re-sending a trial finds its run through the ledger (or,
when the ledger lost it, through its ``raynas.trial_id`` tag) and logs identical points, which MLflow
de-duplicates. So a replay after a crash or an outage never creates a second run for a trial.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from raynas.tracking._ledger import RunLedger, TrialRun, ledger_path, load_ledger, save_ledger
from raynas.tracking._mlflow_layout import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    PARENT_STATUS,
    PARENT_TAG,
    TAG_EXPERIMENT_DIR,
    TAG_EXPERIMENT_UID,
    TAG_ROLE,
    TAG_STAGE,
    TAG_STATUS,
    TAG_SUPERSEDED_BY,
    TAG_TRIAL_ID,
    MetricPoint,
    TrialContext,
    entry_points,
    run_name,
    run_status,
    running_tags,
    trial_metric_points,
    trial_params,
    trial_tags,
)
from raynas.tracking._store import TrialRecord

ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
#: Error texts of MLflow clients and stores that mean "try again later", not "this record is bad".
TRANSIENT_MARKERS = ("database is locked", "connection", "max retries", "timed out", "timeout", "temporarily",
                     "502", "503", "504", "bad gateway", "service unavailable", "remote end closed")


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs go: the tracking URI and, for stores without an artifact server, where artifacts live."""

    uri: str
    artifact_root: str | None = None
    embedded: bool = False

    @property
    def is_http(self) -> bool:
        return self.uri.startswith(("http://", "https://"))


def embedded_target(workdir: str | Path) -> TrackingTarget:
    """The default store: SQLite database and artifact folder inside the work directory."""
    root = Path(workdir).expanduser().resolve()
    return TrackingTarget(f"sqlite:///{root / 'mlflow.db'}", str(root / "mlartifacts"), embedded=True)


def resolve_target(configured: str | None, workdir: str | Path) -> TrackingTarget:
    """The config's URI (``--tracking-uri`` is written there), else ``MLFLOW_TRACKING_URI``, else embedded."""
    uri = configured or os.environ.get(ENV_TRACKING_URI) or None
    if uri is None:
        return embedded_target(workdir)
    if uri.startswith("sqlite:///"):
        database = Path(uri[len("sqlite:///"):]).expanduser()
        if not database.is_absolute():  # relative paths would move with the current directory
            database = database.resolve()
            uri = f"sqlite:///{database}"
        return TrackingTarget(uri, str(database.parent / "mlartifacts"))
    if uri.startswith("file:"):
        raise_for_file_store(uri)
    return TrackingTarget(uri)


def raise_for_file_store(uri: str) -> None:
    from raynas.errors import ConfigError

    raise ConfigError("mlflow.tracking_uri", uri, "a database or server tracking URI",
                      "MLflow 3 refuses plain file stores: use sqlite:////abs/path/mlflow.db or an http:// server")


def reachable(target: TrackingTarget, timeout_s: float = 3.0) -> bool:
    """Whether the tracking store answers now (``/health`` of an HTTP server; a database is assumed up)."""
    if not target.is_http:
        return True
    try:
        with urllib.request.urlopen(target.uri.rstrip("/") + "/health", timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def is_transient(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(marker in text for marker in TRANSIENT_MARKERS)


def limit_http_retries() -> None:
    """Fail fast on an unreachable server instead of MLflow's default of minutes of retries per call (raynas
    retries the whole record later itself). Values the user set in the environment win."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


class MlflowTracker:
    """MLflow runs of one raynas experiment, for one tracking target; keeps the experiment's run ledger."""

    def __init__(self, target: TrackingTarget, experiment_name: str, experiment_dir: str | Path,
                 experiment_uid: str) -> None:
        from mlflow import MlflowClient

        if target.is_http:
            limit_http_retries()
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # else a line per finished run
        self.target = target
        self.experiment_name = experiment_name
        self.experiment_dir = str(Path(experiment_dir).resolve())
        self.experiment_uid = experiment_uid
        self.identity = {TAG_EXPERIMENT_DIR: self.experiment_dir, TAG_EXPERIMENT_UID: experiment_uid}
        self.client = MlflowClient(tracking_uri=target.uri)
        self.ledger_file = ledger_path(experiment_dir, target.uri)
        self.ledger: RunLedger = load_ledger(self.ledger_file, target.uri, experiment_uid)
        self._artifact_uris: dict[str, str] = {}
        self._reconciled: set[str] = set()

    # --- ledger ----------------------------------------------------------------------------------------
    def save(self) -> None:
        save_ledger(self.ledger_file, self.ledger)

    def adopt(self, state: Mapping[str, Any] | None) -> None:
        """Merge a ledger saved elsewhere (e.g. in Ray Tune's callback state) into this one."""
        if state:
            self.ledger.merge(RunLedger.from_dict(dict(state)))

    # --- experiment and parent runs ----------------------------------------------------------------------
    def ensure_experiment(self) -> str:
        """The MLflow experiment of this search (created, or restored when it was deleted)."""
        if self.ledger.experiment_id is not None:
            return self.ledger.experiment_id
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            location = None
            if self.target.artifact_root is not None:
                location = Path(self.target.artifact_root, self.experiment_name).as_uri()
            # the experiment kind makes the MLflow UI open on its runs table (not the GenAI overview)
            experiment_id = self.client.create_experiment(
                self.experiment_name, artifact_location=location,
                tags={"mlflow.experimentKind": "custom_model_development"})
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment_id)
        self.ledger.experiment_id = experiment_id
        return experiment_id

    def supersede_previous_runs(self, new_parent: str) -> int:
        """Tag the runs of an earlier experiment in the same directory, which ``--overwrite`` replaced, with
        ``raynas.superseded_by: <new_parent>`` (their ``raynas.role`` unchanged) and end those still running
        (KILLED); they are never deleted. Runs tagged superseded before keep their first tag. Returns how many."""
        experiment_id = self.ensure_experiment()
        superseded = 0
        query = (f"tags.`{TAG_EXPERIMENT_DIR}` = '{_quote(self.experiment_dir)}' "
                 f"and tags.`{TAG_EXPERIMENT_UID}` != '{_quote(self.experiment_uid)}'")
        for run in self._search(experiment_id, query):
            if TAG_SUPERSEDED_BY in run.data.tags:
                continue
            self.client.set_tag(run.info.run_id, TAG_SUPERSEDED_BY, new_parent)
            if run.info.status in ("RUNNING", "SCHEDULED"):
                self.client.set_terminated(run.info.run_id, "KILLED")
            superseded += 1
        return superseded

    def ensure_parent(self, stage: str, *, params: Mapping[str, str] | None = None,
                      artifacts: Mapping[str, Any] | None = None) -> str:
        """The parent run of ``stage`` (created with its params and JSON artifacts, or found again)."""
        run_id = self.ledger.parents.get(stage)
        if run_id is not None:
            return run_id
        experiment_id = self.ensure_experiment()
        found = self._search(experiment_id, f"tags.`{TAG_ROLE}` = 'parent' and tags.`{TAG_STAGE}` = '{_quote(stage)}' "
                                            f"and tags.`{TAG_EXPERIMENT_UID}` = '{_quote(self.experiment_uid)}'")
        if found:
            run_id = found[0].info.run_id
        else:
            tags = {TAG_ROLE: "parent", TAG_STAGE: stage, TAG_STATUS: "running", **self.identity}
            run = self.client.create_run(experiment_id, run_name=f"{self.experiment_name}-{stage}", tags=tags)
            run_id = run.info.run_id
            self.supersede_previous_runs(run_id)
            self._artifact_uris[run_id] = run.info.artifact_uri
            self._reconciled.add(run_id)  # a new parent has no children to find
            self._log(run_id, params=params or {})
            for name, content in (artifacts or {}).items():
                self._log_json(run_id, name, content)
        self.ledger.parents[stage] = run_id
        self.save()
        return run_id

    def reopen_parent(self, stage: str) -> None:
        """Mark a resumed stage's parent run as running again."""
        run_id = self.ledger.parents.get(stage)
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            self.client.set_tag(run_id, TAG_STATUS, "running")

    def log_parent_metrics(self, stage: str, metrics: Mapping[str, float], step: int) -> None:
        run_id = self.ledger.parents[stage]
        now = int(time.time() * 1000)
        self._log(run_id, metrics=[MetricPoint(k, float(v), now, step) for k, v in metrics.items()])

    def close_parent(self, stage: str, status: str, tags: Mapping[str, str] | None = None,
                     artifacts: Iterable[str | Path] = ()) -> None:
        """End a stage's parent run: raynas status tag, MLflow run status, final artifacts (e.g. plots)."""
        run_id = self.ledger.parents[stage]
        for path in artifacts:
            self._log_file(run_id, Path(path))
        self._log(run_id, tags={TAG_STATUS: status, **dict(tags or {})})
        self.client.set_terminated(run_id, PARENT_STATUS.get(status, "FINISHED"))

    # --- trial runs --------------------------------------------------------------------------------------
    def reconcile(self, stage: str) -> None:
        """Learn the runs of this stage's trials from MLflow itself (a ledger entry may have been lost when
        the driver died right after MLflow created a run); extra runs of one trial are deleted."""
        parent = self.ledger.parents.get(stage)
        if parent is None or parent in self._reconciled:
            return
        experiment_id = self.ensure_experiment()
        seen: dict[str, str] = {}
        for run in self._search(experiment_id, f"tags.`{PARENT_TAG}` = '{parent}'", order_by=["attributes.start_time ASC"]):
            trial_id = run.data.tags.get(TAG_TRIAL_ID)
            if trial_id is None:
                continue
            known = self.ledger.trials.get(trial_id)
            keep = known.run_id if known is not None else seen.get(trial_id, run.info.run_id)
            if run.info.run_id != keep:
                self.client.delete_run(run.info.run_id)
                continue
            seen[trial_id] = keep
            if known is None:
                self.ledger.trials[trial_id] = TrialRun(keep, reports=0, synced=False)
        self._reconciled.add(parent)
        self.save()

    def retire_lost_trials(self, stage: str, stored: set[str]) -> int:
        """Once a search is over for good: the runs of its trials that started but never reached the trial store
        (lost with a killed driver; their numbers ran again under new trial ids) are tagged ``raynas.role:
        lost_trial`` and ended KILLED, never deleted; how many. The stored trials keep one run each."""
        self.reconcile(stage)
        retired = 0
        for trial_id, run in self.ledger.trials.items():
            if trial_id in stored or run.synced:
                continue
            self._log(run.run_id, tags={TAG_ROLE: "lost_trial", TAG_STATUS: "lost",
                                        "raynas.lost_reason": "started, then lost with its driver before it was stored"})
            self.client.set_terminated(run.run_id, "KILLED")
            run.synced = True  # settled: later syncs leave it alone
            retired += 1
        return retired

    def forget_reconciliation(self) -> None:
        """After an outage a call may have succeeded without its answer arriving: look runs up again."""
        self._reconciled.clear()

    def restart_trial(self, trial_id: str) -> None:
        """A trial that ran (and was stopped) before a resume runs again: send it again in full."""
        known = self.ledger.trials.get(trial_id)
        if known is not None:
            known.synced = False
            known.reports = 0

    def start_trial(self, stage: str, context: TrialContext, trial_id: str, number: int,
                    start_time: float | None) -> str:
        """The run of a trial that is still running (created now unless it exists)."""
        known = self.ledger.trials.get(trial_id)
        if known is None:
            self.reconcile(stage)
            known = self.ledger.trials.get(trial_id)
        if known is not None:
            return known.run_id
        parent = self.ledger.parents[stage]
        run = self.client.create_run(self.ensure_experiment(), run_name=run_name(number, trial_id),
                                     start_time=_ms(start_time),
                                     tags={**running_tags(trial_id, number, context, parent), **self.identity})
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        self.ledger.trials[trial_id] = TrialRun(run.info.run_id)
        return run.info.run_id

    def log_reports(self, trial_id: str, entries: list[dict[str, Any]], first_index: int) -> None:
        """Per-epoch reports of a running trial (``first_index`` is the position of ``entries[0]``)."""
        run = self.ledger.trials[trial_id]
        points: list[MetricPoint] = []
        for offset, entry in enumerate(entries):
            points.extend(entry_points(entry, index=first_index + offset, fallback_time=time.time()))
        self._log(run.run_id, metrics=points)
        run.reports = max(run.reports, first_index + len(entries))

    def sync_trial(self, stage: str, context: TrialContext, record: TrialRecord) -> str:
        """Everything of a finished trial in its run: params, curves, final metrics, tags, artifacts, status."""
        parent = self.ledger.parents[stage]
        known = self.ledger.trials.get(record.trial_id)
        if known is None:
            self.reconcile(stage)
            known = self.ledger.trials.get(record.trial_id)
        tags = {**trial_tags(record, context, parent), **self.identity}
        if known is None:
            run = self.client.create_run(self.ensure_experiment(), run_name=run_name(record.number, record.trial_id),
                                         start_time=_ms(record.start_time), tags=tags)
            run_id = run.info.run_id
            self._artifact_uris[run_id] = run.info.artifact_uri
            known = self.ledger.trials[record.trial_id] = TrialRun(run_id)
            tags = {}
        self._log(known.run_id, params=trial_params(record, context),
                  metrics=trial_metric_points(record, skip_reports=known.reports), tags=tags)
        self._log_json(known.run_id, "architecture.json",
                       {"arch": record.arch, "genotype": list(record.genotype), "trial_id": record.trial_id})
        checkpoint = Path(self.experiment_dir) / record.checkpoint if record.checkpoint else None  # relative to it
        if checkpoint is not None and checkpoint.is_dir():
            self._log_dir(known.run_id, checkpoint, "checkpoint")
        self.client.set_terminated(known.run_id, run_status(record.status), end_time=_ms(record.end_time))
        known.synced = True
        known.reports = max(known.reports, len(record.history))
        return known.run_id

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set ``tags`` on a run (e.g. a trial's ``raynas.on_front``)."""
        self._log(run_id, tags=tags)

    # --- low level ---------------------------------------------------------------------------------------
    def _search(self, experiment_id: str, filter_string: str, order_by: list[str] | None = None) -> list[Any]:
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([experiment_id], filter_string=filter_string, max_results=1000,
                                           order_by=order_by, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _log(self, run_id: str, *, params: Mapping[str, str] | None = None, metrics: list[MetricPoint] | None = None,
             tags: Mapping[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        param_list = [Param(k, v) for k, v in (params or {}).items()]
        metric_list = [Metric(p.key, p.value, p.timestamp_ms, p.step) for p in (metrics or [])]
        tag_list = [RunTag(k, v) for k, v in (tags or {}).items()]
        first = True
        while first or param_list or metric_list:
            first = False
            batch_params, param_list = param_list[:MAX_PARAMS_PER_BATCH], param_list[MAX_PARAMS_PER_BATCH:]
            room = MAX_METRICS_PER_BATCH - len(batch_params) - len(tag_list)
            batch_metrics, metric_list = metric_list[:room], metric_list[room:]
            if batch_params or batch_metrics or tag_list:
                self.client.log_batch(run_id, metrics=batch_metrics, params=batch_params, tags=tag_list)
            tag_list = []

    def _artifact_repo(self, run_id: str) -> Any:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self._artifact_uris[run_id] = self.client.get_run(run_id).info.artifact_uri
        return get_artifact_repository(uri, tracking_uri=self.target.uri)

    def _log_json(self, run_id: str, name: str, content: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="raynas-mlflow-") as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(content, indent=2, sort_keys=True, default=str))
            self._artifact_repo(run_id).log_artifact(str(path))

    def _log_file(self, run_id: str, path: Path) -> None:
        self._artifact_repo(run_id).log_artifact(str(path))

    def _log_dir(self, run_id: str, path: Path, artifact_path: str) -> None:
        self._artifact_repo(run_id).log_artifacts(str(path), artifact_path)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _quote(text: str) -> str:
    return text.replace("'", "\\'")

