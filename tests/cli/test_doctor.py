"""``raynas doctor [--repair]`` and the one-line errors of damaged JSON files (an experiment built without Ray)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from raynas._lock import LockHolder
from raynas.cli import main
from raynas.config import SearchConfig
from raynas.doctor import timed
from raynas.experiment import ExperimentPaths
from raynas.tracking import RunLedger, TrialRecord, TrialRun, TrialStore, ledger_path, save_ledger
from raynas.trials import TrialStatus

N = 6


@pytest.fixture
def experiment(tmp_path) -> ExperimentPaths:
    """A finished 6-trial search as the engine leaves it: config, store (one part per trial), status, runs, uid,
    progress and an MLflow run ledger."""
    config = SearchConfig.from_dict({"name": "exp", "workdir": str(tmp_path), "max_trials": N, "gpus_per_trial": 0,
                                     "cpus_per_trial": 0.5})
    paths = ExperimentPaths(tmp_path / "exp")
    paths.root.mkdir()
    paths.config.write_text(json.dumps(config.to_dict(), indent=2))
    space = config.build_space()
    store = TrialStore(paths.trials)
    for i in range(1, N + 1):
        genotype = space.sample_genotype(__import__("random").Random(i))
        store.append(TrialRecord(trial_id=f"t{i}", number=i, arch=space.decode(genotype), genotype=tuple(genotype),
                                 reward=float(i), status=TrialStatus.COMPLETED, start_time=100.0 + i,
                                 end_time=101.0 + i, metrics={"val_accuracy": float(i)}))
    paths.status.write_text(json.dumps({"status": "completed", "reason": "all max_trials=6 trials ran"}))
    paths.runs.write_text(json.dumps([{"start": 100.0, "deadline": 1e10, "after": None, "end": 110.0,
                                       "ended": "completed"}]))
    paths.live.write_text(json.dumps({"time": 109.0, "done": N, "running": 0}))
    uid = paths.uid()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ledger = RunLedger(uri, uid, "1", {"search": "parent0"}, {f"t{i}": TrialRun(f"run{i}", 1, True) for i in range(1, N + 1)})
    save_ledger(ledger_path(paths.root, uri), ledger)
    return paths


def doctor(capsys, paths, *extra) -> tuple[int, str]:
    code = main(["doctor", str(paths.root), *extra])
    return code, capsys.readouterr().out


def trial_numbers(capsys, paths) -> list[int]:
    assert main(["trials", str(paths.root), "--format", "json"]) == 0
    return sorted(r["number"] for r in json.loads(capsys.readouterr().out))


def test_a_healthy_experiment_is_all_ok(capsys, experiment):
    code, out = doctor(capsys, experiment)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert lines[-1].endswith("healthy")
    for name in ("config.json", "status.json", "runs.json", "progress.json", "uid", "mlflow/runs-"):
        assert any(line.startswith("ok") and name in line for line in lines), name
    assert sum(line.startswith("ok       trials/part-") for line in lines) == N
    assert "parent run parent0" in out


def test_repair_sets_damage_aside_and_rebuilds_what_the_store_can(capsys, experiment):
    part = sorted(experiment.trials.glob("part-*.parquet"))[2]
    part.write_bytes(part.read_bytes()[:40])
    damaged_bytes = part.read_bytes()
    experiment.status.write_bytes(b"\xff\xfe garbled")
    experiment.runs.write_text(json.dumps({"start": "yesterday"}))
    experiment.live.write_text("[1, 2")
    experiment.budget.write_text(json.dumps({"failed": "many"}))
    lock = experiment.root / "raynas.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": 2**22 + 12345, "process_start": 1.0,
                                "since": 1.0, "command": "raynas resume exp"}))  # no such pid: stale
    experiment.uid_file.unlink()

    code, out = doctor(capsys, experiment)
    assert code == 1
    for name in (part.name, "status.json", "runs.json", "progress.json", "failure_budget.json", "raynas.lock"):
        assert any(line.startswith("damaged") and name in line for line in out.splitlines()), (name, out)
    assert any(line.startswith("missing") and "uid" in line for line in out.splitlines())
    assert part.read_bytes() == damaged_bytes  # checking changes nothing

    code, out = doctor(capsys, experiment, "--repair")
    assert code == 0, out
    moved = experiment.trials / "damaged" / part.name
    assert not part.exists() and moved.read_bytes() == damaged_bytes  # set aside, never deleted
    status = json.loads(experiment.status.read_text())
    assert status["status"] == "interrupted" and status["trials"] == N - 1  # derived from the store
    runs = json.loads(experiment.runs.read_text())
    assert runs[0]["start"] == 101.0 and runs[0]["end"] == 101.0 + N
    assert json.loads(experiment.budget.read_text()) == {"failed": 0, "max_failed": 2}
    assert not experiment.live.exists() and not lock.exists()
    ledger = json.loads(next(experiment.mlflow.glob("runs-*.json")).read_text())
    assert experiment.uid_file.read_text() == ledger["experiment_uid"]  # MLflow sync continues the same runs
    assert trial_numbers(capsys, experiment) == [1, 2, 4, 5, 6]
    assert doctor(capsys, experiment)[0] == 0


def test_a_damaged_config_cannot_be_rebuilt_and_says_so(capsys, experiment):
    experiment.config.write_text(json.dumps({"name": "exp", "max_trials": "lots"}))
    code, out = doctor(capsys, experiment, "--repair")
    assert code == 1
    line = next(line for line in out.splitlines() if "config.json" in line)
    assert line.startswith("damaged") and "max_trials" in line and "cannot be rebuilt" in line and "YAML" in line
    experiment.config.unlink()
    code, out = doctor(capsys, experiment, "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["healthy"] is False
    assert {f["path"]: f["state"] for f in report["files"]}["config.json"] == "missing"


def test_a_live_lock_is_kept_and_tune_damage_is_not_needed_to_resume(capsys, experiment):
    lock = experiment.root / "raynas.lock"
    lock.write_text(LockHolder.me("raynas search").to_json())  # this process: alive
    (experiment.tune).mkdir()
    (experiment.tune / "searcher-state.pkl").write_bytes(b"garbage")
    code, out = doctor(capsys, experiment, "--repair")
    assert code == 0 and lock.exists()
    assert "not needed to resume" in out and (experiment.root / "damaged" / "tune" / "searcher-state.pkl").exists()


def test_repair_refuses_while_another_writer_holds_the_lock_and_changes_nothing(capsys, experiment):
    import subprocess
    import time

    from raynas._lock import process_start_time

    writer = subprocess.Popen(["sleep", "60"])  # a live process of this host: a search that runs
    try:
        holder = LockHolder(host=socket.gethostname(), pid=writer.pid, process_start=process_start_time(writer.pid),
                            since=time.time(), command="raynas resume exp")
        lock = experiment.root / "raynas.lock"
        lock.write_text(holder.to_json())
        experiment.status.write_text("{garbled")
        code = main(["doctor", str(experiment.root), "--repair"])
        err = capsys.readouterr().err
        assert code == 2 and f"pid {writer.pid}" in err and "raynas resume exp" in err
        assert experiment.status.read_text() == "{garbled" and lock.exists()  # nothing repaired behind its back
    finally:
        writer.kill()
        writer.wait()
    code, out = doctor(capsys, experiment, "--repair")  # the writer is gone: its lock is stale, the repair runs
    assert code == 0 and "removed (stale)" in out and json.loads(experiment.status.read_text())["status"]
    assert not (experiment.root / "raynas.lock").exists()


def test_a_damaged_ledger_is_one_line_for_mlflow_sync_and_set_aside_by_repair(capsys, experiment, tmp_path):
    ledger = next(experiment.mlflow.glob("runs-*.json"))
    ledger.write_text(json.dumps({"tracking_uri": "x", "trials": {"t1": 5}}))
    code = main(["mlflow", "sync", str(experiment.root), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("raynas: error: ")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert ledger.name in errors[0] and "raynas doctor" in errors[0]
    code, out = doctor(capsys, experiment, "--repair")
    assert code == 0 and "sends every trial again" not in out and (experiment.root / "damaged" / ledger.name).exists()


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00", b"{", b"[1, 2]", b"null"])
def test_a_damaged_config_is_one_line_naming_the_file_and_doctor(capsys, experiment, content):
    experiment.config.write_bytes(content)
    for argv in (["monitor", str(experiment.root)], ["resume", str(experiment.root)],
                 ["mlflow", "sync", str(experiment.root)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("raynas: error: ") and err.count("\n") == 1, err
        assert str(experiment.config) in err and "raynas doctor" in err


def test_monitor_skips_a_damaged_progress_or_status_file_with_a_warning(capsys, experiment):
    experiment.live.write_text(json.dumps({"time": "soon", "running": [1], "elapsed_s": "x"}))
    assert main(["monitor", str(experiment.root)]) == 0
    experiment.live.write_text(json.dumps([1]))
    experiment.status.write_text("{")
    assert main(["monitor", str(experiment.root), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "progress.json is damaged" in captured.err and "status.json is damaged" in captured.err
    assert "Traceback" not in captured.err


def test_a_load_that_never_ends_is_cut_by_the_time_limit():
    never = threading.Event()
    with pytest.raises(TimeoutError):
        timed(never.wait, 0.1)
    assert timed(lambda: 7, 5) == 7
    with pytest.raises(ZeroDivisionError):
        timed(lambda: 1 / 0, 5)
    never.set()
