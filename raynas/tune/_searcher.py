"""One Ray Tune Searcher that wraps any raynas Controller."""

from __future__ import annotations

import pickle
from typing import Any

from ray.tune.search import Searcher

from raynas.config import Mode
from raynas.controllers import Controller
from raynas.tune._outcome import classify


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

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
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
        keep = outcome.status.value in ("completed", "stopped")  # stopped: the low-fidelity reward it reached
        self.controller.observe(genotype, reward if keep else None, outcome.status)

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
        """Replay trials that ended after the saved state was written (the driver died in between).

        Ray Tune saves the searcher every few seconds; trials launched after that save but already in the trial
        store are unknown to the restored state. Observing them keeps the controller informed, and moving the
        launch counter past them keeps trial numbers unique and the trial budget exact.
        """
        if self.store_dir is None:
            return
        from raynas.tracking import TrialStore

        newer = [r for r in TrialStore(self.store_dir).records() if r.number > self.num_suggested]
        for record in sorted(newer, key=lambda r: r.number):
            genotype = tuple(record.genotype)
            self.controller.proposed.add(genotype)
            self.controller.num_proposed += 1
            reward = record.reward
            if reward is not None and self.direction is Mode.MIN:
                reward = -reward
            self.controller.observe(genotype, reward if record.status == "completed" else None, record.status)
        if newer:
            self.num_suggested = max(r.number for r in newer)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.get_state(), handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.set_state(pickle.load(handle))
