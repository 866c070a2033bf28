"""The Controller contract: propose a genotype, observe its outcome, save and restore state."""

from __future__ import annotations

import copy
import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from raynas.errors import ConfigError
from raynas.space import Genotype, SearchSpace


class TrialStatus(str, Enum):
    """How a trial ended."""

    COMPLETED = "completed"  # finished and reported a finite reward
    FAILED = "failed"  # raised, ran out of memory, or its process died
    INVALID = "invalid"  # the architecture could not be built or its loss/reward was NaN/Inf
    STOPPED = "stopped"  # stopped early by a scheduler or because the search ended

    def counts_as_failure(self) -> bool:
        """Failed and invalid trials count toward the search's failure budget."""
        return self in (TrialStatus.FAILED, TrialStatus.INVALID)


@dataclass(frozen=True)
class Observation:
    """The outcome of one proposed genotype. ``reward`` is None unless the trial completed."""

    genotype: Genotype
    reward: float | None
    status: TrialStatus


class Controller(ABC):
    """Decides which architecture to try next. Pure Python; always maximises ``reward``.

    Subclasses implement :meth:`_propose` and :meth:`_observe_reward`; failed/invalid/stopped trials go to
    :meth:`_observe_failure` (default: ignored), so that failures never look like a reward of zero.
    State is everything in the instance except the space: :meth:`state_dict` / :meth:`load_state_dict`.
    """

    #: Registry name of the controller (set by each subclass).
    name: ClassVar[str] = ""
    #: Attributes that are not state (rebuilt on demand after a restore).
    transient: ClassVar[tuple[str, ...]] = ("space",)

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 avoid_duplicates: bool = True) -> None:
        if max_trials is not None and max_trials < 1:
            raise ConfigError("max_trials", max_trials, "an integer >= 1")
        self.space = space
        self.seed = seed
        self.max_trials = max_trials
        self.avoid_duplicates = avoid_duplicates
        self.rng = random.Random(seed)
        self.num_proposed = 0
        self.num_observed = 0
        self.num_failed = 0
        self.proposed: set[Genotype] = set()
        self.best: tuple[float, Genotype] | None = None

    # --- public contract -------------------------------------------------------------------------------
    def propose(self) -> Genotype | None:
        """The next genotype to evaluate, or None when the controller has nothing more to try."""
        genotype = self._propose()
        if genotype is None:
            return None
        genotype = tuple(genotype)
        self.proposed.add(genotype)
        self.num_proposed += 1
        return genotype

    def observe(self, genotype: Genotype, reward: float | None = None,
                status: TrialStatus | str = TrialStatus.COMPLETED) -> None:
        """Record the outcome of a proposed genotype.

        A COMPLETED trial needs a finite reward; a non-finite reward is recorded as INVALID. A STOPPED trial may
        carry the reward it reached before it was stopped (a low-fidelity result).
        """
        status = TrialStatus(status)
        genotype = tuple(genotype)
        self.num_observed += 1
        if status is TrialStatus.COMPLETED and (reward is None or not math.isfinite(float(reward))):
            status = TrialStatus.INVALID
        if status is TrialStatus.COMPLETED:
            reward = float(reward)  # type: ignore[arg-type]
            if self.best is None or reward > self.best[0]:
                self.best = (reward, genotype)
            self._observe_reward(genotype, reward)
        elif status is TrialStatus.STOPPED and reward is not None and math.isfinite(float(reward)):
            self._observe_low_fidelity(genotype, float(reward))
        else:
            if status.counts_as_failure():
                self.num_failed += 1
            self._observe_failure(genotype, status)

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of the controller's state (picklable), without the space."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self.transient}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; the controller then continues exactly where it was."""
        for key, value in state.items():
            if key not in self.transient:
                setattr(self, key, copy.deepcopy(value))
        for key in self.transient:
            if key != "space":
                setattr(self, key, None)

    # --- for subclasses --------------------------------------------------------------------------------
    @abstractmethod
    def _propose(self) -> Genotype | None:
        """Return the next genotype (None when exhausted)."""

    @abstractmethod
    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        """Learn from a completed trial."""

    def _observe_low_fidelity(self, genotype: Genotype, reward: float) -> None:
        """A trial stopped early (e.g. by ASHA) with the reward it had reached: a partial, low-fidelity result.

        Default: not used as a final reward (an early-stopped trial is not comparable with finished ones).
        """

    def _observe_failure(self, genotype: Genotype, status: TrialStatus) -> None:
        """Learn from a failed, invalid or stopped trial (default: nothing; never a zero reward)."""

    def _random_new(self, tries: int = 100) -> Genotype:
        """A random genotype not proposed before (if one is found within ``tries`` draws)."""
        genotype = self.space.sample_genotype(self.rng)
        if self.avoid_duplicates:
            for _ in range(tries):
                if genotype not in self.proposed:
                    break
                genotype = self.space.sample_genotype(self.rng)
        return genotype
