"""``raynas proxy variance``: run the chosen proxy several times on one model with different seeds.

A proxy is only useful when one run of it can rank the models the search must rank. The repeats measure the
proxy's run-to-run standard deviation ``sigma``; the proxy search measured the proxy on every reference model. The
check compares the two: the **separation** is the spread of the better half of the reference models (ranked by full
training; the search must separate good models from each other, not only from bad ones) in units of the
run-to-run sd::

    F = sd(better half's proxy accuracies)^2 / sigma^2         (sd with ddof=1)
    separation = sqrt(max(F - 1, 0))                           (an observed spread includes one run's noise)

``separation`` estimates ``T / sigma`` with ``T`` the true sd among the better half. With one run per model the
correlation between observed and true proxy accuracy among them is ``r / sqrt(1 + r^2)``, so the expected Kendall
tau of one proxy run against the proxy's own noise-free ranking is ``2/pi * asin(r / sqrt(1 + r^2))``: 0.50 at
separation 1 (a pair of good models is misordered one time in four) and 0.70 at separation 2 (above the usual
0.65 bar of the proxy search). Both sds are estimated from few values (the repeats, about five models), so the
verdict judges with an interval: ``F / (1 + r^2)`` follows an F distribution with (models - 1, repeats - 1)
degrees of freedom, which gives a ``level`` (default 80%: 10% on each side) interval ``[low, high]``
for the separation. Rules (``pass_separation`` P = 2, ``fail_separation`` B = 1 by default):

- **pass**: separation >= P and low >= B (the noise is small against the spread; at 90% confidence smaller);
- **fail**: separation < B and high < P (the noise swamps the spread; even the optimistic end misses the bar);
- **warn**: separation >= B and low > 0 (the better half differ beyond the noise at 90% confidence, but the noise
  is a large part of their spread);
- **inconclusive**: otherwise (the interval reaches from "no spread beyond the noise" to "well separated":
  run more repeats), and when fewer than 2 repeats or fewer than 3 reference models have values.

Measured by simulation (tests/proxy/test_variance_verdict.py: 10 reference models, the median one repeated 5
times): pure noise passes about 4% of the time, fails about 55% and is inconclusive or a warning otherwise;
separation 1 passes about 10% (the one-sided 10% of the interval); separation 4 passes about 90% and never fails.
With 2 repeats the interval is wide (the true sd lies within 0.6x-8x of the sd of 2 values at 80%): separation 4
passes about 30% and is mostly inconclusive, pure noise still passes only about 4%.

All repeats equal (a small validation set rounds accuracies to steps) does not mean no noise: ``sigma`` is then
floored at ``step / sqrt(12)``, with ``step`` the smallest non-zero difference among the observed values. Without a
proxy search result for the candidate, the better half's full-training accuracies are the spread (another scale
than the proxy's, and their own noise is not removed: ``separation = sqrt(F)``); without reference models the
verdict is inconclusive, never a silent pass. The coefficient of variation (std/mean) stays in the result as
information. A tabular benchmark holds one run per architecture: its repeats are identical by construction, so the
verdict is inconclusive with a note.

Mean curve smoothness (1 - decreases / absolute changes of the validation curve, near 1) is judged apart. The
repeats run side by side as Ray Tune jobs in the tool's trial store, so running the command again resumes (finished
repeats are not run again; a changed threshold is judged again without training).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from raynas._files import write_json
from raynas._parse import as_float, as_int
from raynas.errors import ConfigError, RaynasError, UnknownNameError
from raynas.proxy._baseline import curve_frame, curve_rows
from raynas.proxy._common import finish_tool, missing_result, ray_session, run_tool_jobs
from raynas.targets import Stage
from raynas.trials import TrialStatus, metric
from raynas.tune import Job

if TYPE_CHECKING:
    from raynas.proxy._target import DesignTarget

log = logging.getLogger(__name__)

TOOL = "variance"
TABULAR_NOTE = ("The tabular benchmark holds one training run per architecture, so every repeat reads the same "
                "value: cv is 0 and smoothness 1 by construction, not a measurement of run-to-run variance. "
                "Measure variance on a real task (--task).")
#: Fewest reference models in the better half (a spread of fewer values says nothing).
MIN_MODELS = 3


class Verdict(str, Enum):
    """What the repeats say about the proxy's noise against the spread of the models it must rank."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VarianceSettings:
    """How many repeats, of which proxy candidate and model (None: the defaults, see :func:`proxy_variance`),
    and the bars: the separation (spread of the better half of the reference models / run-to-run sd) passes at
    ``pass_separation`` and fails below ``fail_separation``, judged with a ``level`` interval; mean curve
    smoothness at least ``min_smoothness``. See the module docstring for the rule and why these defaults."""

    repeats: int = 5
    candidate: str | None = None
    model: str | None = None
    pass_separation: float = 2.0
    fail_separation: float = 1.0
    level: float = 0.8
    min_smoothness: float = 0.7
    seed: int = 0

    def __post_init__(self) -> None:
        as_int("repeats", self.repeats)
        if self.repeats < 2:
            raise ConfigError("repeats", self.repeats, "at least 2 repeats",
                              "a run-to-run variance needs two runs or more: use --repeats 5 (the default) or more")
        fail = as_float("fail_separation", self.fail_separation)
        if not fail > 0:
            raise ConfigError("fail_separation", self.fail_separation, "a separation > 0",
                              "1 (the default) fails a proxy whose noise is as large as the spread it must rank")
        if not as_float("pass_separation", self.pass_separation) > fail:
            raise ConfigError("pass_separation", self.pass_separation,
                              f"a separation above fail_separation ({fail:g})",
                              "2 (the default) passes a proxy whose noise is at most half the spread it must rank")
        if not 0 < as_float("level", self.level) < 1:
            raise ConfigError("level", self.level, "a confidence level in (0, 1)",
                              "0.8 (the default) is an 80% interval, 10% on each side")
        if not 0 <= as_float("min_smoothness", self.min_smoothness) <= 1:
            raise ConfigError("min_smoothness", self.min_smoothness, "a smoothness in [0, 1]", "0.7 is the default")
        as_int("seed", self.seed, minimum=0)

    def thresholds(self) -> dict[str, float]:
        """The bars, as ``variance.json`` stores them."""
        return {"pass_separation": self.pass_separation, "fail_separation": self.fail_separation,
                "level": self.level, "min_smoothness": self.min_smoothness}


@dataclass(frozen=True)
class Separation:
    """The run-to-run sd against the spread of the better half of the reference models, and the verdict.

    ``noise_sd`` is the sd of the completed repeats (floored at ``resolution / sqrt(12)`` when they are all equal),
    with its chi-square interval ``noise_low``-``noise_high``; ``spread`` the sd of the ``models`` best reference
    models' values on ``basis`` (``proxy``: their proxy accuracies under the same candidate; ``full``: their
    full-training accuracies; ``none``: no values); ``ratio`` the separation with its interval ``low``-``high``.
    """

    verdict: Verdict
    reason: str
    ratio: float = math.nan
    low: float = math.nan
    high: float = math.nan
    level: float = 0.8
    noise_sd: float = math.nan
    noise_low: float = math.nan
    noise_high: float = math.nan
    repeats: int = 0
    spread: float = math.nan
    models: int = 0
    basis: str = "none"
    resolution: float = math.nan

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Separation":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (math.nan if v is None and k not in ("verdict", "reason", "basis") else v)
                      for k, v in data.items() if k in known})


def _finite(values: Sequence[float]) -> np.ndarray:
    return np.asarray([float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)


def resolution(values: Sequence[float]) -> float:
    """The smallest non-zero difference among ``values`` (an upper bound of the metric's step); NaN when none."""
    v = np.unique(_finite(values))
    return float(np.diff(v).min()) if len(v) >= 2 else math.nan


def better_half(values: Sequence[float], ranking: Sequence[float] | None = None) -> np.ndarray:
    """The values of the better half of the models (at least :data:`MIN_MODELS`, when there are that many), ranked
    by ``ranking`` (e.g. full-training accuracy; default: the values themselves). Models with a non-finite value or
    rank are left out."""
    v = np.asarray(values, dtype=float)
    r = v if ranking is None else np.asarray(ranking, dtype=float)
    keep = np.isfinite(v) & np.isfinite(r)
    v, r = v[keep], r[keep]
    k = min(len(v), max(MIN_MODELS, math.ceil(len(v) / 2)))
    return v[np.argsort(-r, kind="stable")[:k]]


def judge_separation(repeats: Sequence[float], models: Sequence[float], *, ranking: Sequence[float] | None = None,
                     basis: str = "proxy", pass_at: float = 2.0, fail_below: float = 1.0,
                     level: float = 0.8) -> Separation:
    """The verdict of the module docstring: ``repeats`` are one model's values over seeds, ``models`` the reference
    models' values on ``basis`` (``proxy``: one run of the same proxy each, so their spread holds one run's noise,
    which is removed; ``full``: full-training accuracies, taken as they are), ranked by ``ranking``."""
    from scipy import stats

    runs = _finite(repeats)
    top = better_half(models, ranking)
    n, k = len(runs), len(top)
    step = resolution([*runs, *top])
    base = {"level": level, "repeats": n, "models": k, "basis": basis, "resolution": step}
    if n < 2:
        return Separation(Verdict.INCONCLUSIVE, f"only {n} repeat(s) completed: a run-to-run sd needs 2 or more "
                                                "(5 is usual)", **base)
    sd = float(runs.std(ddof=1))
    if sd == 0 and math.isfinite(step):
        sd = step / math.sqrt(12)  # all repeats equal: the noise is below the metric's step, not zero
    a = (1 - level) / 2
    chi_hi, chi_lo = stats.chi2.ppf(1 - a, n - 1), stats.chi2.ppf(a, n - 1)
    noise = {"noise_sd": sd, "noise_low": sd * math.sqrt((n - 1) / chi_hi),
             "noise_high": sd * math.sqrt((n - 1) / chi_lo)}
    if k < MIN_MODELS:
        what = "reference models with a proxy value" if basis == "proxy" else "reference models"
        return Separation(Verdict.INCONCLUSIVE, f"only {k} {what}: the spread to compare with needs "
                                                f"{MIN_MODELS} or more", **base, **noise)
    spread = float(top.std(ddof=1))
    if sd == 0:
        return Separation(Verdict.INCONCLUSIVE, "every repeat and every reference model reads the same value: "
                                                "nothing to compare", **base, **noise, spread=spread)
    f = spread ** 2 / sd ** 2
    theta = (f, f / stats.f.ppf(1 - a, k - 1, n - 1), f / stats.f.ppf(a, k - 1, n - 1))
    if basis == "proxy":  # E[spread^2] = T^2 + sigma^2: remove one run's noise
        ratio, low, high = (math.sqrt(max(t - 1.0, 0.0)) for t in theta)
    else:
        ratio, low, high = (math.sqrt(t) for t in theta)
    if ratio >= pass_at and low >= fail_below:
        verdict, why = Verdict.PASS, f"separation >= {pass_at:g} and its low end >= {fail_below:g}: one proxy run " \
                                     "ranks them"
    elif ratio < fail_below and high < pass_at:
        verdict, why = Verdict.FAIL, f"separation < {fail_below:g} and even its high end < {pass_at:g}: one proxy " \
                                     "run cannot rank them; train the proxy longer or validate on more data"
    elif ratio >= fail_below and low > 0:
        if ratio >= pass_at:
            why = (f"separation >= {pass_at:g} but its low end < {fail_below:g}: likely fine, not shown at this "
                   "confidence; more repeats narrow the interval")
        else:
            why = (f"separation between {fail_below:g} and {pass_at:g}: the models differ beyond the noise, but one "
                   "proxy run will misorder close ones; a less reduced proxy lowers the noise")
        verdict = Verdict.WARN
    else:
        verdict, why = Verdict.INCONCLUSIVE, ("the interval reaches from no spread beyond the noise to well "
                                              "separated: run more repeats (--repeats 10)")
    scale = {"proxy": "proxy accuracies", "full": "full-training accuracies (no proxy values: another scale than "
                                                  "the proxy's)"}.get(basis, basis)
    reason = (f"run-to-run sd {sd:.3g} [{noise['noise_low']:.3g}, {noise['noise_high']:.3g}] over {n} repeats vs "
              f"sd {spread:.3g} among the top {k} reference models' {scale}: separation {ratio:.2f} "
              f"({level:.0%} interval {low:.2f} to {high:.2f}); {why}")
    return Separation(verdict, reason, ratio, low, high, spread=spread, **base, **noise)


@dataclass(frozen=True)
class VarianceResult:
    """The repeats' final accuracies (NaN for failed ones), the verdict on their run-to-run sd against the spread
    of the reference models (``separation``; ``verdict`` is its verdict), their coefficient of variation (for
    information), the mean smoothness of their curves, the failure rate, and ``passed``: the verdict is ``pass``
    and the smoothness meets its bar. Results of the old cv rule load with ``verdict`` "" and no separation."""

    target: str
    candidate: str
    model: str
    arch: Any
    repeats: int
    seeds: tuple[int, ...]
    values: tuple[float, ...]
    statuses: tuple[str, ...]
    cv: float
    smoothness: float
    failure_rate: float
    passed: bool
    thresholds: dict[str, float]
    curves: tuple[tuple[tuple[int, float], ...], ...]
    repeat_smoothness: tuple[float, ...] = ()
    reasons: tuple[str | None, ...] = ()
    mean: float = math.nan
    std: float = math.nan
    outcome: str = ""
    note: str | None = None
    directory: str = ""
    artifacts: tuple[str, ...] = field(default_factory=tuple)
    verdict: str = ""
    separation: Separation | None = None

    @property
    def failed(self) -> int:
        """Repeats that did not complete (failed, invalid or missing)."""
        return sum(1 for s in self.statuses if s != TrialStatus.COMPLETED)

    def to_dict(self) -> dict[str, Any]:
        """What ``variance.json`` holds."""
        data = asdict(self)
        data["curves"] = [[list(p) for p in c] for c in self.curves]
        data["separation"] = self.separation.to_dict() if self.separation is not None else None
        return data

    def summary(self) -> str:
        """One line: the verdict, why, and how many repeats completed."""
        verdict = self.verdict or ("passes" if self.passed else "fails") + " the old cv rule"
        return (f"proxy {self.candidate} on model {self.model}: {verdict} ({self.outcome}); "
                f"{self.repeats - self.failed} of {self.repeats} repeats completed")


def variance_path(target: DesignTarget) -> Path:
    """Where ``raynas proxy variance`` keeps its result (``variance.json``)."""
    return target.workspace / TOOL / "variance.json"


def smoothness(values: Sequence[float]) -> float:
    """How steadily a validation curve rises: 1 - (sum of its decreases) / (sum of its absolute changes).

    1.0 for a curve that never falls (or one with a single point, or no change); 0.0 for one that only falls.
    Non-finite values are left out.
    """
    v = np.asarray([x for x in values if isinstance(x, (int, float)) and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return 1.0
    steps = np.diff(v)
    total = float(np.abs(steps).sum())
    if total == 0:
        return 1.0
    return 1.0 - float(-steps[steps < 0].sum()) / total


def coefficient_of_variation(values: Sequence[float]) -> float:
    """std (ddof=1) / mean of the finite values; NaN with fewer than two or a zero mean."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if len(v) < 2 or float(v.mean()) == 0:
        return math.nan
    return float(v.std(ddof=1) / v.mean())


def proxy_variance(target: DesignTarget, settings: VarianceSettings, *, overwrite: bool = False,
                   progress_interval_s: float = 5.0) -> VarianceResult:
    """Run (or resume) ``settings.repeats`` trainings of one model with a proxy candidate and different seeds.

    The candidate is the one named in ``settings``, else the one ``raynas proxy search`` chose, else the target's
    only candidate; when the search chose none (no candidate passed) :class:`NoProxyChosen` says so and which
    candidates failed why -- nothing is measured unless a candidate is named; the model
    to the reference model of ``raynas proxy select-models`` with the median full-training accuracy, else the
    target's baseline architecture. The repeats' sd is judged against the candidate's proxy accuracies of the
    reference models in the proxy search's trial store (else their full-training accuracies; see the module
    docstring). Writes ``variance.json``, ``curves.parquet`` and ``curves.png`` in
    ``<workspace>/variance`` and logs stage ``variance`` to MLflow (metrics ``cv`` and ``smoothness``).
    """
    candidate = _candidate(target, settings.candidate)
    model, arch = _model(target, settings.model)
    with ray_session(target):
        return _variance(target, settings, candidate, model, arch, overwrite=overwrite,
                         progress_interval_s=progress_interval_s)


class NoProxyChosen(RaynasError):
    """``raynas proxy variance`` was asked for the chosen proxy, and there is none (no candidate passed the proxy
    search, or no search chose among several candidates): it measures a candidate only when one is named."""


def _candidate(target: DesignTarget, name: str | None) -> Any:
    """The candidate to measure: the one named (``--candidate``), else the one ``raynas proxy search`` chose, else
    the only candidate there is. Never a silent fallback: when the search chose none, :class:`NoProxyChosen`."""
    candidates = target.candidates()
    known = {c.name: c for c in candidates}
    from raynas.proxy._search import load_result, result_path

    if name is not None:
        if name not in known:
            raise UnknownNameError("proxy candidate", name, known, "Candidates come from the task's proxy_candidates "
                                   "(or are generated from its proxy variant).")
        chosen = load_result(target).chosen if result_path(target).is_file() else name
        if chosen != name:
            log.warning(f"{TOOL}: measuring proxy {name} because --candidate names it, but `raynas proxy search` "
                        + ("chose no proxy (no candidate passed)" if chosen is None else f"chose {chosen}")
                        + ": `raynas proxy check` will not pass this variance")
        return known[name]

    names = ", ".join(known)
    flags = f" --task {target.task}" if getattr(target, "task", None) else ""
    if not result_path(target).is_file():
        if len(candidates) == 1:
            return candidates[0]
        raise NoProxyChosen(f"which proxy candidate should `raynas proxy variance` measure? No `raynas proxy search` "
                            f"has chosen one of the {len(candidates)} candidates ({names}): run `raynas proxy "
                            f"search{flags}` first, or name one with --candidate NAME")
    search = load_result(target)
    if search.chosen is None:
        why = "; ".join(f"{c.name}: {c.outcome}" for c in search.candidates) or "no candidates"
        raise NoProxyChosen(f"no proxy candidate passed `raynas proxy search` ({why}), so there is no chosen proxy "
                            "to measure and `raynas proxy variance` measures none by default; make a proxy pass first "
                            "(cheaper reductions of fewer settings, see `raynas proxy search`), or measure one anyway "
                            f"with --candidate NAME (one of {names}); `raynas proxy check` will not pass it")
    if search.chosen not in known:
        raise NoProxyChosen(f"`raynas proxy search` chose proxy {search.chosen!r}, which is no longer one of the "
                            f"candidates ({names}): run `raynas proxy search{flags}` again, or name one with "
                            "--candidate NAME")
    return known[search.chosen]


def _model(target: DesignTarget, name: str | None) -> tuple[str, Any]:
    from raynas.proxy._select import ReferenceSet, references_path

    path = references_path(target)
    if name == "baseline":
        return "baseline", target.baseline_arch()
    if name is not None:
        selection = ReferenceSet.load(path)  # ConfigError naming select-models when missing
        models = {m.model: m for m in selection.models}
        if name not in models:
            raise UnknownNameError("reference model", name, [*models, "baseline"],
                                   "Models are those of `raynas proxy select-models` (or `baseline`).")
        return name, models[name].arch
    refs = ReferenceSet.load(path).references if path.is_file() else []
    if refs:
        ordered = sorted(refs, key=lambda m: m.full_accuracy)
        median = ordered[(len(ordered) - 1) // 2]
        return median.model, median.arch
    try:
        return "baseline", target.baseline_arch()
    except ConfigError as exc:
        raise ConfigError("model", None, "a model to repeat: a reference model of `raynas proxy select-models` or "
                          "the target's baseline architecture",
                          f"run `raynas proxy select-models` first, or give the task a baseline ({exc.fix})") from exc


def _variance(target: DesignTarget, settings: VarianceSettings, candidate: Any, model: str, arch: Any, *, overwrite: bool,
              progress_interval_s: float) -> VarianceResult:
    label = target.task or "nasbench201"
    params = {"target": label, "repeats": settings.repeats, "candidate": candidate.name, "model": model, "arch": arch,
              "seed": settings.seed}
    root = target.stage_dir(TOOL, settings=params, overwrite=overwrite)
    thresholds = settings.thresholds()
    tracking = target.tracking(TOOL, root, params={**params, **thresholds}, variant=candidate.name)
    seeds = [settings.seed * 1000 + i for i in range(settings.repeats)]
    jobs = [Job(i + 1, arch, seeds[i], candidate.name, {"candidate": candidate.name, "model": model,
                                                       "repeat": str(i)}) for i in range(settings.repeats)]
    log.info(f"{TOOL}: proxy {candidate.name} on model {model}, {settings.repeats} repeats with different "
             "seeds, all at once")
    evaluators = {candidate.name: target.candidate_evaluator(candidate, root, stage=Stage.VARIANCE)}
    jobs_result = run_tool_jobs(target, root, jobs, evaluators, tracking=tracking,
                                what=f"{TOOL} repeats of {candidate.name}",
                                progress_interval_s=progress_interval_s)
    records = [jobs_result.records.get(job.number) for job in jobs]
    final_epoch = target.target.proxy_epochs if target.tabular else None  # the table's declared proxy epochs
    rows = [curve_rows(r, final_epoch=final_epoch) for r in records]
    values = [metric(r, target.accuracy_key) for r in records]
    statuses = ["missing" if r is None else r.status for r in records]
    reasons = [None if r is None else r.failure_reason for r in records]
    completed = [i for i, v in enumerate(values) if math.isfinite(v)]
    per_repeat = [smoothness([p["val_accuracy"] for p in rows[i]]) if i in completed else math.nan
                  for i in range(settings.repeats)]
    done = [v for v in values if math.isfinite(v)]
    cv = coefficient_of_variation(done)
    smooth = float(np.mean([per_repeat[i] for i in completed])) if completed else math.nan
    failure_rate = (settings.repeats - len(completed)) / settings.repeats
    separation = _separation(target, candidate.name, done, settings)
    outcome, passed = _outcome(separation, smooth, len(completed), settings)
    curves_path = _write_curves(root / "curves.parquet", rows, seeds)
    png = _plot(root / "curves.png", rows, seeds, candidate.name, model)
    result = VarianceResult(
        target=label, candidate=candidate.name, model=model, arch=arch, repeats=settings.repeats, seeds=tuple(seeds),
        values=tuple(values), statuses=tuple(statuses), cv=cv, smoothness=smooth, failure_rate=failure_rate,
        passed=passed, thresholds=thresholds,
        curves=tuple(tuple((int(p["epoch"]), float(p["val_accuracy"])) for p in r) for r in rows),
        repeat_smoothness=tuple(per_repeat), reasons=tuple(reasons),
        mean=float(np.mean(done)) if done else math.nan,
        std=float(np.std(done, ddof=1)) if len(done) >= 2 else math.nan, outcome=outcome,
        note=TABULAR_NOTE if target.tabular else None, directory=str(root),
        artifacts=(str(curves_path), str(png)), verdict=separation.verdict.value, separation=separation)
    saved = write_json(variance_path(target), result.to_dict())
    finish_tool(tracking, status="failed" if separation.verdict is Verdict.FAIL else "completed",
                reason=result.summary(),
                metrics={"cv": cv, "smoothness": smooth, "failure_rate": failure_rate,
                         "separation": separation.ratio, "run_to_run_sd": separation.noise_sd},
                artifacts=[curves_path, png, saved])
    log.info(f"{TOOL}: {result.summary()}; results in {root}")
    return result


def _separation(target: DesignTarget, candidate: str, values: Sequence[float], settings: VarianceSettings) -> Separation:
    """The verdict for ``values`` (the completed repeats) of ``candidate`` on ``target``."""
    bars = {"pass_at": settings.pass_separation, "fail_below": settings.fail_separation, "level": settings.level}
    if target.tabular:
        judged = judge_separation(values, [], basis="none", **bars)
        return Separation(**{**asdict(judged), "verdict": Verdict.INCONCLUSIVE, "reason": TABULAR_NOTE})
    proxy, full = reference_values(target, candidate)
    models = [m for m in full if math.isfinite(proxy.get(m, math.nan))]
    if len(models) >= MIN_MODELS:
        return judge_separation(values, [proxy[m] for m in models], ranking=[full[m] for m in models],
                                basis="proxy", **bars)
    if len(proxy) >= MIN_MODELS and not full:  # proxy values without the reference set: rank by them
        return judge_separation(values, list(proxy.values()), basis="proxy", **bars)
    if full:
        return judge_separation(values, list(full.values()), basis="full", **bars)
    judged = judge_separation(values, [], basis="none", **bars)
    if judged.repeats < 2:
        return judged
    return Separation(**{**asdict(judged), "verdict": Verdict.INCONCLUSIVE,
                         "reason": f"run-to-run sd {judged.noise_sd:.3g} over {judged.repeats} repeats, but no "
                                   "reference models to compare it with: run `raynas proxy select-models` and "
                                   "`raynas proxy search`, then this again (finished repeats are reused)"})


def reference_values(target: DesignTarget, candidate: str) -> tuple[dict[str, float], dict[str, float]]:
    """The reference models' proxy accuracies under ``candidate`` (from the proxy search's trial store) and their
    full-training accuracies (from ``raynas proxy select-models``), by model; empty when missing."""
    from raynas.proxy._select import ReferenceSet, references_path
    from raynas.tune import latest_records

    full: dict[str, float] = {}
    path = references_path(target)
    if path.is_file():
        full = {m.model: float(m.full_accuracy) for m in ReferenceSet.load(path).references}
    proxy: dict[str, float] = {}
    store = target.workspace / "proxy-search" / "trials"
    if store.is_dir():
        for record in latest_records(store).values():
            labels = record.labels or {}
            value = metric(record, target.accuracy_key)
            if labels.get("candidate") == candidate and labels.get("model") and math.isfinite(value):
                proxy[str(labels["model"])] = value
    return proxy, full


def _outcome(separation: Separation, smooth: float, completed: int,
             settings: VarianceSettings) -> tuple[str, bool]:
    parts = [separation.reason]
    smooth_ok = math.isfinite(smooth) and smooth >= settings.min_smoothness
    if completed >= 1:
        parts.append(f"smoothness {smooth:.3f} {'>=' if smooth_ok else '<'} {settings.min_smoothness:g}")
    return "; ".join(parts), separation.verdict is Verdict.PASS and smooth_ok


def _write_curves(path: Path, rows: Sequence[Sequence[dict[str, Any]]], seeds: Sequence[int]) -> Path:
    import pandas as pd

    frames = [curve_frame(curve, {"repeat": i, "seed": seed}) for i, (curve, seed) in enumerate(zip(rows, seeds))]
    frames = [f for f in frames if len(f)] or frames[:1]
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
    return path


def _plot(path: Path, rows: Sequence[Sequence[dict[str, Any]]], seeds: Sequence[int], candidate: str,
          model: str) -> Path:
    from raynas.proxy._plots import plot_curves

    curves = {f"repeat {i} (seed {s})": [(p["epoch"], p["val_accuracy"]) for p in r]
              for i, (r, s) in enumerate(zip(rows, seeds))}
    return plot_curves(curves, path, title=f"Proxy {candidate}: repeats of model {model}")


def load_variance(target: DesignTarget) -> VarianceResult:
    """The saved result of the last ``raynas proxy variance`` (ConfigError naming the command when there is none)."""
    path = variance_path(target)
    if not path.is_file():
        raise missing_result("variance", path, "raynas proxy variance", target)
    data = json.loads(path.read_text())

    def number(v: Any) -> float:
        return math.nan if v is None else float(v)

    for key in ("cv", "smoothness", "failure_rate", "mean", "std"):
        data[key] = number(data.get(key))
    data["values"] = tuple(number(v) for v in data["values"])
    data["repeat_smoothness"] = tuple(number(v) for v in data.get("repeat_smoothness", ()))
    data["curves"] = tuple(tuple((int(e), float(a)) for e, a in c) for c in data["curves"])
    for key in ("seeds", "statuses", "reasons", "artifacts"):
        data[key] = tuple(data.get(key, ()))
    separation = data.get("separation")
    data["separation"] = Separation.from_dict(separation) if isinstance(separation, dict) else None
    known = {f.name for f in fields(VarianceResult)}
    return VarianceResult(**{k: v for k, v in data.items() if k in known})


__all__ = ["MIN_MODELS", "NoProxyChosen", "Separation", "TABULAR_NOTE", "VarianceResult", "VarianceSettings", "Verdict",
           "better_half", "coefficient_of_variation", "judge_separation", "load_variance", "proxy_variance",
           "reference_values", "resolution", "smoothness", "variance_path"]
