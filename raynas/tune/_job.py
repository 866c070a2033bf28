"""A job of a job list (see :mod:`raynas.tune._jobs`): what it runs, and reading the job records back.
Imports no Ray."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from raynas.trials import TrialStatus

if TYPE_CHECKING:
    from raynas.tracking import TrialRecord

#: Trial statuses that finish a job (a stopped job runs again when the job list is resumed).
FINISHED = frozenset({TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.INVALID})


@dataclass(frozen=True)
class Job:
    """One training run: ``number`` identifies it in the trial store (stable across resumes)."""

    number: int
    arch: Any
    seed: int
    group: str
    labels: Mapping[str, str] = field(default_factory=dict)


class JobPolicy(Protocol):
    """Decides, from finished jobs, which groups to cancel."""

    def observe(self, job: Job, status: str, metrics: Mapping[str, Any]) -> None: ...

    def cancelled(self, group: str) -> str | None:
        """Why ``group`` is cancelled, or None while it may go on."""
        ...


@dataclass(frozen=True)
class JobsResult:
    """What a job-list run left in the trial store: the latest record of each job, by job number."""

    records: Mapping[int, TrialRecord]
    cancelled: Mapping[str, str]
    wall_seconds: float
    experiment_dir: str


def latest_records(store_dir: str | Path) -> dict[int, TrialRecord]:
    """The latest record of each job number (a job stopped and run again has several)."""
    from raynas.tracking import TrialStore

    latest: dict[int, TrialRecord] = {}
    for record in TrialStore(store_dir).records():
        known = latest.get(record.number)
        if known is None or (record.end_time or 0.0) >= (known.end_time or 0.0):
            latest[record.number] = record
    return latest
