"""Regularized (aging) evolution, Real et al. 2019."""

from __future__ import annotations

from collections import deque

from raynas.controllers._base import Controller
from raynas.errors import ConfigError
from raynas.space import Genotype, SearchSpace


class RegularizedEvolution(Controller):
    """Tournament selection over the ``population_size`` most recent completed trials; the oldest dies.

    The first ``population_size`` proposals are random. Each later proposal mutates one decision of the best
    of ``sample_size`` members drawn at random from the population. Failed trials never join the population.
    """

    name = "evolution"

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 population_size: int = 20, sample_size: int = 5, **kwargs) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, **kwargs)
        if population_size < 2:
            raise ConfigError("controller.population_size", population_size, "an integer >= 2")
        if not 1 <= sample_size <= population_size:
            raise ConfigError("controller.sample_size", sample_size,
                              f"an integer between 1 and population_size ({population_size})")
        self.population_size = population_size
        self.sample_size = sample_size
        self.population: deque[tuple[Genotype, float]] = deque(maxlen=population_size)

    def _propose(self) -> Genotype | None:
        if len(self.population) < self.population_size:
            return self._random_new()
        members = self.rng.sample(list(self.population), self.sample_size)
        parent = max(members, key=lambda m: m[1])[0]
        return self._mutate_new(parent)

    def _mutate_new(self, parent: Genotype, tries: int = 50) -> Genotype:
        child = self.space.mutate(parent, self.rng)
        if self.avoid_duplicates:
            for _ in range(tries):
                if child not in self.proposed:
                    return child
                child = self.space.mutate(parent if self.rng.random() < 0.5 else child, self.rng)
            if child in self.proposed:
                return self._random_new()
        return child

    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        self.population.append((genotype, reward))
