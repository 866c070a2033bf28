"""The experiment lock: one writer at a time (who holds it, how to clear it), stale locks taken over, released
however the block ends, re-entered by its own process; and taken by every writer (workflow, stage 2, proxy tools)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raynas._lock import LockedError, LockHolder, process_start_time, read_holder
from raynas.experiment import LOCK_FILE, ExperimentPaths, experiment_lock

#: A child process that takes the lock of the folder argv[1], says "held" and keeps it until stdin closes.
_HOLDER = """
import sys
from raynas.experiment import experiment_lock
with experiment_lock(sys.argv[1], command="holder test"):
    print("held", flush=True)
    sys.stdin.read()
"""

#: A child process that tries the lock of argv[1] once: exit 0 and "won" when it got it (kept for argv[2] s), 2 when
#: refused (the message on stderr).
_TRY = """
import sys, time
from raynas._lock import LockedError
from raynas.experiment import experiment_lock
try:
    with experiment_lock(sys.argv[1], command="race"):
        print("won", flush=True)
        time.sleep(float(sys.argv[2]))
except LockedError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def _write_lock(folder: Path, **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "process_start": process_start_time(os.getpid()),
              "since": time.time() - 60, "command": "raynas search --config old.yaml", **fields}
    path = folder / LOCK_FILE
    path.write_text(json.dumps(holder))
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_lock_file_says_who_holds_it_and_is_removed_on_exit(tmp_path):
    paths = ExperimentPaths(tmp_path / "exp")
    with experiment_lock(paths, command="raynas search --config x.yaml") as lock:
        assert lock.owner and paths.lock.is_file()
        holder = read_holder(paths.lock)
        assert holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname()
        assert holder.command == "raynas search --config x.yaml" and holder.process_start is not None
        assert abs(holder.since - time.time()) < 600
        (paths.root / "config.json").write_text("{}")
    assert not paths.lock.exists() and (paths.root / "config.json").is_file()  # the folder has content: kept


def test_a_folder_the_lock_created_is_removed_again_when_nothing_was_written(tmp_path):
    root = tmp_path / "work" / "exp"
    with experiment_lock(root):
        assert root.is_dir()
    assert not root.exists() and not (tmp_path / "work").exists()


@pytest.mark.parametrize("how", [KeyboardInterrupt, RuntimeError])
def test_released_when_the_block_ends_with_ctrl_c_or_an_error(tmp_path, how):
    paths = ExperimentPaths(tmp_path / "exp")
    paths.root.mkdir()
    with pytest.raises(how), experiment_lock(paths):
        assert paths.lock.is_file()
        raise how("stop")
    assert not paths.lock.exists()
    with experiment_lock(paths) as again:  # and can be taken again at once
        assert again.owner


def test_the_same_process_enters_again_without_deadlock_and_only_the_outer_block_releases(tmp_path):
    paths = ExperimentPaths(tmp_path / "exp")
    with experiment_lock(paths, command="raynas run flow.yaml") as outer:
        with experiment_lock(paths, command="raynas search") as inner:
            assert not inner.owner
        assert paths.lock.is_file() and read_holder(paths.lock).command == "raynas run flow.yaml"
        assert outer.owner
    assert not paths.lock.exists()


def test_a_second_process_is_refused_naming_the_holder_and_nothing_changes(tmp_path):
    root = tmp_path / "exp"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = (root / LOCK_FILE).read_bytes()
        with pytest.raises(LockedError) as refused:
            with experiment_lock(root):
                pytest.fail("a second writer got the lock")
        text = str(refused.value)
        assert f"pid {holder.pid} on host {socket.gethostname()}" in text and "holder test" in text
        assert "since 20" in text and f"kill {holder.pid}" in text and "\n" not in text
        assert (root / LOCK_FILE).read_bytes() == before
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not (root / LOCK_FILE).exists()


def test_of_processes_racing_for_one_lock_exactly_one_wins(tmp_path):
    root = tmp_path / "exp"
    root.mkdir()
    racers = [subprocess.Popen([sys.executable, "-c", _TRY, str(root), "3"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(r.wait(timeout=60), r.stdout.read(), r.stderr.read()) for r in racers]
    assert sorted(code for code, _, _ in results) == [0, 2, 2, 2], results
    assert all("locked by another writer" in err for code, _, err in results if code == 2)


def test_a_stale_lock_of_a_dead_process_on_this_host_is_taken_over_with_a_warning(tmp_path, caplog):
    root = tmp_path / "exp"
    _write_lock(root, pid=_dead_pid(), process_start=None)
    with caplog.at_level("WARNING"), experiment_lock(root, command="raynas resume exp") as lock:
        assert lock.owner and read_holder(root / LOCK_FILE).pid == os.getpid()
    assert "took over the stale lock" in caplog.text and "that process is gone" in caplog.text
    assert not (root / LOCK_FILE).exists() and not list(root.iterdir())  # no leftover of the stale lock


def test_a_reused_pid_started_at_another_time_is_a_stale_lock(tmp_path):
    root = tmp_path / "exp"
    assert process_start_time(os.getpid()) is not None
    _write_lock(root, pid=os.getppid(), process_start=12345.0)  # alive, but not the process that took the lock
    with experiment_lock(root) as lock:
        assert lock.owner


def test_a_lock_of_another_host_is_refused_with_how_to_clear_it(tmp_path):
    root = tmp_path / "exp"
    path = _write_lock(root, host="node-7.cluster", pid=4242)
    before = path.read_bytes()
    with pytest.raises(LockedError) as refused:
        with experiment_lock(root):
            pytest.fail("took a lock held on another machine")
    text = str(refused.value)
    assert "pid 4242 on host node-7.cluster" in text and "raynas search --config old.yaml" in text
    assert "another machine" in text and f"rm {path}" in text
    assert path.read_bytes() == before and sorted(p.name for p in root.iterdir()) == [LOCK_FILE]


def test_a_damaged_lock_file_is_refused_naming_raynas_doctor(tmp_path, monkeypatch):
    monkeypatch.setattr("raynas._lock._EMPTY_GRACE_S", 0.2)  # how long a just-created, still empty file is waited for
    root = tmp_path / "exp"
    root.mkdir()
    (root / LOCK_FILE).write_bytes(b"\x00\xff garbage")
    with pytest.raises(LockedError, match="cannot be read as a lock.*raynas doctor .* --repair"):
        with experiment_lock(root):
            pass


def test_raynas_doctor_repair_removes_a_stale_lock_and_keeps_a_live_one(tmp_path):
    from raynas.doctor import check_experiment, repair

    root = tmp_path / "exp"
    stale = _write_lock(root, pid=_dead_pid())
    (root / "config.json").write_text("{}")
    repair(check_experiment(root))
    assert not stale.exists()
    with experiment_lock(root):
        repair(check_experiment(root))
        assert (root / LOCK_FILE).is_file()  # this process is alive: never removed


def test_holder_round_trips_and_a_foreign_file_is_not_a_holder(tmp_path):
    me = LockHolder.me("x")
    assert LockHolder.from_dict(json.loads(me.to_json())) == me and me.is_me() and me.stale() is False
    with pytest.raises(ValueError):
        LockHolder.from_dict({"host": "h"})
    (tmp_path / "f").write_text("[1, 2]")
    assert read_holder(tmp_path / "f") is None and read_holder(tmp_path / "missing") is None
