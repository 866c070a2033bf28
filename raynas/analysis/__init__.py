"""Analysis of what a search saved: the search curve, per-decision statistics, Pareto fronts and the report
(``raynas analyze``).

Importing this package is light: pandas, scipy, scikit-learn and matplotlib are imported by the functions that
use them.

Example::

    from raynas.analysis import search_curve, search_plot
    from raynas.tracking import TrialStore

    records = TrialStore("raynas-work/my-search/trials").records()
    curve = search_curve(records, mode_max=True)          # number, reward, status, running_best, rolling_*
    search_plot(records, "search.png", mode_max=True)     # the same as a PNG
"""

from raynas.analysis._decisions import (
    ALPHA,
    TARGET_POWER,
    Advice,
    DecisionAdvice,
    DecisionStats,
    Importance,
    OptionAdvice,
    Suggestion,
    SuggestionKind,
    Verdict,
    advise,
    anova_power,
    benjamini_hochberg,
    best_option,
    decision_stats,
    eta_squared,
    forest_importance,
    importance_plot,
    options_plot,
    suggestions,
    top_mask,
)
from raynas.analysis._pareto import (
    COST_METRICS,
    ParetoFront,
    cost_metrics_present,
    pareto_front,
    pareto_fronts,
    pareto_mask,
    pareto_plot,
)
from raynas.analysis._report import LOW_TAU, Report, analyze
from raynas.tune import CURVE_COLUMNS, RunningOutcomes, auto_stop_decision, default_window, search_curve, search_plot

__all__ = ["ALPHA", "Advice", "COST_METRICS", "CURVE_COLUMNS", "DecisionAdvice", "DecisionStats", "Importance",
           "LOW_TAU", "OptionAdvice", "ParetoFront", "Report", "RunningOutcomes", "Suggestion", "SuggestionKind",
           "TARGET_POWER", "Verdict", "advise", "analyze", "anova_power", "auto_stop_decision", "benjamini_hochberg",
           "best_option", "cost_metrics_present", "decision_stats", "default_window", "eta_squared",
           "forest_importance", "importance_plot", "options_plot", "pareto_front", "pareto_fronts", "pareto_mask",
           "pareto_plot", "search_curve", "search_plot", "suggestions", "top_mask"]
