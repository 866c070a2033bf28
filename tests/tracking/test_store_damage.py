"""A damaged store file is skipped and reported, never raised: every trial of the other files is still read."""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raynas.tracking import TrialRecord, TrialStore, check_file
from raynas.trials import TrialStatus


def record(number: int, **overrides) -> TrialRecord:
    base = dict(trial_id=f"t{number:03d}", number=number, arch={"op": number % 3}, genotype=(number % 3,),
                reward=float(number), status=TrialStatus.COMPLETED, start_time=float(number),
                end_time=float(number) + 1, metrics={"val_accuracy": float(number)})
    base.update(overrides)
    return TrialRecord(**base)


def store_with(tmp_path, n: int = 6, **kwargs) -> TrialStore:
    store = TrialStore(tmp_path / "exp" / "trials", **kwargs)
    for i in range(1, n + 1):
        store.append(record(i))
    return store


def garble_utf8(path):
    table = pq.read_table(path)
    i = table.column_names.index("node")
    bad = pa.array([b"\xff\xfe broken"] * table.num_rows, pa.binary()).view(pa.string())  # invalid UTF-8
    pq.write_table(table.set_column(i, "node", bad), path)


DAMAGES = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "zeroed": lambda p: p.write_bytes(bytes(p.stat().st_size)),
    "text": lambda p: p.write_text("not parquet at all"),
    "empty": lambda p: p.write_bytes(b""),
    "other schema": lambda p: pq.write_table(pa.table({"a": [1, 2]}), p),
    "no trial id": lambda p: pq.write_table(pq.read_table(p).drop_columns(["trial_id"]), p),
    "null trial id": lambda p: pq.write_table(pq.read_table(p).set_column(0, "trial_id", pa.nulls(1, pa.string())), p),
    "number as text": lambda p: pq.write_table(
        pq.read_table(p).set_column(1, "number", pa.array(["seven"])), p),
    "invalid utf-8": garble_utf8,
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_part_is_skipped_and_reported_once(tmp_path, caplog, damage):
    store = store_with(tmp_path)
    parts = sorted(store.directory.glob("part-*.parquet"))
    DAMAGES[damage](parts[2])
    fresh = TrialStore(store.directory)
    with caplog.at_level(logging.WARNING, logger="raynas"):
        numbers = [r.number for r in fresh.records()]
        assert fresh.read_table().num_rows == 5
        assert len(fresh) == 5
        frame = fresh.read_pandas()
    assert numbers == [1, 2, 4, 5, 6]
    assert sorted(frame["number"]) == [1, 2, 4, 5, 6]
    assert [p for p, _ in fresh.damaged()] == [parts[2]]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # reported once, however many reads
    assert parts[2].name in warnings[0] and "raynas doctor" in warnings[0] and str(tmp_path / "exp") in warnings[0]
    ids, problem = check_file(parts[2])
    assert problem and check_file(parts[0]) == (["t001"], None)


def test_a_damaged_chunk_leaves_the_parts_written_after_it_readable(tmp_path):
    store = store_with(tmp_path, n=4)
    store.compact()
    for i in range(5, 8):
        store.append(record(i))
    chunk = next(store.directory.glob("chunk-*.parquet"))
    chunk.write_bytes(chunk.read_bytes()[:100])
    fresh = TrialStore(store.directory)
    assert [r.number for r in fresh.records()] == [5, 6, 7]
    assert [p for p, _ in fresh.damaged()] == [chunk]


def test_compact_never_merges_nor_deletes_a_damaged_part(tmp_path):
    store = store_with(tmp_path, n=5)
    parts = sorted(store.directory.glob("part-*.parquet"))
    parts[1].write_bytes(b"garbage")
    store.compact()
    assert sorted(store.directory.glob("part-*.parquet")) == [parts[1]]  # left for raynas doctor
    assert parts[1].read_bytes() == b"garbage"
    assert [r.number for r in TrialStore(store.directory).records()] == [1, 3, 4, 5]
    auto = store_with(tmp_path / "auto", n=2, compact_every=3)
    bad = sorted(auto.directory.glob("part-*.parquet"))[0]
    bad.write_bytes(b"")
    auto.append(record(3))  # the third part triggers a compaction
    assert bad.exists() and [r.number for r in TrialStore(auto.directory).records()] == [2, 3]


def test_the_incremental_reader_skips_a_damaged_file_and_goes_on(tmp_path, caplog):
    store = store_with(tmp_path, n=3)
    reader = store.reader()
    sorted(store.directory.glob("part-*.parquet"))[0].write_bytes(b"\x00" * 50)
    with caplog.at_level(logging.WARNING, logger="raynas"):
        assert [r.number for r in reader.new_records()] == [2, 3]
        store.append(record(4))
        assert [r.number for r in reader.new_records()] == [4]
        assert reader.new_records() == []
    assert len(reader.damaged()) == 1
    assert sum("raynas doctor" in r.getMessage() for r in caplog.records) == 1


def test_a_chunk_whose_list_of_parts_does_not_match_its_rows_is_damaged(tmp_path):
    store = store_with(tmp_path, n=3)
    store.compact()
    chunk = next(store.directory.glob("chunk-*.parquet"))
    table = pq.read_table(chunk)
    pq.write_table(table.slice(0, 2).replace_schema_metadata(table.schema.metadata), chunk)
    reader = TrialStore(store.directory).reader()
    assert reader.new_records() == [] and "merged parts" in reader.damaged()[0][1]


def test_a_record_with_garbled_json_is_skipped_the_others_read(tmp_path, caplog):
    store = store_with(tmp_path, n=3)
    part = sorted(store.directory.glob("part-*.parquet"))[1]
    table = pq.read_table(part)
    pq.write_table(table.set_column(table.column_names.index("arch"), "arch", pa.array(["{not json"])), part)
    fresh = TrialStore(store.directory)
    with caplog.at_level(logging.WARNING, logger="raynas"):
        assert [r.number for r in fresh.records()] == [1, 3]
        assert sorted(fresh.read_pandas()["number"]) == [1, 3]
    assert fresh.damaged()[0][0].name == "trial t002"
    assert check_file(part)[1] is not None


def test_a_command_opening_the_store_several_times_warns_once(tmp_path, caplog):
    store = store_with(tmp_path, n=3)
    sorted(store.directory.glob("part-*.parquet"))[1].write_bytes(b"PAR1 cut")
    with caplog.at_level(logging.WARNING, logger="raynas"):
        stores = [TrialStore(store.directory) for _ in range(3)]
        for each in stores:
            assert [r.number for r in each.records()] == [1, 3]
        assert [r.number for r in TrialStore(store.directory).reader().new_records()] == [1, 3]
    assert all(len(each.damaged()) == 1 for each in stores)  # each reader still lists it
    assert sum("raynas doctor" in r.getMessage() for r in caplog.records) == 1
