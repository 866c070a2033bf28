"""Proxy-task design before a search: baseline, reference models, proxy search by rank correlation, variance,
the final checklist and cost estimates. Ray, torch and MLflow are imported only when a tool runs."""

from raynas.proxy._baseline import BaselineResult, baseline, baseline_path, curve_rows, load_baseline
from raynas.proxy._check import CheckReport, CheckResult, CheckRow, CheckSettings, check_path, proxy_check
from raynas.proxy._estimate import (
    DEFAULT_CPUS_PER_TRIAL,
    DEFAULT_GPUS_PER_TRIAL,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_TOTAL_DAYS,
    DEFAULT_MAX_TRIALS,
    DEFAULT_PROXY_HOURS,
    DEFAULT_STAGE2_MODELS,
    DEFAULT_TIMEOUT_DAYS,
    DEFAULT_TRIALS_TO_CONVERGE,
    EstimateInputs,
    SearchEstimate,
    duration_text,
    estimate,
    measured_by_proxy_search,
    measured_proxy_cost,
)
from raynas.proxy._search import (
    CandidatePolicy,
    CandidateResult,
    ProxySearchResult,
    ProxySearchSettings,
    load_result,
    proxy_search,
    result_path,
)
from raynas.proxy._select import ReferenceModel, ReferenceSet, SelectionSettings, references_path, select_models
from raynas.proxy._spread import prune_for_spread
from raynas.proxy._stats import RankAgreement, SpaceEstimate, rank_agreement, whole_space_tau
from raynas.proxy._study import tabular_study
from raynas.proxy._target import TABULAR_BASELINE, DesignTarget, Resources
from raynas.proxy._variance import (
    TABULAR_NOTE,
    NoProxyChosen,
    Separation,
    VarianceResult,
    VarianceSettings,
    Verdict,
    better_half,
    coefficient_of_variation,
    judge_separation,
    load_variance,
    proxy_variance,
    reference_values,
    resolution,
    smoothness,
    variance_path,
)
from raynas.tasks import ProxyCandidate, relative_cost, task_candidates

__all__ = ["BaselineResult", "CandidatePolicy", "CandidateResult", "CheckReport", "CheckResult", "CheckRow",
           "CheckSettings", "DEFAULT_CPUS_PER_TRIAL", "DEFAULT_GPUS_PER_TRIAL", "DEFAULT_MAX_CONCURRENT",
           "DEFAULT_MAX_TOTAL_DAYS", "DEFAULT_MAX_TRIALS", "DEFAULT_PROXY_HOURS", "DEFAULT_STAGE2_MODELS",
           "DEFAULT_TIMEOUT_DAYS", "DEFAULT_TRIALS_TO_CONVERGE", "DesignTarget", "EstimateInputs", "ProxyCandidate",
           "ProxySearchResult", "ProxySearchSettings", "RankAgreement", "ReferenceModel", "ReferenceSet",
           "Resources", "SearchEstimate", "SelectionSettings", "Separation", "SpaceEstimate", "TABULAR_BASELINE",
           "TABULAR_NOTE", "VarianceResult", "VarianceSettings", "Verdict", "baseline", "baseline_path",
           "better_half", "check_path", "coefficient_of_variation", "curve_rows", "duration_text", "estimate",
           "judge_separation", "load_baseline", "load_result", "load_variance", "measured_by_proxy_search",
           "measured_proxy_cost", "NoProxyChosen", "proxy_check", "proxy_search", "proxy_variance", "prune_for_spread",
           "rank_agreement", "reference_values", "references_path", "relative_cost", "resolution", "result_path",
           "select_models", "smoothness", "tabular_study", "task_candidates", "variance_path", "whole_space_tau"]
