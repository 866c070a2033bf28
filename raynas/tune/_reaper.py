"""A watchdog that ends the Ray worker processes of a local Ray instance when its driver or raylet dies.

A local ``ray.init()`` starts GCS, raylet and agents bound to the driver (Linux parent-death signal): they die with
it. Ray's workers do not: the raylet starts each in a process group of its own, so a SIGKILL of the driver's process
group misses them, and a worker that is still starting up when the raylet dies (importing, connecting) lingers until
its own connection timeouts end it, up to a minute later (issue 16 saw two outlive a killed driver by more than 10 s).

:func:`start_reaper` (called just before a local instance is started) runs ``python -m raynas.tune._reaper`` in a
session of its own, so a kill of the driver's process group does not reach it. It finds the raylets the driver
starts (its children named ``raylet``), and as soon as the driver dies (the reaper's parent changes) or every
raylet it found has ended (``ray.shutdown()``), it SIGKILLs what is left: the raylets, then every process whose
environment names one of them (``RAY_RAYLET_PID``, which the raylet gives each worker, and the workers give their
own children), for :data:`SWEEP_S` seconds; then it exits. Linux only (it reads ``/proc``); elsewhere a no-op.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

#: Seconds between two looks at the driver and its raylets.
POLL_S = 0.2
#: Seconds the reaper keeps killing leftovers after the driver or raylet died (a worker mid-fork shows up late).
SWEEP_S = 2.0
#: Seconds the reaper waits for the driver to start a raylet before it gives up (ray.init failed).
FIND_S = 600.0
_PROC = Path("/proc")


def start_reaper() -> bool:
    """Start the watchdog for the local Ray instance this process is about to start; False where it cannot run
    (no ``/proc``). Call it right before ``ray.init`` starts a local instance, never when joining a cluster."""
    import subprocess

    if not sys.platform.startswith("linux") or not (_PROC / str(os.getpid()) / "stat").is_file():
        return False
    subprocess.Popen([sys.executable, "-m", "raynas.tune._reaper", str(os.getpid())], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    return True


def stat(pid: int) -> tuple[str, int, str, int] | None:
    """(command name, parent pid, state, start time in clock ticks) of ``pid`` from ``/proc``; None when gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    return name, int(rest[1]), rest[0], int(rest[19])


def alive(pid: int, started: int) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` and not a zombie."""
    info = stat(pid)
    return info is not None and info[3] == started and info[2] not in ("Z", "X")


def raylets_of(parent: int) -> dict[int, int]:
    """The live children of ``parent`` named ``raylet``: pid -> start time."""
    found = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            info = stat(int(entry.name))
            if info is not None and info[0] == "raylet" and info[1] == parent and info[2] not in ("Z", "X"):
                found[int(entry.name)] = info[3]
    return found


def workers_of(raylets: dict[int, int]) -> list[int]:
    """Live processes (other than this one) whose environment names one of ``raylets`` (``RAY_RAYLET_PID``) and
    that started after it."""
    marks = {f"RAY_RAYLET_PID={pid}".encode(): started for pid, started in raylets.items()}
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or another user's
            continue
        for mark, started in marks.items():
            if mark in environ:
                info = stat(int(entry.name))
                if info is not None and info[3] >= started and info[2] not in ("Z", "X"):
                    found.append(int(entry.name))
                break
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:  # gone already
        pass


def reap(raylets: dict[int, int], sweep_s: float = SWEEP_S) -> int:
    """Kill the raylets still alive, then their workers, for ``sweep_s`` seconds; returns the processes killed."""
    killed = set()
    for pid, started in raylets.items():
        if alive(pid, started):
            _kill(pid)
            killed.add(pid)
    end = time.monotonic() + sweep_s
    while True:
        for pid in workers_of(raylets):
            _kill(pid)
            killed.add(pid)
        if time.monotonic() >= end:
            return len(killed)
        time.sleep(POLL_S)


def watch(driver: int, *, poll_s: float = POLL_S, find_s: float = FIND_S) -> int:
    """Wait until ``driver`` (this process's parent) dies or every raylet it started ends, then :func:`reap`;
    returns the processes killed."""
    raylets: dict[int, int] = {}
    give_up = time.monotonic() + find_s
    while True:
        driver_alive = os.getppid() == driver
        if driver_alive and not raylets:
            raylets = raylets_of(driver)
        if not driver_alive or (raylets and not any(alive(p, s) for p, s in raylets.items())):
            return reap(raylets) if raylets else 0
        if not raylets and time.monotonic() > give_up:
            return 0
        time.sleep(poll_s)


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
