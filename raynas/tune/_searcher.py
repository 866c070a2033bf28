"""One Ray Tune Searcher that wraps any raynas Controller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ray.tune.search import Searcher

from raynas.config import Mode, Objective, objective_vector
from raynas.controllers import Controller, PastTrial
from raynas.trials import TrialStatus
from raynas.tune._outcome import classify

if TYPE_CHECKING:
    from raynas.trials import TrialRecord
    from raynas.tune._resume import Launch, LaunchLedger, ResumePlan


def trial_seed(search_seed: int, number: int) -> int:
    """Seed of the trial launched ``number``-th in a search seeded ``search_seed``."""
    return (search_seed * 1_000_003 + number) % (2**31 - 1)


class ControllerSearcher(Searcher):
    """Asks a controller for architectures and tells it the outcome of each trial.

    Proposes the trial numbers 1..``max_trials``, each once, then returns ``Searcher.FINISHED``. Rewards are negated
    for a ``min`` metric (controllers always maximise). Failed, invalid and stopped trials are observed as such.
    With ``objectives`` the controller is told each trial's objective vector (:func:`raynas.config.objective_vector`:
    ``min`` objectives negated; a missing or non-finite value makes the trial invalid for it).

    Nothing is saved with Ray Tune's state: a resumed search builds a fresh searcher and :meth:`resume`-s it from the
    trial store and the launch ledger (``ledger``, written in :meth:`suggest`; see :mod:`raynas.tune._resume`).
    Trials to run again are proposed first, under their own number and trial id (:meth:`next_trial_id`).
    """

    def __init__(self, controller: Controller, *, max_trials: int, metric: str, mode: Mode, seed: int,
                 store_dir: str | None = None, ledger: LaunchLedger | None = None,
                 objectives: Sequence[Objective] = ()) -> None:
        # metric/mode are kept out of the Searcher base on purpose: Ray Tune then requires every result to carry
        # the metric, but failed and invalid trials report none (they report a status and a reason instead).
        super().__init__(metric=None, mode=None)
        self.objective = metric
        self.direction = Mode(mode)
        self.objectives = tuple(objectives)
        self.controller = controller
        self.max_trials = max_trials
        self.seed = seed
        self.store_dir = store_dir
        self.ledger = ledger
        #: The highest trial number launched (new numbers continue after it).
        self.num_suggested = 0
        self.live: dict[str, tuple[int, ...]] = {}
        #: Trials to run again first, with their own number, architecture and trial id (see :meth:`resume`).
        self.reruns: list[Launch] = []
        #: Numbers below ``num_suggested`` that left no trace: proposed afresh under their own number.
        self.missing: list[int] = []

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric and mode come from the raynas config

    def resume(self, plan: ResumePlan) -> None:
        """Continue a search from its trial store (:func:`raynas.tune._resume.plan_resume`): the controller replays
        the stored history, then the trials to run again come first, then the numbers lost without a trace, then
        new numbers."""
        self.controller.replay(plan.history)
        self.reruns = list(plan.reruns)
        self.missing = list(plan.missing)
        self.num_suggested = plan.top

    def next_trial_id(self) -> str | None:
        """The trial id the next suggestion should get (a trial run again keeps its own); None: a new one."""
        return self.reruns[0].trial_id if self.reruns else None

    # Ray Tune's hint omits Searcher.FINISHED, the str its own SearchGenerator checks suggest() for.
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if self.reruns:
            launch = self.reruns.pop(0)
            return self._launch(trial_id, launch.number, launch.genotype, launch.seed)
        if self.missing:
            number = self.missing[0]
        elif self.num_suggested >= self.max_trials:
            return Searcher.FINISHED
        else:
            number = self.num_suggested + 1
        genotype = self.controller.propose()
        if genotype is None:
            return Searcher.FINISHED
        if self.missing:
            self.missing.pop(0)
        else:
            self.num_suggested = number
        return self._launch(trial_id, number, genotype, trial_seed(self.seed, number))

    def _launch(self, trial_id: str, number: int, genotype: tuple[int, ...], seed: int) -> dict[str, Any]:
        self.live[trial_id] = genotype
        if self.ledger is not None:
            self.ledger.append(number, genotype, seed, trial_id)
        return {"arch": self.controller.space.decode(genotype), "genotype": list(genotype), "number": number,
                "seed": seed}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        genotype = self.live.pop(trial_id, None)
        if genotype is None:
            return
        outcome = classify(result, metric=self.objective, errored=error)
        reward: Any = outcome.value
        if reward is not None and self.objectives:
            reward = objective_vector(self.objectives, result or {})
        elif reward is not None and self.direction is Mode.MIN:
            reward = -reward
        self.controller.observe(genotype, reward if _keeps_reward(outcome.status) else None, outcome.status)

    # --- persistence -------------------------------------------------------------------------------------
    def save(self, checkpoint_path: str) -> None:
        """Nothing is saved with Ray Tune's state (no file is written): a resume rebuilds the searcher from the
        trial store and the launch ledger."""

    def restore(self, checkpoint_path: str) -> None:
        """Never used: raynas does not restore Ray Tune's saved state (see :meth:`resume`)."""

    def get_state(self) -> dict[str, Any]:
        """A summary of where the search stands (for inspection; a resume does not use it)."""
        return {"num_suggested": self.num_suggested, "live": {k: list(v) for k, v in self.live.items()},
                "reruns": [launch.number for launch in self.reruns], "missing": list(self.missing),
                "max_trials": self.max_trials, "seed": self.seed}


def store_history(records: Sequence[TrialRecord], direction: Mode,
                  pending: Sequence[tuple[int, tuple[int, ...]]] = (),
                  objectives: Sequence[Objective] = ()) -> list[PastTrial]:
    """The controller's view of stored trials, in the order things happened as far as the store tells, for
    :meth:`Controller.replay`.

    Each trial is a proposal when it started and an outcome when it ended, told as :meth:`on_trial_complete`
    tells it (reward negated for a ``min`` metric, kept for completed and early-stopped trials). Proposals keep
    the order of their trial numbers; an outcome comes before every proposal of a trial that started after it
    ended (the store has start times, not proposal times: a proposal made just before an outcome but started
    after it is replayed after it). Without times (records written by hand), each trial's outcome follows its
    proposal at once. ``pending`` (number, genotype) are trials launched without an outcome (to be run again):
    proposals only, in their number's place. With ``objectives`` each reward is the trial's objective vector rebuilt
    from its stored metrics (as :meth:`ControllerSearcher.on_trial_complete` builds it).
    """
    items: list[tuple[int, int, Any]] = [(r.number, 0, r) for r in records]
    items += [(number, 1, tuple(genotype)) for number, genotype in pending]
    items.sort(key=lambda item: item[:2])
    if any(kind == 0 and (r.start_time is None or r.end_time is None) for _, kind, r in items):
        # an outcome of a trial not pending is also its proposal
        return [_outcome(r, direction, objectives) if kind == 0 else PastTrial(r, number=n) for n, kind, r in items]
    events: list[tuple[float, int, int, PastTrial]] = []
    proposed_at = float("-inf")
    for number, kind, item in items:
        if kind == 1:
            events.append((proposed_at, 1, number, PastTrial(item, number=number)))
            continue
        r = item
        proposed_at = max(proposed_at, float(r.start_time or 0.0))  # launch order is number order
        events.append((proposed_at, 1, r.number, PastTrial(tuple(r.genotype), number=r.number)))
        events.append((max(float(r.end_time or 0.0), proposed_at), 2, r.number, _outcome(r, direction, objectives)))
    return [event for *_, event in sorted(events, key=lambda e: e[:3])]


def _outcome(record: TrialRecord, direction: Mode, objectives: Sequence[Objective] = ()) -> PastTrial:
    status = TrialStatus(record.status)
    reward: Any = record.reward if _keeps_reward(status) else None
    if reward is not None and objectives:
        reward = objective_vector(objectives, record.metrics)
    elif reward is not None and direction is Mode.MIN:
        reward = -reward
    return PastTrial(tuple(record.genotype), status, reward, record.number)


def _keeps_reward(status: TrialStatus) -> bool:
    """A controller is told the reward of completed trials, and the low-fidelity one an early-stopped trial reached."""
    return status in (TrialStatus.COMPLETED, TrialStatus.STOPPED)
