"""The Parquet trial store: durable appends, compaction, de-duplication, pandas export."""

from __future__ import annotations

import math

from raynas.tracking import TrialRecord, TrialStore


def record(i: int, **kw) -> TrialRecord:
    base = dict(trial_id=f"t{i}", number=i, arch={"a": i}, genotype=(i, 0), reward=float(i), status="completed",
                start_time=100.0 + i, end_time=101.0 + i, metrics={"acc": float(i), "name": "x"},
                history=[{"acc": 0.0}, {"acc": float(i)}], resources={"cpu": 1.0, "gpu": 0.0}, seed=i)
    base.update(kw)
    return TrialRecord(**base)


def test_append_read_and_round_trip(tmp_path):
    store = TrialStore(tmp_path / "trials")
    assert len(store) == 0 and store.read_pandas().empty
    store.append(record(2))
    store.append(record(1, status="failed", reward=None, failure_reason="boom"))
    records = store.records()
    assert [r.number for r in records] == [1, 2]
    assert records[1] == record(2)
    assert records[0].failure_reason == "boom" and records[0].reward is None


def test_compaction_keeps_everything_and_removes_parts(tmp_path):
    store = TrialStore(tmp_path, compact_every=10)
    for i in range(25):
        store.append(record(i))
    assert len(list(tmp_path.glob("chunk-*.parquet"))) == 2
    assert len(list(tmp_path.glob("part-*.parquet"))) == 5
    assert [r.number for r in store.records()] == list(range(25))


def test_rerecorded_trial_is_not_duplicated_and_latest_wins(tmp_path):
    store = TrialStore(tmp_path)
    store.append(record(1, status="stopped", reward=None))
    store.append(record(1))
    (only,) = store.records()
    assert only.status == "completed"


def test_unfinished_temporary_files_are_ignored(tmp_path):
    store = TrialStore(tmp_path)
    store.append(record(1))
    (tmp_path / ".tmp-part-000000009-dead.parquet").write_bytes(b"half a file")
    assert len(store) == 1


def test_pandas_export_expands_metrics(tmp_path):
    store = TrialStore(tmp_path)
    store.append(record(3))
    store.append(record(4, reward=math.nan))
    frame = store.read_pandas()
    assert list(frame["metric.acc"]) == [3.0, 4.0]
    assert frame["reward"].isna().tolist() == [False, True]
