"""A noise-aware verdict on stage 1 vs stage 2: does the stage-1 ranking predict full training? (pure: numpy/scipy)

A full-training accuracy is a noisy measurement: another seed, or another draw of the validation examples, moves
it. Its noise (:func:`full_training_noise`, in points of accuracy, the sd of one run) is at least the binomial
sampling noise of an accuracy measured on ``n`` validation examples, ``sqrt(p (1 - p) / n)`` (x100 for percent);
a declared run-to-run sd (``raynas train --noise-sd``, e.g. from training one model with several seeds) is used
instead when it is larger. When neither is known the noise is *unknown* and the verdict never says ``bias``.

Kendall tau between stage-1 reward and full accuracy comes with a bootstrap interval (:func:`tau_interval`): the
(stage-1 reward, full accuracy) pairs are resampled with replacement and every full accuracy is perturbed with
N(0, noise sd), seeded; tau-b (ties handled) of each resample; the percentile interval (90% by default, 2,000
resamples). Stage-1 rewards are not perturbed: they are what the search actually ranked by, and their noise is
part of what is judged (a noisy proxy *is* a poor predictor of full training).

The verdict (:func:`judge`, :class:`Stage2Verdict`), in this order:

1. fewer than 2 completed models, or no variation in the rewards -> ``inconclusive`` (nothing to correlate);
2. **tied**: the sample sd of the full accuracies is below ``TIE_FACTOR`` (2) x the noise sd -> ``inconclusive``:
   the ranking among models this close cannot be judged, whatever tau says. Truly tied models show an sd near
   the noise sd; an sd above 2x it happens with probability P(chi2_{n-1} > 4 (n-1)): 0.3% for 5 models,
   < 0.01% for 10 (the simulation in ``tests/stage2/test_verdict.py`` measures it);
3. **bias** when the interval's upper end is below the bar (``BIAS_TAU`` 0.3, the long-standing search-bias bar)
   and the noise is known: even the favourable end of the interval says stage 1 ranks these models worse than
   the bar;
4. **agree** when tau >= the bar and the interval's lower end is above 0: the point estimate clears the bar and
   the agreement is more than chance (with 10 models a 90% interval is about +-0.4 wide, so asking its lower
   end to clear 0.3 would call almost every real agreement inconclusive);
5. otherwise ``inconclusive``: the interval spans the bar.

Measured by the simulation (noise sd 0.3 points, 10 models): truly tied models are called ``bias`` in 0% of
seeds; a reversed ranking with a real spread (1.5 points) is called ``bias`` in nearly every seed; a stage 1
that agrees (tau about 0.6) is called ``bias`` in well under 5% and ``agree`` in most seeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Sequence

import numpy as np

#: Below this Kendall tau between stage-1 reward and full-training accuracy stage 1 does not predict full training.
BIAS_TAU = 0.3
#: Full accuracies whose sd is below this many noise sds are tied: their ranking cannot be judged.
TIE_FACTOR = 2.0
#: Coverage of the bootstrap interval.
LEVEL = 0.9
#: Bootstrap resamples.
RESAMPLES = 2000


class Stage2Verdict(str, Enum):
    """What stage 2 says about stage 1: its ranking agrees with full training, is biased, or cannot be judged."""

    AGREE = "agree"
    BIAS = "bias"
    INCONCLUSIVE = "inconclusive"

    @property
    def search_bias(self) -> bool | None:
        """``search_bias`` of ``stage2.json``: True only for ``bias``, None when inconclusive."""
        return {Stage2Verdict.AGREE: False, Stage2Verdict.BIAS: True}.get(self)


@dataclass(frozen=True)
class FullTrainingNoise:
    """The run-to-run noise of one full-training accuracy: ``sd`` in the accuracies' own unit (points for
    percent; nan when unknown), where it comes from (``source``) and the figures it was derived from."""

    sd: float
    source: str
    binomial_sd: float | None = None
    declared_sd: float | None = None
    validation_examples: int | None = None

    @property
    def known(self) -> bool:
        return math.isfinite(self.sd) and self.sd > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return f"sd {self.sd:.2f}" if self.known else "unknown"


def binomial_sd(accuracy: float, examples: int) -> float:
    """The sampling sd of an accuracy measured on ``examples`` examples: in points when ``accuracy`` is a
    percentage (> 1), as a fraction otherwise."""
    percent = accuracy > 1.0
    p = min(max(accuracy / 100.0 if percent else accuracy, 0.0), 1.0)
    sd = math.sqrt(p * (1.0 - p) / examples)
    return 100.0 * sd if percent else sd


def full_training_noise(accuracies: Sequence[float], *, validation_examples: int | None,
                        declared_sd: float | None = None, where: str = "the real validation set") -> FullTrainingNoise:
    """The noise of one full-training accuracy: the larger of the binomial sampling noise on
    ``validation_examples`` examples (at the mean of ``accuracies``) and ``declared_sd``; unknown (sd nan) when
    neither is given. ``where`` names the validation set in ``source``."""
    finite = [float(a) for a in accuracies if a is not None and math.isfinite(float(a))]
    binomial = None
    if validation_examples and finite:
        binomial = binomial_sd(float(np.mean(finite)), int(validation_examples))
    if binomial is not None and (declared_sd is None or binomial >= declared_sd):
        source = (f"binomial sampling noise of an accuracy of {np.mean(finite):.4g} on the {validation_examples:,} "
                  f"examples of {where}")
        if declared_sd is not None:
            source += f" (larger than the declared sd {declared_sd:g})"
        return FullTrainingNoise(binomial, source, binomial, declared_sd, validation_examples)
    if declared_sd is not None:
        source = "declared run-to-run sd (--noise-sd)"
        if binomial is not None:
            source += f" (larger than the binomial sampling noise {binomial:.3g} on {validation_examples:,} examples)"
        return FullTrainingNoise(float(declared_sd), source, binomial, declared_sd, validation_examples)
    return FullTrainingNoise(math.nan, "unknown: the size of the validation set is not known and no run-to-run sd "
                             "was declared (pass --noise-sd)", None, None, validation_examples)


@dataclass(frozen=True)
class TauInterval:
    """Kendall tau-b of stage-1 reward vs full accuracy over ``models`` models, with its bootstrap interval, and
    the spread of the full accuracies (sample sd and max - min)."""

    models: int
    tau: float
    low: float
    high: float
    level: float
    resamples: int
    spread: float
    range: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if not math.isfinite(self.tau):
            return "Kendall tau undefined"
        if not math.isfinite(self.low):
            return f"Kendall tau {self.tau:.2f}"
        return f"Kendall tau {self.tau:.2f}, {self.level:.0%} interval {self.low:.2f} to {self.high:.2f}"


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row of ``x`` against the same row of ``y`` (shape (B, n) or (n,)); ties in either
    count as neither concordant nor discordant and shrink the denominator as in scipy; nan when a row of ``x``
    or ``y`` is constant."""
    x, y = np.atleast_2d(np.asarray(x, dtype=float)), np.atleast_2d(np.asarray(y, dtype=float))
    sx = np.sign(x[:, :, None] - x[:, None, :])
    sy = np.sign(y[:, :, None] - y[:, None, :])
    num = (sx * sy).sum(axis=(1, 2))
    den = np.sqrt((sx * sx).sum(axis=(1, 2)) * (sy * sy).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return tau


def tau_interval(stage1: Sequence[float], full: Sequence[float], *, noise_sd: float = 0.0, seed: int = 0,
                 resamples: int = RESAMPLES, level: float = LEVEL) -> TauInterval:
    """Kendall tau-b of ``stage1`` (higher = better) vs ``full`` with a bootstrap percentile interval: pairs
    resampled with replacement, full accuracies perturbed with N(0, ``noise_sd``) (0 or nan: not perturbed);
    seeded. Pairs with a non-finite value are left out; fewer than 3 pairs give no interval."""
    x, y = np.asarray(stage1, dtype=float), np.asarray(full, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    spread = float(np.std(y, ddof=1)) if n >= 2 else math.nan
    width = float(np.ptp(y)) if n else math.nan
    tau = float(kendall_tau_b(x, y)[0]) if n >= 2 else math.nan
    low = high = math.nan
    if n >= 3 and math.isfinite(tau):
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, n, size=(resamples, n))
        noisy = y[pick]
        if math.isfinite(noise_sd) and noise_sd > 0:
            noisy = noisy + rng.normal(0.0, noise_sd, size=noisy.shape)
        draws = kendall_tau_b(x[pick], noisy)
        draws = draws[np.isfinite(draws)]
        if len(draws) >= 20:
            low, high = (float(v) for v in np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]))
    return TauInterval(models=n, tau=tau, low=low, high=high, level=level, resamples=resamples, spread=spread,
                       range=width)


@dataclass(frozen=True)
class Stage2Judgement:
    """The verdict over one set of models (``what``: e.g. "top 5"), its tau interval, the noise it was judged
    against, whether the models were tied within it, and the plain sentence that says so (``note``)."""

    verdict: Stage2Verdict
    tau: TauInterval
    noise: FullTrainingNoise
    bar: float
    tied: bool
    what: str
    note: str
    tie_factor: float = TIE_FACTOR

    @property
    def search_bias(self) -> bool | None:
        return self.verdict.search_bias

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "what": self.what, "bar": self.bar, "tied": self.tied,
                "tie_factor": self.tie_factor, "noise_sd": self.noise.sd, "note": self.note, **self.tau.to_dict()}


def judge(stage1: Sequence[float], full: Sequence[float], *, noise: FullTrainingNoise, seed: int = 0,
          bar: float = BIAS_TAU, tie_factor: float = TIE_FACTOR, resamples: int = RESAMPLES, level: float = LEVEL,
          what: str | None = None) -> Stage2Judgement:
    """The verdict on stage 1 vs stage 2 over these models (the rules are in the module docstring).

    ``stage1``: stage-1 rewards, higher = better (negate a ``min``-mode reward); ``full``: full-training
    accuracies in the same order; ``noise``: :func:`full_training_noise`; ``what`` names the set in the note
    (default "the N models")."""
    interval = tau_interval(stage1, full, noise_sd=noise.sd if noise.known else 0.0, seed=seed,
                            resamples=resamples, level=level)
    n = interval.models
    what = what or f"the {n} models"
    figures = f"{interval.text()}, noise {noise.text()}"

    def done(verdict: Stage2Verdict, tied: bool, note: str) -> Stage2Judgement:
        return Stage2Judgement(verdict, interval, noise, bar, tied, what, note, tie_factor)

    if n < 2:
        return done(Stage2Verdict.INCONCLUSIVE, False,
                    f"inconclusive: the stage-1 vs full-training rank correlation needs at least 2 completed full "
                    f"trainings ({n} here)")
    if noise.known and not interval.spread >= tie_factor * noise.sd:
        return done(Stage2Verdict.INCONCLUSIVE, True,
                    f"inconclusive: {what} are within {interval.range:.2f} points of each other (sd "
                    f"{interval.spread:.2f}), less than {tie_factor:g}x the run-to-run noise (sd {noise.sd:.2f}): the "
                    f"ranking among them cannot be judged ({interval.text()}); not a sign of bias")
    if not math.isfinite(interval.tau):
        return done(Stage2Verdict.INCONCLUSIVE, False,
                    f"inconclusive: the stage-1 rewards or full accuracies of {what} do not vary, so they have no "
                    "rank correlation")
    if math.isfinite(interval.high) and interval.high < bar:
        if not noise.known:
            return done(Stage2Verdict.INCONCLUSIVE, False,
                        f"inconclusive: {figures} is below {bar:g} over {what}, but the run-to-run noise of full "
                        "training is unknown, so a low tau may be noise: pass --noise-sd (the sd of one model's full "
                        "accuracy over seeds) to judge")
        return done(Stage2Verdict.BIAS, False,
                    f"possible search bias: stage-1 rewards and full-training accuracies rank {what} differently "
                    f"({figures}; the whole interval is below {bar:g}, and the models are {interval.spread:.2f} sd "
                    "apart, more than the noise); the proxy task or the stage-1 validation split may not represent "
                    "full training: check the proxy (`raynas proxy check`) before trusting stage-1 ranks")
    if interval.tau >= bar and (not math.isfinite(interval.low) or interval.low > 0):
        return done(Stage2Verdict.AGREE, False,
                    f"no sign of search bias: stage-1 rewards and full-training accuracies agree over {what} "
                    f"({figures}; tau >= {bar:g} and the interval is above 0)")
    return done(Stage2Verdict.INCONCLUSIVE, False,
                f"inconclusive: over {what}, {figures}: the interval spans the bar {bar:g}, so the data cannot "
                "tell agreement from bias; full-train more models (--top-k, or --controls N from lower stage-1 "
                "ranks) to judge")


__all__ = ["BIAS_TAU", "LEVEL", "RESAMPLES", "TIE_FACTOR", "FullTrainingNoise", "Stage2Judgement", "Stage2Verdict",
           "TauInterval", "binomial_sd", "full_training_noise", "judge", "kendall_tau_b", "tau_interval"]
