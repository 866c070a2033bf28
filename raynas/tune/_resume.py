"""Rebuilding a search from its trial store: what a resume runs again, and the launch ledger it reads.

A resume never reads Ray Tune's saved state. The trial store (the source of truth) says which trial numbers
ended; the launch ledger ``<experiment>/launches.jsonl`` (one JSON line per trial the searcher launched: number,
trial id, genotype, seed, appended before Ray Tune starts the trial) says what was running when the driver died.
From both, :func:`plan_resume` works out:

- the controller's history (:func:`raynas.tune._searcher.store_history`), replayed into a fresh controller;
- the trials to run again under their own number, trial id and architecture, from scratch: those launched and never
  stored (lost with a killed driver), and those stored as "stopped because the search ended" by a run that was
  interrupted (Ctrl-C, not a stopper: a timeout, auto stop or the failure budget end them for good);
- the numbers below the highest launched that left no trace at all (no record, no ledger line): proposed afresh
  under their own number;

so that a search runs exactly the numbers 1..``max_trials``, each once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from raynas.config import Mode, Objective

if TYPE_CHECKING:
    from raynas.controllers import PastTrial
    from raynas.trials import TrialRecord

#: The launch ledger's name in the experiment folder.
LAUNCHES_FILE = "launches.jsonl"
#: How the run that ended a trial must have ended for a trial it stopped at its end to run again.
_INTERRUPTED = (None, "interrupted")
_TRIAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Launch:
    """One trial the searcher launched: its number, genotype and seed, and Ray Tune's trial id (None: a new one)."""

    number: int
    genotype: tuple[int, ...]
    seed: int
    trial_id: str | None = None


class LaunchLedger:
    """``<experiment>/launches.jsonl``: append-only, one JSON line per launch; unreadable lines are skipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, number: int, genotype: Sequence[int], seed: int, trial_id: str | None) -> None:
        """Add one launch (a plain append: a killed driver loses nothing the OS has; a torn last line is skipped)."""
        line = json.dumps({"number": number, "trial_id": trial_id, "genotype": list(genotype), "seed": seed})
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def read(self) -> dict[int, Launch]:
        """The latest launch of every number (none when the file is missing or unreadable)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return {}
        launches: dict[int, Launch] = {}
        for line in text.splitlines():
            launch = _parse(line)
            if launch is not None:
                launches[launch.number] = launch
        return launches


def _parse(line: str) -> Launch | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    number, genotype, seed, trial_id = data.get("number"), data.get("genotype"), data.get("seed"), data.get("trial_id")
    if not _is_int(number) or number < 1 or not _is_int(seed) or not isinstance(genotype, list):
        return None
    if not all(_is_int(g) for g in genotype):
        return None
    if trial_id is not None and not (isinstance(trial_id, str) and _TRIAL_ID.fullmatch(trial_id)):
        trial_id = None
    return Launch(number, tuple(genotype), seed, trial_id)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ResumePlan:
    """What a rebuilt searcher does first (see the module docstring)."""

    history: list[PastTrial]
    reruns: list[Launch]
    missing: list[int]
    #: The highest trial number launched so far (new numbers continue after it).
    top: int


def plan_resume(records: Sequence[TrialRecord], launches: Mapping[int, Launch], runs: Sequence[Mapping[str, Any]], *,
                max_trials: int, direction: Mode, seed: int, valid: Any = None,
                objectives: Sequence[Objective] = ()) -> ResumePlan:
    """The plan of a searcher rebuilt from ``records`` (the store's, one per trial id), ``launches`` (the ledger's)
    and ``runs`` (the run ledger, ``runs.json``: which run ended how). ``valid(genotype)`` says whether a ledger's
    genotype is one of the space (a damaged line is proposed afresh instead); with ``objectives`` the history's
    rewards are objective vectors rebuilt from the stored metrics."""
    from raynas.tune._callbacks import END_OF_SEARCH_REASON
    from raynas.tune._searcher import store_history, trial_seed

    again = {r.trial_id: r for r in records
             if r.failure_reason == END_OF_SEARCH_REASON and r.number <= max_trials and _ended_by_interruption(r, runs)}
    kept = [r for r in records if r.trial_id not in again]
    done = {r.number for r in kept}
    reruns = {r.number: Launch(r.number, tuple(r.genotype), r.seed if r.seed is not None else trial_seed(seed, r.number),
                               r.trial_id) for r in again.values()}
    for number, launch in launches.items():
        if number in done or number in reruns or number > max_trials:
            continue
        if valid is None or valid(launch.genotype):
            reruns[number] = launch
    known = done | set(reruns)
    top = max(known, default=0)
    missing = [n for n in range(1, min(top, max_trials) + 1) if n not in known]
    ordered = [reruns[n] for n in sorted(reruns)]
    history = store_history(kept, direction, pending=[(launch.number, launch.genotype) for launch in ordered],
                            objectives=objectives)
    return ResumePlan(history=history, reruns=ordered, missing=missing, top=top)


def _ended_by_interruption(record: TrialRecord, runs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the run that stored ``record`` (the one whose time span holds its end) was interrupted or killed."""
    end = record.end_time
    if end is None:
        return False
    for run in runs:
        try:
            start = float(run.get("start"))  # type: ignore[arg-type]
            stop = float(run["end"]) if run.get("end") is not None else float("inf")
        except (TypeError, ValueError, AttributeError):
            continue
        if start <= end <= stop:
            return run.get("ended") in _INTERRUPTED
    return False


def launch_ledger(experiment_dir: str | Path) -> LaunchLedger:
    """The launch ledger of the experiment in ``experiment_dir``."""
    return LaunchLedger(Path(experiment_dir) / LAUNCHES_FILE)
