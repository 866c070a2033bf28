"""Random search: uniform per decision, no repeats."""

from __future__ import annotations

from raynas.controllers._base import Controller
from raynas.space import Genotype


class RandomController(Controller):
    """Samples each decision uniformly at random, skipping architectures already proposed.

    It ignores rewards, so it also runs a multi-objective search (any ``num_objectives``): the baseline of
    ``nsga2`` and ``mo-surrogate``.
    """

    name = "random"
    multi_objective = True

    def _propose(self) -> Genotype | None:
        if self.avoid_duplicates and len(self.proposed) >= self.space.size:
            return None
        return self._random_new()

    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        pass
