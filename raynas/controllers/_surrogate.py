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

    Algorithm (no knowledge of any particular space; it only uses the :class:`SearchSpace` API):

    1. **Warm-up.** The first ``warmup_trials`` proposals are uniformly random (unproposed) genotypes.
    2. **Surrogate.** A Bayesian ridge regression on one-hot encodings of the *active* decisions (one feature
       per (decision, option); inactive decisions of a conditional space contribute nothing) predicts the
       reward. Rewards are first rank-transformed to normal scores (``reward_transform="rank"``), so that a
       few very bad architectures do not dominate the fit and the model is invariant to the reward's scale.
       ``X^T X`` is kept incrementally; the solve is refitted after every new observation while few are
       known and at a geometric pace later (every ``n // 50`` observations), so a proposal stays cheap.
    3. **Candidates.** ``num_candidates`` children are made by applying 1..``max_mutations`` ``space.mutate``
       steps to parents drawn uniformly from the ``parent_pool`` best completed trials (a trust region
       around the incumbents); genotypes already proposed (including pending ones) are skipped.
    4. **Screening.** Each candidate scores ``mean + exploration * sd`` (a UCB on the surrogate); the best
       one is proposed. With probability ``random_fraction`` a random genotype is proposed instead.

    Failed/invalid trials never enter the model or the parent pool. Proposals made before their results
    arrive are simply excluded from later candidate sets, so asynchronous parallel trials stay distinct.
    """

    name = "surrogate"

    def __init__(self, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                 warmup_trials: int = 10, parent_pool: int = 10, num_candidates: int = 30,
                 max_mutations: int = 2, exploration: float = 0.5, ridge: float = 1.0,
                 random_fraction: float = 0.0, reward_transform: str = "rank", **kwargs) -> None:
        super().__init__(space, seed=seed, max_trials=max_trials, **kwargs)
        _check_int("warmup_trials", warmup_trials, 1)
        _check_int("parent_pool", parent_pool, 1)
        _check_int("num_candidates", num_candidates, 1)
        _check_int("max_mutations", max_mutations, 1)
        _check_number("exploration", exploration, 0.0, math.inf, "a number >= 0")
        _check_number("ridge", ridge, 0.0, math.inf, "a number > 0", strict_low=True)
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
        self.offsets = [int(v) for v in np.concatenate(([0], np.cumsum(options)[:-1]))] if options else []
        self.num_features = int(sum(options))
        self.conditional = space.is_conditional
        # Completed trials, best first: (-reward, order, genotype).
        self.ranked: list[tuple[float, int, Genotype]] = []
        # Design matrix as feature indices (one column per decision; num_features marks "inactive").
        self.features = np.full((16, len(options)), self.num_features, dtype=np.int64)
        self.rewards = np.zeros(16)
        self.gram = np.eye(self.num_features + 1) * self.ridge  # X^T X + ridge * I (last row: padding)
        self.num_fitted = 0
        self.weights = np.zeros(self.num_features + 1)
        self.intercept = 0.0
        self.scale = 1.0
        self.covariance = np.zeros((self.num_features + 1, self.num_features + 1))

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
        idx = np.array([self._encode(g) for g in candidates], dtype=np.int64)
        mean = self.weights[idx].sum(axis=1)
        if self.exploration > 0:
            var = self.covariance[idx[:, :, None], idx[:, None, :]].sum(axis=(1, 2))
            mean = mean + self.exploration * np.sqrt(np.maximum(var, 0.0))
        return candidates[int(np.argmax(mean))]

    def _candidates(self) -> list[Genotype]:
        pool = [entry[2] for entry in self.ranked[:self.parent_pool]]
        seen: set[Genotype] = set()
        out: list[Genotype] = []
        for _ in range(self.num_candidates):
            child = pool[self.rng.randrange(len(pool))]
            for _ in range(self.rng.randint(1, self.max_mutations)):
                child = self.space.mutate(child, self.rng)
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

    def _observe_reward(self, genotype: Genotype, reward: float) -> None:
        n = len(self.ranked)
        bisect.insort(self.ranked, (-reward, n, genotype))
        if n == len(self.rewards):
            self.features = np.concatenate([self.features, np.full_like(self.features, self.num_features)])
            self.rewards = np.concatenate([self.rewards, np.zeros(n)])
        row = self._encode(genotype)
        self.features[n] = row
        self.rewards[n] = reward
        active = np.array([f for f in row if f != self.num_features], dtype=np.int64)
        self.gram[active[:, None], active[None, :]] += 1.0

    def _maybe_refit(self) -> None:
        n = len(self.ranked)
        if n == self.num_fitted or n - self.num_fitted < max(1, n // 50):
            return
        y = self.rewards[:n]
        if self.reward_transform == "rank":
            y = _normal_scores(y)
        self.intercept = float(np.mean(y))
        self.scale = float(np.std(y)) or 1.0
        target = (y - self.intercept) / self.scale
        k = self.features.shape[1]
        b = np.bincount(self.features[:n].ravel(), weights=np.repeat(target, k), minlength=self.num_features + 1)
        b[self.num_features] = 0.0
        cov = np.linalg.inv(self.gram)
        cov[self.num_features, :] = 0.0
        cov[:, self.num_features] = 0.0
        self.covariance = cov
        self.weights = cov @ b
        self.num_fitted = n


def _normal_scores(y: np.ndarray) -> np.ndarray:
    """Ranks mapped to (approximately) standard-normal quantiles; ties share their mean rank.

    Uses the logistic approximation of the probit, ``logit(p) / 1.702``: only the order matters here.
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
