"""The multi-objective surrogate: local search around the Pareto front, screened by hypervolume improvement."""

from __future__ import annotations

from typing import Any

import numpy as np

from raynas.controllers._candidates import mutable_decisions, mutated_candidates
from raynas.controllers._multi import MultiObjectiveController
from raynas.controllers._options import check_surrogate_options
from raynas.controllers._ridge import RidgeModel
from raynas.pareto import hypervolume_improvement, non_dominated_sort
from raynas.space import Genotype, SearchSpace


class MultiObjectiveSurrogate(MultiObjectiveController):
    """The multi-objective variant of ``surrogate``: mutations of the front, screened by a ridge model per objective.

    Algorithm (only the :class:`SearchSpace` API; nothing about any particular space):

    1. **Warm-up.** The first ``warmup_trials`` proposals are uniformly random (unproposed) genotypes.
    2. **Surrogate.** One Bayesian ridge regression per objective on one-hot encodings of the active decisions
       (``surrogate``'s model; the objectives share its posterior covariance), each objective rank-transformed to
       normal scores (``reward_transform="rank"``) so that no objective's scale matters.
    3. **Candidates.** ``num_candidates`` children, 1..``max_mutations`` mutations each, of parents drawn uniformly
       from the first non-dominated fronts of the completed trials (at least ``parent_pool`` parents: the whole
       front, then the next fronts while it is smaller). Genotypes already proposed, pending ones included, are
       skipped, so parallel trials stay distinct.
    4. **Screening.** Each candidate's optimistic point, ``mean + exploration * sd`` per objective (in the
       transformed units), is scored by the hypervolume it would add to the current front (exact; vectorised for
       2 objectives), with the reference point one unit below the worst result in each objective. When no
       candidate would add any, the one closest to the front (largest additive epsilon) is proposed. With
       probability ``random_fraction`` a random genotype is proposed instead.

    Failed, invalid and early-stopped trials never enter the model, the front or the parents.

    Options: ``warmup_trials`` (>= 1), ``parent_pool`` (>= 1), ``num_candidates`` (>= 1), ``max_mutations`` (>= 1),
    ``exploration`` (>= 0), ``ridge`` (> 0), ``random_fraction`` (0..1), ``reward_transform`` (``"rank"`` or
    ``"none"``).
    """

    name = "mo-surrogate"

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None, num_objectives: int = 2,
                 warmup_trials: int = 10, parent_pool: int = 5, num_candidates: int = 30, max_mutations: int = 3,
                 exploration: float = 2.0, ridge: float = 1.0, random_fraction: float = 0.0,
                 reward_transform: str = "rank", **kwargs: Any) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, num_objectives=num_objectives, **kwargs)
        check_surrogate_options(warmup_trials=warmup_trials, parent_pool=parent_pool, num_candidates=num_candidates,
                                max_mutations=max_mutations, exploration=exploration, ridge=ridge,
                                random_fraction=random_fraction, reward_transform=reward_transform)
        self.warmup_trials = warmup_trials
        self.parent_pool = parent_pool
        self.num_candidates = num_candidates
        self.max_mutations = max_mutations
        self.exploration = float(exploration)
        self.random_fraction = float(random_fraction)
        self.mutable = mutable_decisions(space)
        self.model = RidgeModel(space, ridge=ridge, num_targets=self.num_objectives, transform=reward_transform)

    def _propose(self) -> Genotype | None:
        if self._exhausted():
            return None
        if len(self.results) < max(2, self.warmup_trials) or self.rng.random() < self.random_fraction:
            return self._random_unproposed()
        self.model.refit()
        observed = np.stack([self.model.standardised(j) for j in range(self.num_objectives)], axis=1)
        fronts = non_dominated_sort(observed, until=self.parent_pool)
        pool: list[Genotype] = []
        for members in fronts:
            pool.extend(self.results[i][0] for i in members)
            if len(pool) >= self.parent_pool:
                break
        candidates = mutated_candidates(self.space, pool, self.rng, count=self.num_candidates,
                                        max_mutations=self.max_mutations, mutable=self.mutable,
                                        exclude=self.proposed if self.avoid_duplicates else None)
        if not candidates:
            return self._random_unproposed()
        idx = self.model.encode_many(self.space, candidates)
        bonus = self.exploration * self.model.sd(idx) if self.exploration > 0 else 0.0
        optimistic = np.stack([self.model.mean(idx, j) + bonus for j in range(self.num_objectives)], axis=1)
        front = observed[fronts[0]]
        gain = hypervolume_improvement(optimistic, front, observed.min(axis=0) - 1.0)
        if not np.any(gain > 0):  # nothing would extend the front: the candidate it dominates least
            gain = np.min(np.max(optimistic[:, None, :] - front[None, :, :], axis=2), axis=1)
        return candidates[int(np.argmax(gain))]

    def _observe_point(self, genotype: Genotype, reward: tuple[float, ...]) -> None:
        self.model.add(self.model.encode(self.space, genotype), reward)
