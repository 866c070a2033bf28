"""Ray Tune callbacks of a raynas search: failure budget, trial store recording, progress lines."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Sequence, TextIO

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raynas._log import log_to
from raynas._text import hms
from raynas.controllers import TrialStatus
from raynas.targets import CONTRACT_PREFIX, TrainerContractBroken
from raynas.tracking import TrialRecord, TrialStore
from raynas.tune._front import FrontTracker
from raynas.tune._outcome import NODE_KEY, REASON_KEY, Outcome, classify, error_outcome, history_entry, user_metrics

log = logging.getLogger(__name__)

#: The reason of a trial still running when its search ended (a Ctrl-C, a stopper): see :func:`end_of_search_outcome`.
END_OF_SEARCH_REASON = "stopped because the search ended"


def _error_text(trial: Any) -> str | None:
    """First line of the error Ray recorded for a trial (actor died, exception outside raynas' wrapper)."""
    try:
        error = trial.get_error()
    except Exception:  # noqa: BLE001 - best effort only
        error = None
    if error is None:
        return None
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (f"{type(error).__name__}: {lines[-1]}" if lines else type(error).__name__)[:500]


def restarts_of(trial: Any) -> int:
    """How often Ray Tune started the trial again after an error (Tune counts each error as a failure)."""
    failures = int(getattr(getattr(trial, "run_metadata", None), "num_failures", 0) or 0)
    return failures if getattr(trial, "status", None) != "ERROR" else max(failures - 1, 0)


def errored_outcome(trial: Any, metric: str) -> Outcome:
    """Outcome of a trial Ray Tune ended with an error: infrastructure losses are stopped, the rest failed."""
    try:
        error: Any = trial.get_pickled_error()
    except Exception:  # noqa: BLE001 - unpicklable or unreadable: fall back to the text Ray wrote
        error = None
    if error is None:
        error = _error_text(trial)
    return error_outcome(error, restarts=restarts_of(trial), last_result=trial.last_result, metric=metric)


class FailureBudget(Callback):
    """Counts failed and invalid trials; once ``max_failed`` is reached the search is cancelled.

    The cancellation itself is done by :class:`FailureBudgetStopper` (Ray Tune stops every running trial and
    asks for no new ones when a stopper's ``stop_all`` is true). A resumed search starts from the failures in the
    trial store (:meth:`set_state` with an empty state).

    The callback publishes its count in a small ledger file (written atomically on every change) that the stopper
    reads (Ray Tune may hold a copy of the stopper, not the same object); without a ledger path they share the
    object directly.
    """

    def __init__(self, max_failed: int, metric: str, ledger_path: str | None = None,
                 store_dir: str | None = None) -> None:
        self.max_failed = max_failed
        self.metric = metric
        self.ledger_path = ledger_path
        self.store_dir = store_dir
        self.failed = 0
        self.counted: set[str] = set()

    @property
    def exhausted(self) -> bool:
        return self.failed >= self.max_failed

    def _count(self, trial: Any, status: TrialStatus) -> None:
        if status.counts_as_failure() and trial.trial_id not in self.counted:
            self.counted.add(trial.trial_id)
            self.failed += 1
            self._publish()

    def _publish(self) -> None:
        if self.ledger_path is None:
            return
        tmp = f"{self.ledger_path}.tmp"
        with open(tmp, "w") as handle:
            json.dump({"failed": self.failed, "max_failed": self.max_failed}, handle)
        os.replace(tmp, self.ledger_path)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._count(trial, classify(trial.last_result, metric=self.metric).status)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._count(trial, errored_outcome(trial, self.metric).status)  # infrastructure losses do not count

    def get_state(self) -> dict[str, Any]:
        return {"failed": self.failed, "counted": sorted(self.counted)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the count; failures stored after the saved state was written count too (store is the truth)."""
        self.counted = set(state["counted"])
        if self.store_dir is not None:
            # write order: a trial recorded again counts by its last record, as in TrialStore.records()
            latest = {r.trial_id: r.status for r in TrialStore(self.store_dir).reader().new_records()}
            self.counted |= {tid for tid, status in latest.items() if TrialStatus(status).counts_as_failure()}
        self.failed = max(int(state["failed"]), len(self.counted))
        self._publish()


class FailureBudgetStopper(Stopper):
    """Stops the whole search once its :class:`FailureBudget` is exhausted (read from the budget's ledger)."""

    def __init__(self, budget: FailureBudget) -> None:
        self.budget = budget

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        if self.budget.exhausted:  # same object as the callback (no restore in between)
            return True
        path = self.budget.ledger_path
        if path is None:
            return False
        try:  # a tiny file, read on each Tune step: file timestamps are too coarse to detect every change
            with open(path) as handle:
                data = json.load(handle)
            return int(data["failed"]) >= int(data["max_failed"])
        except (OSError, ValueError, KeyError):
            return False  # not written yet, or a torn read: the next step reads it again


class ContractStopper(Stopper):
    """Stops the whole run when a trial found a problem every trial would hit: the user trainer broke its contract
    (it never reported, reported without the metric...) or the configuration is wrong (e.g. pretrained weights that
    do not fit). :func:`raise_broken_contract` then tells the user."""

    def __init__(self) -> None:
        self.broken = False

    def __getstate__(self) -> dict[str, Any]:
        return {"broken": False}  # a resumed run (the trainer fixed since) starts unbroken

    def __call__(self, trial_id: str, result: dict) -> bool:
        if str(result.get(REASON_KEY) or "").startswith(CONTRACT_PREFIX):
            self.broken = True
        return False

    def stop_all(self) -> bool:
        return self.broken


def broke_the_contract(record: Any) -> bool:
    """Whether a stored trial stopped its run (a broken trainer contract or a configuration error)."""
    return (record.failure_reason or "").startswith(CONTRACT_PREFIX)


def raise_broken_contract(records: Any, *, since: float, again: str) -> None:
    """Raise :class:`TrainerContractBroken` (exit code 2 in the CLI) when a trial that ended at or after ``since``
    (this run) broke the trainer contract; ``again`` says how to run it again once fixed."""
    for record in records:
        if broke_the_contract(record) and (record.end_time or 0.0) >= since:
            raise TrainerContractBroken(f"the run was stopped: {record.failure_reason[len(CONTRACT_PREFIX):]} (trial "
                                        f"{record.trial_id}). Fix it, then {again}.")


class TrialRecorder(Callback):
    """Appends every finished trial to the trial store the moment it ends (on the driver).

    A trial's checkpoint folder is stored relative to the folder that holds the store (the experiment), so that a
    moved or copied experiment still finds it (see :func:`checkpoint_path`).
    """

    def __init__(self, store_dir: str, metric: str, resources: dict[str, float]) -> None:
        self.store_dir = store_dir
        self.metric = metric
        self.resources = dict(resources)
        self.started: dict[str, float] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.recorded: set[str] = set()
        self._store: TrialStore | None = None

    @property
    def store(self) -> TrialStore:
        if self._store is None:
            self._store = TrialStore(self.store_dir)
        return self._store

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_store"] = None
        return state

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.started.setdefault(trial.trial_id, time.time())
        # a trial stopped by an interruption runs again after a resume: its new outcome replaces the old record
        self.recorded.discard(trial.trial_id)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        entry = history_entry(result)
        if not entry:
            return
        history = self.history.setdefault(trial.trial_id, [])
        epoch = entry.get("epoch")
        if isinstance(epoch, (int, float)) and history:
            # a trial started again from its checkpoint reports the epochs after it: what it reported after that
            # checkpoint before it was lost is replaced; one started from scratch replaces its whole curve
            history[:] = [h for h in history if not isinstance(h.get("epoch"), (int, float)) or h["epoch"] < epoch]
        restarts = restarts_of(trial)
        if restarts:
            entry["attempt"] = restarts  # which start of the trial reported it (0, left out, for the first)
        history.append(entry)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._record(trial, classify(trial.last_result, metric=self.metric))

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial was lost (e.g. its node died) and starts again, from its last checkpoint when it kept one:
        its next reports replace the epochs from there on (see :meth:`on_trial_result`)."""

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._record(trial, errored_outcome(trial, self.metric))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Trials stopped by a cancelled search never reach on_trial_complete: record them as stopped."""
        for trial in trials:
            if trial.trial_id in self.started and trial.trial_id not in self.recorded:
                outcome = classify(trial.last_result, metric=self.metric)
                self._record(trial, end_of_search_outcome(outcome))

    def _record(self, trial: Any, outcome: Outcome) -> None:
        if trial.trial_id in self.recorded or "arch" not in trial.config:
            return
        record = build_record(trial, outcome, start_time=self.started.pop(trial.trial_id, None),
                              history=self.history.pop(trial.trial_id, []), resources=self.resources,
                              root=os.path.dirname(os.path.abspath(self.store_dir)))
        self.store.append(record)
        self.recorded.add(trial.trial_id)
        prune_checkpoints(getattr(getattr(trial, "checkpoint", None), "path", None))

    def get_state(self) -> dict[str, Any]:
        return {"recorded": sorted(self.recorded)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Trials in the store are recorded, also those that ended after the saved state was written."""
        self.recorded = set(state["recorded"]) | {r.trial_id for r in self.store.reader().new_records()}


def prune_checkpoints(latest: str | None) -> None:
    """Remove a finished trial's older checkpoints (a trainer may keep one per epoch, to be resumed from): only
    the latest, its final model or last state, stays. Local storage only; a trial's folder is its own."""
    if not latest or not os.path.isdir(latest):
        return
    import shutil
    from pathlib import Path

    for older in Path(latest).parent.glob("checkpoint_*"):
        if older.is_dir() and older.resolve() != Path(latest).resolve():
            shutil.rmtree(older, ignore_errors=True)


def end_of_search_outcome(outcome: Outcome) -> Outcome:
    """A trial still unfinished when the search ended is stopped (unless it had already completed, or its failure is
    what stopped the run: a broken trainer contract)."""
    if outcome.status is TrialStatus.COMPLETED or (outcome.reason or "").startswith(CONTRACT_PREFIX):
        return outcome
    return Outcome(TrialStatus.STOPPED, outcome.value, END_OF_SEARCH_REASON)


def checkpoint_path(path: str | None, root: str | None) -> str | None:
    """A checkpoint folder as the trial store keeps it: relative to ``root`` (the folder holding the store) when it
    is inside it, as it is otherwise (e.g. a cluster's storage). Readers join it to the experiment folder, which
    also keeps an absolute path of an older experiment as it is."""
    if not path or not root or "://" in path:
        return path
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:  # another drive
        return path
    return path if relative == os.curdir or relative.startswith(os.pardir) else relative


def build_record(trial: Any, outcome: Outcome, *, start_time: float | None, history: list[dict[str, Any]],
                 resources: dict[str, float], root: str | None = None) -> TrialRecord:
    """The trial-store record of a finished Ray Tune trial (its checkpoint relative to ``root``, when given)."""
    config = trial.config
    checkpoint = getattr(trial, "checkpoint", None)
    return TrialRecord(
        trial_id=trial.trial_id,
        number=int(config.get("number", 0)),
        arch=config["arch"],
        genotype=tuple(config.get("genotype", ())),
        reward=outcome.value if outcome.status is TrialStatus.COMPLETED else None,
        status=outcome.status.value,
        failure_reason=outcome.reason,
        start_time=start_time,
        end_time=time.time(),
        iterations=len(history),
        metrics=user_metrics(trial.last_result),
        history=history if len(history) > 1 else [],
        resources=resources,
        seed=config.get("seed"),
        checkpoint=(checkpoint_path(getattr(checkpoint, "path", None), root)
                    if outcome.status is TrialStatus.COMPLETED else None),
        labels={str(k): str(v) for k, v in dict(config.get("labels") or {}).items()},
        node=(trial.last_result or {}).get(NODE_KEY),
        restarts=restarts_of(trial),
    )


class ProgressPrinter(Callback):
    """One plain progress line at most every ``interval_s`` seconds (works in logs, not only terminals), logged at
    INFO through the ``"raynas"`` logger; ``stream``, when given, takes the lines instead (e.g. a benchmark's
    ``os.devnull``). With ``objectives`` (a multi-objective search) the line and ``progress.json`` also say the size
    of the Pareto front so far and its hypervolume (:class:`raynas.tune._front.FrontTracker`)."""

    def __init__(self, max_trials: int, metric: str, *, mode_max: bool = True, interval_s: float = 5.0,
                 stream: TextIO | None = None, live_path: str | None = None, objectives: Sequence[Any] = ()) -> None:
        self.max_trials = max_trials
        self.metric = metric
        self.interval_s = interval_s
        self.stream = stream
        self.counts = {s.value: 0 for s in TrialStatus}
        self.best: float | None = None
        self.mode_max = mode_max
        self._start = time.time()
        self._first_done: float | None = None
        self._last = 0.0
        #: Where the latest progress is written as JSON (``raynas monitor`` reads it while the search runs).
        self.live_path = live_path
        self._earlier: dict[str, str] = {}  # status of each trial of earlier runs (see seed), by trial id
        self.front = FrontTracker(objectives) if objectives else None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["stream"] = None
        return state

    def _front_fields(self) -> dict[str, Any]:
        front = getattr(self, "front", None)
        return front.fields() if front is not None else {}

    def setup(self, **info: Any) -> None:
        """Say at once that the search runs (``raynas monitor`` reads this before the first trial ends)."""
        if self.live_path:
            _write_live(self.live_path, {"time": time.time(), "done": sum(self.counts.values()),
                                         "max_trials": self.max_trials, "running": 0, "counts": dict(self.counts),
                                         "best": self.best, "elapsed_s": 0, "remaining_s": None,
                                         **self._front_fields()})

    def seed(self, records: list[TrialRecord]) -> None:
        """A resumed search counts on from the trials of its earlier runs (the store's records); a trial that runs
        again replaces its earlier outcome."""
        for record in records:
            self._earlier[record.trial_id] = record.status.value
            self.counts[record.status.value] += 1
            if record.status is TrialStatus.COMPLETED and record.reward is not None:
                self._better(record.reward)
        if getattr(self, "front", None) is not None:
            self.front.seed(records)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        outcome = classify(trial.last_result, metric=self.metric)
        self._forget(trial)
        self._add(outcome)
        if outcome.status is TrialStatus.COMPLETED and getattr(self, "front", None) is not None:
            self.front.add(trial.trial_id, trial.last_result or {})
        self.maybe_print(trials)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._forget(trial)
        self._add(errored_outcome(trial, self.metric))
        self.maybe_print(trials)

    def _forget(self, trial: Any) -> None:
        earlier = getattr(self, "_earlier", {}).pop(getattr(trial, "trial_id", None), None)
        if earlier is not None:
            self.counts[earlier] -= 1

    def get_state(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        """After a resume the counts continue from where the interrupted run left them."""
        self.counts.update(state["counts"])
        self.best = state["best"]
        self._start = time.time()
        self._first_done = None

    def _add(self, outcome: Any) -> None:
        if self._first_done is None:
            self._first_done = time.time()
        self.counts[outcome.status.value] += 1
        if outcome.status is TrialStatus.COMPLETED and outcome.value is not None:
            self._better(outcome.value)

    def _better(self, value: float) -> None:
        if self.best is None or (value > self.best if self.mode_max else value < self.best):
            self.best = value

    def maybe_print(self, trials: list, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        done = sum(self.counts.values())
        running = sum(1 for t in trials if t.status == "RUNNING")
        best = "-" if self.best is None else f"{self.best:.4g}"
        elapsed = int(now - self._start)
        remaining = None
        if self._first_done is not None and done >= 5 and now > self._first_done:
            rate = (done - 1) / (now - self._first_done)  # measured after start-up, so the estimate is honest
            remaining = (self.max_trials - done) / rate if rate > 0 else None
        eta = "-" if remaining is None else hms(remaining)
        if self.live_path:
            _write_live(self.live_path, {"time": now, "done": done, "max_trials": self.max_trials, "running": running,
                                         "counts": dict(self.counts), "best": self.best, "elapsed_s": elapsed,
                                         "remaining_s": remaining, **self._front_fields()})
        front = getattr(self, "front", None)
        front_words = f", {front.words()}" if front is not None else ""
        with log_to(self.stream):
            log.info(f"{done}/{self.max_trials} trials done ({self.counts['failed']} failed, "
                     f"{self.counts['invalid']} invalid), {running} running, best {self.metric} {best}{front_words}, "
                     f"elapsed {hms(elapsed)}, remaining ~{eta}")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.maybe_print(trials, force=True)


def _write_live(path: str, data: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except OSError:  # progress is best effort; the trial store is the record
        pass
