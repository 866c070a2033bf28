"""Where an experiment lives on disk, and finding one by name or path."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from raynas._files import atomic_write
from raynas._lock import FileLock, LockHolder, hold
from raynas.errors import DamagedFileError, RaynasError, UnknownNameError, problem_of

log = logging.getLogger(__name__)

DEFAULT_WORKDIR = "raynas-work"
#: The lock file every writer of an experiment holds (see :func:`experiment_lock`).
LOCK_FILE = "raynas.lock"


@dataclass(frozen=True)
class ExperimentPaths:
    """Files of one experiment directory."""

    root: Path

    @property
    def tune(self) -> Path:
        """Ray Tune's experiment state (restore point)."""
        return self.root / "tune"

    @property
    def trials(self) -> Path:
        """The trial store (Parquet)."""
        return self.root / "trials"

    @property
    def config(self) -> Path:
        """The resolved search config (JSON)."""
        return self.root / "config.json"

    @property
    def status(self) -> Path:
        """How the last run of the search ended (JSON)."""
        return self.root / "status.json"

    @property
    def budget(self) -> Path:
        """The failure-budget ledger: failed count and max_failed (JSON)."""
        return self.root / "failure_budget.json"

    @property
    def runs(self) -> Path:
        """Each run's start, deadline and end: the timeout and resume policy (JSON)."""
        return self.root / "runs.json"

    @property
    def auto_stop(self) -> Path:
        """The auto-stop rule that ended the search, when one fired (JSON)."""
        return self.root / "auto_stop.json"

    @property
    def live(self) -> Path:
        """The latest progress line of a running search (JSON, rewritten every few seconds)."""
        return self.root / "progress.json"

    @property
    def search_plot(self) -> Path:
        """Reward per trial, running best, rolling mean and spread (PNG, redrawn while the search runs)."""
        return self.root / "search_plot.png"

    @property
    def uid_file(self) -> Path:
        """A random id given to the experiment when its directory was created (tells apart an experiment
        from an earlier one overwritten in the same directory)."""
        return self.root / "uid"

    def uid(self) -> str:
        """The experiment's id, created on first use."""
        if not self.uid_file.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write(self.uid_file, uuid.uuid4().hex)
        return self.uid_file.read_text().strip()

    @property
    def mlflow(self) -> Path:
        """MLflow run ledgers (one per tracking URI)."""
        return self.root / "mlflow"

    @property
    def lock(self) -> Path:
        """The writer's lock: host, pid, process start, command and since when (JSON; see :func:`experiment_lock`)."""
        return self.root / LOCK_FILE

    def read_config(self) -> dict[str, Any]:
        """The resolved search config; :class:`DamagedFileError` (one line naming the file and ``raynas doctor``)
        when it is missing or unreadable."""
        return read_json(self.config, expect=dict)


def read_json(path: Path, *, expect: type = dict) -> Any:
    """A JSON file of an experiment, which must hold an ``expect`` (dict or list); :class:`DamagedFileError` naming
    the file and ``raynas doctor`` when it is missing, unreadable, not JSON or of another type."""
    try:
        data = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise DamagedFileError(path, "missing") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise DamagedFileError(path, problem_of(exc)) from None
    if not isinstance(data, expect):
        raise DamagedFileError(path, f"holds a JSON {type(data).__name__}, expected a JSON "
                                     f"{'object' if expect is dict else 'list'}")
    return data


def find_experiment(name_or_path: str, workdir: str | Path = DEFAULT_WORKDIR) -> ExperimentPaths:
    """An experiment given by directory path or by name under ``workdir``."""
    direct = Path(name_or_path).expanduser()
    for candidate in (direct, Path(workdir).expanduser() / name_or_path):
        if (candidate / "config.json").is_file() or (candidate / "trials").is_dir():
            return ExperimentPaths(candidate.resolve())
    root = Path(workdir).expanduser()
    known = sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []
    raise UnknownNameError("experiment", name_or_path, known,
                           f"Experiments are looked up under --workdir ({root.resolve()}) or given as a path.")


@contextlib.contextmanager
def experiment_lock(paths: ExperimentPaths | str | Path, command: str | None = None) -> Iterator[FileLock]:
    """Hold the experiment's lock (:attr:`ExperimentPaths.lock`) while the block runs: one writer at a time
    (search, resume, train, the proxy tools, a workflow), also across the machines of a Ray cluster sharing the
    folder over NFS (the lock file is created with ``O_EXCL``, not ``fcntl``).

    A second writer gets :class:`raynas._lock.LockedError` (one line naming the holder: host, pid, since when,
    command, and how to clear a stale lock) before it changes anything. The process holding it enters again
    without waiting (a workflow's steps). A lock whose process is gone from this machine (or whose pid now names
    another process) is taken over with a warning. Released however the block ends (an exception, Ctrl-C); a
    folder the lock had to create is removed again when nothing else was written into it.
    """
    paths = paths if isinstance(paths, ExperimentPaths) else ExperimentPaths(Path(paths))
    created = _make_dirs(paths.root)
    try:
        lock = hold(paths.lock, what=f"experiment {paths.root.name!r} ({paths.root})", clear=_clear_hint,
                    command=command)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield lock
    finally:
        lock.release()
        _remove_empty(created)


def has_experiment(paths: ExperimentPaths) -> bool:
    """Whether the folder holds anything of an experiment (a writer's lock, alone, is not one)."""
    root = paths.root
    return root.is_dir() and any(p.name != LOCK_FILE and not p.name.startswith(f".{LOCK_FILE}.")
                                 for p in root.iterdir())


@dataclass
class Replaced:
    """An experiment set aside by :func:`replacing`: ``aside`` is the hidden folder it was moved to."""

    root: Path
    aside: Path
    discarded: bool = False

    def discard(self) -> None:
        """Delete the set-aside experiment: the new one has started."""
        if not self.discarded:
            self.discarded = True
            shutil.rmtree(self.aside, ignore_errors=True)
            log.info(f"--overwrite: the earlier experiment at {self.root} was deleted (the new search started)")


@contextlib.contextmanager
def replacing(paths: ExperimentPaths, lock: FileLock) -> Iterator[Replaced]:
    """``--overwrite``: move the experiment (whose ``lock`` the caller holds) aside to a hidden sibling,
    ``.<name>.replaced-<time>``, and hold the lock of a new, empty folder in its place while the block runs.

    The block calls :meth:`Replaced.discard` once the new search has started; when it ends before that (it failed,
    or was refused), the new folder is removed and the old experiment is put back as it was. A block that ends
    normally without calling it discards the old experiment too.
    """
    root = paths.root
    aside = root.parent / f".{root.name}.replaced-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    os.rename(root, aside)
    lock.move_to(aside / LOCK_FILE)
    replaced = Replaced(root, aside)
    try:
        root.mkdir()
        new = hold(paths.lock, what=f"experiment {root.name!r} ({root})", clear=_clear_hint,
                   command=lock.holder.command)
    except BaseException:
        _put_back(replaced, lock)
        raise
    try:
        yield replaced
    except BaseException:
        if not replaced.discarded:
            new.release()
            _put_back(replaced, lock)
        raise
    finally:
        new.release()
    replaced.discard()


def _put_back(replaced: Replaced, lock: FileLock) -> None:
    """The old experiment back where it was (what the new one wrote in its place removed)."""
    root = replaced.root
    shutil.rmtree(root, ignore_errors=True)  # what the new search wrote while it held the lock of the new folder
    try:
        os.rename(replaced.aside, root)
    except OSError as exc:
        raise RaynasError(f"--overwrite: the earlier experiment could not be put back at {root} ({problem_of(exc)}); "
                          f"it is intact at {replaced.aside}: move it back by hand") from None
    lock.move_to(root / LOCK_FILE)
    log.warning(f"warning: --overwrite: the new search did not start; the earlier experiment is back at {root}")


def _clear_hint(path: Path, holder: LockHolder | None) -> str:
    """How to clear a lock whose holder cannot be seen from here (another machine, or a damaged lock file)."""
    quoted = shlex.quote(str(path))
    if holder is None:
        return f"`raynas doctor {shlex.quote(str(path.parent))} --repair` removes it (or delete it: `rm {quoted}`)"
    return f"delete the lock file (`rm {quoted}`) and try again"


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the folders created, deepest first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (deepest first) that are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
