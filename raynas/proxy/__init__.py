"""Proxy-task design before a search: baseline, reference models, proxy search by rank correlation, variance,
the final checklist and cost estimates. Ray, torch and MLflow are imported only when a tool runs."""

from raynas.proxy._baseline import BaselineResult, baseline, load_baseline
from raynas.proxy._candidates import ProxyCandidate, relative_cost, task_candidates
from raynas.proxy._check import CheckReport, CheckSettings, proxy_check
from raynas.proxy._estimate import EstimateInputs, SearchEstimate, estimate, measured_proxy_cost
from raynas.proxy._search import ProxySearchResult, ProxySearchSettings, proxy_search
from raynas.proxy._select import ReferenceSet, SelectionSettings, select_models
from raynas.proxy._spread import prune_for_spread
from raynas.proxy._stats import RankAgreement, SpaceEstimate, rank_agreement, whole_space_tau
from raynas.proxy._target import DesignTarget, Resources
from raynas.proxy._variance import VarianceResult, VarianceSettings, load_variance, proxy_variance

__all__ = [
    "BaselineResult",
    "CheckReport",
    "CheckSettings",
    "VarianceResult",
    "VarianceSettings",
    "baseline",
    "load_baseline",
    "load_variance",
    "proxy_check",
    "proxy_variance",
    "DesignTarget",
    "EstimateInputs",
    "ProxyCandidate",
    "ProxySearchResult",
    "ProxySearchSettings",
    "RankAgreement",
    "ReferenceSet",
    "Resources",
    "SearchEstimate",
    "SelectionSettings",
    "SpaceEstimate",
    "estimate",
    "measured_proxy_cost",
    "proxy_search",
    "prune_for_spread",
    "rank_agreement",
    "relative_cost",
    "select_models",
    "task_candidates",
    "whole_space_tau",
]
