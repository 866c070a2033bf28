"""The timeout and resume policy of a search: each run's start, deadline and end in ``<experiment>/runs.json``.

A run gets ``timeout`` (14 days by default) but never more than what is left of ``max_total_time`` (default:
``(max_resumes + 1) x timeout``, 28 days). A search that timed out may be resumed ``max_resumes`` times (default
once). Resuming after a crash or Ctrl-C does not count as a resume after a timeout, but its time counts towards
``max_total_time``. The deadline is enforced by :class:`DeadlineStopper`, which reads the file, so a restored
search gets the new run's deadline.

A run's clock starts when its first trial starts (:class:`TrialClock` calls :func:`start_clock`), not when the
run is launched: Ray's start-up and a restore cost the search none of its time. Until then the run is recorded
with ``clock: waiting`` (its ``launched`` time, and a provisional ``start``/``deadline`` from it), and it has no
deadline; then ``start`` is the first trial's start and ``deadline`` is ``start`` + the run's ``budget``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raynas._files import atomic_write
from raynas.errors import DamagedFileError, RaynasError, problem_of

#: ``clock`` of a run whose first trial has not started (no deadline yet), and of one whose clock runs.
WAITING = "waiting"
RUNNING = "running"


def read_runs(path: Path) -> list[dict[str, Any]]:
    """Every run recorded in the ledger, oldest first (none when it is missing or unreadable: a damaged ledger is
    reported as a warning naming the file and ``raynas doctor``, which rebuilds it from the trial store)."""
    try:
        runs = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError, RecursionError) as exc:
        return _damaged_runs(path, problem_of(exc))
    if not isinstance(runs, list) or not all(isinstance(r, dict) and _times(r) for r in runs):
        return _damaged_runs(path, "not a list of runs with a numeric start and deadline")
    return runs


def _times(run: dict[str, Any]) -> bool:
    try:
        float(run["start"]), float(run["deadline"])
        return run.get("end") is None or isinstance(float(run["end"]), float)
    except (KeyError, TypeError, ValueError):
        return False


def _damaged_runs(path: Path, problem: str) -> list[dict[str, Any]]:
    logging.getLogger(__name__).warning("%s", DamagedFileError(path, f"{problem}; read as no earlier runs"))
    return []


def _write(path: Path, runs: list[dict[str, Any]]) -> None:
    atomic_write(path, json.dumps(runs, indent=2))


def used_seconds(runs: list[dict[str, Any]], store_end: float | None = None) -> float:
    """Search time spent by earlier runs, from each run's first trial (a run killed without an end counts until its
    last stored trial; a run in which no trial started counts nothing)."""
    total = 0.0
    for run in runs:
        if run.get("clock") == WAITING:
            continue
        end = run.get("end")
        if end is None:
            end = max(run["start"], store_end or run["start"])
        total += max(0.0, float(end) - float(run["start"]))
    return total


def begin_run(path: Path, *, timeout_s: float, max_total_s: float, max_resumes: int, resume: bool,
              store_end: float | None = None, name: str = "") -> dict[str, Any]:
    """Record a new run and return it (with its deadline); refuse a resume the policy does not allow."""
    runs = read_runs(path) if resume else []
    now = time.time()
    if resume and runs:
        used = used_seconds(runs, store_end)
        after_timeout = sum(1 for r in runs[1:] if r.get("after") == "timed_out")
        last = runs[-1].get("ended")
        if last == "timed_out" and after_timeout >= max_resumes:
            raise RaynasError(
                f"search {name!r} timed out again; the resume policy allows {max_resumes} resume(s) after a timeout "
                f"(max_resumes) and it has had {after_timeout}: a search that keeps timing out should be sized "
                "again (`raynas estimate`: more parallel trials or a cheaper proxy); to go on anyway raise "
                f"max_resumes in {path.parent / 'config.json'}")
        if used >= max_total_s:
            raise RaynasError(
                f"search {name!r} has used {used / 86400:.2f} days of search time, its max_total_time is "
                f"{max_total_s / 86400:.2f} days (timeout x (max_resumes + 1) by default); to go on anyway raise "
                f"max_total_time in {path.parent / 'config.json'}")
        remaining = max_total_s - used
        after = last or "interrupted"
    else:
        remaining, after = max_total_s, None
    budget = min(timeout_s, remaining)
    run = {"start": now, "deadline": now + budget, "budget": budget, "clock": WAITING, "launched": now,
           "after": after, "end": None, "ended": None}
    runs.append(run)
    _write(path, runs)
    return run


def start_clock(path: Path, now: float | None = None) -> dict[str, Any] | None:
    """Start the current run's clock (its first trial started ``now``): ``start`` becomes now and ``deadline``
    start + the run's budget. Once per run; returns the run when this call started it."""
    runs = read_runs(path)
    if not runs or runs[-1].get("clock") != WAITING:
        return None
    run = runs[-1]
    now = time.time() if now is None else float(now)
    budget = float(run.get("budget", float(run["deadline"]) - float(run["start"])))
    run.update(start=now, deadline=now + budget, clock=RUNNING)
    _write(path, runs)
    return run


class TrialClock(Callback):
    """Starts the run's timeout clock when the first trial of the run starts (see :func:`start_clock`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.started = False

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "started": False}  # a restored search is a new run: its clock starts again

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if not self.started:
            self.started = True
            start_clock(Path(self.path))


def last_run(path: Path) -> dict[str, Any] | None:
    """The latest run recorded, if any."""
    runs = read_runs(path)
    return runs[-1] if runs else None


def end_run(path: Path, status: str) -> None:
    runs = read_runs(path)
    if runs:
        runs[-1]["end"] = time.time()
        runs[-1]["ended"] = status
        _write(path, runs)


def deadline_reached(path: Path) -> bool:
    runs = read_runs(path)
    return bool(runs) and runs[-1].get("clock") != WAITING and time.time() >= float(runs[-1]["deadline"]) - 1e-3


class DeadlineStopper(Stopper):
    """Stops the search at the current run's deadline (read from ``runs.json`` on each Tune step)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._deadline: float | None = None
        self._checked = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_deadline": None, "_checked": 0.0}  # a restored stopper reads the new run's

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        now = time.time()
        if self._deadline is None or now - self._checked > 5.0:  # a restored search has a new deadline
            runs = read_runs(Path(self.path))
            waiting = bool(runs) and runs[-1].get("clock") == WAITING  # no trial yet: no deadline, read again
            self._deadline = float(runs[-1]["deadline"]) if runs and not waiting else float("inf")
            self._checked = 0.0 if waiting else now
        return now >= self._deadline
