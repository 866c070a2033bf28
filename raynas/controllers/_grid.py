"""Grid search: every architecture of a small space, once each, in enumeration order."""

from __future__ import annotations

import itertools
from typing import Iterator

from raynas.controllers._base import Controller
from raynas.errors import ConfigError
from raynas.space import Genotype, SearchSpace

#: Grid search refuses spaces larger than this by default: it could never finish.
MAX_GRID_SIZE = 10**7


class GridController(Controller):
    """Enumerates the space (optionally shuffled with the seed when it is small enough to hold), each architecture once."""

    name = "grid"
    transient = ("space", "_iterator", "_cache")

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 shuffle: bool = False, max_size: int = MAX_GRID_SIZE, **kwargs) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, **kwargs)
        if space.size > max_size:
            raise ConfigError(
                "controller", "grid", f"a space of at most {max_size:,} architectures for grid search "
                f"(space {space.name!r} has ~10^{space.log10_size:.1f})",
                "use controller 'evolution', 'rl' or 'random', or fix part of the space",
            )
        self.shuffle = shuffle
        self.position = 0
        self.order: list[int] | None = None
        if shuffle:
            self.order = list(range(space.size))
            self.rng.shuffle(self.order)
        self._iterator: Iterator[Genotype] | None = None
        self._cache: list[Genotype] | None = None

    def _propose(self) -> Genotype | None:
        while self.position < self.space.size:
            genotype = self._at_position()
            self.position += 1
            if genotype not in self.proposed:  # proposed already: replayed from a history (see _replay_proposal)
                return genotype
        return None

    def _at_position(self) -> Genotype:
        if self.order is not None:
            if self._cache is None:
                self._cache = list(self.space.enumerate())
            return self._cache[self.order[self.position]]
        if self._iterator is None:
            self._iterator = itertools.islice(self.space.enumerate(), self.position, None)
        return next(self._iterator)

    def _replay_proposal(self, genotype: Genotype) -> None:
        """Nothing to advance: :meth:`_propose` skips genotypes already proposed, wherever they are in the order
        (a history in another order, e.g. from another seed, then still leaves no architecture out)."""

    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        pass
