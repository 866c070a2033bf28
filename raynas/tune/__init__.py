"""The only place that knows Ray Tune: searcher, callbacks, trainable and the search runner.

Names are imported on first use (PEP 562), so that a trial worker importing the trainable does not also
import the driver-side machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CURVE_COLUMNS": "raynas.tune._search_plot",
    "default_window": "raynas.tune._search_plot",
    "search_curve": "raynas.tune._search_plot",
    "search_plot": "raynas.tune._search_plot",
    "RunningOutcomes": "raynas.tune._convergence",
    "auto_stop_decision": "raynas.tune._convergence",
    "AutoStop": "raynas.tune._autostop",
    "FINISHED": "raynas.tune._job",
    "Job": "raynas.tune._job",
    "LiveTrialsFIFOScheduler": "raynas.tune._fifo",
    "SearchPlotter": "raynas.tune._monitor",
    "begin_run": "raynas.tune._runs",
    "build_scheduler": "raynas.tune._runner",
    "deadline_reached": "raynas.tune._runs",
    "end_run": "raynas.tune._runs",
    "error_outcome": "raynas.tune._outcome",
    "latest_records": "raynas.tune._job",
    "run_jobs": "raynas.tune._jobs",
    "used_seconds": "raynas.tune._runs",
    "ControllerSearcher": "raynas.tune._searcher",
    "trial_seed": "raynas.tune._searcher",
    "FailureBudget": "raynas.tune._callbacks",
    "FailureBudgetStopper": "raynas.tune._callbacks",
    "ProgressPrinter": "raynas.tune._callbacks",
    "TrialRecorder": "raynas.tune._callbacks",
    "Outcome": "raynas.tune._outcome",
    "classify": "raynas.tune._outcome",
    "CallbackFactory": "raynas.tune._hooks",
    "SearchCallback": "raynas.tune._hooks",
    "SearchResult": "raynas.tune._runner",
    "ray_session": "raynas.tune._runner",
    "ensure_ray": "raynas.tune._runner",
    "check_resources": "raynas.tune._runner",
    "build_evaluator": "raynas.tune._runner",
    "run_search": "raynas.tune._runner",
    "summarize": "raynas.tune._runner",
    "InvalidTrialError": "raynas.tune._trainable",
    "run_trial": "raynas.tune._trainable",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'raynas.tune' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
