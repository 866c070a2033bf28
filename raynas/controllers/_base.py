"""The Controller contract: propose a genotype, observe its outcome, save/restore or replay after a resume."""

from __future__ import annotations

import copy
import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Sequence, Union

from raynas.errors import ConfigError
from raynas.space import Genotype, SearchSpace
from raynas.trials import TrialStatus

#: What a controller is told a completed trial achieved: one number (single objective) or a tuple of
#: ``num_objectives`` numbers (multi-objective); always maximised (a ``min`` objective arrives negated).
Reward = Union[float, tuple[float, ...]]


@dataclass(frozen=True)
class Observation:
    """The outcome of one proposed genotype. ``reward`` is None unless the trial completed (a tuple of floats for a
    multi-objective controller)."""

    genotype: Genotype
    reward: Reward | None
    status: TrialStatus


@dataclass(frozen=True)
class PastTrial:
    """One event of a controller's history, for :meth:`Controller.replay`.

    Without a ``status`` it is a proposal (the trial was launched; its outcome is unknown: still running, or lost).
    With a ``status`` it is an outcome, with the ``reward`` the controller would have been told (already negated
    for a ``min`` metric: controllers always maximise; a STOPPED trial may carry the reward it reached). An
    outcome whose trial is not pending (proposed earlier, without an outcome yet) stands for both: the proposal,
    then the outcome. ``number`` is the trial's launch number when known (for controllers that use it; the
    default replay does not need it). A multi-objective controller's rewards are tuples (one float per objective).
    """

    genotype: Genotype
    status: TrialStatus | None = None
    reward: Reward | None = None
    number: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "genotype", tuple(self.genotype))
        if self.status is not None:
            object.__setattr__(self, "status", TrialStatus(self.status))


class Controller(ABC):
    """Decides which architecture to try next. Pure Python; always maximises ``reward``.

    Lifecycle of every controller (built-in or a plug-in), driven by the search engine:

    1. **Construct** with the search space, a ``seed`` and the options (``make_controller`` validates them).
       All randomness comes from ``self.rng`` (seeded): the same seed and the same events give the same proposals.
    2. **Propose / observe loop.** :meth:`propose` returns the next genotype (None: nothing more to try). Several
       proposals may be pending at once (parallel trials); each later gets exactly one :meth:`observe` with its
       status: COMPLETED with a finite reward, FAILED, INVALID, or STOPPED (early-stopped, maybe with the partial
       reward it reached). Failures are never rewards of zero.
    3. **Resume.** After a restart the engine constructs a fresh controller and calls :meth:`replay` with the
       whole history the trial store holds (trials to run again come as pending proposals): replay brings the
       controller to the state it would have had after living through those events. Nothing is saved with the
       experiment; :meth:`state_dict` / :meth:`load_state_dict` stay for callers that keep a controller themselves.

    Subclasses implement :meth:`_propose` and :meth:`_observe_reward`; failed/invalid/stopped trials go to
    :meth:`_observe_failure` (default: ignored). State is everything in the instance except the attributes named in
    ``transient`` (the space). :meth:`replay` works for every subclass whose ``_propose`` only changes state
    through ``self.rng`` and its own counters; override :meth:`_replay_proposal` otherwise.

    **Objectives.** ``num_objectives`` (default 1) is how many numbers each reward holds. With 1, rewards are
    floats. Controllers that set ``multi_objective = True`` accept ``num_objectives >= 2``: each reward is then a
    tuple of that many floats, every one maximised (the engine negates ``min`` objectives); a reward with a
    non-finite component is INVALID, a reward of the wrong length a ValueError; ``best`` is the lexicographically
    greatest reward (first objective first). Single-objective controllers refuse ``num_objectives > 1``.
    """

    #: Registry name of the controller (set by each subclass).
    name: ClassVar[str] = ""
    #: Whether the controller searches for a Pareto front (accepts ``num_objectives >= 2``).
    multi_objective: ClassVar[bool] = False
    #: Attributes that are not state (rebuilt on demand after a restore).
    transient: ClassVar[tuple[str, ...]] = ("space",)

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 avoid_duplicates: bool = True, num_objectives: int = 1) -> None:
        if max_trials is not None and max_trials < 1:
            raise ConfigError("max_trials", max_trials, "an integer >= 1")
        check_num_objectives(type(self), num_objectives)
        self.num_objectives = num_objectives
        self.space = space
        self.seed = seed
        self.max_trials = max_trials
        self.avoid_duplicates = avoid_duplicates
        self.rng = random.Random(seed)
        self.num_proposed = 0
        self.num_observed = 0
        self.num_failed = 0
        self.proposed: set[Genotype] = set()
        #: Proposals without an outcome yet (genotype -> how many), so that replay knows what is running.
        self.pending: dict[Genotype, int] = {}
        self.best: tuple[Any, Genotype] | None = None

    # --- public contract -------------------------------------------------------------------------------
    def propose(self) -> Genotype | None:
        """The next genotype to evaluate, or None when the controller has nothing more to try."""
        genotype = self._propose()
        if genotype is None:
            return None
        genotype = tuple(genotype)
        self._record_proposal(genotype)
        return genotype

    def observe(self, genotype: Genotype, reward: Reward | None = None,
                status: TrialStatus | str = TrialStatus.COMPLETED) -> None:
        """Record the outcome of a proposed genotype.

        A COMPLETED trial needs a finite reward; a non-finite reward is recorded as INVALID. A STOPPED trial may
        carry the reward it reached before it was stopped (a low-fidelity result). With ``num_objectives > 1`` the
        reward is a tuple of that many floats (see the class docstring).
        """
        status = TrialStatus(status)
        genotype = tuple(genotype)
        value: Any = reward
        if reward is not None:
            value = float(reward) if self.num_objectives == 1 else self._reward_vector(reward)  # type: ignore[arg-type]
        self.num_observed += 1
        left = self.pending.get(genotype, 0) - 1
        if left > 0:
            self.pending[genotype] = left
        else:
            self.pending.pop(genotype, None)
        finite = value is not None and (math.isfinite(value) if self.num_objectives == 1
                                        else all(math.isfinite(v) for v in value))
        if status is TrialStatus.COMPLETED and not finite:
            status = TrialStatus.INVALID
        if status is TrialStatus.COMPLETED and value is not None:
            if self.best is None or value > self.best[0]:
                self.best = (value, genotype)
            self._observe_reward(genotype, value)
        elif status is TrialStatus.STOPPED and finite:
            self._observe_low_fidelity(genotype, value)
        else:
            if status.counts_as_failure():
                self.num_failed += 1
            self._observe_failure(genotype, status)

    def _reward_vector(self, reward: Reward) -> tuple[float, ...]:
        """``reward`` as a tuple of ``num_objectives`` floats; a ValueError naming the expected shape otherwise."""
        ok = isinstance(reward, Sequence) and not isinstance(reward, str) and len(reward) == self.num_objectives
        if ok:
            try:
                return tuple(float(v) for v in reward)  # type: ignore[union-attr]
            except (TypeError, ValueError):
                pass
        raise ValueError(f"controller {self.name or type(self).__name__!r} has {self.num_objectives} objectives: "
                         f"a reward must be a tuple of {self.num_objectives} floats (each maximised); got {reward!r}")

    def replay(self, history: Iterable[PastTrial]) -> None:
        """Catch up with events that happened without this controller (see the lifecycle above).

        ``history`` is in the order things happened. Each proposal advances the controller exactly as
        :meth:`propose` did when it happened (same draws from ``self.rng``, same counters) and records the
        genotype the history says was proposed; each outcome is :meth:`observe`-d. So a fresh controller with the
        same seed that replays everything a controller lived through ends in the same state and makes the same
        next proposals; a controller restored from a saved state replays only what came after the save. An
        empty history changes nothing. A history made with another seed or controller still leaves every replayed
        genotype proposed (never proposed again) and every outcome learnt.
        """
        for event in history:
            genotype = event.genotype
            if event.status is None or self.pending.get(genotype, 0) == 0:
                self._replay_proposal(genotype)
                self._record_proposal(genotype)
            if event.status is not None:
                self.observe(genotype, event.reward, event.status)

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
    def _observe_reward(self, genotype: Genotype, reward: Any) -> None:
        """Learn from a completed trial (``reward``: a float, or a tuple of floats with ``num_objectives > 1``)."""

    def _replay_proposal(self, genotype: Genotype) -> None:
        """Advance the internal state as if :meth:`_propose` had just returned ``genotype`` (see :meth:`replay`).

        Default: call :meth:`_propose` and drop its answer, so that ``self.rng`` and the subclass's own counters
        move exactly as they did when the proposal was made. Override it when ``_propose`` has other effects,
        or when its cost matters and the state can be advanced directly.
        """
        self._propose()

    def _observe_low_fidelity(self, genotype: Genotype, reward: Any) -> None:
        """A trial stopped early (e.g. by ASHA) with the reward it had reached: a partial, low-fidelity result.

        Default: not used as a final reward (an early-stopped trial is not comparable with finished ones).
        """

    def _observe_failure(self, genotype: Genotype, status: TrialStatus) -> None:
        """Learn from a failed, invalid or stopped trial (default: nothing; never a zero reward)."""

    def _record_proposal(self, genotype: Genotype) -> None:
        self.proposed.add(genotype)
        self.pending[genotype] = self.pending.get(genotype, 0) + 1
        self.num_proposed += 1

    def _random_new(self, tries: int = 100) -> Genotype:
        """A random genotype not proposed before (if one is found within ``tries`` draws)."""
        genotype = self.space.sample_genotype(self.rng)
        if self.avoid_duplicates:
            for _ in range(tries):
                if genotype not in self.proposed:
                    break
                genotype = self.space.sample_genotype(self.rng)
        return genotype


def check_num_objectives(cls: type[Controller], num_objectives: object) -> None:
    """A ConfigError unless ``cls`` can search ``num_objectives`` objectives (single-objective ones: only 1)."""
    if isinstance(num_objectives, bool) or not isinstance(num_objectives, int) or num_objectives < 1:
        raise ConfigError("num_objectives", num_objectives, "an integer >= 1 (how many objectives each reward holds)")
    if num_objectives > 1 and not cls.multi_objective:
        raise ConfigError(
            "controller", cls.name or cls.__name__,
            f"a multi-objective controller for {num_objectives} objectives",
            "use controller 'mo-surrogate' (the default with `objectives:`) or 'nsga2', or keep one objective "
            "(a single `metric:` with optional targets)")
