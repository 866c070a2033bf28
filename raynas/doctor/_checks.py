"""Check every file of an experiment: one :class:`FileCheck` per file, each load under a time limit."""

from __future__ import annotations

import enum
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from raynas.errors import DamagedFileError, problem_of
from raynas.experiment import ExperimentPaths, read_json

#: Seconds one file may take to load before it counts as damaged (a load never hangs the doctor).
LOAD_LIMIT_S = 20.0
#: A progress file younger than this means a search is running now (as ``raynas monitor`` tells it).
RUNNING_S = 120.0
#: Where ``--repair`` puts what it moves aside: the store's under ``trials/``, the others' under the experiment.
DAMAGED_DIR = "damaged"
CONFIG_FIX = ("cannot be rebuilt from the store: write it again from the search's YAML or workflow "
              "(see \"config.json\" in docs/doctor.md)")
NOT_NEEDED = "not needed to resume (a resume rebuilds the search from the trial store)"


class State(str, enum.Enum):
    """What the doctor found in one file."""

    OK = "ok"
    DAMAGED = "damaged"
    MISSING = "missing"
    NOTE = "note"  # worth knowing, harmless (e.g. Ray Tune state that resume does not need)

    def bad(self) -> bool:
        return self in (State.DAMAGED, State.MISSING)


@dataclass
class FileCheck:
    """One file (path relative to the experiment), what is wrong with it and what ``--repair`` does about it."""

    path: str
    state: State
    detail: str = ""
    rebuild: str = ""  # what can be rebuilt, and how (or why not)
    repaired: str = ""  # what --repair did
    kind: str = ""  # store, config, status, runs, budget, auto_stop, progress, uid, lock, tune, ledger

    def line(self) -> str:
        text = f"{self.state.value:8s} {self.path}"
        if self.detail:
            text += f": {self.detail}"
        if self.repaired:
            text += f" -> {self.repaired}"
        elif self.rebuild and self.state is not State.OK:
            text += f"; {self.rebuild}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "state": self.state.value, "detail": self.detail, "rebuild": self.rebuild,
                "repaired": self.repaired, "kind": self.kind}


@dataclass
class Report:
    """Every file's check of one experiment."""

    root: Path
    files: list[FileCheck] = field(default_factory=list)
    config: Any = None  # the SearchConfig, when config.json is sound

    @property
    def healthy(self) -> bool:
        return not any(f.state.bad() and not f.repaired.startswith("rebuilt") and not f.repaired.startswith("moved")
                       and not f.repaired.startswith("removed") for f in self.files)

    def damaged(self) -> list[FileCheck]:
        return [f for f in self.files if f.state.bad()]

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": str(self.root), "healthy": self.healthy, "files": [f.to_dict() for f in self.files]}


def timed(load: Callable[[], Any], limit_s: float = LOAD_LIMIT_S) -> Any:
    """``load()`` in a daemon thread, waited for at most ``limit_s``: its result, or its exception raised here;
    :class:`TimeoutError` past the limit (the thread is left behind and does not keep the process alive)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = load()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True, name="raynas-doctor-load")
    thread.start()
    thread.join(limit_s)
    if thread.is_alive():
        raise TimeoutError(f"reading it took more than {limit_s:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def check_experiment(root: str | Path, *, limit_s: float = LOAD_LIMIT_S) -> Report:
    """Check every file of the experiment at ``root`` (nothing is changed)."""
    paths = ExperimentPaths(Path(root))
    report = Report(paths.root)
    running = _running(paths)
    report.files += _check_config(paths, report, limit_s)
    report.files += _check_store(paths, limit_s)
    report.files += _check_status(paths, report, running, limit_s)
    report.files += _check_runs(paths, limit_s)
    report.files += _check_optional_json(paths, limit_s)
    uid, uid_check = _check_uid(paths)
    report.files.append(uid_check)
    report.files += _check_ledgers(paths, uid, limit_s)
    report.files += _check_locks(paths)
    report.files += _check_tune(paths, limit_s)
    return report


def _rel(paths: ExperimentPaths, path: Path) -> str:
    try:
        return str(path.relative_to(paths.root))
    except ValueError:
        return str(path)


def _json(path: Path, expect: type, limit_s: float) -> Any:
    if path.exists() and not path.is_file():
        raise DamagedFileError(path, "not a regular file")
    return timed(lambda: read_json(path, expect=expect), limit_s)


def _problem(exc: BaseException) -> str:
    return exc.problem if isinstance(exc, DamagedFileError) else problem_of(exc)


def _running(paths: ExperimentPaths) -> bool:
    try:
        live = json.loads(paths.live.read_bytes()) if paths.live.is_file() else None
        return isinstance(live, dict) and time.time() - float(live.get("time", 0)) <= RUNNING_S
    except Exception:  # noqa: BLE001 - a damaged progress file is reported by its own check
        return False


# --- the files -------------------------------------------------------------------------------------------------
def _check_config(paths: ExperimentPaths, report: Report, limit_s: float) -> list[FileCheck]:
    from raynas.config import SearchConfig

    name = _rel(paths, paths.config)
    if not paths.config.exists():
        return [FileCheck(name, State.MISSING, "no resolved search config", CONFIG_FIX, kind="config")]
    try:
        data = _json(paths.config, dict, limit_s)
        report.config = timed(lambda: SearchConfig.from_dict(data, source=str(paths.config)), limit_s)
    except Exception as exc:  # noqa: BLE001 - any way a config fails to load is damage
        return [FileCheck(name, State.DAMAGED, _problem(exc), CONFIG_FIX, kind="config")]
    config = report.config
    return [FileCheck(name, State.OK, f"search config {config.name!r} (max_trials {config.max_trials})", kind="config")]


def _check_store(paths: ExperimentPaths, limit_s: float) -> list[FileCheck]:
    from raynas.tracking import check_file

    store = paths.trials
    if not store.is_dir():
        return [FileCheck(_rel(paths, store) + "/", State.NOTE, "no trial store yet (no trial has finished)",
                          kind="store")]
    checks: list[FileCheck] = []
    seen: dict[str, int] = {}
    rows = 0
    for entry in sorted(store.iterdir()):
        name = _rel(paths, entry)
        if entry.name == DAMAGED_DIR and entry.is_dir():
            count = sum(1 for _ in entry.iterdir())
            checks.append(FileCheck(name + "/", State.NOTE, f"{count} file(s) set aside by an earlier repair "
                                    "(kept, never read)", kind="store"))
        elif entry.name.startswith(".tmp-"):
            checks.append(FileCheck(name, State.NOTE, "a write killed midway (readers ignore it)",
                                    "--repair moves it to trials/damaged/", kind="store_tmp"))
        elif entry.name.startswith(("part-", "chunk-")) and entry.name.endswith(".parquet"):
            if not entry.is_file():
                ids: list[str] = []
                problem: str | None = "not a regular file"
            else:
                try:
                    ids, problem = timed(lambda e=entry: check_file(e), limit_s)
                except Exception as exc:  # noqa: BLE001 - the time limit
                    ids, problem = [], problem_of(exc)
            if problem:
                checks.append(FileCheck(name, State.DAMAGED, problem,
                                        "its trials cannot be read; --repair moves it to trials/damaged/ (the other "
                                        "files are read; a resume runs trials again up to max_trials)", kind="store"))
                continue
            rows += len(ids)
            for tid in ids:
                seen[tid] = seen.get(tid, 0) + 1
            checks.append(FileCheck(name, State.OK, f"{len(ids)} trial record(s)", kind="store"))
        else:
            checks.append(FileCheck(name, State.NOTE, "not a store file (readers ignore it)", kind="store_other"))
    twice = sorted(tid for tid, n in seen.items() if n > 1)
    summary = f"{len(seen)} trials in {rows} records"
    if twice:
        summary += (f"; {len(twice)} trial id(s) recorded more than once (a trial run again after a resume, or a "
                    f"compaction cut short: readers keep the last), e.g. {', '.join(twice[:3])}")
    checks.insert(0, FileCheck(_rel(paths, store) + "/", State.OK, summary, kind="store_summary"))
    return checks


def _check_status(paths: ExperimentPaths, report: Report, running: bool, limit_s: float) -> list[FileCheck]:
    name = _rel(paths, paths.status)
    rebuild = ("--repair rebuilds it from the trial store" if report.config is not None
               else "rebuilt from the trial store once config.json is sound")
    if not paths.status.exists():
        if running:
            return [FileCheck(name, State.OK, "not written yet (the search is running)", kind="status")]
        return [FileCheck(name, State.MISSING, "how the search ended is not recorded", rebuild, kind="status")]
    try:
        data = _json(paths.status, dict, limit_s)
        if not isinstance(data.get("status"), str):
            raise DamagedFileError(paths.status, "no \"status\" text")
    except Exception as exc:  # noqa: BLE001
        return [FileCheck(name, State.DAMAGED, _problem(exc), rebuild, kind="status")]
    return [FileCheck(name, State.OK, f"{data['status']}: {data.get('reason') or ''}".rstrip(": "), kind="status")]


def _check_runs(paths: ExperimentPaths, limit_s: float) -> list[FileCheck]:
    name = _rel(paths, paths.runs)
    rebuild = "--repair rebuilds it from the trial store's times (the timeout accounting becomes approximate)"
    if not paths.runs.exists():
        return [FileCheck(name, State.MISSING, "the runs of the search (timeout and resume policy) are not recorded",
                          rebuild, kind="runs")]
    try:
        runs = _json(paths.runs, list, limit_s)
        for run in runs:
            if not isinstance(run, dict):
                raise DamagedFileError(paths.runs, "an entry is not a JSON object")
            float(run["start"]), float(run["deadline"])
    except Exception as exc:  # noqa: BLE001
        return [FileCheck(name, State.DAMAGED, _problem(exc), rebuild, kind="runs")]
    return [FileCheck(name, State.OK, f"{len(runs)} run(s)", kind="runs")]


def _check_optional_json(paths: ExperimentPaths, limit_s: float) -> list[FileCheck]:
    checks = []
    specs = [
        (paths.budget, "budget", ("failed", "max_failed"), "--repair rebuilds it from the trial store"),
        (paths.auto_stop, "auto_stop", ("reason",),
         "--repair moves it to damaged/ (the auto-stop rules are evaluated again on resume)"),
        (paths.live, "progress", ("time",), "--repair drops it (a running search rewrites it every few seconds)"),
    ]
    for path, kind, keys, rebuild in specs:
        name = _rel(paths, path)
        if not path.exists():
            continue  # written only when needed
        try:
            data = _json(path, dict, limit_s)
            for key in keys:
                if key not in data:
                    raise DamagedFileError(path, f"no {key!r}")
            if kind == "budget":
                int(data["failed"]), int(data["max_failed"])
            if kind == "progress":
                float(data["time"])
        except Exception as exc:  # noqa: BLE001
            checks.append(FileCheck(name, State.DAMAGED, _problem(exc), rebuild, kind=kind))
            continue
        checks.append(FileCheck(name, State.OK, kind=kind))
    return checks


def _check_uid(paths: ExperimentPaths) -> tuple[str | None, FileCheck]:
    name = _rel(paths, paths.uid_file)
    rebuild = "--repair restores it from the MLflow run ledger (or gives a new one when there is none)"
    if not paths.uid_file.exists():
        return None, FileCheck(name, State.MISSING, "the experiment's id", rebuild, kind="uid")
    try:
        if not paths.uid_file.is_file():
            raise ValueError("not a regular file")
        uid = paths.uid_file.read_bytes().decode("ascii").strip()
        if not uid or len(uid) > 64 or not all(c in "0123456789abcdef" for c in uid):
            raise ValueError("not a hexadecimal id")
    except Exception as exc:  # noqa: BLE001
        return None, FileCheck(name, State.DAMAGED, problem_of(exc), rebuild, kind="uid")
    return uid, FileCheck(name, State.OK, kind="uid")


def _check_ledgers(paths: ExperimentPaths, uid: str | None, limit_s: float) -> list[FileCheck]:
    from raynas.tracking import RunLedger

    if not paths.mlflow.is_dir():
        return []
    checks = []
    lost = ("--repair moves it to damaged/; the next `raynas mlflow sync` then sends every trial again as new runs "
            "(the old runs stay in MLflow)")
    for path in sorted(paths.mlflow.glob("runs-*.json")):
        name = _rel(paths, path)
        try:
            data = _json(path, dict, limit_s)
            ledger = RunLedger.from_dict(data)
            if not isinstance(ledger.tracking_uri, str):
                raise DamagedFileError(path, "no tracking URI")
        except Exception as exc:  # noqa: BLE001
            checks.append(FileCheck(name, State.DAMAGED, _problem(exc), lost, kind="ledger"))
            continue
        detail = f"{ledger.tracking_uri}: {len(ledger.synced_ids())} of {len(ledger.trials)} trial runs complete"
        if uid is not None and ledger.experiment_uid != uid:
            checks.append(FileCheck(name, State.NOTE, detail + "; of an earlier experiment in this folder (ignored)",
                                    kind="ledger"))
        elif not ledger.parents:
            checks.append(FileCheck(name, State.NOTE, detail + "; no parent run recorded (the next `raynas mlflow "
                                    "sync` opens one)", kind="ledger"))
        else:
            checks.append(FileCheck(name, State.OK, detail + f"; parent run {', '.join(ledger.parents.values())}",
                                    kind="ledger"))
    return checks


def lock_files(paths: ExperimentPaths) -> list[Path]:
    """Lock files of the experiment (``raynas.lock``, and any ``*.lock``)."""
    return sorted(p for p in paths.root.iterdir() if p.name in ("lock", ".lock") or p.name.endswith(".lock"))


def lock_holder(path: Path) -> tuple[dict[str, Any], bool | None]:
    """What a lock file says (host, pid, command...) and whether it is stale: True when its process is gone on this
    host (or the file names no process and is older than a minute: not one being written), False when it runs,
    None when that cannot be told from here (another host)."""
    from raynas._lock import LockHolder

    if not path.is_file():
        raise ValueError("not a regular file")
    with open(path, "rb") as handle:
        raw = handle.read(65536)
    try:
        holder = LockHolder.from_dict(json.loads(raw))
    except ValueError as exc:
        return {"problem": str(exc)}, time.time() - path.stat().st_mtime > 60.0
    return {"host": holder.host, "pid": holder.pid, "command": holder.command}, holder.stale()


def _check_locks(paths: ExperimentPaths) -> list[FileCheck]:
    checks = []
    for path in lock_files(paths):
        name = _rel(paths, path)
        try:
            data, stale = lock_holder(path)
        except Exception as exc:  # noqa: BLE001
            checks.append(FileCheck(name, State.DAMAGED, problem_of(exc), "--repair removes it", kind="lock"))
            continue
        if "problem" in data:
            checks.append(FileCheck(name, State.DAMAGED, f"unreadable lock ({data['problem']})",
                                    "--repair removes it" if stale else "a writer may be creating it: check again",
                                    kind="lock"))
            continue
        who = f"host {data['host']}, pid {data['pid']}" + (f", `{data['command']}`" if data.get("command") else "")
        if stale:
            checks.append(FileCheck(name, State.DAMAGED, f"stale lock ({who}: that process is gone)",
                                    "--repair removes it", kind="lock"))
        elif stale is None:
            checks.append(FileCheck(name, State.NOTE, f"held by {who} (another machine: cannot tell from here "
                                    "whether it still runs)", kind="lock"))
        else:
            checks.append(FileCheck(name, State.OK, f"held by a running process ({who})", kind="lock"))
    return checks


def _check_tune(paths: ExperimentPaths, limit_s: float) -> list[FileCheck]:
    tune = paths.tune
    if not tune.is_dir():
        return [FileCheck(_rel(paths, tune) + "/", State.NOTE, f"absent: {NOT_NEEDED}", kind="tune")]
    checks = []
    bad = 0
    files = [p for p in sorted(tune.rglob("*")) if p.is_file()]
    for path in files:
        problem = None
        try:  # pickles (whatever their name) are never unpickled here: one from a shared folder can run code
            with open(path, "rb") as handle:
                head = handle.read(2)
            if len(head) == 2 and head[0] == 0x80:
                pass
            elif path.suffix == ".json":
                timed(lambda p=path: json.loads(p.read_bytes()), limit_s)
            elif path.suffix == ".pkl":
                problem = "not a pickle"
        except Exception as exc:  # noqa: BLE001
            problem = problem_of(exc)
        if problem:
            bad += 1
            checks.append(FileCheck(_rel(paths, path), State.NOTE, f"damaged ({problem}): {NOT_NEEDED}",
                                    "--repair moves it to damaged/tune/", kind="tune"))
    checks.insert(0, FileCheck(_rel(paths, tune) + "/", State.OK if not bad else State.NOTE,
                               f"Ray Tune's state, {len(files)} files, {bad} damaged ({NOT_NEEDED})", kind="tune_summary"))
    return checks
