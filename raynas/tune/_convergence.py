"""When a search should stop on its own: convergence, too many failed or invalid trials, no sign of convergence (pure)."""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from raynas.config import AutoStopConfig
from raynas.trials import TrialStatus


@dataclass(frozen=True)
class StopDecision:
    """Which auto-stop rule fired, and why (a sentence for the status line and the MLflow parent run)."""

    rule: str
    reason: str
    trials: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def auto_stop_decision(outcomes: Sequence[tuple[str, float | None]], config: AutoStopConfig, *,
                       mode_max: bool = True) -> StopDecision | None:
    """The first rule of ``config`` that fires on ``outcomes`` -- (status, reward) of every ended trial in launch
    order -- or None while the search should go on."""
    running = RunningOutcomes(mode_max=mode_max)
    for number, (status, reward) in enumerate(outcomes):
        running.add(number, status, reward)
    return running.decision(config)


class RunningOutcomes:
    """The outcomes of a search as they come, kept so that the auto-stop rules cost the same at any size.

    Trials end in any order and a trial number recorded again replaces its outcome; the rules see the outcomes in
    launch order (by number), as :func:`auto_stop_decision` does. Kept up to date at each :meth:`add`: the
    counts, the completed rewards in launch order and the best of them, so that :meth:`decision` only looks at the
    first ``early_trials`` and the last ``window`` rewards (not at every outcome).
    """

    def __init__(self, *, mode_max: bool = True) -> None:
        self.sign = 1.0 if mode_max else -1.0
        self.outcomes: dict[int, tuple[str, float | None]] = {}
        self.invalid = 0
        self.failed = 0
        self._numbers: list[int] = []  # numbers of the completed trials with a finite reward, ascending
        self._rewards: dict[int, float] = {}  # their signed rewards (higher is better)
        self._best: int | None = None  # number of the first best signed reward

    def __len__(self) -> int:
        return len(self.outcomes)

    def add(self, number: int, status: TrialStatus | str, reward: float | None) -> None:
        """Record (or replace) the outcome of trial ``number``; the reward counts only for a completed trial."""
        number = int(number)
        status = TrialStatus(status)
        old = self.outcomes.get(number)
        if old is not None:
            self.invalid -= TrialStatus(old[0]) is TrialStatus.INVALID
            self.failed -= TrialStatus(old[0]) is TrialStatus.FAILED
            if number in self._rewards:
                self._numbers.pop(bisect.bisect_left(self._numbers, number))
                del self._rewards[number]
                if self._best == number:
                    self._best = self._first_best()
        self.outcomes[number] = (status, reward)
        self.invalid += status is TrialStatus.INVALID
        self.failed += status is TrialStatus.FAILED
        if status is not TrialStatus.COMPLETED or reward is None:
            return
        value = float(self.sign * reward)
        if not math.isfinite(value):
            return
        bisect.insort(self._numbers, number)
        self._rewards[number] = value
        best = self._best
        if best is None or value > self._rewards[best] or (value == self._rewards[best] and number < best):
            self._best = number

    def _first_best(self) -> int | None:
        best = None
        for number in self._numbers:
            if best is None or self._rewards[number] > self._rewards[best]:
                best = number
        return best

    def decision(self, config: AutoStopConfig) -> StopDecision | None:
        """The first rule of ``config`` that fires now, or None while the search should go on."""
        n = len(self.outcomes)
        # An invalid reward is any trial without one: failed (exception, out of memory) or invalid (NaN/Inf).
        # Trials stopped early (a scheduler, a stop rule) are not counted: they said nothing bad of the model.
        bad = self.failed + self.invalid
        limit = config.max_invalid_fraction
        if limit is not None and n >= config.invalid_min_trials and bad / n > limit:
            return StopDecision("too_many_invalid", (
                f"{bad} of {n} trials ({bad / n:.1%}) gave no valid reward ({self.failed} failed, {self.invalid} "
                f"invalid), more than max_invalid_fraction {limit:.0%}: the proxy task or the search space produces "
                "broken models; look at their failure reasons (`raynas analyze`), fix the space or the proxy, then "
                "search again"), n)
        count = len(self._numbers)
        if count < config.early_trials + config.window:
            return None
        sign = self.sign
        early = np.array([self._rewards[k] for k in self._numbers[:config.early_trials]], dtype=float)
        recent = np.array([self._rewards[k] for k in self._numbers[-config.window:]], dtype=float)
        early_std, recent_std = float(np.std(early, ddof=1)), float(np.std(recent, ddof=1))
        assert self._best is not None
        since_best = count - 1 - bisect.bisect_left(self._numbers, self._best)
        best = sign * self._rewards[self._best]
        if (config.converged and n >= config.min_trials and early_std > 0
                and recent_std < config.spread_ratio * early_std and since_best >= config.patience):
            return StopDecision("converged", (
                f"converged: the reward's spread over the last {config.window} completed trials ({recent_std:.3g}) "
                f"is below {config.spread_ratio:g} x its spread during exploration ({early_std:.3g}), and the best "
                f"reward {best:.4g} has not improved for {since_best} trials"), n)
        after = config.no_convergence_after
        if after is not None and n >= after:
            narrowing = recent_std < config.no_sign_ratio * early_std
            rising = float(np.mean(recent)) > float(np.mean(early)) + 0.5 * early_std
            if not (narrowing or rising):
                return StopDecision("no_convergence", (
                    f"no sign of convergence after {n} trials: the reward's spread ({recent_std:.3g}) is still "
                    f"{recent_std / early_std if early_std else 1:.0%} of the exploration phase's and its mean has "
                    "not risen; the controller is not learning: check the proxy's rank correlation (`raynas proxy "
                    "check`), try another controller, or shrink the space"), n)
        return None
