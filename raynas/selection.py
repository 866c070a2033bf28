"""Which stage-1 candidates to full-train: proxy rank, corrected by what fully trained models teach about the proxy.

A proxy (a short training, a data subset) and full training disagree, and the disagreement is often systematic:
bigger, slower models gain more from longer training than small ones. Models that are already fully trained and
also have a proxy score (the reference models of proxy design, earlier stage-2 rounds) show that disagreement.
:func:`choose_for_full_training` fits it and uses it for part of the set:

1. **Model.** A ridge regression of the full score on the proxy score, ``log(cost)`` (the proxy's training
   time of the model: a measure of its size and compute known for every evaluated trial) and any further
   covariates, fitted on the references (standardised features; the intercept and the proxy slope are not
   penalised). The penalty on the correction terms (cost, covariates) is chosen by leave-one-out error from
   :data:`PENALTIES` (ordinary ridge practice: a few references support a shrunk correction sooner than a
   full one); an infinite penalty is the proxy score alone.
2. **Guard.** The model is used only if its leave-one-out error on the references is below that of the proxy
   score alone (a regression of full on proxy), so that a correction that fits noise is never trusted. It also
   needs at least :data:`MIN_REFERENCES` references (the number below which a rank correlation between proxy
   and full training says little: the same minimum the proxy design uses) and some spread in the extra
   features (a cost that is the same for every reference teaches nothing). Otherwise the rule falls back to
   proxy rank and says why.
3. **Hedged choice.** ``k - k // 2`` candidates are the best by proxy score and ``k // 2`` the best by the
   model's prediction among the rest of the top ``POOL_FACTOR * k`` by proxy. Half of the set follows each
   signal, so neither a wrong correction nor a wrong proxy can cost the whole set; the pool keeps the
   corrected picks where the proxy itself rates the models highly (a correction fitted on a handful of
   references re-orders the top of the ranking; it is not trusted to reach far down it).

Nothing here knows any search space or benchmark: pure numpy, any ids, either mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

#: Fewer fully trained references than this: proxy rank (a rank correlation on fewer models spans most of [-1, 1]).
MIN_REFERENCES = 10
#: The corrected picks come from the top ``POOL_FACTOR * k`` candidates by proxy score.
POOL_FACTOR = 5
#: Penalties tried on the standardised correction weights (relative to the number of references): the one with the
#: lowest leave-one-out error is used. The proxy slope gets only the first (numerical stability).
PENALTIES = (1e-6, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
#: A feature whose standard deviation over the references is below this (relative to its mean magnitude) is constant.
_CONSTANT = 1e-9
#: Why the rule fell back to proxy rank (``Selection.fallback``), each with its sentence in ``Selection.reason``.
FALLBACKS = ("set too small to split", "too few candidates", "too few references", "no proxy spread",
             "no covariate spread", "no gain by leave-one-out")


@dataclass(frozen=True)
class References:
    """Fully trained models with their proxy score: ``proxy``, ``full``, ``cost`` (the proxy's training time, > 0;
    NaN where unknown) and optional ``covariates`` (name -> one value per reference; the candidates need the same
    names). Rows with a non-finite value anywhere are left out of the fit."""

    proxy: Sequence[float]
    full: Sequence[float]
    cost: Sequence[float] | None = None
    covariates: Mapping[str, Sequence[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.proxy)


@dataclass(frozen=True)
class Selection:
    """The chosen ids (in the order they were chosen: proxy picks by rank, then model picks by prediction) and
    how they were chosen.

    ``method`` is ``"corrected"`` (part of the set chosen by the model) or ``"proxy"`` (proxy rank only;
    ``reason`` says why in a sentence, ``fallback`` names the case: one of :data:`FALLBACKS`). ``by_proxy`` /
    ``by_prediction`` count the ids chosen each way; ``references`` is the number of usable references;
    ``coefficients`` holds the fitted model in the original units (``intercept``, ``proxy``, ``log_cost``, each
    covariate) when it is used; ``penalty`` the ridge penalty chosen for the correction; ``loo_error`` /
    ``loo_error_proxy_only`` the leave-one-out root mean squared errors of the model and of proxy alone;
    ``pool`` the number of candidates the model picks came from; ``candidates`` how many had a finite proxy
    score; ``predicted`` the model's prediction per chosen id (only when the model is used)."""

    chosen: tuple[Hashable, ...]
    method: str
    reason: str
    by_proxy: int
    by_prediction: int
    references: int
    coefficients: dict[str, float] = field(default_factory=dict)
    loo_error: float = math.nan
    loo_error_proxy_only: float = math.nan
    pool: int = 0
    candidates: int = 0
    predicted: dict[Hashable, float] = field(default_factory=dict)
    fallback: str | None = None
    penalty: float = math.nan

    def summary(self) -> str:
        """One line: how the set was chosen (and why the model was not used, when it was not)."""
        if self.method == "proxy":
            return f"{len(self.chosen)} chosen by proxy rank ({self.reason})"
        terms = ", ".join(f"{name} {value:+.3g}" for name, value in self.coefficients.items() if name != "intercept")
        return (f"{self.by_proxy} chosen by proxy rank and {self.by_prediction} by the full score predicted from "
                f"{self.references} fully trained references (slopes: {terms}; penalty {self.penalty:g}; leave-one-out error "
                f"{self.loo_error:.3g} vs {self.loo_error_proxy_only:.3g} for proxy alone), from the top {self.pool} "
                f"by proxy")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, the chosen ids as strings where they are not plain numbers, and the summary."""
        def key(value: Hashable) -> Any:
            return value if isinstance(value, (int, float, str)) else str(value)

        return {"chosen": [key(c) for c in self.chosen], "method": self.method, "reason": self.reason,
                "by_proxy": self.by_proxy, "by_prediction": self.by_prediction, "references": self.references,
                "coefficients": dict(self.coefficients), "loo_error": self.loo_error,
                "loo_error_proxy_only": self.loo_error_proxy_only, "pool": self.pool, "candidates": self.candidates,
                "predicted": {str(key(k)): v for k, v in self.predicted.items()}, "fallback": self.fallback,
                "penalty": self.penalty,
                "summary": self.summary()}


def choose_for_full_training(ids: Sequence[Hashable], proxy: Sequence[float], k: int, *,
                             cost: Sequence[float] | None = None, references: References | None = None,
                             covariates: Mapping[str, Sequence[float]] | None = None, mode: str = "max",
                             min_references: int = MIN_REFERENCES, pool_factor: int = POOL_FACTOR,
                             by_prediction: int | None = None) -> Selection:
    """Choose ``k`` of the candidates ``ids`` (proxy scores ``proxy``; ``cost`` and ``covariates`` per candidate) to
    full-train, using the fully trained ``references`` (see the module docstring for the rule).

    ``mode``: ``"max"`` when higher proxy and full scores are better, ``"min"`` when lower are. Candidates with a
    non-finite proxy score are never chosen (fewer than ``k`` ids come back when too few are finite); ties in
    proxy score keep the order of ``ids``. A candidate without a finite prediction (cost unknown) can still be
    chosen by proxy rank. ``by_prediction`` (default ``k // 2``) is how many the model may choose.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if len(proxy) != len(ids) or (cost is not None and len(cost) != len(ids)):
        raise ValueError("ids, proxy and cost need one value per candidate")
    sign = 1.0 if mode == "max" else -1.0
    scores = np.asarray(proxy, dtype=float)
    valid = np.flatnonzero(np.isfinite(scores))
    order = valid[np.argsort(-sign * scores[valid], kind="stable")]  # best first; ties keep the input order
    n_ref = _usable_references(references, covariates)

    def by_rank(fallback: str, reason: str) -> Selection:
        chosen = tuple(ids[i] for i in order[:k])
        return Selection(chosen=chosen, method="proxy", reason=reason, by_proxy=len(chosen), by_prediction=0,
                         references=n_ref, candidates=len(valid), fallback=fallback)

    by_prediction = k // 2 if by_prediction is None else by_prediction
    if not 0 <= by_prediction <= k:
        raise ValueError(f"by_prediction must be between 0 and k={k}, got {by_prediction!r}")
    if by_prediction == 0:
        return by_rank(FALLBACKS[0], f"a set of {k} cannot be split between proxy rank and a prediction")
    if len(order) <= k:
        return by_rank(FALLBACKS[1], f"only {len(order)} candidates with a proxy score: all of them")
    if n_ref < min_references:
        return by_rank(FALLBACKS[2], f"{n_ref} fully trained references with a proxy score, at least {min_references} needed")
    assert references is not None
    names, ref_x, ref_y = _reference_design(references, covariates)
    if not _varies(ref_x[:, 0]):
        return by_rank(FALLBACKS[3], "the references' proxy scores do not vary")
    extra = [j for j in range(1, ref_x.shape[1]) if _varies(ref_x[:, j])]
    if not extra:
        what = " or ".join(names[1:]) or "any covariate"
        return by_rank(FALLBACKS[4], f"no spread in {what} over the references (nothing to correct the proxy with)")
    columns = [0] + extra
    fits = [_fit(ref_x[:, columns], ref_y, penalty) for penalty in PENALTIES]
    best = min(range(len(fits)), key=lambda i: (fits[i][1], i))  # ties: the smaller penalty
    weights, loo = fits[best]
    _, loo_proxy = _fit(ref_x[:, [0]], ref_y, PENALTIES[0])
    if not loo < loo_proxy:
        fallback = by_rank(FALLBACKS[5], "the correction does not predict the references' full scores better than "
                           f"the proxy alone (leave-one-out error {loo:.3g} vs {loo_proxy:.3g})")
        return replace(fallback, loo_error=loo, loo_error_proxy_only=loo_proxy)
    cand_x = _candidate_design(scores, cost, covariates, names)[:, columns]
    predicted = weights[0] + cand_x @ weights[1:]
    first = [int(i) for i in order[:k - by_prediction]]
    taken = set(first)
    pool = order[:max(k, pool_factor * k)]
    rest = [int(i) for i in pool if i not in taken and np.isfinite(predicted[i])]
    rest.sort(key=lambda i: -sign * predicted[i])  # stable: equal predictions keep proxy order
    second = rest[:by_prediction]
    if len(second) < by_prediction:  # too few predictions in the pool: fill by proxy rank
        taken |= set(second)
        second += [int(i) for i in order if i not in taken][:by_prediction - len(second)]
    coefficients = {"intercept": float(weights[0])}
    coefficients.update({names[j]: float(w) for j, w in zip(columns, weights[1:])})
    chosen = first + second
    return Selection(chosen=tuple(ids[i] for i in chosen), method="corrected",
                     reason="the correction predicts the references better than the proxy alone (leave-one-out)",
                     by_proxy=len(first), by_prediction=len(second), references=n_ref, coefficients=coefficients,
                     loo_error=loo, loo_error_proxy_only=loo_proxy, pool=len(pool), candidates=len(valid),
                     penalty=PENALTIES[best],
                     predicted={ids[i]: float(predicted[i]) for i in chosen})


def _usable_references(references: References | None, covariates: Mapping[str, Sequence[float]] | None) -> int:
    if references is None or len(references) == 0:
        return 0
    return len(_reference_design(references, covariates)[2])


def _reference_design(references: References, covariates: Mapping[str, Sequence[float]] | None
                      ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Feature names and the references' design (proxy, log cost, covariates) with their full scores: rows with a
    non-finite value anywhere, or a cost <= 0, left out."""
    n = len(references.proxy)
    if len(references.full) != n:
        raise ValueError("references need one full score per proxy score")
    names = ["proxy"]
    cols = [np.asarray(references.proxy, dtype=float)]
    if references.cost is not None:
        names.append("log_cost")
        cols.append(_log_cost(references.cost))
    for name in sorted(covariates or {}):
        if name not in references.covariates:
            raise ValueError(f"covariate {name!r} is given for the candidates but not for the references")
        names.append(name)
        cols.append(np.asarray(references.covariates[name], dtype=float))
    if any(len(c) != n for c in cols):
        raise ValueError("references need one value per model in every column")
    x = np.column_stack(cols)
    y = np.asarray(references.full, dtype=float)
    keep = np.isfinite(x).all(axis=1) & np.isfinite(y)
    return names, x[keep], y[keep]


def _candidate_design(proxy: np.ndarray, cost: Sequence[float] | None, covariates: Mapping[str, Sequence[float]] | None,
                      names: list[str]) -> np.ndarray:
    cols = [proxy]
    if "log_cost" in names:
        cols.append(_log_cost(cost) if cost is not None else np.full(len(proxy), math.nan))
    for name in names[len(cols):]:
        cols.append(np.asarray((covariates or {})[name], dtype=float))
    return np.column_stack(cols)


def _log_cost(cost: Sequence[float]) -> np.ndarray:
    values = np.asarray(cost, dtype=float)
    out = np.full(values.shape, math.nan)
    positive = np.isfinite(values) & (values > 0)
    out[positive] = np.log(values[positive])
    return out


def _varies(column: np.ndarray) -> bool:
    return bool(np.std(column) > _CONSTANT * max(1.0, float(np.mean(np.abs(column)))))


def _fit(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    """Ridge regression of ``y`` on ``x`` (standardised; the intercept unpenalised, the first column's weight with
    :data:`PENALTIES[0] <PENALTIES>`, the others with ``penalty``, each times the number of rows): the weights in
    the original units (intercept first) and the exact leave-one-out root mean squared error (from the hat
    matrix)."""
    n = len(y)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.column_stack([np.ones(n), (x - mean) / scale])
    diagonal = np.diag([0.0, PENALTIES[0] * n] + [penalty * n] * (x.shape[1] - 1))
    inverse = np.linalg.pinv(z.T @ z + diagonal)
    w = inverse @ z.T @ y
    hat = np.einsum("ij,jk,ik->i", z, inverse, z)
    residual = (y - z @ w) / np.maximum(1.0 - hat, 1e-12)
    loo = float(np.sqrt(np.mean(residual ** 2)))
    slopes = w[1:] / scale
    return np.concatenate([[w[0] - float(slopes @ mean)], slopes]), loo
