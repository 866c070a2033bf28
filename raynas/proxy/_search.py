"""``raynas proxy search``: find the cheapest proxy whose ranking of the reference models matches full training.

Every candidate trains every reference model; all candidates run side by side on Ray (jobs are interleaved, so
each candidate progresses at once). Kendall tau (plus Spearman and top-k overlap) against full-training
accuracy is updated as each job ends. A candidate succeeds with tau >= ``min_tau`` on at least ``min_valid``
valid models and ``min_valid_fraction`` of them; once one succeeds, any other that has already cost more is
stopped (it can no longer be the cheapest), as is one past its time limit or with too many failed models.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from raynas._files import write_json
from raynas._parse import as_float, as_int
from raynas.errors import ConfigError, RaynasError
from raynas.proxy._common import finish_tool, missing_result, run_tool_jobs
from raynas.proxy._select import MIN_REFERENCES, ReferenceSet, references_path
from raynas.proxy._stats import rank_agreement, whole_space_tau
from raynas.trials import TrialStatus, cost_seconds, metric
from raynas.tune import Job

if TYPE_CHECKING:
    from raynas.proxy._target import DesignTarget

log = logging.getLogger(__name__)

TOOL = "proxy-search"

#: Measured on NAS-Bench-201 (bench/proxy_estimate.py): 10 of 30 sampled cells chosen for spread rank the
#: 12-epoch proxy against 200-epoch training with tau 0.75 on average, against 0.649 over all 15,625 cells.
SPREAD_NOTE = ("A reference set chosen for spread is easier to rank than the space at large: its models are far "
               "apart, while most pairs in the space are close. On NAS-Bench-201 (12 vs 200 epochs) such sets "
               "average tau 0.75 against 0.649 over all 15,625 cells. The whole-space estimate removes this "
               "with a selection correction: the sampled models' round-1 accuracy and latency describe the "
               "space, and the Pearson-Lawley formulas carry the reference set's correlation over to them; its "
               "interval is a bootstrap over the reference and sampled models.")


@dataclass(frozen=True)
class ProxySearchSettings:
    """Success bar and early stopping of the proxy search."""

    min_tau: float = 0.65
    min_valid: int = MIN_REFERENCES
    min_valid_fraction: float = 0.7
    time_limit_s: float | None = None
    top_k: int | None = None
    candidates: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not -1 <= as_float("min_tau", self.min_tau) <= 1:
            raise ConfigError("min_tau", self.min_tau, "a Kendall tau in [-1, 1]", "0.65 is the usual bar")
        as_int("min_valid", self.min_valid, minimum=MIN_REFERENCES)
        if not 0 < as_float("min_valid_fraction", self.min_valid_fraction) <= 1:
            raise ConfigError("min_valid_fraction", self.min_valid_fraction, "a fraction in (0, 1]")
        if self.time_limit_s is not None:
            as_float("time_limit", self.time_limit_s, minimum=1e-9)
        if self.top_k is not None:
            as_int("top_k", self.top_k, minimum=1)
        as_int("seed", self.seed, minimum=0)
        if self.candidates is not None:
            object.__setattr__(self, "candidates", tuple(self.candidates))


@dataclass
class _Progress:
    results: dict[str, tuple[str, float, float, float]] = field(default_factory=dict)  # model -> status, acc, lat, cost
    curve: list[tuple[float, float]] = field(default_factory=list)  # (cost so far, tau so far)

    @property
    def cost(self) -> float:
        return sum(r[3] for r in self.results.values())


class CandidatePolicy:
    """Follows each candidate's rank correlation as its jobs end, and cancels candidates that cannot win."""

    def __init__(self, settings: ProxySearchSettings, full: Mapping[str, float], *, accuracy_key: str) -> None:
        self.settings = settings
        self.full = dict(full)
        self.accuracy_key = accuracy_key
        self.progress: dict[str, _Progress] = {}
        self.successes: dict[str, float] = {}
        #: Candidates stopped early, with the reason (once stopped, always stopped).
        self.stopped: dict[str, str] = {}

    def observe(self, job: Job, status: str, metrics: Mapping[str, Any]) -> None:
        progress = self.progress.setdefault(job.group, _Progress())
        accuracy = metrics.get(self.accuracy_key)
        accuracy = float(accuracy) if status == TrialStatus.COMPLETED and isinstance(accuracy, (int, float)) else math.nan
        cost = metrics.get("train_seconds")
        cost = float(cost) if isinstance(cost, (int, float)) and math.isfinite(cost) else 0.0
        progress.results[job.labels["model"]] = (status, accuracy, math.nan, cost)
        tau = self._tau(progress)
        progress.curve.append((progress.cost, tau))
        n = len(self.full)
        if len(progress.results) == n and job.group not in self.stopped:
            valid = sum(1 for r in progress.results.values() if math.isfinite(r[1]))
            ok = (valid >= self.settings.min_valid and valid >= self.settings.min_valid_fraction * n
                  and math.isfinite(tau) and tau >= self.settings.min_tau)
            if ok:
                self.successes[job.group] = progress.cost
            self._say(f"candidate {job.group}: all {n} models done, tau {tau:.3f} on {valid} valid, "
                      f"{progress.cost:.1f} s of training -> {'passes' if ok else 'misses'} the bar")

    def _tau(self, progress: _Progress) -> float:
        models = [m for m, r in progress.results.items() if math.isfinite(r[1])]
        if len(models) < 3:
            return math.nan
        return rank_agreement([progress.results[m][1] for m in models], [self.full[m] for m in models]).kendall_tau

    def cancelled(self, group: str) -> str | None:
        if group in self.stopped:
            return self.stopped[group]
        reason = self._stop_reason(group)
        if reason is not None:
            self.stopped[group] = reason
            self._say(f"candidate {group} stopped early: {reason}")
        return reason

    def _stop_reason(self, group: str) -> str | None:
        progress = self.progress.get(group)
        if progress is None or group in self.successes or len(progress.results) == len(self.full):
            return None
        limit = self.settings.time_limit_s
        if limit is not None and progress.cost > limit:
            return f"its training time {progress.cost:.1f} s passed the time limit {limit:g} s"
        others = {g: c for g, c in self.successes.items() if g != group}
        if others:
            best = min(others, key=others.get)
            if progress.cost > others[best]:
                return (f"it already cost {progress.cost:.1f} s, more than the successful candidate {best} "
                        f"({others[best]:.1f} s)")
        n = len(self.full)
        failed = sum(1 for r in progress.results.values() if not math.isfinite(r[1]))
        if n - failed < max(self.settings.min_valid, math.ceil(self.settings.min_valid_fraction * n)):
            return f"{failed} of {n} models failed: fewer valid models than the bar needs"
        return None

    def _say(self, text: str) -> None:
        log.info(f"{TOOL}: {text}")


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's outcome."""

    name: str
    settings: dict[str, Any]
    estimated_relative_cost: float
    cost_per_model_s: float
    cost_vs_full: float
    valid: int
    models: int
    kendall_tau: float
    spearman: float
    top_k_overlap: float
    latency_tau: float | None
    space_tau: float
    space_tau_low: float
    space_tau_high: float
    passed: bool
    outcome: str
    #: Why there is no whole-space estimate (too few reference models), or None.
    space_note: str | None = None


@dataclass(frozen=True)
class ProxySearchResult:
    """All candidates, the chosen (cheapest passing) one, and where the table and plots are."""

    target: str
    settings: dict[str, Any]
    candidates: tuple[CandidateResult, ...]
    chosen: str | None
    full_cost_per_model_s: float
    directory: str
    note: str = SPREAD_NOTE
    artifacts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "candidates": [asdict(c) for c in self.candidates]}

    def summary(self) -> str:
        if self.chosen is not None:
            best = next(c for c in self.candidates if c.name == self.chosen)
            space = (f"whole-space estimate inconclusive: {best.space_note}" if best.space_note else
                     f"whole-space estimate {best.space_tau:.3f}, interval {best.space_tau_low:.3f} to "
                     f"{best.space_tau_high:.3f}")
            return (f"chosen proxy {best.name}: Kendall tau {best.kendall_tau:.3f} on {best.valid} reference models "
                    f"({space}), {best.cost_per_model_s:.3g} s per model = "
                    f"{best.cost_vs_full:.1%} of full training")
        reasons = "; ".join(f"{c.name}: {c.outcome}" for c in self.candidates)
        return (f"no candidate passed (tau >= {self.settings['min_tau']:g} on >= {self.settings['min_valid']} valid "
                f"models, >= {self.settings['min_valid_fraction']:.0%} valid, cheaper than full training): {reasons}. "
                "Try cheaper reductions of fewer settings (e.g. more epochs, less data), or check the reference "
                "models' spread")


def result_path(target: DesignTarget) -> Path:
    return target.workspace / TOOL / "proxy_search.json"


def proxy_search(target: DesignTarget, settings: ProxySearchSettings, *, overwrite: bool = False,
                 progress_interval_s: float = 5.0) -> ProxySearchResult:
    """Run (or resume) the proxy search on the reference models of ``raynas proxy select-models``."""
    selection = ReferenceSet.load(references_path(target))
    refs = selection.references
    if len(refs) < MIN_REFERENCES:
        raise ConfigError("reference models", len(refs), f"at least {MIN_REFERENCES} full-trained reference models",
                          "run `raynas proxy select-models` with a larger --keep (10 is usual)")
    if len(refs) < settings.min_valid:
        raise ConfigError("min_valid", settings.min_valid, f"at most the {len(refs)} reference models",
                          "lower --min-valid or select more reference models")
    candidates = target.candidates()
    if settings.candidates is not None:
        known = {c.name: c for c in candidates}
        missing = [n for n in settings.candidates if n not in known]
        if missing:
            from raynas.errors import UnknownNameError

            raise UnknownNameError("proxy candidate", missing[0], known, "Candidates come from the task's "
                                   "proxy_candidates (or are generated from its proxy variant).")
        candidates = [known[n] for n in settings.candidates]
    params = {"target": target.task or "nasbench201", **asdict(settings),
              "candidate_list": [c.to_dict() for c in candidates], "references": [m.model for m in refs]}
    root = target.stage_dir(TOOL, settings=params, overwrite=overwrite)
    tracking = target.tracking(TOOL, root, params=params, variant="candidates")
    full = {m.model: m.full_accuracy for m in refs}
    policy = CandidatePolicy(settings, full, accuracy_key=target.accuracy_key)
    index = {m.model: i for i, m in enumerate(refs)}
    jobs = [Job((c + 1) * 1000 + index[m.model] + 1, m.arch, settings.seed * 1000 + index[m.model], cand.name,
                {"candidate": cand.name, "model": m.model})
            for m in refs for c, cand in enumerate(candidates)]  # interleaved: every candidate progresses at once
    evaluators = {cand.name: target.candidate_evaluator(cand, root) for cand in candidates}
    side_by_side = ", all candidates side by side" if len(candidates) > 1 else ""
    log.info(f"{TOOL}: {len(candidates)} candidate{'s' if len(candidates) > 1 else ''} x {len(refs)} reference "
             f"models{side_by_side}; success: tau >= {settings.min_tau:g}")
    jobs_result = run_tool_jobs(target, root, jobs, evaluators, tracking=tracking, policy=policy,
                                what=TOOL, progress_interval_s=progress_interval_s)
    full_cost = [m.full_cost_s for m in refs if math.isfinite(m.full_cost_s) and m.full_cost_s > 0]
    full_cost_per_model = sum(full_cost) / len(full_cost) if full_cost else math.nan
    population, rows = selection.population_rows()
    row_of = dict(zip([m.model for m in refs], rows)) if len(rows) == len(refs) else {}
    results = []
    for c, cand in enumerate(candidates):
        records = {m.model: jobs_result.records.get((c + 1) * 1000 + index[m.model] + 1) for m in refs}
        results.append(_candidate_result(cand, records, refs, settings, target, full_cost_per_model, population,
                                         row_of, jobs_result.cancelled.get(cand.name)))
    passed = [r for r in results if r.passed]
    chosen = min(passed, key=lambda r: r.cost_per_model_s).name if passed else None
    artifacts = _artifacts(root, policy, settings, results, chosen, refs, jobs_result, candidates, index)
    result = ProxySearchResult(target.task or "nasbench201", params, tuple(results), chosen, full_cost_per_model,
                               str(root), artifacts=tuple(str(a) for a in artifacts))
    write_json(root / "proxy_search.json", result.to_dict())
    best = next((r for r in results if r.name == chosen), None)
    metrics = {"candidates_passed": len(passed)}
    if best is not None:
        metrics.update({"chosen_kendall_tau": best.kendall_tau, "chosen_space_tau": best.space_tau,
                        "chosen_cost_per_model_s": best.cost_per_model_s})
    finish_tool(tracking, status="completed" if chosen else "failed", reason=result.summary(), metrics=metrics,
                artifacts=[*artifacts, root / "proxy_search.json"])
    return result


def _candidate_result(cand: Any, records: Mapping[str, Any], refs: list, settings: ProxySearchSettings, target: DesignTarget,
                      full_cost: float, population: Any, row_of: Mapping[str, int], cancelled: str | None
                      ) -> CandidateResult:
    proxy = [metric(records[m.model], target.accuracy_key) for m in refs]
    full = [m.full_accuracy for m in refs]
    agreement = rank_agreement(proxy, full, top_k=settings.top_k)
    valid = sum(1 for p in proxy if math.isfinite(p))
    finished = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.INVALID)
    ran = [r for r in records.values() if r is not None and r.status in finished]
    costs = [cost_seconds(r) for r in ran]
    cost = sum(costs) / len(costs) if costs else math.nan
    latency_tau = None
    if target.latency_in_reward:
        key = target.latency_key
        latency_tau = rank_agreement([metric(records[m.model], key) for m in refs],
                                     [m.full_latency for m in refs]).kendall_tau
    if row_of:
        estimate = whole_space_tau(covariates=population, reference_rows=[row_of[m.model] for m in refs],
                                   proxy=proxy, full=full, seed=settings.seed)
        space, space_note = (estimate.tau, estimate.low, estimate.high), estimate.note
    else:
        space, space_note = (math.nan, math.nan, math.nan), None
    n = len(refs)
    cost_vs_full = cost / full_cost if math.isfinite(full_cost) and full_cost > 0 else math.nan
    reasons = []
    if cancelled:
        reasons.append(f"stopped early: {cancelled}")
    if len(ran) < n and not cancelled:
        reasons.append(f"only {len(ran)} of {n} models ran")
    if valid < settings.min_valid or valid < settings.min_valid_fraction * n:
        reasons.append(f"{valid} of {n} models valid (needs >= {settings.min_valid} and "
                       f">= {settings.min_valid_fraction:.0%})")
    if not (math.isfinite(agreement.kendall_tau) and agreement.kendall_tau >= settings.min_tau):
        reasons.append(f"tau {agreement.kendall_tau:.3f} < {settings.min_tau:g}")
    if latency_tau is not None and not (math.isfinite(latency_tau) and latency_tau >= settings.min_tau):
        reasons.append(f"latency tau {latency_tau:.3f} < {settings.min_tau:g}")
    if math.isfinite(cost_vs_full) and cost_vs_full >= 1:
        reasons.append(f"costs {cost_vs_full:.0%} of full training: no cheaper than full training")
    passed = not reasons
    return CandidateResult(
        name=cand.name, settings=cand.to_dict(), estimated_relative_cost=cand.relative_cost, cost_per_model_s=cost,
        cost_vs_full=cost_vs_full, valid=valid, models=n, kendall_tau=agreement.kendall_tau,
        spearman=agreement.spearman, top_k_overlap=agreement.top_k_overlap, latency_tau=latency_tau,
        space_tau=space[0], space_tau_low=space[1], space_tau_high=space[2], passed=passed,
        outcome="passed" if passed else "; ".join(reasons), space_note=space_note)


def _artifacts(root: Path, policy: CandidatePolicy, settings: ProxySearchSettings, results: list,
               chosen: str | None, refs: list, jobs_result: Any, candidates: list, index: Mapping[str, int]) -> list[Path]:
    import pandas as pd

    from raynas.proxy._plots import plot_proxy_vs_full, plot_tau_vs_time

    table = root / "candidates.parquet"
    pd.DataFrame([{k: v for k, v in asdict(r).items() if k != "settings"} for r in results]).to_parquet(table, index=False)
    curves = {}
    for cand in candidates:  # tau over the models done so far, in the order their jobs ended (store timeline)
        c = next(i for i, x in enumerate(candidates) if x.name == cand.name)
        done = sorted((r for m in refs if (r := jobs_result.records.get((c + 1) * 1000 + index[m.model] + 1))),
                      key=lambda r: r.end_time or 0.0)
        spent, acc, full, points = 0.0, [], [], []
        for record in done:
            spent += cost_seconds(record)
            acc.append(metric(record, "val_accuracy"))
            full.append(next(m.full_accuracy for m in refs if m.model == record.labels.get("model")))
            points.append((spent, rank_agreement(acc, full).kendall_tau if len(acc) >= 3 else math.nan))
        curves[cand.name] = points
    paths = [table, plot_tau_vs_time(curves, settings.min_tau, root / "tau_vs_time.png")]
    show = chosen or max(results, key=lambda r: r.kendall_tau if math.isfinite(r.kendall_tau) else -2).name
    c = next(i for i, x in enumerate(candidates) if x.name == show)
    proxy = [metric(jobs_result.records.get((c + 1) * 1000 + index[m.model] + 1), "val_accuracy") for m in refs]
    paths.append(plot_proxy_vs_full(show, proxy, [m.full_accuracy for m in refs], [m.model for m in refs],
                                    root / "proxy_vs_full.png"))
    return paths


def load_result(target: DesignTarget) -> ProxySearchResult:
    """The saved result of the last proxy search (ConfigError with the fix when there is none)."""
    import json

    path = result_path(target)
    if not path.is_file():
        raise missing_result("proxy search", path, "raynas proxy search", target)
    data = json.loads(path.read_text())
    cands = tuple(CandidateResult(**{k: (math.nan if v is None and k not in ("latency_tau", "space_note") else v)
                                     for k, v in c.items()}) for c in data.pop("candidates"))
    data["artifacts"] = tuple(data.get("artifacts", ()))
    return ProxySearchResult(candidates=cands, **{k: (math.nan if v is None and k == "full_cost_per_model_s" else v)
                                                  for k, v in data.items()})


__all__ = ["CandidatePolicy", "ProxySearchResult", "ProxySearchSettings", "RaynasError", "load_result",
           "proxy_search", "result_path"]
