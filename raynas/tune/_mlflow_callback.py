"""The Ray Tune callback that logs a search to MLflow from the driver (workers need no MLflow access).

Callback methods only hand events to a background thread and return at once, so the Tune loop never waits for
MLflow. The thread sends them in batches: a run per trial (created while a long trial runs, so its curves
show live), its per-epoch reports, and at the end the trial's full record, plus the parent run's summary
metrics. When the tracking server is unreachable the thread keeps the events, retries with back-off and sends
everything once the server answers again; what is still unsent when the search ends is in the trial store
(the source of truth) and ``raynas mlflow sync`` replays it. Run ids live in the run ledger, which is also
this callback's Ray Tune state: a resumed search continues the same runs.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from ray.tune import Callback

from raynas.controllers import TrialStatus
from raynas.tracking import TrialRecord
from raynas.tracking._mlflow_search import SearchTracking
from raynas.tracking._mlflow_sync import MlflowTracker, is_transient, reachable
from raynas.tune._callbacks import build_record, end_of_search_outcome
from raynas.tune._outcome import RUNNING, STATUS_KEY, classify, history_entry


@dataclass
class _Pending:
    """Events not yet sent, by trial id."""

    starts: dict[str, tuple[int, float]] = field(default_factory=dict)
    restarts: set[str] = field(default_factory=set)
    reports: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    finished: dict[str, TrialRecord] = field(default_factory=dict)

    def merge_back(self, other: "_Pending") -> None:
        """Put unsent events back in front of those that arrived meanwhile."""
        for tid, start in other.starts.items():
            self.starts.setdefault(tid, start)
        self.restarts |= other.restarts
        for tid, reports in other.reports.items():
            self.reports[tid] = reports + self.reports.get(tid, [])
        for tid, record in other.finished.items():
            self.finished.setdefault(tid, record)

    def __len__(self) -> int:
        return len(self.starts) + len(self.restarts) + len(self.reports) + len(self.finished)


class MlflowSyncWorker(threading.Thread):
    """Background thread that owns the :class:`MlflowTracker` and sends pending events in batches."""

    MAX_BACKOFF_S = 15.0

    def __init__(self, tracking: SearchTracking, ledger_state: Mapping[str, Any] | None,
                 say: Callable[[str], None]) -> None:
        super().__init__(name="raynas-mlflow", daemon=True)
        self.tracking = tracking
        self.ledger_state = ledger_state
        self.say = say
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.pending = _Pending()
        self.summary: tuple[int, dict[str, float]] | None = None
        self.snapshot: dict[str, Any] | None = dict(ledger_state) if ledger_state else None
        self.errors: dict[str, str] = {}
        self.to_adopt: Mapping[str, Any] | None = None
        self.deadline: float | None = None
        self.tracker: MlflowTracker | None = None
        self.ready = False
        self.offline_since: float | None = None
        self.retry_at = 0.0
        self.backoff = 1.0

    # --- called from the Tune loop (cheap) -----------------------------------------------------------------
    def trial_started(self, trial_id: str, number: int, start_time: float) -> None:
        with self.lock:
            self.pending.starts.setdefault(trial_id, (number, start_time))
            self.pending.restarts.add(trial_id)

    def trial_reported(self, trial_id: str, index: int, entry: dict[str, Any]) -> None:
        with self.lock:
            self.pending.reports.setdefault(trial_id, []).append((index, entry))

    def trial_finished(self, record: TrialRecord) -> None:
        with self.lock:
            self.pending.finished[record.trial_id] = record
            self.pending.starts.pop(record.trial_id, None)
            self.pending.reports.pop(record.trial_id, None)

    def set_summary(self, step: int, metrics: dict[str, float]) -> None:
        with self.lock:
            self.summary = (step, metrics)

    def close(self, timeout_s: float) -> int:
        """Send what is pending (waiting up to ``timeout_s`` for an unreachable server) and stop; returns the
        number of events still unsent."""
        self.deadline = time.time() + timeout_s
        self.wake.set()
        self.join(timeout_s + 30.0)
        with self.lock:
            return len(self.pending)

    # --- the thread --------------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            self.wake.wait(self.tracking.interval_s)
            self.wake.clear()
            closing = self.deadline is not None
            now = time.time()
            if now >= self.retry_at:
                self._cycle()
            with self.lock:
                empty = len(self.pending) == 0 and self.summary is None
            if closing and (empty or time.time() >= self.deadline):
                return
            if closing and self.offline_since is not None:
                time.sleep(min(1.0, max(0.0, self.retry_at - time.time())))

    def adopt(self, ledger_state: Mapping[str, Any] | None) -> None:
        """Ray Tune restored the callback state: merge its ledger in at the next cycle."""
        with self.lock:
            self.to_adopt = ledger_state

    def _cycle(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, _Pending()
            summary, self.summary = self.summary, None
            to_adopt, self.to_adopt = self.to_adopt, None
        if self.ready and not batch and summary is None and not to_adopt:
            return  # nothing to send, and nothing to write to the ledger
        if to_adopt and self.tracker is not None:
            self.tracker.adopt(to_adopt)
        try:
            self._setup()
            self._send(batch)
            if summary is not None:
                self.tracker.log_parent_metrics(self.tracking.stage, summary[1], summary[0])
                summary = None
        except Exception as exc:  # noqa: BLE001 - any failure: keep everything and retry later
            with self.lock:
                batch.merge_back(self.pending)
                self.pending = batch
                if summary is not None and self.summary is None:
                    self.summary = summary
            self._went_offline(exc)
            return
        finally:
            self._save()
        if self.offline_since is not None:
            self.say(f"MLflow at {self.tracking.target.uri} answers again after "
                     f"{time.time() - self.offline_since:.0f} s; pending records sent")
        self.offline_since = None
        self.backoff = 1.0

    def _setup(self) -> None:
        if self.ready:
            return
        t = self.tracking
        if self.tracker is None:
            self.tracker = MlflowTracker(t.target, t.experiment_name, t.experiment_dir, t.experiment_uid)
            self.tracker.adopt(self.ledger_state)
        resumed = t.stage in self.tracker.ledger.parents
        self.tracker.ensure_parent(t.stage, params=t.parent_params, artifacts=t.parent_artifacts)
        if resumed:
            self.tracker.reopen_parent(t.stage)
        self.ready = True

    def _send(self, batch: _Pending) -> None:
        """Send a batch; on a failure the unsent rest stays in ``batch`` (sent items are removed as they go)."""
        tracker, t = self.tracker, self.tracking
        for trial_id in list(batch.restarts):
            tracker.restart_trial(trial_id)  # a trial interrupted earlier runs again: its run starts over
            batch.restarts.discard(trial_id)
        for trial_id in list(batch.finished):
            self._attempt(trial_id, tracker.sync_trial, t.stage, t.context, batch.finished[trial_id])
            del batch.finished[trial_id]
        for trial_id in list(batch.starts):
            number, start_time = batch.starts[trial_id]
            self._attempt(trial_id, tracker.start_trial, t.stage, t.context, trial_id, number, start_time)
            del batch.starts[trial_id]
        for trial_id in list(batch.reports):
            run = tracker.ledger.trials.get(trial_id)
            done = run.reports if run is not None else 0
            fresh = [(i, e) for i, e in batch.reports[trial_id] if i >= done]
            if fresh and run is not None:
                self._attempt(trial_id, tracker.log_reports, trial_id, [e for _, e in fresh], fresh[0][0])
            del batch.reports[trial_id]

    def _attempt(self, trial_id: str, call: Callable[..., Any], *args: Any) -> None:
        """Run one MLflow call; an outage propagates (the batch is retried), a refusal is noted and skipped."""
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001
            if is_transient(exc) or not reachable(self.tracking.target):
                raise
            self.errors[trial_id] = f"{type(exc).__name__}: {exc}"[:300]  # `raynas mlflow sync` tries it again

    def _went_offline(self, exc: BaseException) -> None:
        now = time.time()
        if self.offline_since is None:
            self.offline_since = now
            self.say(f"MLflow at {self.tracking.target.uri} is unreachable ({type(exc).__name__}: "
                     f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}); the search goes on, "
                     "results stay in the trial store and are sent when it answers again")
        if self.tracker is not None:
            self.tracker.forget_reconciliation()
        self.retry_at = now + self.backoff
        self.backoff = min(self.MAX_BACKOFF_S, self.backoff * 2)

    def _save(self) -> None:
        if self.tracker is None:
            return
        try:
            self.tracker.save()
        except OSError as exc:
            self.say(f"could not write the MLflow run ledger: {exc}")
        snapshot = self.tracker.ledger.to_dict()
        with self.lock:
            self.snapshot = snapshot


class _Disabled:
    """Stands in for the worker when the config turns MLflow off."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


_DISABLED = _Disabled()


class MlflowLogger(Callback):
    """Logs every trial of a search to MLflow as a nested child run of the stage's parent run.

    Where to log is read from the experiment's ``config.json`` when the search (re)starts, so a resumed search
    follows the current settings (e.g. a new ``--tracking-uri``), not the ones pickled with the callback.
    """

    def __init__(self, experiment_dir: str, *, metric: str, resources: dict[str, float], mode_max: bool = True,
                 stream: TextIO | None = None, interval_s: float = 1.0) -> None:
        self.experiment_dir = experiment_dir
        self.interval_s = interval_s
        self.tracking: SearchTracking | None = None
        self.metric = metric
        self.resources = dict(resources)
        self.mode_max = mode_max
        self.stream = stream
        self.started: dict[str, float] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.sent: set[str] = set()
        self.counts = {s.value: 0 for s in TrialStatus}
        self.best: float | None = None
        self.ledger_state: dict[str, Any] | None = None
        self.unsent_at_end = 0
        self._worker: MlflowSyncWorker | _Disabled | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_worker"] = None
        state["stream"] = None
        return state

    def _say(self, text: str) -> None:
        print(f"[raynas] {text}", file=self.stream or sys.stderr, flush=True)

    @property
    def worker(self) -> Any:
        if self._worker is None:
            from raynas.config import SearchConfig
            from raynas.experiment import ExperimentPaths
            from raynas.tracking._mlflow_search import search_tracking

            paths = ExperimentPaths(Path(self.experiment_dir))
            config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config))
            if not config.mlflow.enabled:
                self._worker = _DISABLED
                return _DISABLED
            self.tracking = search_tracking(config, interval_s=self.interval_s)
            self._worker = MlflowSyncWorker(self.tracking, self.ledger_state, self._say)
            self._worker.start()
        return self._worker

    def setup(self, **info: Any) -> None:
        _ = self.worker

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        start = self.started.setdefault(trial.trial_id, time.time())
        self.sent.discard(trial.trial_id)  # started again after a resume: its new outcome is sent
        if "arch" in trial.config:
            self.worker.trial_started(trial.trial_id, int(trial.config.get("number", 0)), start)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        entry = history_entry(result)
        if not entry:
            return
        history = self.history.setdefault(trial.trial_id, [])
        history.append(entry)
        if result.get(STATUS_KEY) == RUNNING:  # the final report is sent with the trial's record
            self.worker.trial_reported(trial.trial_id, len(history) - 1, entry)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, classify(trial.last_result, metric=self.metric))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        from raynas.tune._callbacks import _error_text

        self._finish(trial, classify(trial.last_result, metric=self.metric, errored=True,
                                     error_text=_error_text(trial)))

    def _finish(self, trial: Any, outcome: Any) -> None:
        if trial.trial_id in self.sent or "arch" not in trial.config:
            return
        record = build_record(trial, outcome, start_time=self.started.pop(trial.trial_id, None),
                              history=self.history.pop(trial.trial_id, []), resources=self.resources)
        self.sent.add(trial.trial_id)
        self.worker.trial_finished(record)
        self.counts[record.status] = self.counts.get(record.status, 0) + 1
        if record.reward is not None and (self.best is None or
                                          (record.reward > self.best if self.mode_max else record.reward < self.best)):
            self.best = record.reward
        summary = {f"trials_{status}": float(count) for status, count in self.counts.items()}
        summary["trials_done"] = float(sum(self.counts.values()))
        if self.best is not None:
            summary["best_reward"] = float(self.best)
        self.worker.set_summary(int(summary["trials_done"]), summary)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial in trials:
            if trial.trial_id in self.started and trial.trial_id not in self.sent:
                self._finish(trial, end_of_search_outcome(classify(trial.last_result, metric=self.metric)))
        worker = self.worker
        if isinstance(worker, MlflowSyncWorker):
            self.unsent_at_end = worker.close(worker.tracking.flush_timeout_s)
            self.ledger_state = worker.snapshot
        self._worker = None

    def get_state(self) -> dict[str, Any]:
        snapshot = None
        if isinstance(self._worker, MlflowSyncWorker):
            with self._worker.lock:
                snapshot = self._worker.snapshot
        return {"ledger": snapshot or self.ledger_state, "sent": sorted(self.sent), "counts": dict(self.counts),
                "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue the same runs after a restore (the ledger file on disk is merged in by the worker)."""
        self.ledger_state = state.get("ledger")
        self.sent = set(state.get("sent", []))
        self.counts.update(state.get("counts", {}))
        self.best = state.get("best")
        if isinstance(self._worker, MlflowSyncWorker):
            self._worker.adopt(self.ledger_state)
