"""A search whose driver's process group is SIGKILLed while trials run, resumed each time: every number once, one
MLflow run per trial, nothing of a killed run left alive 10 s later (issue 16). The harness is bench/kill_resume.py;
the reaper that ends a killed local Ray instance's workers is raynas.tune._reaper."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raynas.tune._reaper import alive, reap, stat, watch, workers_of

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kill_resume.py"


def _harness():
    spec = importlib.util.spec_from_file_location("kill_resume", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _running(pid: int) -> bool:
    info = stat(pid)
    return info is not None and info[2] not in ("Z", "X")


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.1)
    return False


def _fake_raylet(folder: Path) -> Path:
    """A script named ``raylet`` (so its command name is) that starts a ``worker`` the way Ray's raylet does: in a
    session of its own, with ``RAY_RAYLET_PID`` in its environment, then waits."""
    script = folder / "raylet"
    script.write_text("#!/bin/sh\nRAY_RAYLET_PID=$$ setsid sleep 300 &\necho $! > \"$1\"\nwait\n")
    script.chmod(0o755)
    return script


def _driver(folder: Path, *, reaper: bool) -> tuple[subprocess.Popen, int]:
    """A driver in its own session that (optionally) starts the reaper, then the fake raylet; returns it and the
    worker's pid."""
    pid_file = folder / "worker.pid"
    code = ("import subprocess, sys, time\n"
            + ("from raynas.tune._reaper import start_reaper\nassert start_reaper()\n" if reaper else "")
            + f"subprocess.Popen([{str(_fake_raylet(folder))!r}, {str(pid_file)!r}])\ntime.sleep(300)\n")
    driver = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (pid_file.is_file() and pid_file.read_text().strip()):
        time.sleep(0.1)
    time.sleep(1.0)  # the reaper has found the raylet (it looks every 0.2 s)
    return driver, int(pid_file.read_text())


@pytest.mark.parametrize("reaper", [True, False])
def test_a_worker_in_its_own_session_dies_with_a_killed_driver_only_with_the_reaper(tmp_path, reaper):
    driver, worker = _driver(tmp_path, reaper=reaper)
    try:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver's process group: the fake raylet, not the worker
        driver.wait()
        assert _wait_gone(worker, 10.0 if reaper else 3.0) is reaper  # without it the worker sleeps on
    finally:
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


def test_the_reaper_ends_the_workers_of_a_raylet_that_ended_while_the_driver_lives(tmp_path):
    """``ray.shutdown()``: the raylet ends, the driver goes on; a worker left behind is ended, the reaper exits."""
    driver, worker = _driver(tmp_path, reaper=True)
    try:
        raylet = next(p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
                      if (info := stat(p)) is not None and info[0] == "raylet" and info[1] == driver.pid)
        os.kill(raylet, signal.SIGKILL)
        assert _wait_gone(worker, 10.0)
        assert driver.poll() is None  # the driver itself is left alone
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


def test_reap_kills_only_the_workers_of_the_raylets_it_is_given(tmp_path):
    ours = subprocess.Popen(["sleep", "300"], start_new_session=True, env={**os.environ, "RAY_RAYLET_PID": "4242"})
    other = subprocess.Popen(["sleep", "300"], start_new_session=True, env={**os.environ, "RAY_RAYLET_PID": "4243"})
    try:
        assert workers_of({4242: 0}) == [ours.pid]
        assert workers_of({4242: stat(ours.pid)[3] + 1}) == []  # started before the raylet: another process
        assert reap({4242: 0}, sweep_s=0.0) == 1
        assert ours.wait(10) == -signal.SIGKILL and other.poll() is None
    finally:
        for proc in (ours, other):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_watch_gives_up_when_the_driver_never_starts_a_raylet():
    assert watch(os.getppid(), poll_s=0.01, find_s=0.05) == 0  # this process's parent is alive and has no raylet
    assert not alive(os.getpid(), 0)  # another start time: not this process


@pytest.mark.ray
def test_a_search_killed_twice_while_trials_run_resumes_with_every_number_once_and_nothing_left_alive(tmp_path):
    """Each kill comes 0-0.25 s after the driver launched a trial (target numbers drawn at random, seeded): that
    trial, launched after anything saved and still running, is lost with the driver and must run again under its
    own number. 10 s after each kill no process of the killed run (driver, Ray's GCS, raylet, agents, workers,
    MLflow sender, reaper) is alive."""
    harness = _harness()
    result = harness.run_case(0, trials=20, kills=2, seed=3, sleep_s=0.3, jitter_s=0.25, root=tmp_path,
                              timeout_s=240.0, say=lambda line: None)
    assert len(result.kills) == 2, result.output_tail
    for kill in result.kills:
        assert kill.launched >= kill.target and kill.processes >= 5
        assert kill.stored < kill.launched  # trials were in flight at the kill
        assert kill.survivors == [], kill.line()
    assert result.exit_code == 0, result.output_tail
    assert result.numbers_ok, result.numbers_note
    assert result.mlflow_ok, result.mlflow_note
