"""``raynas proxy check``: the final checklist before a search (workflow steps 5-6).

One row per check, each ``pass``, ``warn`` or ``fail`` with a value and a one-line detail naming the fix:
the baseline, the proxy's rank correlation (on the reference models and estimated over the whole space),
run-to-run variance and curve smoothness, the proxy cost per trial against the time budget, the failure rate
and GPU memory headroom of the probe runs, the data split, the search-space size and the options per
decision. Every check reads what an earlier tool saved; a missing input gives a ``warn`` or ``fail`` naming the
command to run. The results go to ``check.json`` in ``<workspace>/check`` and to an MLflow parent run of stage
``check``.

The baseline and variance results are read straight from their JSON files (``baseline/baseline.json``,
``variance/variance.json``), so this module does not depend on the tools that write them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, TextIO

from raynas._files import write_json
from raynas._log import log_to
from raynas._parse import as_float, as_int
from raynas.errors import ConfigError, RaynasError
from raynas.proxy._baseline import baseline_path
from raynas.proxy._common import finish_tool
from raynas.proxy._variance import variance_path
from raynas.trials import TrialStatus

if TYPE_CHECKING:
    from raynas.proxy._target import DesignTarget

TOOL = "check"
#: Decisions with more options than this get a warning (controllers learn slowly on very wide decisions).
MAX_OPTIONS = 20


class CheckResult(str, Enum):
    """The outcome of one check: ``fail`` blocks the search, ``warn`` is worth a look, ``pass`` is fine."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CheckSettings:
    """The search the proxy is checked for, and the check thresholds; validated on construction.

    ``trials_to_converge``, ``max_concurrent``, ``gpus_per_trial``, ``max_trials``, ``timeout_days`` and
    ``max_total_days`` size the planned search (see :mod:`raynas.proxy._estimate`); ``memory_headroom`` is the
    share of GPU memory a probe run must leave free; the failure rates bound (failed + invalid) / finished probe
    runs; ``max_space_size`` is the largest search space searched in one go.
    """

    max_trials: int = 5000
    trials_to_converge: int = 3000
    max_concurrent: int = 20
    gpus_per_trial: float = 2.0
    timeout_days: float = 14.0
    max_total_days: float = 28.0
    memory_headroom: float = 0.2
    max_failure_rate: float = 0.2
    warn_failure_rate: float = 0.05
    max_space_size: float = 1e20

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        put("trials_to_converge", as_int("trials_to_converge", self.trials_to_converge, minimum=1))
        put("max_trials", as_int("max_trials", self.max_trials, minimum=1))
        if self.max_trials < self.trials_to_converge:
            raise ConfigError("max_trials", self.max_trials,
                              f"at least trials_to_converge ({self.trials_to_converge}): max_trials is the ceiling",
                              f"raise max_trials to {self.trials_to_converge} or more, or lower trials_to_converge")
        put("max_concurrent", as_int("max_concurrent", self.max_concurrent, minimum=1))
        gpus = as_float("gpus_per_trial", self.gpus_per_trial)
        if not (math.isfinite(gpus) and gpus >= 0):
            raise ConfigError("gpus_per_trial", self.gpus_per_trial, "a finite number >= 0",
                              "give accelerators per trial (default 2; 0 for a CPU search)")
        put("gpus_per_trial", gpus)
        for name, what in (("timeout_days", "the job timeout in days (default 14)"),
                           ("max_total_days", "the most days in all, resumes included (default 28)"),
                           ("max_space_size", "the largest search space searched in one go (default 1e20)")):
            value = as_float(name, getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(name, getattr(self, name), "a finite number > 0", f"give {what}")
            put(name, value)
        if self.max_total_days < self.timeout_days:
            raise ConfigError("max_total_days", self.max_total_days, f"at least timeout_days ({self.timeout_days:g})",
                              "max_total_days covers the first run and its resumes")
        headroom = as_float("memory_headroom", self.memory_headroom)
        if not 0 <= headroom < 1:
            raise ConfigError("memory_headroom", self.memory_headroom, "a share of GPU memory in [0, 1)",
                              "0.2 keeps 20% of GPU memory free")
        put("memory_headroom", headroom)
        for name in ("warn_failure_rate", "max_failure_rate"):
            rate = as_float(name, getattr(self, name))
            if not 0 <= rate <= 1:
                raise ConfigError(name, getattr(self, name), "a rate in [0, 1]", "e.g. 0.05 to warn, 0.2 to fail")
            put(name, rate)
        if self.warn_failure_rate > self.max_failure_rate:
            raise ConfigError("warn_failure_rate", self.warn_failure_rate,
                              f"at most max_failure_rate ({self.max_failure_rate:g})",
                              "lower warn_failure_rate or raise max_failure_rate")


@dataclass(frozen=True)
class CheckRow:
    """One check: its ``name``, ``result``, the measured ``value`` (text) and a one-line ``detail`` with the fix."""

    name: str
    result: CheckResult
    value: str
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "result", CheckResult(self.result))

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "result": self.result.value, "value": self.value, "detail": self.detail}


@dataclass(frozen=True)
class CheckReport:
    """All rows of a check run, where it was written, and the settings it used."""

    rows: tuple[CheckRow, ...]
    settings: dict[str, Any]
    directory: str = ""

    @property
    def passed(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return not self.failed

    @property
    def failed(self) -> list[CheckRow]:
        return [r for r in self.rows if r.result is CheckResult.FAIL]

    @property
    def warned(self) -> list[CheckRow]:
        return [r for r in self.rows if r.result is CheckResult.WARN]

    def row(self, name: str) -> CheckRow:
        """The row called ``name`` (KeyError when there is none)."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        counts = Counter(r.result.value for r in self.rows)
        return {result.value: counts.get(result.value, 0) for result in CheckResult}

    def summary(self) -> str:
        c = self.counts()
        text = f"{len(self.rows)} checks: {c['pass']} pass, {c['warn']} warn, {c['fail']} fail"
        if self.failed:
            return f"{text} ({', '.join(r.name for r in self.failed)}): fix the failures before the search"
        if self.warned:
            return f"{text} ({', '.join(r.name for r in self.warned)}): ready to search; look at the warnings first"
        return f"{text}: ready to search"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "summary": self.summary(), "counts": self.counts(),
                "rows": [r.to_dict() for r in self.rows], "settings": dict(self.settings),
                "directory": self.directory}


# --- inputs ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Inputs:
    """What the checks read, loaded once (each with the reason it is missing)."""

    search: Any  # ProxySearchResult | None
    search_error: str | None
    chosen: Any  # CandidateResult | None
    baseline: dict[str, Any] | None
    baseline_error: str | None
    variance: dict[str, Any] | None
    variance_error: str | None


def _command(target: DesignTarget, tool: str) -> str:
    """The command that makes a missing input, for this target."""
    from raynas.experiment import DEFAULT_WORKDIR

    flags = ""
    if target.task is not None:
        flags += f" --task {target.task}"
    elif target.table is not None:
        flags += f" --table {target.table}"
    if target.name != f"{target.label}-proxy":
        flags += f" --name {target.name}"
    if target.workdir != DEFAULT_WORKDIR:
        flags += f" --workdir {target.workdir}"
    return f"`raynas {tool}{flags}`"


def _read_json(path: Path, tool: str, what: str, target: DesignTarget) -> tuple[dict[str, Any] | None, str | None]:
    if not path.is_file():
        return None, f"no {what} result: run {_command(target, tool)}"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"cannot read {path} ({type(exc).__name__}: {exc}): run {_command(target, tool)} again"
    if not isinstance(data, dict):
        return None, f"{path} is not a JSON object: run {_command(target, tool)} again"
    return data, None


def _load_inputs(target: DesignTarget) -> _Inputs:
    from raynas.proxy._search import load_result, result_path

    search = chosen = None
    search_error = None
    if not result_path(target).is_file():
        search_error = f"no proxy search result: run {_command(target, 'proxy search')}"
    else:
        try:
            search = load_result(target)
        except (RaynasError, OSError, ValueError, TypeError, KeyError) as exc:
            search_error = (f"cannot read {result_path(target)} ({type(exc).__name__}: {exc}): run "
                            f"{_command(target, 'proxy search')} again")
        else:
            chosen = next((c for c in search.candidates if c.name == search.chosen), None)
    baseline, baseline_error = _read_json(baseline_path(target), "baseline", "baseline", target)
    variance, variance_error = _read_json(variance_path(target), "proxy variance", "variance", target)
    return _Inputs(search, search_error, chosen, baseline, baseline_error, variance, variance_error)


def _number(value: Any) -> float:
    """A finite float, or NaN for anything else (None, text, booleans, NaN)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan


def _sci(size: int) -> str:
    """A (possibly huge) integer in scientific notation."""
    if size <= 0:
        return "0"
    exponent = len(str(size)) - 1
    mantissa = size / 10 ** exponent if exponent < 300 else int(str(size)[:3]) / 100
    if round(mantissa, 2) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.2f}e+{exponent:02d}"


# --- rows --------------------------------------------------------------------------------------------------------
def _check_baseline(target: DesignTarget, inputs: _Inputs) -> CheckRow:
    name = "baseline"
    data = inputs.baseline
    if data is None:
        return CheckRow(name, CheckResult.FAIL, "missing", str(inputs.baseline_error))
    status = str(data.get("status"))
    accuracy = _number(data.get("accuracy"))
    if status != TrialStatus.COMPLETED.value:
        return CheckRow(name, CheckResult.FAIL, status,
                        f"baseline full training {status}: fix it and run {_command(target, 'baseline')} again")
    if not math.isfinite(accuracy):
        return CheckRow(name, CheckResult.FAIL, "no accuracy",
                        f"baseline completed without a validation accuracy: run {_command(target, 'baseline')} again")
    epochs, cost = data.get("epochs"), _number(data.get("cost_s"))
    parts = [f"{epochs} epochs" if epochs is not None else "", f"{cost:.3g} s" if math.isfinite(cost) else ""]
    extra = ", ".join(p for p in parts if p)
    return CheckRow(name, CheckResult.PASS, f"{accuracy:.4f}",
                    f"baseline full-trained{f' ({extra})' if extra else ''}: validation accuracy {accuracy:.4f}")


def _min_tau(inputs: _Inputs) -> float:
    tau = _number((inputs.search.settings or {}).get("min_tau")) if inputs.search is not None else math.nan
    return tau if math.isfinite(tau) else 0.65


def _check_rank(target: DesignTarget, inputs: _Inputs) -> CheckRow:
    name = "rank correlation"
    if inputs.search is None:
        return CheckRow(name, CheckResult.FAIL, "missing", str(inputs.search_error))
    if inputs.chosen is None:
        return CheckRow(name, CheckResult.FAIL, "no proxy", inputs.search.summary())
    c, bar = inputs.chosen, _min_tau(inputs)
    tau = _number(c.kendall_tau)
    if math.isfinite(tau) and tau >= bar:
        return CheckRow(name, CheckResult.PASS, f"{tau:.3f}",
                        f"proxy {c.name}: Kendall tau {tau:.3f} >= {bar:g} on {c.valid}/{c.models} reference models")
    return CheckRow(name, CheckResult.FAIL, f"{tau:.3f}" if math.isfinite(tau) else "-",
                    f"proxy {c.name}: Kendall tau below {bar:g}: run {_command(target, 'proxy search')} again with "
                    "cheaper reductions of fewer settings")


def _check_space_tau(target: DesignTarget, inputs: _Inputs) -> CheckRow:
    name = "whole-space correlation"
    if inputs.search is None:
        return CheckRow(name, CheckResult.WARN, "missing", str(inputs.search_error))
    if inputs.chosen is None:
        return CheckRow(name, CheckResult.WARN, "no proxy", "no proxy was chosen (see rank correlation)")
    c, bar = inputs.chosen, _min_tau(inputs)
    tau, low, high = _number(c.space_tau), _number(c.space_tau_low), _number(c.space_tau_high)
    if getattr(c, "space_note", None):  # too few reference models: no figure, inconclusive
        return CheckRow(name, CheckResult.WARN, "inconclusive", f"inconclusive: {c.space_note}, then "
                        f"{_command(target, 'proxy search')} again")
    if not math.isfinite(tau):
        return CheckRow(name, CheckResult.WARN, "-",
                        "not estimated (the sampled models lack round-1 measurements): run "
                        f"{_command(target, 'proxy select-models')} and {_command(target, 'proxy search')} again")
    interval = f"[{low:.2f}, {high:.2f}]" if math.isfinite(low) and math.isfinite(high) else "[-]"
    value = f"{tau:.3f} {interval}"
    if tau >= bar:
        return CheckRow(name, CheckResult.PASS, value,
                        f"estimated tau over the whole space {tau:.3f} >= {bar:g} (90% interval {interval})")
    return CheckRow(name, CheckResult.WARN, value,
                    f"estimated tau over the whole space {tau:.3f} < {bar:g} (90% interval {interval}): the reference "
                    "set may flatter the proxy; try a less reduced proxy or more reference models")


#: How a variance verdict shows in the checklist (inconclusive: a warning with the reason).
_VARIANCE_RESULTS = {"pass": CheckResult.PASS, "warn": CheckResult.WARN, "fail": CheckResult.FAIL,
                     "inconclusive": CheckResult.WARN}


def _check_variance(target: DesignTarget, inputs: _Inputs) -> CheckRow:
    """The proxy's run-to-run sd against the spread of the top reference models (see :mod:`raynas.proxy._variance`):
    its verdict, with the figures."""
    name = "variance"
    data = inputs.variance
    if data is None:
        return CheckRow(name, CheckResult.WARN, "missing", str(inputs.variance_error))
    repeats, model, candidate = data.get("repeats"), data.get("model"), data.get("candidate")
    rerun = (f"run {_command(target, 'proxy variance')} again with the same --repeats, --candidate and --model "
             "(finished repeats are reused; --overwrite starts over)")
    sep = data.get("separation")
    verdict = data.get("verdict")
    if not isinstance(sep, dict) or verdict not in _VARIANCE_RESULTS:
        cv = _number(data.get("cv"))
        return CheckRow(name, CheckResult.WARN, f"cv {cv:.3g}" if math.isfinite(cv) else "-",
                        f"{variance_path(target)} was measured with the old rule (a fixed cv bar), which does not "
                        f"compare the noise with the spread of the models the search must rank: {rerun}")
    chosen = inputs.chosen.name if inputs.chosen is not None else None
    ratio, low, high = _number(sep.get("ratio")), _number(sep.get("low")), _number(sep.get("high"))
    value = f"separation {ratio:.2f} [{low:.2f}, {high:.2f}]" if math.isfinite(ratio) else str(verdict)
    if chosen is None:  # never a pass for a proxy no search chose (e.g. measured with an explicit --candidate)
        why = ("no proxy candidate passed the proxy search (see rank correlation)" if inputs.search is not None
               else f"no proxy search chose it ({inputs.search_error})")
        return CheckRow(name, CheckResult.WARN, value,
                        f"{verdict} for proxy {candidate} ({repeats} repeats of {model}), but {why}: the noise of a "
                        "proxy that was not chosen does not qualify the search's proxy; make a proxy pass `raynas "
                        f"proxy search`, then run {_command(target, 'proxy variance')} again")
    if chosen is not None and candidate is not None and str(candidate) != chosen:
        return CheckRow(name, CheckResult.WARN, value,
                        f"measured with proxy {candidate}, but the chosen proxy is {chosen}: run "
                        f"{_command(target, 'proxy variance')} again")
    result = _VARIANCE_RESULTS[verdict]
    sd, spread, models = _number(sep.get("noise_sd")), _number(sep.get("spread")), sep.get("models")
    what = f"{repeats} repeats of {model} with proxy {candidate}"
    if not (math.isfinite(ratio) and math.isfinite(sd) and math.isfinite(spread)):
        return CheckRow(name, result, value, f"{verdict} over {what}: {sep.get('reason')}")
    basis = "" if sep.get("basis") == "proxy" else " (their full-training accuracies: no proxy values)"
    figures = (f"run-to-run sd {sd:.3g} vs {spread:.3g} between the top {models} reference models{basis} "
               f"({what}; separation {ratio:.2f}, interval {low:.2f} to {high:.2f})")
    tail = {"pass": "one proxy run can rank them",
            "fail": "one proxy run cannot rank them: train the proxy longer or validate on more data",
            "warn": "one proxy run will misorder close models: a less reduced proxy lowers the noise, more repeats "
                    "narrow the interval",
            "inconclusive": "inconclusive: the interval spans both noise-swamped and well separated; run "
                            f"{_command(target, 'proxy variance')} with more --repeats (e.g. 10)"}[verdict]
    return CheckRow(name, result, value, f"{figures}: {tail}")


def _check_smoothness(target: DesignTarget, inputs: _Inputs) -> CheckRow:
    name = "curve smoothness"
    data = inputs.variance
    if data is None:
        return CheckRow(name, CheckResult.WARN, "missing", str(inputs.variance_error))
    smooth = _number(data.get("smoothness"))
    bar = _number((data.get("thresholds") or {}).get("min_smoothness"))
    rerun = _command(target, "proxy variance")
    if not math.isfinite(smooth) or not math.isfinite(bar):
        missing = "smoothness" if not math.isfinite(smooth) else "thresholds.min_smoothness"
        return CheckRow(name, CheckResult.WARN, f"{smooth:.3f}" if math.isfinite(smooth) else "-",
                        f"{variance_path(target)} has no {missing}: run {rerun} again")
    if smooth >= bar:
        return CheckRow(name, CheckResult.PASS, f"{smooth:.3f}", f"validation curve smoothness {smooth:.3f} >= {bar:g}")
    return CheckRow(name, CheckResult.WARN, f"{smooth:.3f}",
                    f"validation curve smoothness {smooth:.3f} < {bar:g}: the proxy's last epochs jump around; lower "
                    "the learning rate at the end (cosine schedule) or validate on more data")


def _check_cost(target: DesignTarget, inputs: _Inputs, settings: CheckSettings) -> CheckRow:
    from raynas.proxy._estimate import EstimateInputs, _num, estimate

    name = "proxy cost per trial"
    if inputs.search is None:
        return CheckRow(name, CheckResult.WARN, "missing", str(inputs.search_error))
    if inputs.chosen is None:
        return CheckRow(name, CheckResult.WARN, "no proxy", "no proxy was chosen, so its cost is unknown "
                                                            "(see rank correlation)")
    seconds = _number(inputs.chosen.cost_per_model_s)
    if not (math.isfinite(seconds) and seconds > 0):
        return CheckRow(name, CheckResult.WARN, "-", f"proxy {inputs.chosen.name} has no measured cost: run "
                                                     f"{_command(target, 'proxy search')} again")
    hours = seconds / 3600
    s = settings
    result = estimate(EstimateInputs(
        trials_to_converge=s.trials_to_converge, proxy_hours_per_trial=hours, max_concurrent=s.max_concurrent,
        gpus_per_trial=s.gpus_per_trial, max_trials=s.max_trials, timeout_days=s.timeout_days,
        max_total_days=s.max_total_days, source=f"proxy search: {inputs.chosen.name}"))
    value = f"{hours:.3g} h/trial, {_num(result.days)} days"
    plan = (f"{_num(s.trials_to_converge)} trials / {s.max_concurrent} concurrent * {hours:.3g} h = "
            f"{_num(result.days)} days")
    if result.fits_timeout:
        return CheckRow(name, CheckResult.PASS, value, f"{plan} <= the {_num(s.timeout_days)}-day timeout")
    if result.fits_resume_policy:
        fix = ""
        if result.max_concurrent_for_timeout is not None:
            fix = f"; --max-concurrent-search {result.max_concurrent_for_timeout} needs none"
        return CheckRow(name, CheckResult.WARN, value,
                        f"{plan} > the {_num(s.timeout_days)}-day timeout: needs "
                        f"{result.resumes_needed} resume(s) (within {_num(s.max_total_days)} days){fix}")
    fit = result.max_concurrent_for_policy
    fix = (f"raise --max-concurrent-search to {fit} ({_num(fit * s.gpus_per_trial)} GPUs)" if fit is not None
           else "one trial alone is too long")
    return CheckRow(name, CheckResult.FAIL, value,
                    f"{plan} > {_num(s.max_total_days)} days in all: {fix}, or use a cheaper proxy")


def _probe_records(target: DesignTarget) -> list[Any]:
    """The latest record of every probe job (proxy search and variance runs) that finished."""
    from raynas.tune import FINISHED, latest_records

    records = []
    for tool in ("proxy-search", "variance"):
        store = target.workspace / tool / "trials"
        if store.is_dir():
            records += [r for r in latest_records(store).values() if r.status in FINISHED]
    return records


def _check_failures(target: DesignTarget, records: list[Any], settings: CheckSettings) -> CheckRow:
    name = "failure rate"
    if not records:
        return CheckRow(name, CheckResult.WARN, "no runs",
                        f"no finished probe runs: run {_command(target, 'proxy search')} and "
                        f"{_command(target, 'proxy variance')}")
    bad = [r for r in records if r.status.counts_as_failure()]
    rate = len(bad) / len(records)
    value = f"{rate:.1%} ({len(bad)}/{len(records)})"
    if rate < settings.warn_failure_rate:
        return CheckRow(name, CheckResult.PASS, value,
                        f"{len(bad)} of {len(records)} probe runs failed or were invalid "
                        f"(< {settings.warn_failure_rate:.0%})")
    reasons = Counter(str(r.failure_reason or r.status).splitlines()[0][:80] for r in bad)
    common, count = reasons.most_common(1)[0]
    cause = f"most common: {common!r} ({count}x)"
    if rate < settings.max_failure_rate:
        return CheckRow(name, CheckResult.WARN, value,
                        f"{rate:.1%} of probe runs failed or were invalid (>= {settings.warn_failure_rate:.0%}); "
                        f"{cause}: fix it before the search")
    return CheckRow(name, CheckResult.FAIL, value,
                    f"{rate:.1%} of probe runs failed or were invalid (>= {settings.max_failure_rate:.0%}); {cause}: "
                    "fix the trainer or the space (invalid models) before the search")


def _check_memory(records: list[Any], settings: CheckSettings) -> CheckRow:
    name = "GPU memory headroom"
    worst: tuple[float, float, float] | None = None  # (share, peak, total)
    for record in records:
        metrics = record.metrics if isinstance(record.metrics, Mapping) else {}
        peak, total = _number(metrics.get("gpu_peak_mb")), _number(metrics.get("gpu_total_mb"))
        if math.isfinite(peak) and math.isfinite(total) and total > 0:
            share = peak / total
            if worst is None or share > worst[0]:
                worst = (share, peak, total)
    if worst is None:
        return CheckRow(name, CheckResult.PASS, "n/a (no GPU used)", "probe runs report no GPU memory (CPU runs)")
    share, peak, total = worst
    value = f"{peak:.0f}/{total:.0f} MB ({share:.0%})"
    limit = 1 - settings.memory_headroom
    if peak <= limit * total:
        return CheckRow(name, CheckResult.PASS, value,
                        f"largest peak uses {share:.0%} of GPU memory, leaving >= {settings.memory_headroom:.0%} free")
    return CheckRow(name, CheckResult.FAIL, value,
                    f"largest peak uses {share:.0%} of GPU memory (limit {limit:.0%}): lower the batch size or model "
                    "width, or give each trial more GPUs; larger models in the space may run out of memory")


def _check_split(target: DesignTarget, root: Path) -> CheckRow:
    name = "data split"
    try:
        split = target.target.prepare(root)
    except (RaynasError, OSError, ValueError) as exc:
        return CheckRow(name, CheckResult.FAIL, "error", f"cannot make the split ({type(exc).__name__}: {exc}); "
                                                         f"check the task's data with `raynas split`")
    if split is None and target.tabular:
        return CheckRow(name, CheckResult.PASS, "n/a (table)", "the tabular benchmark has no data to split")
    if split is None:
        return CheckRow(name, CheckResult.PASS, "n/a", "the task names no dataset: its trainer brings its own data")
    s = split.summary()
    value = f"{s['stage1_train']}/{s['stage1_val']}"
    warnings = split.warnings
    if warnings:
        return CheckRow(name, CheckResult.WARN, value, "; ".join(warnings))
    return CheckRow(name, CheckResult.PASS, value,
                    f"stage 1: {s['stage1_train']} train / {s['stage1_val']} val, stage 2: {s['stage2_train']} train; "
                    "class balance and validation distribution fine")


def _load_space(target: DesignTarget) -> tuple[Any, str | None]:
    try:
        return target.space(), None
    except (RaynasError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _check_space_size(space: Any, error: str | None, settings: CheckSettings) -> CheckRow:
    name = "search-space size"
    if space is None:
        return CheckRow(name, CheckResult.FAIL, "error", f"cannot load the search space: {error}")
    size = int(space.size)
    value = _sci(size)
    limit = f"{settings.max_space_size:.0e}"
    if size <= settings.max_space_size:
        return CheckRow(name, CheckResult.PASS, value, f"{value} architectures <= {limit}")
    return CheckRow(name, CheckResult.WARN, value,
                    f"{value} architectures > {limit}: split the space (e.g. encoder first, then decoder)")


def _check_options(space: Any, error: str | None) -> CheckRow:
    name = "options per decision"
    if space is None:
        return CheckRow(name, CheckResult.WARN, "-", "cannot load the search space (see search-space size)")
    decisions = list(space.decisions)
    if not decisions:
        return CheckRow(name, CheckResult.WARN, "0 decisions", "the space has no decision: nothing to search")
    options = [d.num_options for d in decisions]
    value = f"{min(options)}-{max(options)} over {len(decisions)} decisions"
    single = [d.path for d in decisions if d.num_options < 2]
    wide = [f"{d.path} ({d.num_options})" for d in decisions if d.num_options > MAX_OPTIONS]
    problems = []
    if single:
        problems.append(f"single-option decisions {', '.join(single[:5])}{' ...' if len(single) > 5 else ''}: "
                        "fix them (`fixed:`) or give them choices")
    if wide:
        problems.append(f"more than {MAX_OPTIONS} options: {', '.join(wide[:5])}{' ...' if len(wide) > 5 else ''}; "
                        "coarsen them (controllers learn slowly on wide decisions)")
    if problems:
        return CheckRow(name, CheckResult.WARN, value, "; ".join(problems))
    return CheckRow(name, CheckResult.PASS, value, f"every decision has 2 to {MAX_OPTIONS} options")


# --- the tool ----------------------------------------------------------------------------------------------------
def check_path(target: DesignTarget) -> Path:
    return target.workspace / TOOL / "check.json"


def proxy_check(target: DesignTarget, settings: CheckSettings | None = None, *, stream: TextIO | None = None) -> CheckReport:
    """Run every check on ``target`` (a DesignTarget); writes ``check.json`` and closes an MLflow parent run.

    Never raises for a missing input: such a check fails or warns with the command to run. What MLflow received
    is logged (``"raynas"`` logger), or written to ``stream`` when given.
    """
    with log_to(stream):
        return _proxy_check(target, settings or CheckSettings())


def _proxy_check(target: DesignTarget, settings: CheckSettings) -> CheckReport:
    params = {"target": target.task or target.table or "nasbench201", **asdict(settings)}
    root = target.stage_dir(TOOL, settings=params, overwrite=True)
    tracking = target.tracking(TOOL, root, params=params, variant="check")
    inputs = _load_inputs(target)
    records = _probe_records(target)
    space, space_error = _load_space(target)
    rows = (
        _check_baseline(target, inputs),
        _check_rank(target, inputs),
        _check_space_tau(target, inputs),
        _check_variance(target, inputs),
        _check_smoothness(target, inputs),
        _check_cost(target, inputs, settings),
        _check_failures(target, records, settings),
        _check_memory(records, settings),
        _check_split(target, root),
        _check_space_size(space, space_error, settings),
        _check_options(space, space_error),
    )
    report = CheckReport(rows, json.loads(json.dumps(params, default=str)), str(root))
    path = write_json(root / "check.json", report.to_dict())
    counts = report.counts()
    finish_tool(tracking, status="completed" if report.passed else "failed", reason=report.summary(),
                metrics={"checks_failed": counts["fail"], "checks_warned": counts["warn"]}, artifacts=[path])
    return report


__all__ = ["CheckReport", "CheckResult", "CheckRow", "CheckSettings", "baseline_path", "check_path", "proxy_check",
           "variance_path"]
