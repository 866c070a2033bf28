"""Turning what Ray Tune reports about a trial into a raynas status, reward and failure reason."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from raynas.controllers import TrialStatus

STATUS_KEY = "raynas_status"
REASON_KEY = "raynas_reason"
RUNNING = "running"
#: Final-metrics key naming a directory that becomes the trial's Ray Tune checkpoint (kept in its storage).
CHECKPOINT_KEY = "raynas_checkpoint_dir"
#: Wall-clock time (seconds since the epoch) at which the worker made a report: the timestamp of its metrics.
TIME_KEY = "raynas_time"

#: Keys Ray Tune adds to every result: never stored as metrics (they are noise for users).
TUNE_INTERNAL_KEYS = frozenset({
    "time_this_iter_s", "done", "training_iteration", "trial_id", "date", "timestamp", "time_total_s", "pid",
    "hostname", "node_ip", "config", "time_since_restore", "iterations_since_restore", "checkpoint_dir_name",
    "should_checkpoint", "experiment_tag", "episodes_total", "timesteps_total", "timesteps_since_restore",
})


@dataclass(frozen=True)
class Outcome:
    status: TrialStatus
    value: float | None
    reason: str | None


def user_metrics(result: Mapping[str, Any] | None) -> dict[str, Any]:
    """The metrics a trial reported, without Tune's bookkeeping keys and raynas' status keys."""
    if not result:
        return {}
    return {k: v for k, v in result.items()
            if k not in TUNE_INTERNAL_KEYS and not k.startswith("raynas_") and not k.startswith("config/")
            and isinstance(v, (int, float, str, bool)) and not isinstance(v, bool)}


def history_entry(result: Mapping[str, Any]) -> dict[str, Any]:
    """One report as kept in a trial's history: its user metrics plus ``time`` (when the worker reported it)."""
    entry = user_metrics(result)
    reported = result.get(TIME_KEY)
    if entry and isinstance(reported, (int, float)) and not isinstance(reported, bool):
        entry["time"] = float(reported)
    return entry


def classify(result: Mapping[str, Any] | None, *, metric: str, errored: bool = False,
             error_text: str | None = None) -> Outcome:
    """Status, metric value and reason of a finished trial from its last result."""
    if errored:
        return Outcome(TrialStatus.FAILED, None, error_text or "trial raised an error (see the Ray Tune trial log)")
    if not result:
        return Outcome(TrialStatus.STOPPED, None, "stopped before it reported anything")
    status = result.get(STATUS_KEY)
    if status in (TrialStatus.FAILED.value, TrialStatus.INVALID.value):
        return Outcome(TrialStatus(status), None, str(result.get(REASON_KEY) or status))
    raw = result.get(metric)
    value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    if status == RUNNING:
        epoch = result.get("training_iteration")
        where = f" after {epoch} reports" if epoch else ""
        return Outcome(TrialStatus.STOPPED, value, f"stopped early{where} (scheduler or end of search)")
    if value is None:
        reported = sorted(user_metrics(result))
        return Outcome(TrialStatus.INVALID, None,
                       f"metric {metric!r} was not reported (reported: {', '.join(reported) or 'nothing'})")
    if not math.isfinite(value):
        return Outcome(TrialStatus.INVALID, None, f"metric {metric!r} is {value}")
    return Outcome(TrialStatus.COMPLETED, value, None)
