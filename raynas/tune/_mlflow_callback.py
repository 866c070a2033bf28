"""The Ray Tune callback that logs a search to MLflow from the driver (workers need no MLflow access).

Callback methods only hand events to a child process (``raynas.tracking._mlflow_worker``) and return at once,
so the Tune loop never waits for MLflow. Run ids live in the run ledger (``<experiment>/mlflow/``): a resumed search,
with a fresh callback, continues the same runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ray.tune import Callback

from raynas.controllers import TrialStatus
from raynas.tracking import MlflowSyncProcess, SearchTracking, summary_metrics
from raynas.tune._callbacks import build_record, end_of_search_outcome
from raynas.tune._front import FrontTracker
from raynas.tune._outcome import RUNNING, STATUS_KEY, classify, history_entry


class _Disabled:
    """Stands in for the worker when the config turns MLflow off."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


_DISABLED = _Disabled()


class MlflowLogger(Callback):
    """Logs every trial of a search to MLflow as a nested child run of the stage's parent run.

    Where to log is read from the experiment's ``config.json`` when the search (re)starts, so a resumed search
    follows the current settings (e.g. a new ``--tracking-uri``); the experiment is the folder ``experiment_dir``,
    whatever workdir ``config.json`` names (a moved or copied experiment logs as itself).

    With ``objectives`` (a multi-objective search) the parent run's summary also has ``front_size`` and
    ``hypervolume`` (stepped by trials done) as the search runs; the final sync tags every trial run
    ``raynas.on_front`` (:func:`raynas.tracking.sync_search`).
    """

    def __init__(self, experiment_dir: str, *, metric: str, resources: dict[str, float], mode_max: bool = True,
                 interval_s: float = 1.0, tracking: SearchTracking | None = None,
                 objectives: Sequence[Any] = ()) -> None:
        self.experiment_dir = experiment_dir
        self.interval_s = interval_s
        #: Given: where and how to log (proxy-design tools); None: read from the search's config.json.
        self.fixed_tracking = tracking
        self.tracking: SearchTracking | None = None
        self.metric = metric
        self.resources = dict(resources)
        self.mode_max = mode_max
        self.started: dict[str, float] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.sent: set[str] = set()
        self.counts = {s.value: 0 for s in TrialStatus}
        self.best: float | None = None
        self.ledger_state: dict[str, Any] | None = None
        self._earlier: dict[str, str] = {}  # status of each trial of earlier runs (see seed), by trial id
        self._worker: MlflowSyncProcess | _Disabled | None = None
        self.front = FrontTracker(objectives) if objectives else None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_worker"] = None
        return state

    @property
    def worker(self) -> Any:
        if self._worker is None and self.fixed_tracking is not None:
            self.tracking = self.fixed_tracking
            self._worker = MlflowSyncProcess(self.tracking, self.ledger_state)
        if self._worker is None:
            from raynas.config import SearchConfig
            from raynas.experiment import ExperimentPaths
            from raynas.tracking import search_tracking

            paths = ExperimentPaths(Path(self.experiment_dir))
            config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config)).located_at(paths.root)
            if not config.mlflow.enabled:
                self._worker = _DISABLED
                return _DISABLED
            self.tracking = search_tracking(config, interval_s=self.interval_s)
            self._worker = MlflowSyncProcess(self.tracking, self.ledger_state)
        return self._worker

    def setup(self, **info: Any) -> None:
        _ = self.worker

    def seed(self, records: list[Any]) -> None:
        """A resumed search's summary counts on from the trials of its earlier runs (the store's records); a trial
        that runs again replaces its earlier outcome."""
        for record in records:
            self._earlier[record.trial_id] = record.status.value
            self.counts[record.status.value] = self.counts.get(record.status.value, 0) + 1
            if record.reward is not None and record.status is TrialStatus.COMPLETED and (
                    self.best is None or (record.reward > self.best if self.mode_max else record.reward < self.best)):
                self.best = record.reward
        if getattr(self, "front", None) is not None:
            self.front.seed(records)

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

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.history.pop(trial.trial_id, None)  # it starts again from scratch (its node or actor was lost)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        from raynas.tune._callbacks import errored_outcome

        self._finish(trial, errored_outcome(trial, self.metric))

    def _finish(self, trial: Any, outcome: Any) -> None:
        if trial.trial_id in self.sent or "arch" not in trial.config:
            return
        record = build_record(trial, outcome, start_time=self.started.pop(trial.trial_id, None),
                              history=self.history.pop(trial.trial_id, []), resources=self.resources,
                              root=self.experiment_dir)
        self.sent.add(trial.trial_id)
        earlier = getattr(self, "_earlier", {}).pop(trial.trial_id, None)
        if earlier is not None:
            self.counts[earlier] -= 1
        self.worker.trial_finished(record)
        self.counts[record.status] = self.counts.get(record.status, 0) + 1
        if record.reward is not None and (self.best is None or
                                          (record.reward > self.best if self.mode_max else record.reward < self.best)):
            self.best = record.reward
        summary = summary_metrics(self.counts, self.best)
        front = getattr(self, "front", None)
        if front is not None:
            if record.status is TrialStatus.COMPLETED:
                front.add(record.trial_id, record.metrics)
            summary.update({k: float(v) for k, v in front.fields().items() if v is not None})
        self.worker.set_summary(int(summary["trials_done"]), summary)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial in trials:
            if trial.trial_id in self.started and trial.trial_id not in self.sent:
                self._finish(trial, end_of_search_outcome(classify(trial.last_result, metric=self.metric)))
        worker = self.worker
        if isinstance(worker, MlflowSyncProcess):
            worker.close(self.tracking.flush_timeout_s)  # what it could not send, the final sync reports
            self.ledger_state = worker.snapshot
        self._worker = None

    def get_state(self) -> dict[str, Any]:
        snapshot = None
        if isinstance(self._worker, MlflowSyncProcess):
            snapshot = self._worker.snapshot
        return {"ledger": snapshot or self.ledger_state, "sent": sorted(self.sent), "counts": dict(self.counts),
                "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue the same runs after a restore (the ledger file on disk is merged in by the worker)."""
        self.ledger_state = state.get("ledger")
        self.sent = set(state.get("sent", []))
        self.counts.update(state.get("counts", {}))
        self.best = state.get("best")
        if isinstance(self._worker, MlflowSyncProcess):
            self._worker.adopt(self.ledger_state)
