"""The option sets behind a single decision: how many options, option <-> value, and a mutation neighbour."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any, Sequence

from raynas.errors import SpaceError


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class Leaf:
    """Finite, ordered option set of one decision."""

    num_options: int

    def value(self, option: int) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def option_of(self, value: Any) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def label(self, option: int) -> str:
        return json.dumps(self.value(option))

    def neighbour(self, option: int, rng: random.Random) -> int:
        """A different option, for mutation (uniform over the other options by default)."""
        other = rng.randrange(self.num_options - 1)
        return other + 1 if other >= option else other


@dataclass(frozen=True)
class ChoiceLeaf(Leaf):
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {_key(v): i for i, v in enumerate(self.values)})
        # plain strings (the usual options) skip the JSON key: equal strings are equal JSON
        object.__setattr__(self, "_str_index", {v: i for i, v in enumerate(self.values) if type(v) is str})

    @property
    def num_options(self) -> int:  # type: ignore[override]
        return len(self.values)

    def value(self, option: int) -> Any:
        return self.values[option]

    def option_of(self, value: Any) -> int:
        if type(value) is str and value in self._str_index:  # type: ignore[attr-defined]
            return self._str_index[value]  # type: ignore[attr-defined]
        try:
            return self._index[_key(value)]  # type: ignore[attr-defined]
        except (KeyError, TypeError):
            raise SpaceError(f"{value!r} is not one of {list(self.values)!r}") from None


@dataclass(frozen=True)
class IntLeaf(Leaf):
    low: int
    high: int
    step: int

    @property
    def num_options(self) -> int:  # type: ignore[override]
        return (self.high - self.low) // self.step + 1

    def value(self, option: int) -> int:
        return self.low + option * self.step

    def option_of(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise SpaceError(f"{value!r} is not an integer in range({self.low}, {self.high}, step {self.step})")
        offset = int(value) - self.low
        if offset < 0 or offset % self.step or int(value) > self.high:
            raise SpaceError(f"{value!r} is not in int_range({self.low}, {self.high}, step={self.step})")
        return offset // self.step

    def neighbour(self, option: int, rng: random.Random) -> int:
        """Ordered values mutate to an adjacent value most of the time (a local move), else anywhere."""
        if self.num_options > 3 and rng.random() < 0.5:
            step = rng.choice((-1, 1))
            if 0 <= option + step < self.num_options:
                return option + step
            return option - step
        return Leaf.neighbour(self, option, rng)


@dataclass(frozen=True)
class FloatLeaf(Leaf):
    values: tuple[float, ...]

    @property
    def num_options(self) -> int:  # type: ignore[override]
        return len(self.values)

    def value(self, option: int) -> float:
        return self.values[option]

    def option_of(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpaceError(f"{value!r} is not a number")
        best = min(range(len(self.values)), key=lambda i: abs(self.values[i] - value))
        if not math.isclose(self.values[best], value, rel_tol=1e-9, abs_tol=1e-12):
            raise SpaceError(f"{value!r} is not on the grid {list(self.values)!r}")
        return best

    neighbour = IntLeaf.neighbour


@dataclass(frozen=True)
class SublistLeaf(Leaf):
    """Subsets of size min_k..max_k of ``options``, ranked by size then lexicographically."""

    options: tuple[Any, ...]
    min_k: int
    max_k: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {_key(v): i for i, v in enumerate(self.options)})

    @property
    def num_options(self) -> int:  # type: ignore[override]
        n = len(self.options)
        return sum(math.comb(n, k) for k in range(self.min_k, self.max_k + 1))

    def _unrank(self, option: int) -> list[int]:
        n = len(self.options)
        for k in range(self.min_k, self.max_k + 1):
            count = math.comb(n, k)
            if option < count:
                break
            option -= count
        chosen, start = [], 0
        for remaining in range(k, 0, -1):
            for item in range(start, n):
                block = math.comb(n - item - 1, remaining - 1)
                if option < block:
                    chosen.append(item)
                    start = item + 1
                    break
                option -= block
        return chosen

    def _rank(self, items: Sequence[int]) -> int:
        n, k = len(self.options), len(items)
        rank = sum(math.comb(n, j) for j in range(self.min_k, k))
        start = 0
        for pos, item in enumerate(items):
            remaining = k - pos
            for skipped in range(start, item):
                rank += math.comb(n - skipped - 1, remaining - 1)
            start = item + 1
        return rank

    def value(self, option: int) -> list[Any]:
        return [self.options[i] for i in self._unrank(option)]

    def option_of(self, value: Any) -> int:
        if not isinstance(value, (list, tuple)):
            raise SpaceError(f"{value!r} is not a list of options from {list(self.options)!r}")
        try:
            items = [self._index[_key(v)] for v in value]  # type: ignore[attr-defined]
        except (KeyError, TypeError):
            raise SpaceError(f"{value!r} holds values that are not in {list(self.options)!r}") from None
        if items != sorted(set(items)):
            raise SpaceError(f"{value!r} must be distinct options in the order of {list(self.options)!r}")
        if not self.min_k <= len(items) <= self.max_k:
            raise SpaceError(f"{value!r} must choose between {self.min_k} and {self.max_k} options")
        return self._rank(items)

    def neighbour(self, option: int, rng: random.Random) -> int:
        """Swap one chosen option for an unchosen one (or grow/shrink by one when the size may vary)."""
        items = self._unrank(option)
        n = len(self.options)
        moves = []
        if 0 < len(items) < n:
            moves.append("swap")
        if len(items) < self.max_k:
            moves.append("add")
        if len(items) > self.min_k:
            moves.append("drop")
        if not moves:
            return Leaf.neighbour(self, option, rng)
        move = rng.choice(moves)
        unchosen = [i for i in range(n) if i not in items]
        if move == "swap":
            items[rng.randrange(len(items))] = rng.choice(unchosen)
        elif move == "add":
            items.append(rng.choice(unchosen))
        else:
            items.pop(rng.randrange(len(items)))
        return self._rank(sorted(items))
