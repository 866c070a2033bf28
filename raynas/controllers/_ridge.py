"""The surrogate model of the model-based controllers: Bayesian ridge regression on one-hot decisions."""

from __future__ import annotations

import numpy as np

from raynas.space import Genotype, SearchSpace


class RidgeModel:
    """Bayesian ridge regression from a genotype's *active* decisions to one or more targets.

    Features are one-hot: one per (decision, option); an inactive decision of a conditional space contributes
    nothing (it points at a padding feature whose weight stays zero). All targets share the design matrix, so they
    share the posterior covariance ``(X^T X + ridge * I)^-1`` (in units of the noise), which is updated
    incrementally (Sherman-Morrison) after each observation. Each target is rank-transformed to normal scores
    (``transform="rank"``) or used as is (``"none"``), then standardised; the weights are refitted while few
    observations are known and every ``n // 50`` observations later (:meth:`refit`).

    The space is not part of the model's state (controllers hold it); methods that encode genotypes take it.
    """

    def __init__(self, space: SearchSpace, *, ridge: float = 1.0, num_targets: int = 1,
                 transform: str = "rank") -> None:
        options = space.options_per_decision
        self.offsets = [sum(options[:i]) for i in range(len(options))]
        self.num_features = sum(options)  # feature index num_features is padding (inactive decision)
        self.conditional = space.is_conditional
        self.ridge = float(ridge)
        self.num_targets = num_targets
        self.transform = transform
        self.count = 0
        # The design matrix as feature indices, one column per decision, and the raw targets (one row each).
        self.features = np.full((16, len(options)), self.num_features, dtype=np.int64)
        self.targets = np.zeros((num_targets, 16))
        # Posterior covariance in units of the noise; the padding row/column stay zero.
        self.covariance = np.zeros((self.num_features + 1, self.num_features + 1))
        self.covariance[:self.num_features, :self.num_features] = np.eye(self.num_features) / self.ridge
        self.weights = np.zeros((num_targets, self.num_features + 1))
        self.num_fitted = 0

    def encode(self, space: SearchSpace, genotype: Genotype) -> list[int]:
        """The feature index of each decision of ``genotype`` (padding for inactive ones)."""
        if not self.conditional:
            return [o + v for o, v in zip(self.offsets, genotype)]
        row = [self.num_features] * len(self.offsets)
        for i in space.active_decisions(genotype):
            row[i] = self.offsets[i] + genotype[i]
        return row

    def encode_many(self, space: SearchSpace, genotypes: list[Genotype]) -> np.ndarray:
        """:meth:`encode` of each genotype, as an integer array of shape (len(genotypes), num_decisions)."""
        shape = (len(genotypes), len(self.offsets))
        if not self.conditional:
            return np.array(genotypes, dtype=np.int64).reshape(shape) + np.array(self.offsets, dtype=np.int64)
        return np.array([self.encode(space, g) for g in genotypes], dtype=np.int64).reshape(shape)

    def add(self, row: list[int], values: tuple[float, ...]) -> None:
        """Learn one observation: its encoded ``row`` and one value per target."""
        n = self.count
        if n == self.features.shape[0]:
            self.features = np.concatenate([self.features, np.full_like(self.features, self.num_features)])
            self.targets = np.concatenate([self.targets, np.zeros((self.num_targets, n))], axis=1)
        self.features[n] = row
        self.targets[:, n] = values
        self.count = n + 1
        # Sherman-Morrison: (A + x x^T)^-1 = A^-1 - (A^-1 x)(A^-1 x)^T / (1 + x^T A^-1 x), x one-hot on `row`.
        u = self.covariance[:, row].sum(axis=1)
        self.covariance -= np.outer(u / (1.0 + u[row].sum()), u)

    def refit(self) -> None:
        """Refit the weights if enough observations arrived since the last fit (every one while few are known)."""
        n = self.count
        if n == self.num_fitted or n - self.num_fitted < max(1, n // 50):
            return
        k = self.features.shape[1]
        cells = self.features[:n].ravel()
        for j in range(self.num_targets):
            target = self.standardised(j)
            b = np.bincount(cells, weights=np.repeat(target, k), minlength=self.num_features + 1)
            self.weights[j] = self.covariance @ b
        self.num_fitted = n

    def standardised(self, target: int = 0) -> np.ndarray:
        """The observed values of ``target`` as the model fits them: transformed, then zero mean and unit sd."""
        y = self.targets[target, :self.count]
        if self.transform == "rank":
            y = normal_scores(y)
        scale = float(np.std(y)) or 1.0
        return (y - float(np.mean(y))) / scale

    def mean(self, idx: np.ndarray, target: int = 0) -> np.ndarray:
        """The predicted (standardised) value of ``target`` for encoded rows ``idx`` (from :meth:`encode_many`)."""
        return self.weights[target][idx].sum(axis=1)

    def sd(self, idx: np.ndarray) -> np.ndarray:
        """The posterior standard deviation (in units of the noise, the same for every target) of rows ``idx``."""
        var = self.covariance[idx[:, :, None], idx[:, None, :]].sum(axis=(1, 2))
        return np.sqrt(np.maximum(var, 0.0))


def normal_scores(y: np.ndarray) -> np.ndarray:
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
