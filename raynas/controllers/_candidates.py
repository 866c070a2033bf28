"""Candidate children for the model-based controllers: a few mutations of parents drawn from a pool."""

from __future__ import annotations

import random
from typing import Collection, Sequence

from raynas.space import Genotype, SearchSpace


def mutable_decisions(space: SearchSpace) -> list[int]:
    """Indices of the decisions with more than one option (the ones a mutation can change)."""
    return [i for i, n in enumerate(space.options_per_decision) if n > 1]


def mutated_candidates(space: SearchSpace, pool: Sequence[Genotype], rng: random.Random, *, count: int,
                       max_mutations: int, mutable: Sequence[int], exclude: Collection[Genotype] | None) -> list[Genotype]:
    """Up to ``count`` distinct children, each 1..``max_mutations`` mutations (``space.mutate``'s move: one active
    decision changes to a neighbouring option) of a parent drawn uniformly from ``pool``; children in ``exclude``
    (e.g. everything already proposed) are dropped. ``mutable`` is :func:`mutable_decisions` of the space."""
    rand = rng.random
    num_parents, num_mutable = len(pool), len(mutable)
    fast = not space.is_conditional and num_mutable > 0
    if fast:  # the move of space.mutate (one decision changes to a neighbouring option), inlined
        neighbours = [d.leaf.neighbour for d in space.decisions]
    seen: set[Genotype] = set()
    out: list[Genotype] = []
    for _ in range(count):
        child = pool[int(rand() * num_parents)]
        steps = 1 + int(rand() * max_mutations)
        if fast:
            genes = list(child)
            for _ in range(steps):
                i = mutable[int(rand() * num_mutable)]
                genes[i] = neighbours[i](genes[i], rng)
            child = tuple(genes)
        else:
            for _ in range(steps):
                child = space.mutate(child, rng)
        if child in seen or (exclude is not None and child in exclude):
            continue
        seen.add(child)
        out.append(child)
    return out
