"""The trial store: every finished trial appended to Parquet on disk the moment it ends.

Layout: ``<experiment>/trials/part-<seq>.parquet`` (one small file per trial, written atomically) and
``chunk-<seq>.parquet`` (parts merged by :meth:`TrialStore.compact`). Readers merge all files and keep the
last record of each ``trial_id``, so a crash in the middle of a compaction or a re-recorded trial after a
resume never yields duplicates.

A chunk names the parts it merged (and their row counts) in its Parquet metadata, so that a
:class:`StoreReader` (:meth:`TrialStore.reader`), which reads only the files written since its last call,
skips the rows of a chunk it already read as parts.

A damaged file (truncated, garbled, not Parquet, another schema) never stops a reader: it is skipped, every record
of the other files is still returned, and the damage is reported once per store object (a logging warning naming
the file and ``raynas doctor``; :meth:`TrialStore.damaged`). :meth:`TrialStore.compact` leaves a damaged part where
it is, for ``raynas doctor --repair`` to move aside.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from raynas.errors import experiment_of, problem_of
from raynas.trials import TrialRecord

log = logging.getLogger(__name__)

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
#: Parquet metadata key of a chunk: JSON list of ``[part file name, rows]`` it merged, in row order.
PARTS_KEY = b"raynas.parts"
#: Columns a store file must have (the others read as nulls when a file predates them).
REQUIRED = ("trial_id", "number", "arch", "genotype", "status", "metrics")


class DamagedStoreFile(Exception):
    """A store file that cannot be read as trial records (raised inside this module only: readers skip it)."""


#: (file, problem) pairs already warned about in this process: a command opens a store several times (its summary,
#: its callbacks...) and says each damage once. Log de-duplication only, like the ``warnings`` module's registry.
_WARNED: set[tuple[str, str]] = set()


class _DamageLog:
    """The damaged files (and unreadable records) a store object met, each reported once as a logging warning."""

    def __init__(self, directory: Path, *, quiet: bool = False) -> None:
        self.directory = directory
        self.quiet = quiet
        self.found: dict[str, str] = {}  # file name (or "trial <id>" for one unreadable record) -> problem

    def add(self, name: str, problem: str) -> None:
        if name in self.found:
            return
        self.found[name] = problem
        key = (str(self.directory / name), problem)
        if self.quiet or key in _WARNED:
            return
        _WARNED.add(key)
        where = self.directory / name if not name.startswith("trial ") else f"{self.directory} ({name})"
        log.warning("trial store: skipped %s: damaged (%s); the other trials are read. Check the experiment with "
                    "`raynas doctor %s`", where, problem, experiment_of(self.directory / "x"))

    def listing(self) -> list[tuple[Path, str]]:
        return [(self.directory / name, problem) for name, problem in sorted(self.found.items())]


class TrialStore:
    """Append-only Parquet store of :class:`TrialRecord` in one directory."""

    def __init__(self, directory: str | Path, *, compact_every: int = COMPACT_EVERY) -> None:
        self.directory = Path(directory)
        self.compact_every = compact_every
        self._next: dict[str, int] = {}  # next sequence number per file prefix, read from disk once
        self._parts: int | None = None  # part files on disk, counted once then tracked
        self._damage = _DamageLog(self.directory)

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
        """Merge all readable part files into one chunk file (safe to interrupt at any point). A damaged part is
        never merged nor deleted: it stays for ``raynas doctor`` (``--repair`` moves it aside)."""
        parts: list[Path] = []
        tables: list[pa.Table] = []
        for path in self._files("part"):
            table = self._read(path)
            if table is not None:
                parts.append(path)
                tables.append(table)
        if not parts:
            self._parts = 0
            return
        merged = [[p.name, t.num_rows] for p, t in zip(parts, tables)]
        table = pa.concat_tables(tables).replace_schema_metadata({PARTS_KEY: json.dumps(merged).encode()})
        self._write_atomic(table, "chunk")
        for part in parts:
            part.unlink(missing_ok=True)
        self._parts = 0

    def _read(self, path: Path) -> pa.Table | None:
        """One file, or None when it is damaged (reported once); FileNotFoundError when it vanished."""
        try:
            return _read_file(path)
        except FileNotFoundError:
            raise
        except DamagedStoreFile as exc:
            self._damage.add(path.name, str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever pyarrow raises on a damaged file: skip and report it
            self._damage.add(path.name, problem_of(exc))
        return None

    def damaged(self) -> list[tuple[Path, str]]:
        """The damaged files (and unreadable records) the reads of this store object skipped, with the problem."""
        return self._damage.listing()

    def read_table(self) -> pa.Table:
        """All records, one per trial id (the latest written wins), ordered by trial number. A damaged file is
        skipped and reported (:meth:`damaged`), never raised."""
        for attempt in range(3):  # a part compacted away between the listing and its read: list again
            files = self._files("chunk") + self._files("part")
            try:
                tables = [t for t in (self._read(f) for f in files) if t is not None]
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        if not tables:
            return SCHEMA.empty_table()
        table = pa.concat_tables(tables)
        ids = table.column("trial_id").to_pylist()
        last = {tid: i for i, tid in enumerate(ids)}
        if len(last) != len(ids):
            table = table.take(sorted(last.values()))
        return table.sort_by([("number", "ascending")])

    def read_pandas(self, *, expand_metrics: bool = True):
        """Records as a pandas DataFrame; with ``expand_metrics`` each final metric becomes a ``metric.<name>`` column."""
        import pandas as pd

        table = self.read_table()
        table = table.filter(pa.array(_readable_rows(table, self._damage), type=pa.bool_()))
        frame = table.to_pandas()
        if expand_metrics and len(frame):
            metrics = pd.json_normalize([json.loads(m) for m in frame["metrics"]]).add_prefix("metric.")
            frame = pd.concat([frame.reset_index(drop=True), metrics], axis=1)
        return frame

    def __len__(self) -> int:
        return self.read_table().num_rows

    def records(self) -> list[TrialRecord]:
        """All records, one per trial id (the latest written wins), ordered by trial number."""
        return _to_records(self.read_table(), self._damage)

    def reader(self) -> "StoreReader":
        """A cursor over this store: each :meth:`StoreReader.new_records` returns only what was written since."""
        return StoreReader(self.directory)


class StoreReader:
    """Reads a trial store incrementally: each call returns the records written since the previous call.

    The cost of a call is that of listing the directory and reading the files that are new to it (a chunk
    merged from parts it already read costs one small read and returns nothing), not that of the whole store.
    It works on a store that another process or another :class:`TrialStore` writes and compacts meanwhile.

    Records come in the order they were written. A trial recorded again (its trial stopped and run again after a
    resume) comes again: apply them in order and the last one wins, as in :meth:`TrialStore.read_table`.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._done: set[str] = set()  # names of the files (parts and chunks) whose rows were all returned
        self._damage = _DamageLog(self.directory)

    def damaged(self) -> list[tuple[Path, str]]:
        """The damaged files (and unreadable records) this reader skipped so far, with the problem."""
        return self._damage.listing()

    def new_table(self) -> pa.Table:
        """The rows written since the previous call, as a table in the store's schema (empty when none)."""
        tables: list[pa.Table] = []
        for _ in range(3):  # a part compacted away between the listing and its read: its chunk is new next pass
            vanished = False
            for path in self._listing():
                if path.name in self._done:
                    continue
                try:
                    table = self._unread_rows(path)
                except FileNotFoundError:
                    vanished = True
                    continue
                except Exception as exc:  # noqa: BLE001 - a damaged file: skipped (never read again) and reported
                    self._damage.add(path.name, str(exc) if isinstance(exc, DamagedStoreFile) else problem_of(exc))
                    self._done.add(path.name)
                    continue
                self._done.add(path.name)
                if table.num_rows:
                    tables.append(table)
            if not vanished:
                break
        return pa.concat_tables(tables) if tables else SCHEMA.empty_table()

    def new_records(self) -> list[TrialRecord]:
        """The records written since the previous call (all of them at the first call), in write order."""
        return _to_records(self.new_table(), self._damage)

    def _listing(self) -> list[Path]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        chunks = sorted(n for n in names if n.startswith("chunk-") and n.endswith(".parquet"))
        parts = sorted(n for n in names if n.startswith("part-") and n.endswith(".parquet"))
        return [self.directory / n for n in chunks + parts]  # the order of read_table: the last record wins

    def _unread_rows(self, path: Path) -> pa.Table:
        """The rows of ``path`` not yet returned: all of a part; of a chunk, those of the parts not read before."""
        if not path.name.startswith("chunk-"):
            return _read_file(path)
        with pq.ParquetFile(path) as handle:
            merged = json.loads((handle.schema_arrow.metadata or {}).get(PARTS_KEY, b"null"))
            if merged is not None and all(name in self._done for name, _ in merged):
                return SCHEMA.empty_table()  # read already, part by part: only its footer was read
            table = _conform(handle.read())
        if merged is not None and (not isinstance(merged, list) or sum(int(rows) for _, rows in merged) != table.num_rows):
            raise DamagedStoreFile(f"its list of merged parts does not match its {table.num_rows} rows")
        if merged is None:  # a chunk written before chunks named their parts: all its rows count as new
            return table
        keep: list[pa.Table] = []
        offset = 0
        for name, rows in merged:
            if name not in self._done:
                keep.append(table.slice(offset, rows))
                self._done.add(name)  # its part file, if a compaction left it behind, is not read again
            offset += rows
        return pa.concat_tables(keep) if keep else SCHEMA.empty_table()


def _to_records(table: pa.Table, damage: _DamageLog | None = None) -> list[TrialRecord]:
    out = []
    for row in table.to_pylist():
        try:
            out.append(_to_record(row))
        except Exception as exc:  # noqa: BLE001 - one garbled record: skipped and reported, the others are read
            if damage is None:
                raise
            damage.add(f"trial {row.get('trial_id')}", f"unreadable record: {problem_of(exc)}")
    return out


def _readable_rows(table: pa.Table, damage: _DamageLog) -> list[bool]:
    """Which rows hold valid JSON in their JSON columns (an unreadable one is reported)."""
    keep = []
    columns = {name: table.column(name).to_pylist() for name in ("arch", "metrics", "history", "resources", "labels")}
    for i, tid in enumerate(table.column("trial_id").to_pylist()):
        try:
            for name, values in columns.items():
                if values[i] or name != "labels":
                    json.loads(values[i])
            keep.append(True)
        except Exception as exc:  # noqa: BLE001
            damage.add(f"trial {tid}", f"unreadable record: {problem_of(exc)}")
            keep.append(False)
    return keep


def _to_record(row: dict) -> TrialRecord:
    return (TrialRecord(
            trial_id=row["trial_id"], number=row["number"], arch=json.loads(row["arch"]),
            genotype=tuple(row["genotype"]), reward=row["reward"], status=row["status"],
            failure_reason=row["failure_reason"], start_time=row["start_time"], end_time=row["end_time"],
            iterations=row["iterations"], metrics=json.loads(row["metrics"]), history=json.loads(row["history"]),
            resources=json.loads(row["resources"]), seed=row["seed"], checkpoint=row["checkpoint"],
            labels=json.loads(row["labels"]) if row["labels"] else {},
            node=row["node"], restarts=row["restarts"] or 0,
        ))


def _read_file(path: Path) -> pa.Table:
    """One store file in the current schema; columns added since the file was written read as nulls."""
    return _conform(pq.read_table(path))


def _conform(table: pa.Table) -> pa.Table:
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise DamagedStoreFile(f"not a trial store file: no column {', '.join(missing)}")
    try:
        columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
                   else pa.nulls(table.num_rows, f.type) for f in SCHEMA]
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DamagedStoreFile(f"wrong schema: {problem_of(exc)}") from None
    conformed = pa.Table.from_arrays(columns, schema=SCHEMA)
    try:  # garbled bytes can decode into invalid UTF-8 or offsets, which crash (even segfault) later uses
        conformed.validate(full=True)
    except (pa.ArrowException, ValueError) as exc:
        raise DamagedStoreFile(f"garbled data: {problem_of(exc)}") from None
    if conformed.column("trial_id").null_count or conformed.column("number").null_count:
        raise DamagedStoreFile("records without a trial id or number")
    return conformed


def check_file(path: str | Path) -> tuple[list[str], str | None]:
    """Read one store file as every reader does: (its trial ids, None) when it is readable, (the ids it still
    gives, problem) when it is damaged (``raynas doctor`` uses this)."""
    try:
        table = _read_file(Path(path))
    except DamagedStoreFile as exc:
        return [], str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow raises on a damaged file
        return [], problem_of(exc)
    ids = [str(t) for t in table.column("trial_id").to_pylist()]
    damage = _DamageLog(Path(path).parent, quiet=True)
    if not all(_readable_rows(table, damage)):
        return ids, "; ".join(f"{k}: {v}" for k, v in sorted(damage.found.items()))
    return ids, None


def _next_seq(directory: Path, prefix: str) -> int:
    highest = -1
    for path in directory.glob(f"{prefix}-*.parquet"):
        try:
            highest = max(highest, int(path.name.split("-")[1]))
        except (IndexError, ValueError):
            continue
    return highest + 1


__all__ = ["SCHEMA", "StoreReader", "TrialRecord", "TrialStore", "check_file"]
