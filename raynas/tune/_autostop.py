"""The auto-stop rules of a search as a Ray Tune callback and stopper (see :mod:`raynas.tune._convergence`).

Like the failure budget, the callback keeps the outcomes (its state survives a restore, and is rebuilt from the
trial store) and publishes a decision in ``<experiment>/auto_stop.json``; the stopper, restored separately by
Ray Tune, reads that file. The outcomes are kept in a :class:`~raynas.tune._convergence.RunningOutcomes`, so
a trial end costs the same at trial 10,000 as at trial 100 (the rules are not re-run over every outcome).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raynas.config import AutoStopConfig
from raynas.trials import TrialStatus
from raynas.tune._outcome import classify


class AutoStop(Callback):
    """Evaluates the auto-stop rules each time a trial ends; writes the decision when one fires."""

    def __init__(self, config: AutoStopConfig, *, metric: str, mode_max: bool, ledger_path: str,
                 store_dir: str, config_path: str | None = None) -> None:
        self.config = config
        #: The experiment's config.json: its current rules are read when the search (re)starts.
        self.config_path = config_path
        self.metric = metric
        self.mode_max = mode_max
        self.ledger_path = ledger_path
        self.store_dir = store_dir
        self._running: Any = None  # RunningOutcomes, made on first use (also for a callback pickled before it existed)

    @property
    def running(self) -> Any:
        """The outcomes so far (a :class:`~raynas.tune._convergence.RunningOutcomes`)."""
        if getattr(self, "_running", None) is None:
            from raynas.tune._convergence import RunningOutcomes

            self._running = RunningOutcomes(mode_max=self.mode_max)
            for number, (status, value) in sorted(self.__dict__.pop("outcomes", {}).items()):
                self._running.add(number, status, value)
        return self._running

    @property
    def outcomes(self) -> dict[int, tuple[str, float | None]]:
        """(status, reward) of every ended trial by trial number (the reward of completed trials only)."""
        return self.running.outcomes

    def setup(self, **info: Any) -> None:
        if self.config_path and os.path.exists(self.config_path):
            with open(self.config_path) as handle:
                self.config = AutoStopConfig.from_value(json.load(handle).get("auto_stop"))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        outcome = classify(trial.last_result, metric=self.metric)
        self._add(trial, outcome.status, outcome.value)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        from raynas.tune._callbacks import errored_outcome

        self._add(trial, errored_outcome(trial, self.metric).status, None)

    def _add(self, trial: Any, status: TrialStatus, value: float | None) -> None:
        if "number" not in trial.config or not self.config.enabled or os.path.exists(self.ledger_path):
            return
        running = self.running
        running.add(int(trial.config["number"]), status, value if status is TrialStatus.COMPLETED else None)
        decision = running.decision(self.config)
        if decision is not None:
            tmp = f"{self.ledger_path}.tmp"
            with open(tmp, "w") as handle:
                json.dump(decision.to_dict(), handle)
            os.replace(tmp, self.ledger_path)

    def get_state(self) -> dict[str, Any]:
        return {"outcomes": {str(k): list(v) for k, v in self.outcomes.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from the trial store (the truth), which also holds trials that ended after the saved state."""
        from raynas.tracking import TrialStore
        from raynas.tune._convergence import RunningOutcomes

        outcomes = {int(k): (v[0], v[1]) for k, v in state.get("outcomes", {}).items()}
        for record in TrialStore(self.store_dir).reader().new_records():  # write order: the last record wins
            outcomes[record.number] = (record.status, record.reward if record.status is TrialStatus.COMPLETED else None)
        self._running = RunningOutcomes(mode_max=self.mode_max)
        for number, (status, value) in sorted(outcomes.items()):
            self._running.add(number, status, value)


class AutoStopStopper(Stopper):
    """Stops the whole search once an auto-stop rule fired (its decision file exists)."""

    def __init__(self, ledger_path: str) -> None:
        self.ledger_path = ledger_path

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return os.path.exists(self.ledger_path)


def read_decision(ledger_path: str) -> dict[str, Any] | None:
    """The auto-stop decision of an experiment, if a rule fired (None, with a warning naming the file and ``raynas
    doctor``, when the file is damaged)."""
    try:
        with open(ledger_path, "rb") as handle:
            decision = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        decision = exc
    if isinstance(decision, dict) and isinstance(decision.get("reason"), str):
        return decision
    from raynas.errors import DamagedFileError, problem_of

    problem = problem_of(decision) if isinstance(decision, BaseException) else "no auto-stop decision with a reason"
    logging.getLogger(__name__).warning("%s", DamagedFileError(ledger_path, problem))
    return None
