"""Turning what Ray Tune reports about a trial into a raynas status, reward and failure reason."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from raynas.controllers import TrialStatus
from raynas.trials import CHECKPOINT_KEY  # noqa: F401 - re-exported: the engine reads it from final results

STATUS_KEY = "raynas_status"
REASON_KEY = "raynas_reason"
RUNNING = "running"
#: Wall-clock time (seconds since the epoch) at which the worker made a report: the timestamp of its metrics.
TIME_KEY = "raynas_time"
#: Ray node id of the worker that made a report (where the trial ran).
NODE_KEY = "raynas_node"

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


#: Words in a Ray error that mean the process was killed for using too much memory: a model failure.
_OOM_MARKERS = ("outofmemory", "out of memory", "memory pressure", "low on memory", "(oom)", "oom-kill", "oom kill")


def error_outcome(error: BaseException | str | None, *, restarts: int, last_result: Mapping[str, Any] | None = None,
                  metric: str) -> Outcome:
    """Outcome of a trial that ended with an error outside raynas' trial wrapper (after Tune's restarts).

    The wrapper turns every exception of the model code into a reported failure, so an error that reaches Ray Tune
    means the trial's process or node went away. Out-of-memory kills are the model's fault: failed (they count
    toward the failure budget). A Python exception raised outside the wrapper (a ``RayTaskError`` whose cause is
    not a lost actor) is a failure too. Everything else (a node died, the actor was lost, the worker crashed) is
    the infrastructure's: the trial is recorded as stopped, with the reason, and never counts as failed.
    """
    text = _error_line(error)
    if error is None:  # Ray recorded nothing to tell a lost node from a crash: counted, so it cannot loop forever
        return classify(last_result, metric=metric, errored=True, error_text=text)
    if any(marker in f"{type(error).__name__} {error}".lower() for marker in _OOM_MARKERS):
        return Outcome(TrialStatus.FAILED, None, f"out of memory (its process was killed): {text}"[:500])
    if _raised_by_code(error):
        return classify(last_result, metric=metric, errored=True, error_text=text)
    times = "once" if restarts == 1 else f"{restarts} times"
    again = f"after it was started again {times}" if restarts else "(max_retries is 0)"
    return Outcome(TrialStatus.STOPPED, None, f"lost to the infrastructure {again}: {text}"[:500])


def _raised_by_code(error: BaseException | str) -> bool:
    """True for an exception raised by Python code in the trial (not a lost process, node or actor)."""
    if isinstance(error, str):
        text = error.lower()
        lost = ("actordied", "actor died", "node died", "nodedied", "worker crashed", "workercrashed",
                "actorunavailable", "unexpectedly", "lost")
        return bool(text) and not any(word in text for word in lost)
    from ray.exceptions import RayActorError, RayTaskError

    if isinstance(error, RayActorError):
        return False
    if isinstance(error, RayTaskError):
        try:
            cause = error.as_instanceof_cause()
        except Exception:  # noqa: BLE001 - an unpicklable cause: judge by the class Ray kept
            return True
        return not isinstance(cause, RayActorError) and not isinstance(getattr(error, "cause", None), RayActorError)
    from ray.exceptions import RayError

    return not isinstance(error, RayError)


def _error_line(error: BaseException | str | None) -> str:
    if error is None:
        return "the trial's process ended without a result"
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    name = "" if isinstance(error, str) else f"{type(error).__name__}: "
    return f"{name}{lines[-1] if lines else ''}".strip(": ")[:400]
