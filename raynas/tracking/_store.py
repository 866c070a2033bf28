"""The trial store: every finished trial appended to Parquet on disk the moment it ends.

Layout: ``<experiment>/trials/part-<seq>.parquet`` (one small file per trial, written atomically) and
``chunk-<seq>.parquet`` (parts merged by :meth:`TrialStore.compact`). Readers merge all files and keep the
last record of each ``trial_id``, so a crash in the middle of a compaction or a re-recorded trial after a
resume never yields duplicates.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([
    ("trial_id", pa.string()),
    ("number", pa.int64()),
    ("arch", pa.string()),
    ("genotype", pa.list_(pa.int64())),
    ("reward", pa.float64()),
    ("status", pa.string()),
    ("failure_reason", pa.string()),
    ("start_time", pa.float64()),
    ("end_time", pa.float64()),
    ("duration_s", pa.float64()),
    ("iterations", pa.int64()),
    ("metrics", pa.string()),
    ("history", pa.string()),
    ("resources", pa.string()),
    ("seed", pa.int64()),
    ("checkpoint", pa.string()),
    ("labels", pa.string()),
    ("node", pa.string()),
    ("restarts", pa.int64()),
])

#: Merge part files into one chunk once this many have accumulated.
COMPACT_EVERY = 256


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial as stored. ``metrics`` holds the last reported values; ``history`` every report."""

    trial_id: str
    number: int
    arch: Any
    genotype: tuple[int, ...]
    reward: float | None
    status: str
    failure_reason: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    iterations: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    #: Directory of the trial's final checkpoint (full-training runs), None when it kept none.
    checkpoint: str | None = None
    #: What the trial is within a tool run, e.g. ``{"candidate": "e4", "model": "ref-03"}`` (proxy-design tools).
    labels: dict[str, str] = field(default_factory=dict)
    #: Ray node id of the node the trial (last) ran on.
    node: str | None = None
    #: How often the trial was started again after the infrastructure lost it (a node died, its actor was lost).
    restarts: int = 0

    def to_row(self) -> dict[str, Any]:
        duration = None
        if self.start_time is not None and self.end_time is not None:
            duration = self.end_time - self.start_time
        reward = self.reward if self.reward is not None and math.isfinite(self.reward) else None
        return {
            "trial_id": self.trial_id,
            "number": int(self.number),
            "arch": json.dumps(self.arch, sort_keys=True),
            "genotype": [int(g) for g in self.genotype],
            "reward": reward,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration_s": duration,
            "iterations": int(self.iterations),
            "metrics": _dumps(self.metrics),
            "history": _dumps(self.history),
            "resources": json.dumps(self.resources, sort_keys=True),
            "seed": self.seed,
            "checkpoint": self.checkpoint,
            "labels": json.dumps(self.labels, sort_keys=True) if self.labels else None,
            "node": self.node,
            "restarts": int(self.restarts),
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


class TrialStore:
    """Append-only Parquet store of :class:`TrialRecord` in one directory."""

    def __init__(self, directory: str | Path, *, compact_every: int = COMPACT_EVERY) -> None:
        self.directory = Path(directory)
        self.compact_every = compact_every
        self._next: dict[str, int] = {}  # next sequence number per file prefix, read from disk once
        self._parts: int | None = None  # part files on disk, counted once then tracked

    def _files(self, prefix: str) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"{prefix}-*.parquet"))

    def append(self, record: TrialRecord) -> Path:
        """Write one record durably (temporary file, fsync, atomic rename); compact when parts pile up."""
        return self.append_many([record])

    def append_many(self, records: Iterable[TrialRecord]) -> Path:
        rows = [r.to_row() for r in records]
        self.directory.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        if self._parts is None:
            self._parts = len(self._files("part"))
        path = self._write_atomic(table, "part")
        self._parts += 1
        if self._parts >= self.compact_every:
            self.compact()
        return path

    def _write_atomic(self, table: pa.Table, prefix: str) -> Path:
        if prefix not in self._next:
            self._next[prefix] = _next_seq(self.directory, prefix)
        seq = self._next[prefix]
        self._next[prefix] = seq + 1
        name = f"{prefix}-{seq:09d}-{uuid.uuid4().hex[:8]}.parquet"
        final = self.directory / name
        tmp = self.directory / f".tmp-{name}"
        pq.write_table(table, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        return final

    def compact(self) -> None:
        """Merge all part files into one chunk file (safe to interrupt at any point)."""
        parts = self._files("part")
        if not parts:
            return
        table = pa.concat_tables([_read_file(p) for p in parts])
        self._write_atomic(table, "chunk")
        for part in parts:
            part.unlink(missing_ok=True)
        self._parts = 0

    def read_table(self) -> pa.Table:
        """All records, one per trial id (the latest written wins), ordered by trial number."""
        files = self._files("chunk") + self._files("part")
        if not files:
            return SCHEMA.empty_table()
        table = pa.concat_tables([_read_file(f) for f in files])
        ids = table.column("trial_id").to_pylist()
        last = {tid: i for i, tid in enumerate(ids)}
        if len(last) != len(ids):
            table = table.take(sorted(last.values()))
        return table.sort_by([("number", "ascending")])

    def read_pandas(self, *, expand_metrics: bool = True):
        """Records as a pandas DataFrame; with ``expand_metrics`` each final metric becomes a ``metric.<name>`` column."""
        import pandas as pd

        frame = self.read_table().to_pandas()
        if expand_metrics and len(frame):
            metrics = pd.json_normalize([json.loads(m) for m in frame["metrics"]]).add_prefix("metric.")
            frame = pd.concat([frame.reset_index(drop=True), metrics], axis=1)
        return frame

    def __len__(self) -> int:
        return self.read_table().num_rows

    def records(self) -> list[TrialRecord]:
        out = []
        for row in self.read_table().to_pylist():
            out.append(TrialRecord(
                trial_id=row["trial_id"], number=row["number"], arch=json.loads(row["arch"]),
                genotype=tuple(row["genotype"]), reward=row["reward"], status=row["status"],
                failure_reason=row["failure_reason"], start_time=row["start_time"], end_time=row["end_time"],
                iterations=row["iterations"], metrics=json.loads(row["metrics"]), history=json.loads(row["history"]),
                resources=json.loads(row["resources"]), seed=row["seed"], checkpoint=row["checkpoint"],
                labels=json.loads(row["labels"]) if row["labels"] else {},
                node=row["node"], restarts=row["restarts"] or 0,
            ))
        return out


def _read_file(path: Path) -> pa.Table:
    """One store file in the current schema; columns added since the file was written read as nulls."""
    table = pq.read_table(path)
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in SCHEMA]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _next_seq(directory: Path, prefix: str) -> int:
    highest = -1
    for path in directory.glob(f"{prefix}-*.parquet"):
        try:
            highest = max(highest, int(path.name.split("-")[1]))
        except (IndexError, ValueError):
            continue
    return highest + 1


__all__ = ["SCHEMA", "TrialRecord", "TrialStore"]
