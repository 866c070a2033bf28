"""The run ledger: which MLflow runs belong to an experiment's trials, and what each has received.

One JSON file per tracking URI under ``<experiment>/mlflow/`` (written atomically). With the trial store it is
the whole sync state: a trial whose record is in the store but not marked ``synced`` here is still to be sent,
so nothing is lost when the tracking server is away or the driver dies. Its content is also the MLflow
callback's Ray Tune state, so a resumed search continues the same runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raynas._files import atomic_write
from raynas.errors import DamagedFileError, problem_of


@dataclass
class TrialRun:
    """The MLflow run of one trial: ``reports`` logged while it ran; ``synced`` once its final record is in."""

    run_id: str
    reports: int = 0
    synced: bool = False


@dataclass
class RunLedger:
    """Run ids and progress for one tracking URI (a mutable record, owned by one writer at a time)."""

    tracking_uri: str
    experiment_uid: str = ""
    experiment_id: str | None = None
    parents: dict[str, str] = field(default_factory=dict)
    trials: dict[str, TrialRun] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "experiment_uid": self.experiment_uid,
            "experiment_id": self.experiment_id,
            "parents": dict(self.parents),
            "trials": {tid: [run.run_id, run.reports, run.synced] for tid, run in self.trials.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunLedger":
        trials = {tid: TrialRun(str(v[0]), int(v[1]), bool(v[2])) for tid, v in data.get("trials", {}).items()}
        return cls(tracking_uri=data["tracking_uri"], experiment_uid=data.get("experiment_uid", ""),
                   experiment_id=data.get("experiment_id"),
                   parents=dict(data.get("parents", {})), trials=trials)

    def merge(self, other: "RunLedger") -> None:
        """Take what ``other`` knows and this one does not (same URI and experiment): the further-along entry
        wins."""
        if (other.tracking_uri, other.experiment_uid) != (self.tracking_uri, self.experiment_uid):
            return
        self.experiment_id = self.experiment_id or other.experiment_id
        for stage, run_id in other.parents.items():
            self.parents.setdefault(stage, run_id)
        for tid, run in other.trials.items():
            mine = self.trials.get(tid)
            if mine is None or (run.run_id == mine.run_id and (run.synced, run.reports) > (mine.synced, mine.reports)):
                self.trials[tid] = TrialRun(run.run_id, run.reports, run.synced)

    def synced_ids(self) -> set[str]:
        return {tid for tid, run in self.trials.items() if run.synced}


def ledger_path(experiment_dir: str | Path, tracking_uri: str) -> Path:
    """Where the ledger of ``tracking_uri`` lives inside an experiment directory."""
    digest = hashlib.sha1(tracking_uri.encode()).hexdigest()[:12]
    return Path(experiment_dir) / "mlflow" / f"runs-{digest}.json"


def load_ledger(path: str | Path, tracking_uri: str, experiment_uid: str) -> RunLedger:
    """The ledger at ``path`` (an empty one when the file does not exist yet or belongs to another store or to
    an experiment this one replaced). A damaged ledger raises :class:`DamagedFileError` (naming the file and
    ``raynas doctor``): going on without it would send every trial again as new runs."""
    path = Path(path)
    empty = RunLedger(tracking_uri, experiment_uid)
    if not path.exists():
        return empty
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError(f"holds a JSON {type(data).__name__}, expected a JSON object")
        ledger = RunLedger.from_dict(data)
        if not isinstance(ledger.tracking_uri, str) or not isinstance(ledger.experiment_uid, str):
            raise ValueError("no tracking URI or experiment id")
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        raise DamagedFileError(path, problem_of(exc)) from None
    return ledger if (ledger.tracking_uri, ledger.experiment_uid) == (tracking_uri, experiment_uid) else empty


def save_ledger(path: str | Path, ledger: RunLedger) -> None:
    """Write atomically (temporary file + rename), so a killed process leaves the previous version."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(ledger.to_dict(), separators=(",", ":")))
