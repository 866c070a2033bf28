"""When a search should stop on its own: convergence, too many invalid trials, no sign of convergence (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from raynas.config._autostop import AutoStopConfig


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
    n = len(outcomes)
    invalid = sum(1 for status, _ in outcomes if status == "invalid")
    limit = config.max_invalid_fraction
    if limit is not None and n >= config.invalid_min_trials and invalid / n > limit:
        return StopDecision("too_many_invalid", (
            f"{invalid} of {n} trials ({invalid / n:.0%}) were invalid, more than max_invalid_fraction {limit:.0%}: "
            "the proxy task or the search space produces broken models; look at their failure reasons "
            "(`raynas analyze`), fix the space or the proxy, then search again"), n)
    sign = 1.0 if mode_max else -1.0
    rewards = np.array([sign * r for status, r in outcomes if status == "completed" and r is not None], dtype=float)
    rewards = rewards[np.isfinite(rewards)]
    if len(rewards) < config.early_trials + config.window:
        return None
    early = rewards[:config.early_trials]
    recent = rewards[-config.window:]
    early_std, recent_std = float(np.std(early, ddof=1)), float(np.std(recent, ddof=1))
    best_at = int(np.argmax(rewards))
    since_best = len(rewards) - 1 - best_at
    best = sign * float(rewards[best_at])
    if (config.converged and n >= config.min_trials and early_std > 0
            and recent_std < config.spread_ratio * early_std and since_best >= config.patience):
        return StopDecision("converged", (
            f"converged: the reward's spread over the last {config.window} completed trials ({recent_std:.3g}) is "
            f"below {config.spread_ratio:g} x its spread during exploration ({early_std:.3g}), and the best reward "
            f"{best:.4g} has not improved for {since_best} trials"), n)
    after = config.no_convergence_after
    if after is not None and n >= after:
        narrowing = recent_std < config.no_sign_ratio * early_std
        rising = float(np.mean(recent)) > float(np.mean(early)) + 0.5 * early_std
        if not (narrowing or rising):
            return StopDecision("no_convergence", (
                f"no sign of convergence after {n} trials: the reward's spread ({recent_std:.3g}) is still "
                f"{recent_std / early_std if early_std else 1:.0%} of the exploration phase's and its mean has not "
                "risen; the controller is not learning: check the proxy's rank correlation (`raynas proxy check`), "
                "try another controller, or shrink the space"), n)
    return None
