"""Policy-gradient (REINFORCE) controller in the spirit of the cloud NAS services."""

from __future__ import annotations

import math

from raynas.controllers._base import Controller
from raynas.errors import ConfigError
from raynas.space import Genotype, SearchSpace


def default_exploration_trials(max_trials: int | None) -> int:
    """First N trials are purely random: 100 or 5% of max_trials, whichever is smaller."""
    if max_trials is None:
        return 100
    return max(1, min(100, int(math.ceil(0.05 * max_trials))))


class PolicyGradient(Controller):
    """An independent categorical policy per decision, trained with REINFORCE.

    The advantage is the reward minus an exponential moving-average baseline, divided by a running estimate of
    the reward's spread (so the learning rate does not depend on the reward's scale). The first
    ``exploration_trials`` proposals are uniformly random (their results still train the policy).
    """

    name = "rl"

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 learning_rate: float = 0.1, baseline_decay: float = 0.9,
                 exploration_trials: int | None = None, **kwargs) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, **kwargs)
        if not learning_rate > 0:
            raise ConfigError("controller.learning_rate", learning_rate, "a number > 0")
        if not 0 <= baseline_decay < 1:
            raise ConfigError("controller.baseline_decay", baseline_decay, "a number in [0, 1)")
        if exploration_trials is None:
            exploration_trials = default_exploration_trials(max_trials)
        if exploration_trials < 0:
            raise ConfigError("controller.exploration_trials", exploration_trials, "an integer >= 0")
        self.learning_rate = learning_rate
        self.baseline_decay = baseline_decay
        self.exploration_trials = exploration_trials
        self.logits = [[0.0] * n for n in space.options_per_decision]
        self.baseline: float | None = None
        self.spread: float | None = None

    def probabilities(self, decision: int) -> list[float]:
        row = self.logits[decision]
        top = max(row)
        exps = [math.exp(v - top) for v in row]
        total = sum(exps)
        return [e / total for e in exps]

    def _propose(self) -> Genotype | None:
        if self.num_proposed < self.exploration_trials:
            return self._random_new()
        for _ in range(50):
            genotype = self._sample_policy()
            if not self.avoid_duplicates or genotype not in self.proposed:
                return genotype
        return self._random_new()

    def _sample_policy(self) -> Genotype:
        out = []
        for row in self.logits:
            top = max(row)
            weights = [math.exp(v - top) for v in row]
            out.append(self.rng.choices(range(len(row)), weights=weights)[0])
        return self.space.canonical(out)

    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        baseline, spread = self.baseline, self.spread
        if baseline is None or spread is None:  # the first result only sets the baseline
            self.baseline, self.spread = reward, 0.0
            return
        advantage = reward - baseline
        self.spread = spread = self.baseline_decay * spread + (1 - self.baseline_decay) * abs(advantage)
        self.baseline = self.baseline_decay * baseline + (1 - self.baseline_decay) * reward
        scale = advantage / spread if spread > 0 else 0.0
        scale = max(-3.0, min(3.0, scale))
        for index in self.space.active_decisions(genotype):
            probs = self.probabilities(index)
            row = self.logits[index]
            chosen = genotype[index]
            for option, p in enumerate(probs):
                grad = (1.0 if option == chosen else 0.0) - p
                row[option] += self.learning_rate * scale * grad
