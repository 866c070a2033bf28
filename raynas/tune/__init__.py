"""The only place that knows Ray Tune: searcher, callbacks, trainable and the search runner.

Importing this package imports Ray.
"""

from raynas.tune._callbacks import FailureBudget, FailureBudgetStopper, ProgressPrinter, TrialRecorder
from raynas.tune._outcome import Outcome, classify
from raynas.tune._runner import SearchResult, build_evaluator, run_search, summarize
from raynas.tune._searcher import ControllerSearcher, trial_seed
from raynas.tune._trainable import InvalidTrialError, run_trial

__all__ = [
    "ControllerSearcher",
    "FailureBudget",
    "FailureBudgetStopper",
    "InvalidTrialError",
    "Outcome",
    "ProgressPrinter",
    "SearchResult",
    "TrialRecorder",
    "build_evaluator",
    "classify",
    "run_search",
    "run_trial",
    "summarize",
    "trial_seed",
]
