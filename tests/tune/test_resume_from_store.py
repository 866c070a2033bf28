"""A resume rebuilds the search from the trial store (issue 16): lost numbers run again under their own number, a copied
experiment resumes into the copy only, a missing or damaged ``tune/`` folder does not matter, nothing is unpickled."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from raynas.config import Mode, SearchConfig
from raynas.tracking import TrialRecord, TrialStore

pytest.importorskip("ray.tune")


# --- the plan and the searcher, without Ray ---------------------------------------------------------------------
def _record(number: int, genotype, *, status: str = "completed", reward: float | None = 1.0, tid: str | None = None,
            start: float | None = None, end: float | None = None, reason: str | None = None) -> TrialRecord:
    return TrialRecord(trial_id=tid or f"t{number}", number=number, arch={}, genotype=tuple(genotype), reward=reward,
                       status=status, start_time=start, end_time=end, failure_reason=reason, seed=number)


def _searcher(tmp_path, max_trials: int, seed: int = 2):
    from raynas.tune import ControllerSearcher
    from raynas.tune._resume import launch_ledger

    config = SearchConfig.from_dict({"max_trials": max_trials, "seed": seed, "controller": "evolution"})
    return ControllerSearcher(config.build_controller(config.build_space()), max_trials=max_trials, metric="reward",
                              mode="max", seed=seed, store_dir=str(tmp_path / "trials"), ledger=launch_ledger(tmp_path))


def _drive(searcher, prefix: str, store: TrialStore | None = None, stop_after: int | None = None) -> list[dict]:
    """Run the searcher to the end as Ray Tune would (the trial id the searcher asks for, one trial at a time)."""
    from ray.tune.search import Searcher

    launched = []
    while stop_after is None or len(launched) < stop_after:
        tid = searcher.next_trial_id() or f"{prefix}{len(launched)}"
        cfg = searcher.suggest(tid)
        if cfg == Searcher.FINISHED:
            break
        launched.append({**cfg, "trial_id": tid})
        reward = float(sum(cfg["genotype"]))
        searcher.on_trial_complete(tid, {"reward": reward, "raynas_status": "completed"})
        if store is not None:
            store.append(TrialRecord(trial_id=tid, number=cfg["number"], arch=cfg["arch"], genotype=tuple(cfg["genotype"]),
                                     reward=reward, status="completed", seed=cfg["seed"]))
    return launched


def test_a_trial_lost_with_the_driver_runs_again_under_its_own_number_and_the_budget_is_exact(tmp_path):
    from raynas.tune._resume import launch_ledger, plan_resume

    store = TrialStore(tmp_path / "trials")
    first = _searcher(tmp_path, 12)
    launched = _drive(first, "a", store, stop_after=7)
    # number 4 was launched (it is in the launch ledger) but the driver died before it was stored: rebuild the store
    # without it, as a killed driver leaves it
    shutil.rmtree(store.directory)
    for cfg in launched:
        if cfg["number"] != 4:
            store.append(TrialRecord(trial_id=cfg["trial_id"], number=cfg["number"], arch=cfg["arch"],
                                     genotype=tuple(cfg["genotype"]), reward=1.0, status="completed"))
    lost = next(c for c in launched if c["number"] == 4)
    resumed = _searcher(tmp_path, 12)
    plan = plan_resume(store.records(), launch_ledger(tmp_path).read(), [], max_trials=12, direction=Mode.MAX, seed=2)
    assert [(r.number, r.trial_id, list(r.genotype), r.seed) for r in plan.reruns] == [
        (4, lost["trial_id"], lost["genotype"], lost["seed"])]
    resumed.resume(plan)
    assert resumed.next_trial_id() == lost["trial_id"]
    after = _drive(resumed, "b", store)
    assert after[0]["number"] == 4 and after[0]["genotype"] == lost["genotype"] and after[0]["trial_id"] == lost["trial_id"]
    assert sorted(r.number for r in store.records()) == list(range(1, 13))  # 1..12, each once
    assert len(store.records()) == 12


def test_numbers_that_left_no_trace_are_proposed_again_and_damaged_ledger_lines_are_skipped(tmp_path):
    from raynas.tune._resume import LAUNCHES_FILE, launch_ledger, plan_resume

    store = TrialStore(tmp_path / "trials")
    for n in (1, 2, 5):
        store.append(_record(n, (n % 5,) * 6))
    (tmp_path / LAUNCHES_FILE).write_bytes(
        b'{"number": 6, "trial_id": "x6", "genotype": [0, 1, 2, 3, 4, 0], "seed": 9}\n'
        b'\x00\x00\x00garbage\n{"number": "7"}\n[1, 2]\n{"number": 3, "genotype": "no", "seed": 1}\n'
        b'{"number": 8, "trial_id": "../../etc", "genotype": [1, 1, 1, 1, 1, 1], "seed": 3}\n{"numb')
    launches = launch_ledger(tmp_path).read()
    assert set(launches) == {6, 8} and launches[8].trial_id is None  # a trial id that is not one is dropped
    plan = plan_resume(store.records(), launches, [], max_trials=7, direction=Mode.MAX, seed=0)
    assert [r.number for r in plan.reruns] == [6]  # 8 is beyond max_trials
    assert plan.missing == [3, 4] and plan.top == 6
    searcher = _searcher(tmp_path, 7)
    searcher.resume(plan)
    numbers = [cfg["number"] for cfg in _drive(searcher, "n")]
    assert numbers == [6, 3, 4, 7]


def test_trials_stopped_by_an_interruption_run_again_those_a_stopper_ended_do_not(tmp_path):
    from raynas.tune._callbacks import END_OF_SEARCH_REASON
    from raynas.tune._resume import plan_resume

    records = [_record(1, (1,) * 6, start=1.0, end=2.0),
               _record(2, (2,) * 6, status="stopped", reward=None, start=1.5, end=3.0, reason=END_OF_SEARCH_REASON),
               _record(3, (3,) * 6, start=10.0, end=11.0),
               _record(4, (4,) * 6, status="stopped", reward=None, start=10.5, end=12.0, reason=END_OF_SEARCH_REASON),
               _record(5, (0,) * 6, status="stopped", reward=0.3, start=10.6, end=11.5, reason="early stopped by asha")]
    runs = [{"start": 0.0, "end": 5.0, "ended": "interrupted"}, {"start": 9.0, "end": 13.0, "ended": "timed_out"},
            {"start": 20.0, "end": None, "ended": None}]
    plan = plan_resume(records, {}, runs, max_trials=6, direction=Mode.MAX, seed=0)
    assert [(r.number, r.trial_id) for r in plan.reruns] == [(2, "t2")]  # the same trial id: its record is replaced
    assert plan.missing == [] and plan.top == 5
    # the trial that runs again is a pending proposal for the controller, not an outcome
    assert [(e.number, e.status is None) for e in plan.history if e.number == 2] == [(2, True)]


def test_a_searcher_rebuilt_from_the_store_proposes_what_the_one_that_lived_it_would(tmp_path):
    """No saved state at all: the controller replays the whole stored history and continues identically."""
    store = TrialStore(tmp_path / "trials")
    lived = _searcher(tmp_path, 30)
    _drive(lived, "l", store, stop_after=14)
    from raynas.tune._resume import launch_ledger, plan_resume

    rebuilt = _searcher(tmp_path, 30)
    rebuilt.resume(plan_resume(store.records(), launch_ledger(tmp_path).read(), [], max_trials=30, direction=Mode.MAX,
                               seed=2))
    assert rebuilt.num_suggested == lived.num_suggested == 14
    for i in range(14, 31):
        assert rebuilt.suggest(f"s{i}") == lived.suggest(f"s{i}")


# --- whole searches on Ray ----------------------------------------------------------------------------------------
def _config(work: Path, name: str = "rs", **overrides) -> SearchConfig:
    data = {"name": name, "workdir": str(work), "max_trials": 5, "max_concurrent": 2, "gpus_per_trial": 0,
            "cpus_per_trial": 0.5, "seed": 3, "controller": "evolution", "mlflow": False}
    data.update(overrides)
    return SearchConfig.from_dict(data)


@pytest.fixture(scope="module")
def finished(ray_cluster, tmp_path_factory) -> Path:
    """A completed 5-trial search (made once); each test works on a copy of it."""
    from raynas.tune import run_search

    work = tmp_path_factory.mktemp("base")
    result = run_search(_config(work), progress_interval_s=1e9)
    assert result.status == "completed" and result.trials == 5
    return work / "rs"


def _copy(source: Path, into: Path, *, max_trials: int | None = None) -> Path:
    """An experiment of its own at ``into`` (its config.json names its workdir), from the one at ``source``."""
    into.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, into)
    data = json.loads((into / "config.json").read_text())
    data["workdir"] = str(into.parent)
    if max_trials is not None:  # the documented way to go on: raise max_trials in config.json
        data["max_trials"] = max_trials
    (into / "config.json").write_text(json.dumps(data))
    return into


def _resume(folder: Path, *extra: str) -> int:
    from raynas.cli import main

    return main(["--quiet", "resume", str(folder), "--no-mlflow", *extra])


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _lose(folder: Path, number: int) -> TrialRecord:
    """Take trial ``number`` out of the store, as a driver killed while it ran leaves it (launched, never stored)."""
    store = TrialStore(folder / "trials")
    records = store.records()
    shutil.rmtree(store.directory)
    TrialStore(folder / "trials").append_many([r for r in records if r.number != number])
    return next(r for r in records if r.number == number)


def test_resume_runs_a_lost_number_again_and_reaches_max_trials(finished, tmp_path):
    folder = _copy(finished, tmp_path / "work" / "rs")
    lost = _lose(folder, 3)
    assert _resume(folder) == 0
    records = TrialStore(folder / "trials").records()
    assert sorted(r.number for r in records) == [1, 2, 3, 4, 5]
    again = next(r for r in records if r.number == 3)  # the same trial: id, architecture and seed
    assert (again.trial_id, again.genotype, again.seed) == (lost.trial_id, lost.genotype, lost.seed)
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "completed" and status["trials"] == 5
    assert sorted(p.name for p in (folder / "tune").iterdir() if p.is_dir()) == ["run-1", "run-2"]


def test_a_copied_experiment_resumes_into_the_copy_and_leaves_the_original_byte_identical(finished, tmp_path):
    original = _copy(finished, tmp_path / "work" / "rs", max_trials=8)  # interrupted after 5 of 8
    before = _hashes(original)
    copy = tmp_path / "elsewhere" / "rs-copy"  # another folder name, another workdir; config.json names the original's
    copy.parent.mkdir()
    shutil.copytree(original, copy)
    code = _resume(copy)
    assert _hashes(original) == before
    assert code == 0
    records = TrialStore(copy / "trials").records()
    assert sorted(r.number for r in records) == list(range(1, 9))
    assert json.loads((copy / "status.json").read_text())["experiment_dir"] == str(copy.resolve())
    # nothing the resume wrote names the original folder
    written = [p for p in copy.rglob("*") if p.is_file() and str(p.relative_to(copy)) not in before
               or p.is_file() and _hashes(copy).get(str(p.relative_to(copy))) != before.get(str(p.relative_to(copy)))]
    assert written
    named = [str(p.relative_to(copy)) for p in written if str(original).encode() in p.read_bytes()]
    assert named == []
    # checkpoint paths of new records are relative (none here: dry-run trials keep no checkpoint)
    assert all(r.checkpoint is None or not Path(r.checkpoint).is_absolute() for r in records)


def test_resume_without_the_tune_folder_continues_the_search(finished, tmp_path):
    folder = _copy(finished, tmp_path / "work" / "rs", max_trials=8)
    shutil.rmtree(folder / "tune")
    assert _resume(folder) == 0
    records = TrialStore(folder / "trials").records()
    assert sorted(r.number for r in records) == list(range(1, 9))  # numbers go on, no second search into the store
    assert len(records) == 8


def test_damaged_files_in_the_tune_folder_do_not_matter(finished, tmp_path, capsys):
    folder = _copy(finished, tmp_path / "work" / "rs", max_trials=7)
    damaged = 0
    for i, path in enumerate(sorted(p for p in (folder / "tune").rglob("*") if p.is_file())):
        size = path.stat().st_size
        path.write_bytes(b"\x00" * size if i % 2 else b"\x80garbled pickle\x94" * 7)
        damaged += 1
    assert damaged
    assert _resume(folder) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(r.number for r in TrialStore(folder / "trials").records()) == list(range(1, 8))


def test_a_folder_where_no_search_ran_is_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "work" / "empty"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(_config(tmp_path / "work", name="empty").to_dict()))
    assert _resume(folder) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing to resume" in err and "raynas search" in err
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]  # refused before anything was written
