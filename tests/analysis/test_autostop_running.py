"""Auto stop kept incrementally (:class:`RunningOutcomes`) decides exactly as the rules re-run over every outcome."""

from __future__ import annotations

import random

import numpy as np
import pytest

from raynas.config._autostop import AutoStopConfig
from raynas.tune._convergence import RunningOutcomes, StopDecision, auto_stop_decision


def reference_decision(outcomes, config, *, mode_max=True):
    """The rules as written before they were kept incrementally: everything recomputed from all outcomes."""
    n = len(outcomes)
    invalid = sum(1 for status, _ in outcomes if status in ("invalid", "failed"))  # no valid reward
    limit = config.max_invalid_fraction
    if limit is not None and n >= config.invalid_min_trials and invalid / n > limit:
        return ("too_many_invalid", n, invalid)
    sign = 1.0 if mode_max else -1.0
    rewards = np.array([sign * r for status, r in outcomes if status == "completed" and r is not None], dtype=float)
    rewards = rewards[np.isfinite(rewards)]
    if len(rewards) < config.early_trials + config.window:
        return None
    early, recent = rewards[:config.early_trials], rewards[-config.window:]
    early_std, recent_std = float(np.std(early, ddof=1)), float(np.std(recent, ddof=1))
    best_at = int(np.argmax(rewards))
    since_best = len(rewards) - 1 - best_at
    if (config.converged and n >= config.min_trials and early_std > 0
            and recent_std < config.spread_ratio * early_std and since_best >= config.patience):
        return ("converged", n, f"{recent_std:.3g}", f"{early_std:.3g}", f"{sign * float(rewards[best_at]):.4g}",
                since_best)
    after = config.no_convergence_after
    if after is not None and n >= after:
        narrowing = recent_std < config.no_sign_ratio * early_std
        rising = float(np.mean(recent)) > float(np.mean(early)) + 0.5 * early_std
        if not (narrowing or rising):
            return ("no_convergence", n, f"{recent_std:.3g}")
    return None


def summary(decision: StopDecision | None):
    """What the reference returns, read off a decision (its rule, size and the figures its reason quotes)."""
    if decision is None:
        return None
    if decision.rule == "too_many_invalid":
        return ("too_many_invalid", decision.trials, int(decision.reason.split(" ")[0]))
    if decision.rule == "converged":
        words = decision.reason.replace("(", " ").replace(")", " ").split()
        spread = words[words.index("trials") + 1]
        early = words[words.index("exploration") + 1]
        best = words[words.index("reward", words.index("best")) + 1]
        since = int(words[words.index("for") + 1])
        return ("converged", decision.trials, spread, early.rstrip(","), best, since)
    words = decision.reason.replace("(", " ").replace(")", " ").split()
    return ("no_convergence", decision.trials, words[words.index("spread") + 1])


def random_outcomes(rng: random.Random, n: int, *, ties: bool) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = []
    level = rng.uniform(50, 70)
    for i in range(n):
        draw = rng.random()
        if draw < 0.04:
            out.append(("invalid", None))
        elif draw < 0.07:
            out.append(("failed", None))
        elif draw < 0.09:
            out.append(("stopped", rng.uniform(0, 50)))  # a partial reward: not counted
        elif draw < 0.10:
            out.append(("completed", rng.choice([float("nan"), float("inf"), float("-inf")])))
        else:
            spread = max(0.2, 10.0 * (1 - i / n))  # it narrows: some searches converge
            value = rng.gauss(level + 20 * i / n, spread)
            out.append(("completed", round(value) if ties else value))
    return out


CONFIGS = [
    AutoStopConfig(window=10, early_trials=20, patience=15, min_trials=40, invalid_min_trials=20,
                   no_convergence_after=60),
    AutoStopConfig(window=5, early_trials=10, patience=5, min_trials=20, max_invalid_fraction=0.05,
                   invalid_min_trials=10, no_convergence_after=None, spread_ratio=0.9),
    AutoStopConfig(window=8, early_trials=12, converged=False, max_invalid_fraction=None, no_convergence_after=30,
                   no_sign_ratio=0.3),
]


@pytest.mark.parametrize("seed", range(12))
def test_in_order_decisions_equal_the_full_recompute(seed):
    rng = random.Random(seed)
    outcomes = random_outcomes(rng, 150, ties=seed % 2 == 0)
    for config in CONFIGS:
        for mode_max in (True, False):
            signed = [(s, r if mode_max or r is None else -r) for s, r in outcomes]
            for n in range(len(signed) + 1):
                expected = reference_decision(signed[:n], config, mode_max=mode_max)
                assert summary(auto_stop_decision(signed[:n], config, mode_max=mode_max)) == expected, (config, n)


@pytest.mark.parametrize("seed", range(12))
def test_out_of_order_ends_and_recorded_again_trials_decide_as_the_launch_ordered_outcomes(seed):
    rng = random.Random(100 + seed)
    outcomes = random_outcomes(rng, 150, ties=seed % 2 == 1)
    order = list(range(len(outcomes)))
    for i in range(len(order)):  # trials end up to 8 places out of launch order
        j = min(len(order) - 1, i + rng.randrange(8))
        order[i], order[j] = order[j], order[i]
    mode_max = seed % 3 != 0
    config = CONFIGS[seed % len(CONFIGS)]
    running = RunningOutcomes(mode_max=mode_max)
    known: dict[int, tuple[str, float | None]] = {}
    for number in order:
        if known and rng.random() < 0.1:  # a trial that ended before is recorded again with another outcome
            again = rng.choice(sorted(known))
            replacement = random_outcomes(rng, 1, ties=False)[0]
            if rng.random() < 0.3:  # often the current best
                again = max((k for k, (s, r) in known.items() if s == "completed" and r is not None
                             and np.isfinite(r)), key=lambda k: (known[k][1] if mode_max else -known[k][1], -k),
                            default=again)
            known[again] = replacement
            running.add(again, *replacement)
        known[number] = outcomes[number]
        running.add(number, *outcomes[number])
        ordered = [known[k] for k in sorted(known)]
        assert running.decision(config) == auto_stop_decision(ordered, config, mode_max=mode_max)
        assert summary(running.decision(config)) == reference_decision(ordered, config, mode_max=mode_max)
        assert len(running) == len(known) and running.invalid == sum(s == "invalid" for s, _ in known.values())
