"""A lock file that says who holds it: one writer at a time, also on the shared (NFS) file system of a Ray cluster.

The lock is taken by creating the file with ``O_CREAT | O_EXCL`` (atomic on local file systems and on NFS v3 and
later, where ``fcntl``/``flock`` locks are often unsupported or not shared between machines). The file holds JSON:
the host, the pid and the start time of the process holding it, the command and when it was taken, so that a
refused writer can say who holds it and a lock left by a killed process can be told from a live one:

- the holder is this process (same host, pid and process start time): the lock is re-entered (a workflow step
  taking the lock its workflow holds), and only the outermost holder removes the file;
- same host, and the pid is gone or belongs to a process started at another time (pid reuse): stale, taken over
  with a warning;
- same host, process alive: refused;
- another host: refused (whether that process still runs cannot be told from here); the message says how to clear it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from raynas.errors import RaynasError

log = logging.getLogger(__name__)

#: Seconds a reader waits for a lock file that was just created to get its content.
_EMPTY_GRACE_S = 2.0
#: Seconds two process start times may differ and still be the same process (clock-tick rounding).
_START_TOLERANCE_S = 2.0


class LockedError(RaynasError):
    """Another process holds the lock: the message names it (host, pid, since when, command) and how to clear it."""

    def __init__(self, message: str, holder: LockHolder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock: host, pid and start time of the process, the command it runs, when it took the lock."""

    host: str
    pid: int
    process_start: float | None
    since: float
    command: str

    @classmethod
    def me(cls, command: str | None = None) -> LockHolder:
        """This process, running ``command`` (default: its command line)."""
        return cls(host=socket.gethostname(), pid=os.getpid(), process_start=process_start_time(os.getpid()),
                   since=time.time(), command=command if command is not None else _command_line())

    @classmethod
    def from_dict(cls, data: Any) -> LockHolder:
        """A holder read from a lock file (ValueError when it is not one)."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        try:
            start = data.get("process_start")
            return cls(host=str(data["host"]), pid=int(data["pid"]),
                       process_start=None if start is None else float(start),
                       since=float(data.get("since", 0.0)), command=str(data.get("command", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a lock holder ({exc})") from None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "since_utc": _utc(self.since)}, indent=2)

    def is_me(self) -> bool:
        """Whether this process holds it (same host, pid and process start)."""
        return (self.host == socket.gethostname() and self.pid == os.getpid()
                and _same_start(self.process_start, process_start_time(os.getpid())))

    def stale(self) -> bool | None:
        """True when the process is gone (same host: no such pid, or a pid now used by a process started at
        another time), False when it runs, None when that cannot be told from here (another host)."""
        if self.host != socket.gethostname():
            return None
        if not pid_alive(self.pid):
            return True
        return not _same_start(self.process_start, process_start_time(self.pid))

    def describe(self) -> str:
        """``pid 123 on host h (since 2026-12-03 10:24:38 UTC, running `raynas search ...`)``."""
        command = f", running `{self.command}`" if self.command else ""
        return f"pid {self.pid} on host {self.host} (since {_utc(self.since)}{command})"


@dataclass
class FileLock:
    """A held lock file (see :func:`hold`); ``owner`` is False for a re-entered lock (the outer holder removes it)."""

    path: Path
    holder: LockHolder
    owner: bool

    def move_to(self, path: Path) -> None:
        """The lock file was moved (with the folder holding it) to ``path``: release removes it there."""
        self.path = Path(path)

    def release(self) -> None:
        """Remove the lock file when this process owns it and it still names this process."""
        if not self.owner:
            return
        self.owner = False
        current = read_holder(self.path)
        if current is not None and current != self.holder:
            log.warning(f"warning: lock {self.path} was taken over by {current.describe()}; left in place")
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def hold(path: str | Path, *, what: str, clear: Callable[[Path, LockHolder | None], str],
         command: str | None = None) -> FileLock:
    """Take the lock file ``path`` for this process (its folder must exist), re-entering it when this process
    holds it already and taking over a stale one (with a warning); :class:`LockedError` naming the holder and
    ``clear(path, holder)`` (how to clear it) when another live or unknown process holds it.

    ``what`` names the locked thing in messages (e.g. ``experiment 'demo'``).
    """
    path = Path(path)
    me = LockHolder.me(command)
    for _ in range(8):  # a lost race (the file vanished or changed between two steps) is tried again
        if _create(path, me):
            return FileLock(path, me, owner=True)
        holder, raw = _read_settled(path)
        if raw is None:
            continue  # removed meanwhile
        if holder is None:
            raise LockedError(f"{what} is locked by {path}, which cannot be read as a lock (damaged): "
                              f"{clear(path, None)}")
        if holder.is_me():
            return FileLock(path, holder, owner=False)
        stale = holder.stale()
        if stale is False:
            raise LockedError(f"{what} is locked by another writer, {holder.describe()}, which is running: wait "
                              f"until it ends (or stop it: `kill {holder.pid}`), then try again", holder)
        if stale is None:
            raise LockedError(f"{what} is locked by another writer, {holder.describe()} (another machine: whether "
                              f"it still runs cannot be told from here): wait until it ends; if it is no longer "
                              f"running, {clear(path, holder)}", holder)
        if _take_over(path, raw):
            log.warning(f"warning: took over the stale lock of {what} ({holder.describe()}: that process is gone)")
    raise LockedError(f"{what}: could not take the lock {path} (other writers keep changing it): try again")


def read_holder(path: str | Path) -> LockHolder | None:
    """The holder a lock file names; None when there is no such file or it cannot be read as a lock."""
    try:
        return LockHolder.from_dict(json.loads(Path(path).read_bytes()))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def locked(path: str | Path, *, what: str, clear: Callable[[Path, LockHolder | None], str],
           command: str | None = None) -> Iterator[FileLock]:
    """:func:`hold` for the duration of a block: released however it ends (an exception, Ctrl-C)."""
    lock = hold(path, what=what, clear=clear, command=command)
    try:
        yield lock
    finally:
        lock.release()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    return True


def process_start_time(pid: int) -> float | None:
    """When the process started (seconds since the epoch), to tell a reused pid from the original; None when
    this system cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: start time in clock ticks since boot
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return round(boot + ticks / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    try:
        import psutil

        return round(float(psutil.Process(pid).create_time()), 2)
    except Exception:  # noqa: BLE001 - no psutil, or no such process
        return None


def _create(path: Path, holder: LockHolder) -> bool:
    """Create the lock file holding ``holder`` (False when it exists)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, holder.to_json().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _read_settled(path: Path) -> tuple[LockHolder | None, bytes | None]:
    """The lock file's holder and bytes (None, None: no file); an empty or half-written file just created is read
    again for a moment (its writer may be between creating and writing it)."""
    deadline = time.monotonic() + _EMPTY_GRACE_S
    while True:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError:
            raw = b""
        try:
            return LockHolder.from_dict(json.loads(raw)), raw
        except ValueError:
            if time.monotonic() >= deadline:
                return None, raw
            time.sleep(0.05)


def _take_over(path: Path, stale_bytes: bytes) -> bool:
    """Move a stale lock file out of the way, atomically (a rename), so that one taker wins; when what was moved
    is not the stale lock judged (another taker created a fresh one meanwhile), it is put back."""
    aside = path.with_name(f".{path.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    try:
        if aside.read_bytes() != stale_bytes:  # a live lock taken meanwhile: give it back, never over a newer one
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
            return False
        return True
    finally:
        aside.unlink(missing_ok=True)


def _same_start(a: float | None, b: float | None) -> bool:
    return a is None or b is None or abs(a - b) <= _START_TOLERANCE_S


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _command_line() -> str:
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = program.parent.name if program.name == "__main__.py" else program.name  # python -m raynas: raynas
    argv = [name, *sys.argv[1:]]
    return " ".join(argv)[:500]
