"""The background sender of MLflow events: a worker thread, run inside a child process of the driver.

The Ray Tune callback (``raynas.tune._mlflow_callback``) only queues events. The child process owns the
:class:`MlflowTracker` and sends them in batches: a run per trial (created while a long trial runs, so its curves
show live), its per-epoch reports, and at the end the trial's full record, plus the parent run's summary metrics.
When the tracking server is unreachable it keeps the events, retries with back-off and sends everything once the
server answers again; what is still unsent when the search ends is in the trial store (the source of truth) and
``raynas mlflow sync`` replays it. This module imports neither Ray nor MLflow itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from raynas.tracking._mlflow_search import SearchTracking
from raynas.tracking._mlflow_sync import MlflowTracker, is_transient, reachable
from raynas.tracking._store import TrialRecord

# by name: the worker process runs this module as __main__, and its lines belong under the "raynas" logger
log = logging.getLogger("raynas.tracking._mlflow_worker")


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
        self.errors: dict[str, str] = {}
        self.to_adopt: Mapping[str, Any] | None = None
        self.deadline: float | None = None
        self.tracker: MlflowTracker | None = None
        self.ready = False
        self.offline_since: float | None = None
        self.retry_at = 0.0
        self.backoff = 1.0

    # --- events (cheap: they only queue) -----------------------------------------------------------------
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
        """Send everything pending and stop; an unreachable server is waited for up to ``timeout_s``. Returns
        the number of events still unsent."""
        self.deadline = time.time() + timeout_s
        self.wake.set()
        self.join()
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
            if closing and (empty or (self.offline_since is not None and time.time() >= self.deadline)):
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
            if not self.errors:
                self.say(f"MLflow refused a record of trial {trial_id} ({type(exc).__name__}: {str(exc)[:200]}); "
                         "the search goes on, the end of the search reports every refused record")
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


class MlflowSyncProcess:
    """Runs a :class:`MlflowSyncWorker` in a child process, so MLflow's client work (SQLAlchemy, HTTP) never
    competes with the Ray Tune loop for the driver's GIL; the child runs at the lowest CPU priority.

    Same methods as the worker. Events are pickled to the child's stdin by a feeder thread (so a busy child
    never blocks the Tune loop); the child is ``python -m raynas.tracking._mlflow_worker``, not a
    ``multiprocessing`` child, so scripts that call ``run_search`` need no ``if __name__ == "__main__"`` guard.
    The run ledger the child writes on disk is the snapshot Ray Tune saves. The child ignores Ctrl-C (the
    driver ends the search and then closes it) and exits by itself when the driver dies (end of its stdin).
    """

    def __init__(self, tracking: SearchTracking, ledger_state: Mapping[str, Any] | None) -> None:
        import subprocess

        from raynas.tracking._ledger import ledger_path

        self.ledger_file = ledger_path(tracking.experiment_dir, tracking.target.uri)
        self.process = subprocess.Popen([sys.executable, "-m", "raynas.tracking._mlflow_worker"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.outbox: queue.Queue = queue.Queue()
        self.outbox.put((tracking, ledger_state))
        self.feeder = threading.Thread(target=self._feed, name="raynas-mlflow-feeder", daemon=True)
        self.feeder.start()

    def _feed(self) -> None:
        stdin = self.process.stdin
        try:
            while True:
                item = self.outbox.get()
                if item is None:
                    break
                pickle.dump(item, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                if self.outbox.empty():
                    stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the child is gone; the trial store still has everything
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _send(self, name: str, *args: Any) -> None:
        self.outbox.put((name, args))

    def trial_started(self, trial_id: str, number: int, start_time: float) -> None:
        self._send("trial_started", trial_id, number, start_time)

    def trial_reported(self, trial_id: str, index: int, entry: dict[str, Any]) -> None:
        self._send("trial_reported", trial_id, index, entry)

    def trial_finished(self, record: TrialRecord) -> None:
        self._send("trial_finished", record)

    def set_summary(self, step: int, metrics: dict[str, float]) -> None:
        self._send("set_summary", step, metrics)

    def adopt(self, ledger_state: Mapping[str, Any] | None) -> None:
        self._send("adopt", ledger_state)

    @property
    def snapshot(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.ledger_file.read_text())
        except (OSError, ValueError):
            return None

    def close(self, timeout_s: float) -> int:
        """Ask the child to send what is pending and wait for it; returns the events it could not send (-1
        when it died)."""
        self._send("close", timeout_s)
        self.outbox.put(None)
        self.feeder.join()
        answer = self.process.stdout.read()
        self.process.wait()
        try:
            return int(answer.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return -1


def _lowest_cpu_priority() -> None:
    """Run only when the CPU is otherwise idle (Linux SCHED_IDLE; elsewhere the highest niceness): below
    Ray's trial workers (niceness 15), so the search comes first and logging catches up in idle time."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19 - os.nice(0))


def _sqlite_without_fsync_per_commit() -> None:
    """SQLite in WAL mode with ``synchronous=NORMAL`` for this process's connections: a commit no longer waits
    for an fsync (only WAL checkpoints do), so logging does not queue the disk ahead of the trial store's own
    writes. The database stays consistent; a power cut may lose the last commits, which the run ledger and
    ``raynas mlflow sync`` do not notice, but the trial store keeps every result."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()


def create_sqlite_store(database: str | os.PathLike[str], artifact_root: str | None = None) -> bool:
    """Create a new SQLite tracking store whole or not at all; True when this call created it.

    MLflow builds its tables by running migrations on the database file itself, so a driver killed meanwhile left
    a half-built store that every later run refused (``table ... already exists``). Here the tables are built in a
    temporary file beside ``database`` and linked into place (``os.link`` never replaces: a store another process
    made meanwhile is kept). A store that already exists is left as it is.
    """
    from pathlib import Path

    target = Path(database).expanduser()
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(f"sqlite:///{partial}", artifact_root or str(target.parent / "mlartifacts"))
        store.engine.dispose()  # closes its connections: the file is complete on disk
        os.link(partial, target)
        return True
    except FileExistsError:
        return False
    finally:
        partial.unlink(missing_ok=True)


def serve(stdin: Any, stdout: Any) -> None:
    """The child process: feed pickled events to a worker thread until told to close (or stdin ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lowest_cpu_priority()

    tracking, ledger_state = pickle.load(stdin)
    if tracking.target.uri.startswith("sqlite:///"):
        with contextlib.suppress(Exception):  # the worker reports what MLflow says if the store still cannot open
            create_sqlite_store(tracking.target.uri[len("sqlite:///"):], tracking.target.artifact_root)
        _sqlite_without_fsync_per_commit()
    worker = MlflowSyncWorker(tracking, ledger_state, log.warning)  # its lines are about MLflow trouble
    worker.start()
    while True:
        try:
            name, args = pickle.load(stdin)
        except (EOFError, pickle.UnpicklingError):  # the driver died: send what can be sent, do not wait
            worker.close(0.0)
            return
        if name == "close":
            stdout.write(f"{worker.close(*args)}\n".encode())
            stdout.flush()
            return
        getattr(worker, name)(*args)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
