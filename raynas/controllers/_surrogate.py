"""Surrogate-screened local search: evolution whose mutations are screened by a cheap ridge-regression model."""

from __future__ import annotations

import bisect
import math

import numpy as np

from raynas.controllers._base import Controller
from raynas.errors import ConfigError
from raynas.space import Genotype, SearchSpace

#: Spaces up to this size are scanned exhaustively when random sampling cannot find an unproposed genotype.
_SCAN_LIMIT = 200_000


class SurrogateSearch(Controller):
    """Local search around the best architectures so far, with candidates screened by a linear surrogate.

    Algorithm (it knows nothing about any particular space and only uses the :class:`SearchSpace` API):

    1. **Warm-up.** The first ``warmup_trials`` proposals are uniformly random (unproposed) genotypes.
    2. **Surrogate.** A Bayesian ridge regression on one-hot encodings of the *active* decisions (one feature
       per (decision, option); inactive decisions of a conditional space contribute nothing) predicts the
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
    drawn uniformly from 1..max), ``exploration`` (UCB weight on the surrogate's standard deviation, >= 0),
    ``ridge`` (prior precision of each one-hot weight, > 0), ``random_fraction`` (share of random proposals
    after the warm-up), ``reward_transform`` (``"rank"`` or ``"none"``).
    """

    name = "surrogate"

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 warmup_trials: int = 10, parent_pool: int = 5, num_candidates: int = 30,
                 max_mutations: int = 3, exploration: float = 3.0, ridge: float = 1.0,
                 random_fraction: float = 0.0, reward_transform: str = "rank", **kwargs) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, **kwargs)
        _check_int("warmup_trials", warmup_trials, 1)
        _check_int("parent_pool", parent_pool, 1)
        _check_int("num_candidates", num_candidates, 1)
        _check_int("max_mutations", max_mutations, 1)
        _check_number("exploration", exploration, 0.0, math.inf, "a finite number >= 0")
        _check_number("ridge", ridge, 0.0, math.inf, "a finite number > 0", strict_low=True)
        _check_number("random_fraction", random_fraction, 0.0, 1.0, "a number between 0 and 1")
        if reward_transform not in ("rank", "none"):
            raise ConfigError("controller.reward_transform", reward_transform, "'rank' or 'none'",
                              "use 'rank' (robust to outliers) or 'none' (raw rewards)")
        self.warmup_trials = warmup_trials
        self.parent_pool = parent_pool
        self.num_candidates = num_candidates
        self.max_mutations = max_mutations
        self.exploration = float(exploration)
        self.ridge = float(ridge)
        self.random_fraction = float(random_fraction)
        self.reward_transform = reward_transform

        options = space.options_per_decision
        self.offsets = [sum(options[:i]) for i in range(len(options))]
        self.num_features = sum(options)  # feature index num_features is padding (inactive decision)
        self.conditional = space.is_conditional
        self.mutable = [i for i, n in enumerate(options) if n > 1]
        # Completed trials, best first: (-reward, order, genotype).
        self.ranked: list[tuple[float, int, Genotype]] = []
        # The design matrix as feature indices, one column per decision, and the raw rewards.
        self.features = np.full((16, len(options)), self.num_features, dtype=np.int64)
        self.rewards = np.zeros(16)
        # Posterior covariance (X^T X + ridge I)^-1 in units of the noise; padding row/column stay zero.
        self.covariance = np.zeros((self.num_features + 1, self.num_features + 1))
        self.covariance[:self.num_features, :self.num_features] = np.eye(self.num_features) / self.ridge
        self.weights = np.zeros(self.num_features + 1)
        self.num_fitted = 0

    # --- proposing ----------------------------------------------------------------------------------------
    def _propose(self) -> Genotype | None:
        if self.avoid_duplicates and len(self.proposed) >= self.space.size:
            return None
        if len(self.ranked) < max(2, self.warmup_trials) or self.rng.random() < self.random_fraction:
            return self._random_unproposed()
        self._maybe_refit()
        candidates = self._candidates()
        if not candidates:
            return self._random_unproposed()
        idx = self._encode_many(candidates)
        score = self.weights[idx].sum(axis=1)
        if self.exploration > 0:
            var = self.covariance[idx[:, :, None], idx[:, None, :]].sum(axis=(1, 2))
            score += self.exploration * np.sqrt(np.maximum(var, 0.0))
        return candidates[int(np.argmax(score))]

    def _candidates(self) -> list[Genotype]:
        pool = [entry[2] for entry in self.ranked[:self.parent_pool]]
        rng, rand = self.rng, self.rng.random
        num_parents, num_mutable, max_mutations = len(pool), len(self.mutable), self.max_mutations
        fast = not self.conditional and num_mutable > 0
        if fast:  # the move of space.mutate (one decision changes to a neighbouring option), inlined
            neighbours = [d.leaf.neighbour for d in self.space.decisions]
        seen: set[Genotype] = set()
        out: list[Genotype] = []
        for _ in range(self.num_candidates):
            child = pool[int(rand() * num_parents)]
            steps = 1 + int(rand() * max_mutations)
            if fast:
                genes = list(child)
                for _ in range(steps):
                    i = self.mutable[int(rand() * num_mutable)]
                    genes[i] = neighbours[i](genes[i], rng)
                child = tuple(genes)
            else:
                for _ in range(steps):
                    child = self.space.mutate(child, rng)
            if child in seen or (self.avoid_duplicates and child in self.proposed):
                continue
            seen.add(child)
            out.append(child)
        return out

    def _random_unproposed(self) -> Genotype:
        genotype = self._random_new()
        if self.avoid_duplicates and genotype in self.proposed and self.space.size <= _SCAN_LIMIT:
            for other in self.space.enumerate():  # a nearly exhausted small space: take the first left
                if other not in self.proposed:
                    return other
        return genotype

    # --- the surrogate ------------------------------------------------------------------------------------
    def _encode(self, genotype: Genotype) -> list[int]:
        if not self.conditional:
            return [o + v for o, v in zip(self.offsets, genotype)]
        row = [self.num_features] * len(self.offsets)
        for i in self.space.active_decisions(genotype):
            row[i] = self.offsets[i] + genotype[i]
        return row

    def _encode_many(self, genotypes: list[Genotype]) -> np.ndarray:
        shape = (len(genotypes), len(self.offsets))
        if not self.conditional:
            return np.array(genotypes, dtype=np.int64).reshape(shape) + np.array(self.offsets, dtype=np.int64)
        return np.array([self._encode(g) for g in genotypes], dtype=np.int64).reshape(shape)

    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        n = len(self.ranked)
        bisect.insort(self.ranked, (-reward, n, genotype))
        if n == len(self.rewards):
            self.features = np.concatenate([self.features, np.full_like(self.features, self.num_features)])
            self.rewards = np.concatenate([self.rewards, np.zeros(n)])
        row = self._encode(genotype)
        self.features[n] = row
        self.rewards[n] = reward
        # Sherman-Morrison: (A + x x^T)^-1 = A^-1 - (A^-1 x)(A^-1 x)^T / (1 + x^T A^-1 x), x one-hot on `row`.
        u = self.covariance[:, row].sum(axis=1)
        self.covariance -= np.outer(u / (1.0 + u[row].sum()), u)

    def _maybe_refit(self) -> None:
        n = len(self.ranked)
        if n == self.num_fitted or n - self.num_fitted < max(1, n // 50):
            return
        y = self.rewards[:n]
        if self.reward_transform == "rank":
            y = _normal_scores(y)
        scale = float(np.std(y)) or 1.0
        target = (y - float(np.mean(y))) / scale
        k = self.features.shape[1]
        b = np.bincount(self.features[:n].ravel(), weights=np.repeat(target, k), minlength=self.num_features + 1)
        self.weights = self.covariance @ b
        self.num_fitted = n


def _normal_scores(y: np.ndarray) -> np.ndarray:
    """Ranks mapped to (approximately) standard-normal quantiles; ties share their mean rank.

    Uses the logistic approximation of the probit, ``logit(p) / 1.702``: only the order matters here.
    Plain numpy on purpose: ``scipy.stats.rankdata`` gives the same ranks but its per-call overhead doubled
    the controller's cost per proposal (bench/controller_speed.py: ~260 us -> ~600 us).
    """
    n = len(y)
    order = np.argsort(y, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(counts) < n:
        ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]
    p = (ranks + 0.5) / n
    return np.log(p / (1.0 - p)) / 1.702


def _check_int(field: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"controller.{field}", value, f"an integer >= {low}")


def _check_number(field: str, value: object, low: float, high: float, expected: str, *,
                  strict_low: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if strict_low else v >= low) and v <= high
    if not ok:
        raise ConfigError(f"controller.{field}", value, expected)
