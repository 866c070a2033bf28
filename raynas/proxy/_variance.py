"""``raynas proxy variance``: run the chosen proxy several times on one model with different seeds.

A proxy is only useful when one run of it says something: repeated runs of the same model should reach nearly
the same accuracy (coefficient of variation std/mean over the repeats, small) along curves that rise without
much zig-zag (smoothness, near 1). The repeats run side by side as Ray Tune jobs in the tool's trial store, so
running the command again resumes (finished repeats are not run again).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence, TextIO

import numpy as np

from raynas.config._parse import as_float, as_int
from raynas.errors import ConfigError, UnknownNameError
from raynas.proxy._baseline import curve_frame, curve_rows
from raynas.proxy._common import finish_tool, metric, missing_result, ray_session, run_tool_jobs, write_json
from raynas.targets import Stage
from raynas.tune._job import Job

TOOL = "variance"
TABULAR_NOTE = ("The tabular benchmark holds one training run per architecture, so every repeat reads the same "
                "value: cv is 0 and smoothness 1 by construction, not a measurement of run-to-run variance. "
                "Measure variance on a real task (--task).")


@dataclass(frozen=True)
class VarianceSettings:
    """How many repeats, of which proxy candidate and model (None: the defaults, see :func:`proxy_variance`),
    and the bars: coefficient of variation at most ``max_cv``, mean curve smoothness at least ``min_smoothness``."""

    repeats: int = 5
    candidate: str | None = None
    model: str | None = None
    max_cv: float = 0.05
    min_smoothness: float = 0.7
    seed: int = 0

    def __post_init__(self) -> None:
        as_int("repeats", self.repeats)
        if self.repeats < 2:
            raise ConfigError("repeats", self.repeats, "at least 2 repeats",
                              "a run-to-run variance needs two runs or more: use --repeats 5 (the default) or more")
        as_float("max_cv", self.max_cv, minimum=0.0)
        if not 0 <= as_float("min_smoothness", self.min_smoothness) <= 1:
            raise ConfigError("min_smoothness", self.min_smoothness, "a smoothness in [0, 1]", "0.7 is the default")
        as_int("seed", self.seed, minimum=0)


@dataclass(frozen=True)
class VarianceResult:
    """The repeats' final accuracies (NaN for failed ones), their coefficient of variation, the mean smoothness
    of their curves, the failure rate and whether the proxy passes both bars."""

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

    @property
    def failed(self) -> int:
        """Repeats that did not complete (failed, invalid or missing)."""
        return sum(1 for s in self.statuses if s != "completed")

    def to_dict(self) -> dict[str, Any]:
        """What ``variance.json`` holds."""
        data = asdict(self)
        data["curves"] = [[list(p) for p in c] for c in self.curves]
        return data

    def summary(self) -> str:
        """One line: pass or fail, why, and how many repeats completed."""
        verdict = "passes" if self.passed else "fails"
        return (f"proxy {self.candidate} on model {self.model}: {verdict} ({self.outcome}); "
                f"{self.repeats - self.failed} of {self.repeats} repeats completed")


def variance_path(target: Any) -> Path:
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


def proxy_variance(target: Any, settings: VarianceSettings, *, overwrite: bool = False,
                   stream: TextIO | None = None, progress_interval_s: float = 5.0) -> VarianceResult:
    """Run (or resume) ``settings.repeats`` trainings of one model with a proxy candidate and different seeds.

    The candidate defaults to the one ``raynas proxy search`` chose, else the target's first candidate; the model
    to the reference model of ``raynas proxy select-models`` with the median full-training accuracy, else the
    target's baseline architecture. Writes ``variance.json``, ``curves.parquet`` and ``curves.png`` in
    ``<workspace>/variance`` and logs stage ``variance`` to MLflow (metrics ``cv`` and ``smoothness``).
    """
    out = stream or sys.stderr
    candidate = _candidate(target, settings.candidate)
    model, arch = _model(target, settings.model)
    with ray_session(target):
        return _variance(target, settings, candidate, model, arch, overwrite=overwrite, stream=out,
                         progress_interval_s=progress_interval_s)


def _candidate(target: Any, name: str | None) -> Any:
    candidates = target.candidates()
    known = {c.name: c for c in candidates}
    if name is None:
        from raynas.proxy._search import load_result

        try:
            name = load_result(target).chosen
        except ConfigError:
            name = None
        if name not in known:
            return candidates[0]
    if name not in known:
        raise UnknownNameError("proxy candidate", name, known, "Candidates come from the task's proxy_candidates "
                               "(or are generated from its proxy variant).")
    return known[name]


def _model(target: Any, name: str | None) -> tuple[str, Any]:
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


def _variance(target: Any, settings: VarianceSettings, candidate: Any, model: str, arch: Any, *, overwrite: bool,
              stream: TextIO, progress_interval_s: float) -> VarianceResult:
    out = stream
    label = target.task or "nasbench201"
    params = {"target": label, "repeats": settings.repeats, "candidate": candidate.name, "model": model, "arch": arch,
              "seed": settings.seed}
    root = target.stage_dir(TOOL, settings=params, overwrite=overwrite)
    thresholds = {"max_cv": settings.max_cv, "min_smoothness": settings.min_smoothness}
    tracking = target.tracking(TOOL, root, params={**params, **thresholds}, variant=candidate.name)
    seeds = [settings.seed * 1000 + i for i in range(settings.repeats)]
    jobs = [Job(i + 1, arch, seeds[i], candidate.name, {"candidate": candidate.name, "model": model,
                                                       "repeat": str(i)}) for i in range(settings.repeats)]
    print(f"[raynas] {TOOL}: proxy {candidate.name} on model {model}, {settings.repeats} repeats with different "
          "seeds, all at once", file=out, flush=True)
    evaluators = {candidate.name: target.candidate_evaluator(candidate, root, stage=Stage.VARIANCE)}
    jobs_result = run_tool_jobs(target, root, jobs, evaluators, tracking=tracking, stream=out,
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
    outcome, passed = _outcome(cv, smooth, len(completed), settings)
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
        artifacts=(str(curves_path), str(png)))
    saved = write_json(variance_path(target), result.to_dict())
    finish_tool(tracking, status="completed" if passed else "failed", reason=result.summary(),
                metrics={"cv": cv, "smoothness": smooth, "failure_rate": failure_rate},
                artifacts=[curves_path, png, saved], stream=out)
    print(f"[raynas] {TOOL}: {result.summary()}; results in {root}", file=out, flush=True)
    return result


def _outcome(cv: float, smooth: float, completed: int, settings: VarianceSettings) -> tuple[str, bool]:
    reasons = []
    if completed < 2:
        reasons.append(f"only {completed} of {settings.repeats} repeats completed (at least 2 are needed)")
    else:
        if not (math.isfinite(cv) and cv <= settings.max_cv):
            reasons.append(f"cv {cv:.4f} > {settings.max_cv:g}")
        if not (math.isfinite(smooth) and smooth >= settings.min_smoothness):
            reasons.append(f"smoothness {smooth:.3f} < {settings.min_smoothness:g}")
    if reasons:
        return "; ".join(reasons), False
    return f"cv {cv:.4f} <= {settings.max_cv:g}, smoothness {smooth:.3f} >= {settings.min_smoothness:g}", True


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


def load_variance(target: Any) -> VarianceResult:
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
    return VarianceResult(**data)


__all__ = ["VarianceResult", "VarianceSettings", "coefficient_of_variation", "load_variance", "proxy_variance",
           "smoothness", "variance_path"]
