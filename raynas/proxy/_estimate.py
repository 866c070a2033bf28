"""Sizing a search before running it: cost, duration, accelerators and resumes (workflow step 6).

The formulas are the ones in the design::

    search_cost = trials_to_converge * avg_proxy_cost
    days        = trials_to_converge / max_concurrent * avg_trial_hours / 24
    GPUs        = max_concurrent * gpus_per_trial

A search that uses no GPU (``gpus_per_trial`` 0, or ``device: cpu``) is sized in CPU workers instead: its
``max_concurrent`` trial slots of ``cpus_per_trial`` CPUs each, times in the unit that reads best (seconds to
days), and its table leaves out what does not apply to it (accelerator-hours, GPUs, resumes when none is needed).
``to_dict`` keeps every number either way.

A job times out after ``timeout_days`` (14 by default) and the default resume policy allows one resume, for at
most ``max_total_days`` (28) in all. The proxy cost per trial is measured from an experiment's trial store
(:func:`measured_proxy_cost`) when one is given, else taken from the user, else a placeholder of 2 hours.

Pure Python: no Ray, torch or MLflow (the trial store is read with pyarrow, imported only when measuring).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from raynas._parse import as_float, as_int
from raynas.errors import ConfigError
from raynas.trials import TrialStatus

#: Placeholder proxy cost (hours per trial) while the real one is not measured.
DEFAULT_PROXY_HOURS = 2.0
#: The workflow's first upper bound on the trials a search needs to converge.
DEFAULT_TRIALS_TO_CONVERGE = 3000
DEFAULT_MAX_CONCURRENT = 20
DEFAULT_GPUS_PER_TRIAL = 2.0
DEFAULT_CPUS_PER_TRIAL = 1.0
DEFAULT_MAX_TRIALS = 5000
DEFAULT_TIMEOUT_DAYS = 14.0
DEFAULT_MAX_TOTAL_DAYS = 28.0
DEFAULT_STAGE2_MODELS = 10

_EPS = 1e-9  # rounding slack, so that exactly 14.0 days is "fits in 14 days"


def _ceil(x: float) -> int:
    return math.ceil(x - _EPS)


def _positive(field: str, value: Any, fix: str) -> float:
    number = as_float(field, value)
    if number <= 0:
        raise ConfigError(field, value, "a number > 0", fix)
    return number


@dataclass(frozen=True)
class EstimateInputs:
    """What a search estimate is computed from; validated on construction (errors name the field).

    ``proxy_hours_per_trial`` None means "not measured": :attr:`proxy_hours` is then the 2-hour placeholder.
    ``full_training_hours`` is one full training of one model (needed for full-training equivalents and the
    stage-2 cost). ``source`` says where the proxy cost came from; left empty it is filled in.
    """

    trials_to_converge: int = DEFAULT_TRIALS_TO_CONVERGE
    proxy_hours_per_trial: float | None = None
    full_training_hours: float | None = None
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    gpus_per_trial: float = DEFAULT_GPUS_PER_TRIAL
    max_trials: int = DEFAULT_MAX_TRIALS
    timeout_days: float = DEFAULT_TIMEOUT_DAYS
    max_total_days: float = DEFAULT_MAX_TOTAL_DAYS
    stage2_models: int = DEFAULT_STAGE2_MODELS
    source: str = ""
    cpus_per_trial: float = DEFAULT_CPUS_PER_TRIAL
    device: str = "auto"

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        put("trials_to_converge", as_int("trials_to_converge", self.trials_to_converge, minimum=1))
        if self.proxy_hours_per_trial is not None:
            put("proxy_hours_per_trial", _positive("proxy_hours_per_trial", self.proxy_hours_per_trial,
                                                   "give the hours one proxy trial takes, or leave it unset"))
        if self.full_training_hours is not None:
            put("full_training_hours", _positive("full_training_hours", self.full_training_hours,
                                                 "give the hours one full training takes, or leave it unset"))
        put("max_concurrent", as_int("max_concurrent", self.max_concurrent, minimum=1))
        put("gpus_per_trial", as_float("gpus_per_trial", self.gpus_per_trial, minimum=0.0))
        put("max_trials", as_int("max_trials", self.max_trials, minimum=1))
        if self.max_trials < self.trials_to_converge:
            raise ConfigError("max_trials", self.max_trials,
                              f"at least trials_to_converge ({self.trials_to_converge}): max_trials is the ceiling",
                              f"raise max_trials to {self.trials_to_converge} or more, or lower trials_to_converge")
        put("timeout_days", _positive("timeout_days", self.timeout_days, "the job timeout in days (default 14)"))
        put("max_total_days", _positive("max_total_days", self.max_total_days,
                                        "the most days the search may run, resumes included (default 28)"))
        put("stage2_models", as_int("stage2_models", self.stage2_models, minimum=1))
        put("cpus_per_trial", as_float("cpus_per_trial", self.cpus_per_trial, minimum=0.0))
        if not isinstance(self.device, str) or not (self.device in ("auto", "cpu", "cuda")
                                                    or self.device.startswith("cuda:")):
            raise ConfigError("device", self.device, "auto, cpu, cuda or cuda:N",
                              "use the search's device setting (cpu when no GPU is used)")
        if not isinstance(self.source, str):
            raise ConfigError("source", self.source, "a text saying where the proxy cost came from")
        if not self.source:
            put("source", f"default (unmeasured: {_num(DEFAULT_PROXY_HOURS)} h per trial)"
                if self.proxy_hours_per_trial is None else "given")

    @property
    def proxy_hours(self) -> float:
        """Hours one proxy trial takes: the given or measured value, else the 2-hour placeholder."""
        return DEFAULT_PROXY_HOURS if self.proxy_hours_per_trial is None else self.proxy_hours_per_trial

    @property
    def measured(self) -> bool:
        """Whether the proxy cost is known (given or measured) rather than the placeholder."""
        return self.proxy_hours_per_trial is not None

    @property
    def uses_gpu(self) -> bool:
        """Whether trials run on GPUs: ``gpus_per_trial`` > 0 and the device is not ``cpu``."""
        return self.gpus_per_trial > 0 and self.device != "cpu"

    @property
    def resumes_allowed(self) -> int:
        """Resumes the policy allows: runs of ``timeout_days`` that fit in ``max_total_days``, less the first."""
        return max(0, _ceil(self.max_total_days / self.timeout_days) - 1)


@dataclass(frozen=True)
class SearchEstimate:
    """Cost and duration of a search (and of its stage 2); see :func:`estimate`."""

    inputs: EstimateInputs
    proxy_hours_per_trial: float
    search_cost_trial_hours: float
    search_cost_gpu_hours: float
    search_cost_accelerator_hours: float
    full_training_equivalents: float | None
    days: float
    accelerators_needed: float
    resumes_needed: int
    resumes_allowed: int
    fits_timeout: bool
    fits_resume_policy: bool
    #: Smallest max_concurrent that finishes within timeout_days / max_total_days; None when none can
    #: (one trial alone takes longer, or more parallel trials than trials would be needed).
    max_concurrent_for_timeout: int | None
    max_concurrent_for_policy: int | None
    ceiling_gpu_hours: float
    ceiling_days: float
    max_failed_default: int
    stage2_gpu_hours: float | None
    stage2_days: float | None
    stage2_accelerators: float
    #: Whether trials use GPUs (else the estimate speaks of CPU workers); see :attr:`EstimateInputs.uses_gpu`.
    uses_gpu: bool = True
    #: CPUs the search holds at once (max_concurrent * cpus_per_trial) and its cost in CPU-hours.
    cpus_needed: float = 0.0
    search_cost_cpu_hours: float = 0.0
    ceiling_cpu_hours: float = 0.0
    #: Stage 2 on a CPU search: CPU-hours, and days when max_concurrent models train at once (None: unknown).
    stage2_cpu_hours: float | None = None
    stage2_days_batched: float | None = None

    @property
    def workers_text(self) -> str:
        """What the search runs on: "2 CPU workers" (CPU search) or "40 GPUs" (GPU search)."""
        i = self.inputs
        if not self.uses_gpu:
            return _plural(i.max_concurrent, "CPU worker")
        return f"{_num(self.accelerators_needed)} GPU{'' if self.accelerators_needed == 1 else 's'}"

    def summary(self) -> str:
        """One line: how long the search takes, on what ("about 4 minutes on 2 CPU workers")."""
        return f"about {duration_text(self.days * 24)} on {self.workers_text}"

    def warnings(self) -> list[str]:
        """Plain sentences about what does not fit or is not known yet (empty when all is well)."""
        i = self.inputs
        out: list[str] = []
        timeout, total = _num(i.timeout_days), _num(i.max_total_days)
        policy = "the default policy" if (i.timeout_days, i.max_total_days) == (DEFAULT_TIMEOUT_DAYS,
                                                                               DEFAULT_MAX_TOTAL_DAYS) else "the policy"
        trial_days = self.proxy_hours_per_trial / 24
        if trial_days > i.timeout_days + _EPS:
            out.append(f"one proxy trial takes {_num(trial_days)} days, longer than the {timeout}-day timeout: "
                       "use a cheaper proxy (fewer steps, less data, a smaller model)")
        if not self.fits_resume_policy:
            fix = self._concurrency_fix(self.max_concurrent_for_policy, f"{total} days")
            no_resume = self.max_concurrent_for_timeout
            if fix and no_resume is not None and no_resume != self.max_concurrent_for_policy:
                fix += f" (or to {no_resume} to need no resume)"
            out.append(f"the search needs {_plural(self.resumes_needed, 'resume')} at the {timeout}-day timeout "
                       f"({_num(self.days)} days); {policy} allows {self.resumes_allowed} ({total} days in all): "
                       f"{fix + ', or ' if fix else ''}use a cheaper proxy")
        elif not self.fits_timeout:
            fix = self._concurrency_fix(self.max_concurrent_for_timeout, f"the {timeout}-day timeout")
            out.append(f"the search takes {_num(self.days)} days, longer than the {timeout}-day timeout: it needs "
                       f"{_plural(self.resumes_needed, 'resume')} ({policy} allows {self.resumes_allowed})"
                       f"{'; ' + fix if fix else ''}")
        if i.max_concurrent > i.trials_to_converge:
            out.append(f"max_concurrent ({i.max_concurrent}) is more than trials_to_converge "
                       f"({i.trials_to_converge}): some {'accelerators' if self.uses_gpu else 'trial slots'} "
                       "would sit idle")
        if not i.measured:
            out.append(f"the proxy cost is not measured: {_num(DEFAULT_PROXY_HOURS)} h per trial is a placeholder; "
                       "measure it from a trial run (--experiment) or give it (--proxy-hours)")
        if i.full_training_hours is None:
            out.append("full_training_hours is unknown: full-training equivalents and the stage-2 cost are not "
                       "computed (give --full-training-hours)")
        else:
            if self.proxy_hours_per_trial >= i.full_training_hours:
                out.append(f"a proxy trial ({_num(self.proxy_hours_per_trial)} h) costs as much as a full training "
                           f"({_num(i.full_training_hours)} h): the proxy should be much cheaper")
            if i.full_training_hours / 24 > i.timeout_days + _EPS:
                out.append(f"one full training takes {_num(i.full_training_hours / 24)} days, longer than the "
                           f"{timeout}-day timeout: stage 2 needs resumes")
        return out

    def _concurrency_fix(self, needed: int | None, within: str) -> str:
        if needed is None:
            return ""
        if not self.uses_gpu:
            cpus = needed * self.inputs.cpus_per_trial
            return f"raise max_concurrent to {needed} ({_num(cpus)} CPUs) to finish within {within}"
        accelerators = needed * self.inputs.gpus_per_trial
        return f"raise max_concurrent to {needed} ({_num(accelerators)} accelerators) to finish within {within}"

    def rows(self) -> list[tuple[str, str, str]]:
        """(quantity, value, formula) rows for a table; values are formatted text, formulas show the numbers.

        A search without GPUs gets :meth:`cpu_rows` (CPU workers, readable times, no rows of zeros)."""
        if not self.uses_gpu:
            return self.cpu_rows()
        i = self.inputs
        t, h, g, c = i.trials_to_converge, self.proxy_hours_per_trial, i.gpus_per_trial, i.max_concurrent
        n = _num
        rows = [
            ("trials to converge", n(t), "first upper bound (given)"),
            ("proxy hours per trial", n(h), i.source),
            ("search cost (trial-hours)", n(self.search_cost_trial_hours),
             f"trials_to_converge * proxy_hours = {n(t)} * {n(h)}"),
            ("search cost (GPU-hours)", n(self.search_cost_gpu_hours),
             f"trial-hours * gpus_per_trial = {n(self.search_cost_trial_hours)} * {n(g)}"),
            ("search cost (accelerator-hours)", n(self.search_cost_accelerator_hours), "same as GPU-hours"),
        ]
        if self.full_training_equivalents is not None:
            rows.append(("full-training equivalents", n(self.full_training_equivalents),
                         f"trial-hours / full_training_hours = {n(self.search_cost_trial_hours)} / "
                         f"{n(i.full_training_hours)}"))
        else:
            rows.append(("full-training equivalents", "unknown", "needs full_training_hours"))
        rows += [
            ("search days", n(self.days), f"trials_to_converge / max_concurrent * proxy_hours / 24 = "
                                          f"{n(t)} / {n(c)} * {n(h)} / 24"),
            ("accelerators needed", n(self.accelerators_needed), f"max_concurrent * gpus_per_trial = {n(c)} * {n(g)}"),
            ("resumes needed", n(self.resumes_needed),
             f"ceil(days / timeout_days) - 1 = ceil({n(self.days)} / {n(i.timeout_days)}) - 1"),
            ("resumes allowed", n(self.resumes_allowed),
             f"ceil(max_total_days / timeout_days) - 1 = ceil({n(i.max_total_days)} / {n(i.timeout_days)}) - 1"),
            ("fits the resume policy", "yes" if self.fits_resume_policy else "no",
             f"days <= max_total_days: {n(self.days)} <= {n(i.max_total_days)}"),
            ("max_concurrent for no resume", n(self.max_concurrent_for_timeout),
             f"ceil(trials_to_converge * proxy_hours / 24 / timeout_days), timeout {n(i.timeout_days)} days"),
            ("max_concurrent for the policy", n(self.max_concurrent_for_policy),
             f"ceil(trials_to_converge * proxy_hours / 24 / max_total_days), {n(i.max_total_days)} days"),
            ("ceiling cost (GPU-hours)", n(self.ceiling_gpu_hours),
             f"max_trials * proxy_hours * gpus_per_trial = {n(i.max_trials)} * {n(h)} * {n(g)}"),
            ("ceiling days", n(self.ceiling_days), f"max_trials / max_concurrent * proxy_hours / 24 = "
                                                  f"{n(i.max_trials)} / {n(c)} * {n(h)} / 24"),
            ("failure budget (max_failed)", n(self.max_failed_default), f"ceil(max_trials / 3) = ceil({n(i.max_trials)} / 3)"),
        ]
        if self.stage2_gpu_hours is not None and self.stage2_days is not None:
            f = i.full_training_hours
            rows += [
                ("stage-2 cost (GPU-hours)", n(self.stage2_gpu_hours),
                 f"stage2_models * full_training_hours * gpus_per_trial = {n(i.stage2_models)} * {n(f)} * {n(g)}"),
                ("stage-2 days (all in parallel)", n(self.stage2_days), f"full_training_hours / 24 = {n(f)} / 24"),
                ("stage-2 accelerators (all in parallel)", n(self.stage2_accelerators),
                 f"stage2_models * gpus_per_trial = {n(i.stage2_models)} * {n(g)}"),
                ("total cost (GPU-hours)", n(self.search_cost_gpu_hours + self.stage2_gpu_hours),
                 "search cost + stage-2 cost"),
            ]
        else:
            rows.append(("stage-2 cost (GPU-hours)", "unknown", "needs full_training_hours"))
        return rows

    def cpu_rows(self) -> list[tuple[str, str, str]]:
        """The table of a search without GPUs: CPU workers and CPU time, each time in the unit that reads best;
        rows that are zero or do not apply (GPUs, resumes when none is needed, unknown stage 2) are left out."""
        i = self.inputs
        t, h, c, cpu = i.trials_to_converge, self.proxy_hours_per_trial, i.max_concurrent, i.cpus_per_trial
        n, d = _num, duration_text
        rows = [
            ("trials to converge", n(t), "first upper bound (given)"),
            ("proxy time per trial", d(h), i.source),
            ("CPU workers (trial slots)", n(c), f"max_concurrent = {n(c)}, {n(cpu)} CPU{'' if cpu == 1 else 's'} each"),
        ]
        if self.cpus_needed > 0:
            rows.append(("CPUs needed", n(self.cpus_needed), f"max_concurrent * cpus_per_trial = {n(c)} * {n(cpu)}"))
        rows.append(("search time", d(self.days * 24),
                     f"trials_to_converge / max_concurrent * proxy time = {n(t)} / {n(c)} * {d(h)}"))
        if self.search_cost_cpu_hours > 0:
            rows.append(("search cost (CPU time)", d(self.search_cost_cpu_hours),
                         f"trials_to_converge * proxy time * cpus_per_trial = {n(t)} * {d(h)} * {n(cpu)}"))
        if self.full_training_equivalents is not None:
            rows.append(("full-training equivalents", n(self.full_training_equivalents),
                         f"trials_to_converge * proxy time / full training = {n(t)} * {d(h)} / "
                         f"{d(i.full_training_hours)}"))
        if self.resumes_needed:
            rows += [
                ("resumes needed", n(self.resumes_needed),
                 f"ceil(days / timeout_days) - 1 = ceil({n(self.days)} / {n(i.timeout_days)}) - 1"),
                ("resumes allowed", n(self.resumes_allowed),
                 f"ceil(max_total_days / timeout_days) - 1 = ceil({n(i.max_total_days)} / {n(i.timeout_days)}) - 1"),
                ("max_concurrent for no resume", n(self.max_concurrent_for_timeout),
                 f"ceil(trials_to_converge * proxy_hours / 24 / timeout_days), timeout {n(i.timeout_days)} days"),
            ]
            if not self.fits_resume_policy:
                rows.append(("max_concurrent for the policy", n(self.max_concurrent_for_policy),
                             f"ceil(trials_to_converge * proxy_hours / 24 / max_total_days), {n(i.max_total_days)} days"))
        if i.max_trials != t:  # else the same as the search time
            rows.append(("ceiling time (max_trials)", d(self.ceiling_days * 24),
                         f"max_trials / max_concurrent * proxy time = {n(i.max_trials)} / {n(c)} * {d(h)}"))
        rows.append(("failure budget (max_failed)", n(self.max_failed_default),
                     f"ceil(max_trials / 3) = ceil({n(i.max_trials)} / 3)"))
        if self.stage2_days_batched is not None and i.full_training_hours is not None:
            f, m = i.full_training_hours, i.stage2_models
            rows.append(("stage-2 time", d(self.stage2_days_batched * 24),
                         f"ceil(stage2_models / max_concurrent) * full training = ceil({n(m)} / {n(c)}) * {d(f)}"))
            if self.stage2_cpu_hours:
                rows.append(("stage-2 cost (CPU time)", d(self.stage2_cpu_hours),
                             f"stage2_models * full training * cpus_per_trial = {n(m)} * {d(f)} * {n(cpu)}"))
                rows.append(("total cost (CPU time)", d(self.search_cost_cpu_hours + self.stage2_cpu_hours),
                             "search cost + stage-2 cost"))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data: inputs, results, warnings and the table rows."""
        inputs = asdict(self.inputs)
        inputs["proxy_hours"] = self.inputs.proxy_hours
        results = {k: v for k, v in asdict(self).items() if k != "inputs"}
        return {
            "inputs": inputs,
            "source": self.inputs.source,
            "estimate": results,
            "summary": self.summary(),
            "warnings": self.warnings(),
            "rows": [{"quantity": q, "value": v, "formula": f} for q, v, f in self.rows()],
        }


def _concurrency_within(trial_hours: float, proxy_hours: float, trials: int, days: float) -> int | None:
    """Smallest max_concurrent with trials / mc * proxy_hours / 24 <= days, or None when none helps."""
    if proxy_hours / 24 > days + _EPS:
        return None  # a single trial is already longer
    return min(trials, max(1, _ceil(trial_hours / 24 / days)))


def estimate(inputs: EstimateInputs) -> SearchEstimate:
    """Compute the search (and stage-2) estimate for ``inputs``."""
    i = inputs
    h = i.proxy_hours
    trial_hours = i.trials_to_converge * h
    gpu_hours = trial_hours * i.gpus_per_trial
    days = i.trials_to_converge / i.max_concurrent * h / 24
    resumes_needed = max(0, _ceil(days / i.timeout_days) - 1)
    full = i.full_training_hours
    return SearchEstimate(
        inputs=i,
        proxy_hours_per_trial=h,
        search_cost_trial_hours=trial_hours,
        search_cost_gpu_hours=gpu_hours,
        search_cost_accelerator_hours=gpu_hours,
        full_training_equivalents=None if full is None else trial_hours / full,
        days=days,
        accelerators_needed=i.max_concurrent * i.gpus_per_trial,
        resumes_needed=resumes_needed,
        resumes_allowed=i.resumes_allowed,
        fits_timeout=days <= i.timeout_days + _EPS,
        fits_resume_policy=days <= i.max_total_days + _EPS,
        max_concurrent_for_timeout=_concurrency_within(trial_hours, h, i.trials_to_converge, i.timeout_days),
        max_concurrent_for_policy=_concurrency_within(trial_hours, h, i.trials_to_converge, i.max_total_days),
        ceiling_gpu_hours=i.max_trials * h * i.gpus_per_trial,
        ceiling_days=i.max_trials / i.max_concurrent * h / 24,
        max_failed_default=math.ceil(i.max_trials / 3),
        stage2_gpu_hours=None if full is None else i.stage2_models * full * i.gpus_per_trial,
        stage2_days=None if full is None else full / 24,
        stage2_accelerators=i.stage2_models * i.gpus_per_trial,
        uses_gpu=i.uses_gpu,
        cpus_needed=i.max_concurrent * i.cpus_per_trial,
        search_cost_cpu_hours=trial_hours * i.cpus_per_trial,
        ceiling_cpu_hours=i.max_trials * h * i.cpus_per_trial,
        stage2_cpu_hours=None if full is None else i.stage2_models * full * i.cpus_per_trial,
        stage2_days_batched=None if full is None else math.ceil(i.stage2_models / i.max_concurrent) * full / 24,
    )


def measured_proxy_cost(experiment_dir: str | Path) -> tuple[float, int, str] | None:
    """Mean hours per completed trial of an experiment, from its trial store: ``(hours, n, source)``.

    A trial's cost is its ``train_seconds`` metric when it reports one (tabular benchmark trials report the
    recorded training cost there, while their wall-clock time is a simulated fraction), else
    ``end_time - start_time``. Returns None when no completed trial has a cost.
    """
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import TrialStore

    design = measured_by_proxy_search(experiment_dir)
    if design is not None:
        return design[0], design[1], design[2]
    paths = ExperimentPaths(Path(experiment_dir))
    seconds: list[float] = []
    from_metric = 0
    for record in TrialStore(paths.trials).records():
        if record.status is not TrialStatus.COMPLETED:
            continue
        metric = record.metrics.get("train_seconds") if isinstance(record.metrics, dict) else None
        if isinstance(metric, (int, float)) and not isinstance(metric, bool) and math.isfinite(metric) and metric >= 0:
            seconds.append(float(metric))
            from_metric += 1
        elif record.start_time is not None and record.end_time is not None and record.end_time >= record.start_time:
            seconds.append(record.end_time - record.start_time)
    if not seconds:
        return None
    hours = sum(seconds) / len(seconds) / 3600
    if hours <= 0:
        return None
    n = len(seconds)
    how = ""
    if from_metric == n:
        how = " (train_seconds metric)"
    elif from_metric:
        how = f" ({from_metric} by train_seconds metric, {n - from_metric} by wall clock)"
    source = f"measured: {_plural(n, 'completed trial')} of experiment {paths.root.name}{how}"
    return hours, n, source


def measured_by_proxy_search(directory: str | Path, *, fallback: str | None = None
                             ) -> tuple[float, int, str, float | None] | None:
    """Cost of the chosen proxy of a ``raynas proxy search`` run (its directory, or the workspace holding it):
    ``(hours per trial, reference models, source, full-training hours or None)``. When no candidate passed, the
    candidate named ``fallback`` (the proxy the search uses instead: the task's own) if the proxy search measured it;
    else None."""
    import json

    root = Path(directory)
    for path in (root / "proxy_search.json", root / "proxy-search" / "proxy_search.json"):
        if path.is_file():
            data = json.loads(path.read_text())
            name = data.get("chosen") or fallback
            chosen = next((c for c in data.get("candidates", []) if c.get("name") == name), None)
            if chosen is None or not chosen.get("cost_per_model_s"):
                return None
            full = data.get("full_cost_per_model_s")
            full_hours = float(full) / 3600 if isinstance(full, (int, float)) and full > 0 else None
            which = "chosen proxy" if data.get("chosen") else "the task's own proxy (no candidate passed)"
            source = (f"measured: {which} {chosen['name']} of the proxy search in {path.parent} "
                      f"({chosen['models']} reference models)")
            return float(chosen["cost_per_model_s"]) / 3600, int(chosen["models"]), source, full_hours
    return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


#: (unit, hours in one unit, the largest number of hours shown in it): seconds below 90 s, minutes below 90 minutes,
#: hours below 48 hours, days above, so that a number reads like "1.5 minutes" rather than "0.00104 days".
_UNITS = (("second", 1 / 3600, 1.5 / 60), ("minute", 1 / 60, 1.5), ("hour", 1.0, 48.0), ("day", 24.0, math.inf))


def duration_text(hours: float | None) -> str:
    """A duration in the unit that reads best: "45 seconds", "4.2 minutes", "3 hours", "12.5 days" ("-": unknown)."""
    if hours is None or not math.isfinite(float(hours)) or hours < 0:
        return "-"
    for unit, size, below in _UNITS:
        if hours < below:
            break
    value = hours / size
    text = _num(round(value, 1) if value >= 1 else float(f"{value:.2g}"))
    return f"{text} {unit}" if text == "1" else f"{text} {unit}s"


def _num(value: float | int | None) -> str:
    """A number as people read it: thousands separators, at most 2 decimals (3 significant digits below 1)."""
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return "-"
    if value.is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


__all__ = ["DEFAULT_PROXY_HOURS", "EstimateInputs", "SearchEstimate", "duration_text", "estimate",
           "measured_proxy_cost"]
