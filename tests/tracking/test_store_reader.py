"""The trial store's incremental reader: only what was written since the last call, whoever wrote and compacted it,
and the driver-side callers that read the store through it."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq

from raynas.tracking import SCHEMA, StoreReader, TrialRecord, TrialStore


def record(i: int, **kw) -> TrialRecord:
    base = dict(trial_id=f"t{i}", number=i, arch={"a": i}, genotype=(i, 0), reward=float(i), status="completed",
                start_time=100.0 + i, end_time=101.0 + i, metrics={"acc": float(i)}, resources={"cpu": 1.0}, seed=i)
    base.update(kw)
    return TrialRecord(**base)


def ids(records) -> list[str]:
    return [r.trial_id for r in records]


def test_an_empty_or_missing_store_has_nothing_new(tmp_path):
    reader = TrialStore(tmp_path / "not-yet").reader()
    assert reader.new_records() == []
    assert reader.new_table().num_rows == 0 and reader.new_table().schema == SCHEMA
    (tmp_path / "not-yet").mkdir()
    assert reader.new_records() == []
    TrialStore(tmp_path / "not-yet").append(record(1))  # the directory appears later: the same reader sees it
    assert reader.new_records() == [record(1)]


def test_each_call_returns_only_the_records_written_since_the_last(tmp_path):
    store = TrialStore(tmp_path)
    reader = store.reader()
    store.append(record(1))
    store.append(record(2))
    first = reader.new_records()
    assert first == [record(1), record(2)]  # whole records, as records() gives them
    assert reader.new_records() == []
    store.append(record(3))
    store.append_many([record(4), record(5)])
    assert ids(reader.new_records()) == ["t3", "t4", "t5"]
    assert reader.new_records() == []
    assert ids(store.reader().new_records()) == ["t1", "t2", "t3", "t4", "t5"]  # a new reader starts at the beginning


def test_compaction_between_calls_neither_repeats_nor_loses_records(tmp_path):
    store = TrialStore(tmp_path, compact_every=4)
    reader = store.reader()
    seen: list[str] = []
    rng = random.Random(0)
    for i in range(1, 60):
        store.append(record(i))  # a chunk every 4 parts, some read as parts before, some not
        if rng.random() < 0.4:
            seen += ids(reader.new_records())
    seen += ids(reader.new_records())
    assert seen == [f"t{i}" for i in range(1, 60)]
    assert len(list(tmp_path.glob("chunk-*.parquet"))) == 14


def test_a_chunk_whose_parts_were_all_read_costs_only_its_footer(tmp_path, monkeypatch):
    store = TrialStore(tmp_path)
    reader = store.reader()
    for i in (1, 2, 3):
        store.append(record(i))
    assert len(reader.new_records()) == 3
    reads: list[str] = []
    original = pq.ParquetFile.read
    monkeypatch.setattr(pq.ParquetFile, "read", lambda self, *a, **k: reads.append("chunk") or original(self, *a, **k))
    store.compact()  # the chunk holds t1..t3, all read as parts
    assert reader.new_records() == [] and reads == []
    store.append(record(4))
    store.compact()  # the chunk holds t4 alone, not read yet
    assert ids(reader.new_records()) == ["t4"] and reads == ["chunk"]


def test_records_appended_and_compacted_by_another_store_instance(tmp_path):
    writer = TrialStore(tmp_path, compact_every=5)
    reader = TrialStore(tmp_path).reader()
    writer.append(record(1))
    assert ids(reader.new_records()) == ["t1"]
    other = TrialStore(tmp_path, compact_every=5)  # a second writer (a resumed driver), its own sequence numbers
    for i in range(2, 9):
        (writer if i % 2 else other).append(record(i))
    got = ids(reader.new_records())
    assert sorted(got) == sorted(f"t{i}" for i in range(2, 9)) and len(got) == 7
    assert reader.new_records() == []


def test_records_written_by_another_process(tmp_path):
    script = (
        "import sys\n"
        "from raynas.tracking import TrialRecord, TrialStore\n"
        "store = TrialStore(sys.argv[1], compact_every=3)\n"
        "for i in range(int(sys.argv[2]), int(sys.argv[3])):\n"
        "    store.append(TrialRecord(trial_id=f't{i}', number=i, arch={}, genotype=(), reward=1.0, status='completed'))\n"
    )
    reader = TrialStore(tmp_path).reader()
    root = str(Path(__file__).resolve().parents[2])
    subprocess.run([sys.executable, "-c", script, str(tmp_path), "0", "4"], check=True, cwd=root)
    assert ids(reader.new_records()) == ["t0", "t1", "t2", "t3"]  # one chunk (t0..t2) and one part (t3)
    subprocess.run([sys.executable, "-c", script, str(tmp_path), "4", "7"], check=True, cwd=root)
    assert ids(reader.new_records()) == ["t4", "t5", "t6"]  # it compacted t3 again, with t4 and t5
    assert reader.new_records() == []


def test_a_compaction_interrupted_before_removing_its_parts_yields_no_duplicates(tmp_path):
    store = TrialStore(tmp_path)
    for i in (1, 2, 3):
        store.append(record(i))
    early = store.reader()
    assert len(early.new_records()) == 3
    saved = tmp_path / "saved"
    saved.mkdir()
    for part in tmp_path.glob("part-*.parquet"):
        shutil.copy(part, saved / part.name)
    store.compact()
    for part in saved.iterdir():  # as if the process died after writing the chunk, before unlinking its parts
        shutil.copy(part, tmp_path / part.name)
    assert early.new_records() == []
    assert ids(store.reader().new_records()) == ["t1", "t2", "t3"]  # a fresh reader: the chunk, not the parts again
    store.append(record(4))
    store.compact()  # the next compaction merges the left-over parts again, with t4
    assert ids(early.new_records()) == ["t4"]


def test_a_part_compacted_away_between_listing_and_read_comes_from_its_chunk(tmp_path, monkeypatch):
    store = TrialStore(tmp_path)
    store.append(record(1))
    store.append(record(2))
    reader = store.reader()
    stale = reader._listing()  # listed before the compaction, read after it
    store.compact()
    calls = []

    def listing(self):
        calls.append(1)
        return stale if len(calls) == 1 else StoreReader._listing.__wrapped__(self)

    listing.__wrapped__ = StoreReader._listing
    monkeypatch.setattr(StoreReader, "_listing", listing)
    assert ids(reader.new_records()) == ["t1", "t2"]
    assert len(calls) == 2  # listed again once a file had vanished


def test_a_chunk_written_before_chunks_named_their_parts_counts_whole(tmp_path):
    rows = pa.Table.from_pylist([record(i).to_row() for i in (1, 2)], schema=SCHEMA)
    pq.write_table(rows, tmp_path / "chunk-000000000-00000000.parquet")  # no parts metadata
    store = TrialStore(tmp_path)
    reader = store.reader()
    assert ids(reader.new_records()) == ["t1", "t2"]
    store.append(record(3))
    assert ids(reader.new_records()) == ["t3"]


def test_a_trial_recorded_again_comes_again_in_write_order(tmp_path):
    store = TrialStore(tmp_path)
    reader = store.reader()
    store.append(record(1, status="stopped", reward=None))
    store.append(record(2))
    assert [r.status for r in reader.new_records()] == ["stopped", "completed"]
    store.append(record(1, end_time=500.0))  # resumed and finished
    again = reader.new_records()
    assert ids(again) == ["t1"] and again[0].status == "completed" and again[0].end_time == 500.0


# --- the driver-side callers ------------------------------------------------------------------------------
def fake_trial(i: int, reward: float | None = None, *, status: str = "completed") -> SimpleNamespace:
    result = {"reward": reward if reward is not None else float(i)}
    if status != "completed":
        result = {"raynas_status": status, "raynas_reason": "boom"}
    return SimpleNamespace(trial_id=f"t{i}", config={"number": i, "arch": {"a": i}, "genotype": [i], "seed": i},
                           last_result=result, status="TERMINATED", checkpoint=None, run_metadata=None)


def test_search_plotter_reads_only_new_trials_and_redraws_when_some_came(tmp_path, monkeypatch):
    import raynas.tune._search_plot
    from raynas.tune import SearchPlotter

    drawn: list[list[tuple]] = []
    monkeypatch.setattr(raynas.tune._search_plot, "search_plot",
                        lambda records, path, **kw: drawn.append(sorted((r.number, r.reward, r.status) for r in records)))
    store = TrialStore(tmp_path / "trials")
    plotter = SearchPlotter(str(tmp_path / "trials"), str(tmp_path / "plot.png"), interval_s=0.0)
    plotter.draw()
    assert drawn == []  # nothing stored yet
    store.append(record(1))
    store.append(record(2, status="failed", reward=None))
    plotter.draw()
    plotter.draw()  # nothing new: not drawn again
    store.append(record(1, status="completed", reward=7.0, end_time=900.0))  # t1 recorded again: its point moves
    store.append(record(3))
    plotter.draw()
    assert drawn == [[(1, 1.0, "completed"), (2, None, "failed")],
                     [(1, 7.0, "completed"), (2, None, "failed"), (3, 3.0, "completed")]]


def test_search_plotter_draws_the_real_plot_from_the_store(tmp_path):
    from raynas.tune import SearchPlotter

    store = TrialStore(tmp_path / "trials")
    for i in range(1, 30):
        store.append(record(i))
    plotter = SearchPlotter(str(tmp_path / "trials"), str(tmp_path / "plot.png"), interval_s=0.0)
    plotter.on_experiment_end([])
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_failure_budget_and_recorder_restore_from_the_store(tmp_path):
    from raynas.tune import FailureBudget, TrialRecorder

    store = TrialStore(tmp_path)
    store.append(record(1, status="failed", reward=None))
    store.append(record(2, status="invalid", reward=None))
    store.append(record(3))
    store.append(record(4, status="stopped", reward=None))
    store.append(record(1, status="completed", end_time=999.0))  # t1 ran again after a resume and completed
    budget = FailureBudget(5, "reward", str(tmp_path / "budget.json"), str(tmp_path))
    budget.set_state({"failed": 0, "counted": ["t9"]})
    assert budget.counted == {"t2", "t9"} and budget.failed == 2
    recorder = TrialRecorder(str(tmp_path), "reward", {"cpu": 1.0})
    recorder.set_state({"recorded": ["t9"]})
    assert recorder.recorded == {"t1", "t2", "t3", "t4", "t9"}
    assert recorder.get_state() == {"recorded": ["t1", "t2", "t3", "t4", "t9"]}


def test_auto_stop_restores_from_the_store_and_decides_as_before(tmp_path):
    from raynas.analysis import auto_stop_decision
    from raynas.config import AutoStopConfig
    from raynas.tune import AutoStop

    config = AutoStopConfig(max_invalid_fraction=0.25, invalid_min_trials=10)
    store = TrialStore(tmp_path / "trials")
    statuses = ["invalid" if i % 3 == 0 else "completed" for i in range(1, 12)]
    for i, status in enumerate(statuses, start=1):
        store.append(record(i, status=status, reward=None if status == "invalid" else float(i)))
    stop = AutoStop(config, metric="reward", mode_max=True, ledger_path=str(tmp_path / "auto_stop.json"),
                    store_dir=str(tmp_path / "trials"))
    stop.set_state({"outcomes": {"1": ["completed", 1.0], "40": ["completed", 5.0]}})
    assert len(stop.outcomes) == 12 and stop.outcomes[3] == ("invalid", None) and stop.outcomes[40] == ("completed", 5.0)
    assert stop.get_state()["outcomes"]["2"] == ["completed", 2.0]
    stop.on_trial_complete(0, [], fake_trial(12))
    assert not (tmp_path / "auto_stop.json").exists()  # 3 of 13 invalid
    stop.on_trial_complete(0, [], fake_trial(41, status="invalid"))
    ordered = [stop.outcomes[n] for n in sorted(stop.outcomes)]
    expected = auto_stop_decision(ordered, config)
    assert expected is not None and expected.rule == "too_many_invalid"  # 4 of 14 invalid
    assert json.loads((tmp_path / "auto_stop.json").read_text()) == expected.to_dict()
