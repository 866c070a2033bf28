"""Surrogate-screened local search: evolution whose mutations are screened by a cheap ridge-regression model."""

from __future__ import annotations

import bisect

import numpy as np

from raynas.controllers._base import Controller
from raynas.controllers._candidates import mutable_decisions, mutated_candidates
from raynas.controllers._options import check_surrogate_options
from raynas.controllers._ridge import RidgeModel
from raynas.space import Genotype, SearchSpace

#: Spaces up to this size are scanned exhaustively when random sampling cannot find an unproposed genotype.
_SCAN_LIMIT = 200_000


#: The UCB weight while the budget is at most BASE_TRIALS_PER_FEATURE trials per one-hot feature of the space.
BASE_EXPLORATION = 3.0
BASE_TRIALS_PER_FEATURE = 4.0


def derived_exploration(max_trials: int | None, num_features: int) -> float:
    """The default UCB weight for a budget of ``max_trials`` in a space of ``num_features`` one-hot features.

    Up to :data:`BASE_TRIALS_PER_FEATURE` trials per feature the budget is what fitting the surrogate and following
    it needs, and the weight is :data:`BASE_EXPLORATION`; a larger budget raises it in proportion, so that the extra
    trials explore away from the incumbents instead of converging early on one region (measured on NAS-Bench-201:
    with a fixed weight, stage 2 after 24,000 s fell below the 12,000 s result; bench/README.md). Without
    ``max_trials`` (an open-ended search) the base weight.
    """
    if not max_trials or num_features <= 0:
        return BASE_EXPLORATION
    return BASE_EXPLORATION * max(1.0, max_trials / (BASE_TRIALS_PER_FEATURE * num_features))


class SurrogateSearch(Controller):
    """Local search around the best architectures so far, with candidates screened by a linear surrogate.

    Algorithm (it knows nothing about any particular space and only uses the :class:`SearchSpace` API):

    1. **Warm-up.** The first ``warmup_trials`` proposals are uniformly random (unproposed) genotypes.
    2. **Surrogate.** A Bayesian ridge regression (``RidgeModel``) on one-hot encodings of the *active* decisions
       (one feature per (decision, option); inactive decisions of a conditional space contribute nothing) predicts the
       reward. Rewards are rank-transformed to normal scores (``reward_transform="rank"``) so that a few very
       bad architectures do not dominate the fit and nothing depends on the reward's scale. The posterior
       covariance ``(X^T X + ridge * I)^-1`` is updated incrementally (Sherman-Morrison) after each result;
       the weights are refitted after every result while few are known and every ``n // 50`` results later.
    3. **Candidates.** ``num_candidates`` children are made by applying 1..``max_mutations`` mutations (as
       ``space.mutate`` does: one active decision changes) to parents drawn uniformly from the
       ``parent_pool`` best completed trials, a trust region around the incumbents. Genotypes already
       proposed, including pending ones, are skipped.
    4. **Screening.** Each candidate scores ``mean + exploration * sd`` under the surrogate (an upper
       confidence bound; options never tried keep a large ``sd``); the best is proposed. With probability
       ``random_fraction`` a random genotype is proposed instead.

    Failed/invalid trials never enter the model or the parent pool. Proposals still running are excluded
    from later candidate sets, so asynchronous parallel trials stay distinct.

    Options: ``warmup_trials`` (random proposals first, >= 1), ``parent_pool`` (how many of the best trials
    are mutated), ``num_candidates`` (children screened per proposal), ``max_mutations`` (mutations per child,
    drawn uniformly from 1..max), ``exploration`` (UCB weight on the surrogate's standard deviation, >= 0;
    default derived from ``max_trials``: :func:`derived_exploration`),
    ``ridge`` (prior precision of each one-hot weight, > 0), ``random_fraction`` (share of random proposals
    after the warm-up), ``reward_transform`` (``"rank"`` or ``"none"``).
    """

    name = "surrogate"

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 warmup_trials: int = 10, parent_pool: int = 5, num_candidates: int = 30,
                 max_mutations: int = 3, exploration: float | None = None, ridge: float = 1.0,
                 random_fraction: float = 0.0, reward_transform: str = "rank", **kwargs) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, **kwargs)
        check_surrogate_options(warmup_trials=warmup_trials, parent_pool=parent_pool, num_candidates=num_candidates,
                                max_mutations=max_mutations, exploration=exploration, ridge=ridge,
                                random_fraction=random_fraction, reward_transform=reward_transform,
                                derived_exploration=True)
        self.warmup_trials = warmup_trials
        self.parent_pool = parent_pool
        self.num_candidates = num_candidates
        self.max_mutations = max_mutations
        self.exploration = float(derived_exploration(max_trials, sum(space.options_per_decision))
                                 if exploration is None else exploration)
        self.ridge = float(ridge)
        self.random_fraction = float(random_fraction)
        self.reward_transform = reward_transform

        self.mutable = mutable_decisions(space)
        # Completed trials, best first: (-reward, order, genotype).
        self.ranked: list[tuple[float, int, Genotype]] = []
        self.model = RidgeModel(space, ridge=self.ridge, transform=reward_transform)

    # --- proposing ----------------------------------------------------------------------------------------
    def _propose(self) -> Genotype | None:
        if self.avoid_duplicates and len(self.proposed) >= self.space.size:
            return None
        if len(self.ranked) < max(2, self.warmup_trials) or self.rng.random() < self.random_fraction:
            return self._random_unproposed()
        self.model.refit()
        candidates = self._candidates()
        if not candidates:
            return self._random_unproposed()
        idx = self.model.encode_many(self.space, candidates)
        score = self.model.mean(idx)
        if self.exploration > 0:
            score += self.exploration * self.model.sd(idx)
        return candidates[int(np.argmax(score))]

    def _candidates(self) -> list[Genotype]:
        pool = [entry[2] for entry in self.ranked[:self.parent_pool]]
        return mutated_candidates(self.space, pool, self.rng, count=self.num_candidates,
                                  max_mutations=self.max_mutations, mutable=self.mutable,
                                  exclude=self.proposed if self.avoid_duplicates else None)

    def _random_unproposed(self) -> Genotype:
        genotype = self._random_new()
        if self.avoid_duplicates and genotype in self.proposed and self.space.size <= _SCAN_LIMIT:
            for other in self.space.enumerate():  # a nearly exhausted small space: take the first left
                if other not in self.proposed:
                    return other
        return genotype

    # --- the surrogate ------------------------------------------------------------------------------------
    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        bisect.insort(self.ranked, (-reward, len(self.ranked), genotype))
        self.model.add(self.model.encode(self.space, genotype), (reward,))
