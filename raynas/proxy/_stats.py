"""Rank agreement between a proxy and full training, and its estimate over the whole search space (pure).

A reference set chosen for spread is easier to rank than the search space at large: its models are far apart,
while most pairs drawn from the space are close together. :func:`whole_space_tau` corrects for that. The
reference models were selected from a random sample of the space (the *population*) by what was measured for
every sampled model (first-round accuracy and latency: the *selection covariates*). On normal scores of the
covariates (ranked within the population), the Pearson-Lawley formulas carry the covariance of the reference
set over to the population::

    B = S_yx S_xx^-1,   S_yy(population) = S_yy - B (S_xx - P_xx) B^T

where ``x`` are the covariates, ``y`` the proxy and full-training scores (mapped onto the scale of the
covariates by rank), ``S`` covariances within the reference set and ``P_xx`` within the population. The
corrected correlation becomes a Kendall tau by Greiner's relation ``tau = 2/pi * asin(rho)``. The uncertainty
is a bootstrap interval over both the reference models and the population.

With fewer than :data:`MIN_SPACE_REFERENCES` valid reference models there is no estimate: the noise of a Kendall
tau on so few models makes any figure meaningless (five reference models once gave 1.0, interval -0.41 to 1.0,
against a reference-set tau of 0.527), so the estimate says "too few reference models" and is inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

#: The fewest valid reference models a whole-space estimate is made from, and the width its 95% interval then stays
#: under. Measured on the bundled NAS-Bench-201 table (12-epoch vs 200-epoch accuracy, whole-table tau 0.649;
#: ``python bench/reference_models.py``): the central 95% of Kendall tau over 2,000 random sets of n cells is
#: 1.00 wide at n = 5 ([0.00, 1.00]), 0.79 at 8, 0.67 at 10 ([0.24, 0.91]), 0.53 at 15 and 0.45 at 20. Ten is the
#: smallest n under 0.7, which can tell a useful proxy from a useless one; it is also ``raynas proxy select-models``'
#: default ``--keep``. With spread-selected sets the estimate below 10 often comes out exactly 1.0 (28% of 100
#: seeds at 5 models, 2% at 10).
MIN_SPACE_REFERENCES = 10
SPACE_INTERVAL_WIDTH = 0.7

METHOD = ("Pearson-Lawley selection correction on normal scores of the selection covariates (round-1 accuracy "
          "and latency of the sampled population), Kendall tau via Greiner's relation, bootstrap interval")


@dataclass(frozen=True)
class RankAgreement:
    """How well a proxy's ranking of models matches full training's (models valid under both)."""

    n: int
    kendall_tau: float
    kendall_p: float
    spearman: float
    top_k: int
    top_k_overlap: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank_agreement(proxy: Sequence[float], full: Sequence[float], *, top_k: int | None = None) -> RankAgreement:
    """Kendall tau (tau-b, scipy), Spearman rho and the share of full training's top-k that the proxy also
    ranks top-k (``top_k`` default: a third of the models, at least 1). Pairs with a non-finite value are left out."""
    from scipy import stats

    p, f = _finite_pairs(proxy, full)
    n = len(p)
    k = max(1, n // 3) if top_k is None else max(1, min(int(top_k), n)) if n else 0
    if n < 2:
        return RankAgreement(n, math.nan, math.nan, math.nan, k, math.nan)
    tau = stats.kendalltau(p, f)
    rho = stats.spearmanr(p, f).statistic
    top_p = set(np.argsort(-p, kind="stable")[:k])
    top_f = set(np.argsort(-f, kind="stable")[:k])
    return RankAgreement(n, _float(tau.statistic), _float(tau.pvalue), _float(rho), k, len(top_p & top_f) / k)


@dataclass(frozen=True)
class SpaceEstimate:
    """The proxy's Kendall tau over the whole space, estimated from the reference set, with an interval."""

    tau: float
    low: float
    high: float
    level: float
    reference_tau: float
    references: int
    population: int
    covariates: tuple[str, ...]
    method: str = METHOD
    #: ``estimated``, or ``inconclusive`` with the reason in ``note`` (too few reference models: no figure at all).
    verdict: str = "estimated"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.note is not None:
            return f"{self.verdict}: {self.note} (reference-set tau {self.reference_tau:.3f})"
        return (f"{self.tau:.3f} ({self.level:.0%} interval {self.low:.3f} to {self.high:.3f}; reference-set tau "
                f"{self.reference_tau:.3f} on {self.references} models, corrected with the {self.population} "
                f"sampled models as the population)")


def normal_scores(values: Sequence[float]) -> np.ndarray:
    """Van der Waerden scores: ``Phi^-1((rank - 0.5) / n)`` (ties get their average rank)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    return stats.norm.ppf((stats.rankdata(values) - 0.5) / len(values))


def too_few_references(n: int, minimum: int = MIN_SPACE_REFERENCES) -> str:
    """Why a whole-space estimate from ``n`` reference models is not made (one line)."""
    return (f"too few reference models (n={n}; at least {minimum} needed for an interval narrower than "
            f"{SPACE_INTERVAL_WIDTH:g}): run `raynas proxy select-models` with --keep {minimum} or more")


def whole_space_tau(*, covariates: np.ndarray, reference_rows: Sequence[int], proxy: Sequence[float],
                    full: Sequence[float], names: Sequence[str] = ("accuracy", "latency"), seed: int = 0,
                    bootstrap: int = 400, level: float = 0.9,
                    min_references: int = MIN_SPACE_REFERENCES) -> SpaceEstimate:
    """Estimate Kendall tau of ``proxy`` vs ``full`` over the space from reference models chosen out of a
    population sample.

    ``covariates``: (population x k) selection covariates measured for every sampled model; ``reference_rows``:
    the rows of the reference models in it; ``proxy``/``full``: their scores, in the same order (non-finite
    ones are left out). Covariates that do not vary are ignored. With fewer than ``min_references`` valid
    reference models there is no estimate: NaN figures, verdict ``inconclusive`` and a note saying so.
    """
    from scipy import stats

    covariates = np.asarray(covariates, dtype=float)
    if covariates.ndim == 1:
        covariates = covariates[:, None]
    rows = np.asarray(reference_rows, dtype=int)
    proxy, full = np.asarray(proxy, dtype=float), np.asarray(full, dtype=float)
    keep = np.isfinite(proxy) & np.isfinite(full)
    rows, proxy, full = rows[keep], proxy[keep], full[keep]
    usable = [j for j in range(covariates.shape[1])
              if np.all(np.isfinite(covariates[:, j])) and np.ptp(covariates[:, j]) > 0]
    scores = np.column_stack([normal_scores(covariates[:, j]) for j in usable]) if usable else np.zeros((len(covariates), 0))
    raw = _float(stats.kendalltau(proxy, full).statistic) if len(proxy) >= 2 else math.nan
    if len(rows) < min_references:
        return SpaceEstimate(tau=math.nan, low=math.nan, high=math.nan, level=level, reference_tau=raw,
                             references=len(rows), population=len(scores),
                             covariates=tuple(names[j] for j in usable if j < len(names)), verdict="inconclusive",
                             note=too_few_references(len(rows), min_references))
    point = _corrected_tau(scores, rows, proxy, full)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap if len(rows) >= 3 else 0):
        pick = rng.integers(0, len(rows), len(rows))
        population = rng.integers(0, len(scores), len(scores))
        value = _corrected_tau(scores, rows[pick], proxy[pick], full[pick], population=population)
        if math.isfinite(value):
            draws.append(value)
    low, high = (np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]) if len(draws) >= 20 else (math.nan, math.nan))
    return SpaceEstimate(tau=point, low=float(low), high=float(high), level=level, reference_tau=raw,
                         references=len(rows), population=len(scores), covariates=tuple(names[j] for j in usable
                                                                                        if j < len(names)))


def tau_interval_width(proxy: Sequence[float], full: Sequence[float], n: int, *, draws: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float, float]:
    """How noisy a Kendall tau on ``n`` models is: over ``draws`` random sets of ``n`` of the (proxy, full) pairs
    (finite ones), the central ``level`` range of their tau -- (low, high, width). What
    :data:`MIN_SPACE_REFERENCES` was chosen from (``bench/reference_models.py``)."""
    from scipy import stats

    p, f = _finite_pairs(proxy, full)
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(draws):
        pick = rng.choice(len(p), int(n), replace=False)
        taus.append(stats.kendalltau(p[pick], f[pick]).statistic)
    low, high = np.nanquantile(np.asarray(taus, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high), float(high - low)


def _corrected_tau(scores: np.ndarray, rows: np.ndarray, proxy: np.ndarray, full: np.ndarray,
                   population: np.ndarray | None = None) -> float:
    if len(rows) < 3 or np.ptp(proxy) == 0 or np.ptp(full) == 0:
        return math.nan
    x_ref = scores[rows]
    spread = [j for j in range(scores.shape[1]) if np.ptp(x_ref[:, j]) > 0]
    x_ref = x_ref[:, spread]
    scale = x_ref[:, 0] if spread else normal_scores(proxy)
    y = np.column_stack([_on_scale(proxy, scale), _on_scale(full, scale)])
    joint = np.cov(np.column_stack([x_ref, y]), rowvar=False)
    p = len(spread)
    s_yy = joint[p:, p:]
    if p:
        pop = scores[:, spread] if population is None else scores[population][:, spread]
        p_xx = np.atleast_2d(np.cov(pop, rowvar=False))
        s_xx, s_yx = joint[:p, :p], joint[p:, :p]
        b = s_yx @ np.linalg.pinv(s_xx)
        s_yy = s_yy - b @ (s_xx - p_xx) @ b.T
    if s_yy[0, 0] <= 0 or s_yy[1, 1] <= 0:
        return math.nan
    rho = float(np.clip(s_yy[0, 1] / math.sqrt(s_yy[0, 0] * s_yy[1, 1]), -1.0, 1.0))
    return 2.0 / math.pi * math.asin(rho)


def _on_scale(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``values`` replaced rank for rank by the sorted ``scale`` values (ties share their mean)."""
    from scipy import stats

    ranks = stats.rankdata(values, method="ordinal") - 1
    mapped = np.sort(scale)[ranks]
    out = mapped.copy()
    for value in np.unique(values):
        same = values == value
        out[same] = mapped[same].mean()
    return out


def _finite_pairs(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def _float(value: Any) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan
