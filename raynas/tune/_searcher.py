"""One Ray Tune Searcher that wraps any raynas Controller."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, Sequence

from ray.tune.search import Searcher

from raynas.config import Mode
from raynas.controllers import Controller, PastTrial
from raynas.trials import TrialStatus
from raynas.tune._outcome import classify

if TYPE_CHECKING:
    from raynas.trials import TrialRecord


def trial_seed(search_seed: int, number: int) -> int:
    """Seed of the trial launched ``number``-th in a search seeded ``search_seed``."""
    return (search_seed * 1_000_003 + number) % (2**31 - 1)


class ControllerSearcher(Searcher):
    """Asks a controller for architectures and tells it the outcome of each trial.

    Proposes at most ``max_trials`` trials, then returns ``Searcher.FINISHED``. Rewards are negated for a
    ``min`` metric (controllers always maximise). Failed, invalid and stopped trials are observed as such.
    Its whole state (controller included) is saved with the experiment and restored on resume.
    """

    def __init__(self, controller: Controller, *, max_trials: int, metric: str, mode: Mode, seed: int,
                 store_dir: str | None = None) -> None:
        # metric/mode are kept out of the Searcher base on purpose: Ray Tune then requires every result to carry
        # the metric, but failed and invalid trials report none (they report a status and a reason instead).
        super().__init__(metric=None, mode=None)
        self.objective = metric
        self.direction = Mode(mode)
        self.controller = controller
        self.max_trials = max_trials
        self.seed = seed
        self.store_dir = store_dir
        self.num_suggested = 0
        self.live: dict[str, tuple[int, ...]] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric and mode come from the raynas config

    # Ray Tune's hint omits Searcher.FINISHED, the str its own SearchGenerator checks suggest() for.
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if self.num_suggested >= self.max_trials:
            return Searcher.FINISHED
        genotype = self.controller.propose()
        if genotype is None:
            return Searcher.FINISHED
        self.num_suggested += 1
        self.live[trial_id] = genotype
        return {
            "arch": self.controller.space.decode(genotype),
            "genotype": list(genotype),
            "number": self.num_suggested,
            "seed": trial_seed(self.seed, self.num_suggested),
        }

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        genotype = self.live.pop(trial_id, None)
        if genotype is None:
            return
        outcome = classify(result, metric=self.objective, errored=error)
        reward = outcome.value
        if reward is not None and self.direction is Mode.MIN:
            reward = -reward
        self.controller.observe(genotype, reward if _keeps_reward(outcome.status) else None, outcome.status)

    # --- persistence (called by Ray Tune with the experiment state) ------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            "controller": self.controller.state_dict(),
            "num_suggested": self.num_suggested,
            "live": dict(self.live),
            "seed": self.seed,
            "max_trials": self.max_trials,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.num_suggested = state["num_suggested"]
        self.live = dict(state["live"])
        self.seed = state["seed"]
        self.max_trials = state["max_trials"]
        self._catch_up_with_store()

    def _catch_up_with_store(self) -> None:
        """Replay to the controller the trials that ran after the saved state was written (the driver died in between).

        Ray Tune saves the searcher every few seconds; trials launched after that save but already in the trial
        store are unknown to the restored state (and to Ray Tune, which will not run them again). The controller
        replays them (:meth:`Controller.replay`), and the launch counter moves past them, which keeps trial numbers
        unique and the trial budget exact.
        """
        if self.store_dir is None:
            return
        from raynas.tracking import TrialStore

        newer = [r for r in TrialStore(self.store_dir).records() if r.number > self.num_suggested]
        if newer:
            self.controller.replay(store_history(newer, self.direction))
            self.num_suggested = max(r.number for r in newer)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.get_state(), handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.set_state(pickle.load(handle))


def store_history(records: Sequence[TrialRecord], direction: Mode) -> list[PastTrial]:
    """The controller's view of stored trials, in the order things happened as far as the store tells, for
    :meth:`Controller.replay`.

    Each trial is a proposal when it started and an outcome when it ended, told as :meth:`on_trial_complete`
    tells it (reward negated for a ``min`` metric, kept for completed and early-stopped trials). Proposals keep
    the order of their trial numbers; an outcome comes before every proposal of a trial that started after it
    ended (the store has start times, not proposal times: a proposal made just before an outcome but started
    after it is replayed after it). Without times (records written by hand), each trial's outcome follows its
    proposal at once.
    """
    ordered = sorted(records, key=lambda r: r.number)
    if any(r.start_time is None or r.end_time is None for r in ordered):
        return [_outcome(r, direction) for r in ordered]  # an outcome of a trial not pending is also its proposal
    events: list[tuple[float, int, int, PastTrial]] = []
    proposed_at = float("-inf")
    for r in ordered:
        proposed_at = max(proposed_at, float(r.start_time or 0.0))  # launch order is number order
        events.append((proposed_at, 1, r.number, PastTrial(tuple(r.genotype), number=r.number)))
        events.append((max(float(r.end_time or 0.0), proposed_at), 2, r.number, _outcome(r, direction)))
    return [event for *_, event in sorted(events, key=lambda e: e[:3])]


def _outcome(record: TrialRecord, direction: Mode) -> PastTrial:
    status = TrialStatus(record.status)
    reward = record.reward if _keeps_reward(status) else None
    if reward is not None and direction is Mode.MIN:
        reward = -reward
    return PastTrial(tuple(record.genotype), status, reward, record.number)


def _keeps_reward(status: TrialStatus) -> bool:
    """A controller is told the reward of completed trials, and the low-fidelity one an early-stopped trial reached."""
    return status in (TrialStatus.COMPLETED, TrialStatus.STOPPED)
