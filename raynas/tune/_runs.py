"""The timeout and resume policy of a search: each run's start, deadline and end in ``<experiment>/runs.json``.

A run gets ``timeout`` (14 days by default) but never more than what is left of ``max_total_time`` (default:
``(max_resumes + 1) x timeout``, 28 days). A search that timed out may be resumed ``max_resumes`` times (default
once). Resuming after a crash or Ctrl-C does not count as a resume after a timeout, but its time counts towards
``max_total_time``. The deadline is enforced by :class:`DeadlineStopper`, which reads the file, so a restored
search gets the new run's deadline.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from ray.tune.stopper import Stopper

from raynas._files import atomic_write
from raynas.errors import DamagedFileError, RaynasError, problem_of


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
    """Search time spent by earlier runs (a run killed without an end counts until its last stored trial)."""
    total = 0.0
    for run in runs:
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
    run = {"start": now, "deadline": now + min(timeout_s, remaining), "after": after, "end": None, "ended": None}
    runs.append(run)
    _write(path, runs)
    return run


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
    return bool(runs) and time.time() >= float(runs[-1]["deadline"]) - 1e-3


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
            self._deadline = float(runs[-1]["deadline"]) if runs else float("inf")
            self._checked = now
        return now >= self._deadline
