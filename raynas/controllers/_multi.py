"""What the multi-objective controllers share: tuple rewards, the completed results and their Pareto front."""

from __future__ import annotations

from typing import Any

import numpy as np

from raynas.controllers._base import Controller
from raynas.pareto import pareto_mask
from raynas.space import Genotype, SearchSpace

#: Spaces up to this size are scanned exhaustively when random sampling cannot find an unproposed genotype.
_SCAN_LIMIT = 200_000


class MultiObjectiveController(Controller):
    """A controller that searches for the Pareto front of ``num_objectives`` maximised objectives.

    Every completed trial's reward arrives as a tuple of ``num_objectives`` floats (with one objective, a float
    that becomes a 1-tuple, so that the same controller also runs a single-objective search). Completed trials are
    kept in ``results`` (genotype, reward tuple); failed, invalid and early-stopped trials never are. Subclasses
    implement :meth:`_propose` and :meth:`_observe_point`.
    """

    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None, num_objectives: int = 2,
                 **kwargs: Any) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, num_objectives=num_objectives, **kwargs)
        #: Completed trials in the order their results arrived: (genotype, one float per objective).
        self.results: list[tuple[Genotype, tuple[float, ...]]] = []

    def front(self) -> list[tuple[Genotype, tuple[float, ...]]]:
        """The completed trials no other completed trial dominates (in the order their results arrived)."""
        if not self.results:
            return []
        mask = pareto_mask(np.array([r for _, r in self.results]))
        return [entry for entry, keep in zip(self.results, mask) if keep]

    def _observe_reward(self, genotype: Genotype, reward: Any) -> None:
        vector = (float(reward),) if self.num_objectives == 1 else tuple(reward)
        self.results.append((genotype, vector))
        self._observe_point(genotype, vector)

    def _observe_point(self, genotype: Genotype, reward: tuple[float, ...]) -> None:
        """Learn from a completed trial (``reward``: one float per objective, all maximised)."""

    def _mutate_new(self, parent: Genotype, steps: int = 1, tries: int = 50) -> Genotype:
        """``steps`` mutations (``space.mutate``) of ``parent``, retried until the child was never proposed;
        a random unproposed genotype when no such child turns up."""
        child = parent
        for _ in range(steps):
            child = self.space.mutate(child, self.rng)
        if not self.avoid_duplicates:
            return child
        for _ in range(tries):
            if child not in self.proposed:
                return child
            child = self.space.mutate(parent if self.rng.random() < 0.5 else child, self.rng)
        return child if child not in self.proposed else self._random_unproposed()

    def _random_unproposed(self) -> Genotype:
        """A random genotype never proposed (the first one left, in a small space that is nearly exhausted)."""
        genotype = self._random_new()
        if self.avoid_duplicates and genotype in self.proposed and self.space.size <= _SCAN_LIMIT:
            for other in self.space.enumerate():
                if other not in self.proposed:
                    return other
        return genotype

    def _exhausted(self) -> bool:
        return self.avoid_duplicates and len(self.proposed) >= self.space.size
