"""``raynas doctor --repair``: set damaged files aside (never delete data) and rebuild what the trial store can."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from raynas._files import atomic_write
from raynas.doctor._checks import DAMAGED_DIR, FileCheck, Report, State, check_experiment, lock_holder
from raynas.experiment import ExperimentPaths, experiment_lock

log = logging.getLogger(__name__)


def repair(report: Report) -> Report:
    """Repair what ``report`` found damaged or missing, then check the experiment again; the new report's files
    say what was done (``repaired``) and what is still damaged."""
    paths = ExperimentPaths(report.root)
    done: dict[str, str] = {}
    todo = [check for check in report.files
            if check.state.bad() or (check.state is State.NOTE and check.kind in ("store_tmp", "tune") and check.rebuild)]
    locks = [check for check in todo if check.kind == "lock"]
    _repair_all(paths, report, locks, done)  # a stale lock goes first: the repair then takes the lock itself
    # a running writer (search, resume, train...) holds it: LockedError names it before anything changes
    with experiment_lock(paths, command="raynas doctor --repair"):
        _repair_all(paths, report, [check for check in todo if check.kind != "lock"], done)
    after = check_experiment(paths.root)
    for check in after.files:
        check.repaired = done.pop(check.path, "")
    for path, action in done.items():  # files moved away or dropped no longer appear: say what became of them
        after.files.append(FileCheck(path, State.OK, "", repaired=action, kind="repaired"))
    return after


def _repair_all(paths: ExperimentPaths, report: Report, checks: list[FileCheck], done: dict[str, str]) -> None:
    for check in checks:
        try:
            action = _repair_one(paths, report, check)
        except Exception as exc:  # noqa: BLE001 - a repair that fails leaves the file as it was, and says so
            action = f"not repaired: {type(exc).__name__}: {exc}"
        if action:
            done[check.path] = action


def _repair_one(paths: ExperimentPaths, report: Report, check: FileCheck) -> str:
    path = paths.root / check.path
    kind = check.kind
    if kind in ("store", "store_tmp"):
        return _set_aside(path, paths.trials / DAMAGED_DIR)
    if kind in ("auto_stop", "ledger", "progress"):
        return _set_aside(path, paths.root / DAMAGED_DIR)
    if kind == "tune":
        return _set_aside(path, paths.root / DAMAGED_DIR / "tune")
    if kind == "uid":
        return _rebuild_uid(paths)
    if kind == "lock":
        data, stale = lock_holder(path) if path.is_file() else ({}, True)
        if stale:
            path.unlink(missing_ok=True)
            return "removed (stale)"
        return ""
    if kind == "config":
        return ""  # cannot be rebuilt: the check says where to get it from
    if report.config is None:
        return ""  # status, runs and budget are derived with the config
    if kind == "status":
        return _rebuild_status(paths, report, path)
    if kind == "runs":
        return _rebuild_runs(paths, report, path)
    if kind == "budget":
        return _rebuild_budget(paths, report, path)
    return ""


def _set_aside(path: Path, folder: Path) -> str:
    """Move ``path`` into ``folder`` (never over another file); what was done, relative to the experiment."""
    if not path.exists() and not path.is_symlink():
        return ""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.name}.{uuid.uuid4().hex[:6]}"
    shutil.move(str(path), str(target))
    root = folder.parent.parent if folder.name == "tune" else folder.parent
    return f"moved to {target.relative_to(root)}"


def _records(paths: ExperimentPaths) -> list[Any]:
    from raynas.tracking import TrialStore

    return TrialStore(paths.trials).records()


def _rebuild_status(paths: ExperimentPaths, report: Report, path: Path) -> str:
    from raynas.tune import summarize

    # the folder given, wherever config.json says the experiment was written (a moved or copied experiment)
    config = dataclasses.replace(report.config, workdir=str(paths.root.parent), name=paths.root.name)
    result = summarize(config, wall_seconds=0.0)
    _set_aside(path, paths.root / DAMAGED_DIR)
    atomic_write(path, json.dumps(result.to_dict(), indent=2, default=str))
    return f"rebuilt from the trial store ({result.status}: {result.reason})"


def _rebuild_runs(paths: ExperimentPaths, report: Report, path: Path) -> str:
    records = _records(paths)
    starts = [r.start_time for r in records if r.start_time]
    ends = [r.end_time for r in records if r.end_time]
    start = min(starts) if starts else (path.parent.stat().st_mtime if path.parent.exists() else time.time())
    end = max(ends) if ends else start
    ended = "completed" if len(records) >= report.config.max_trials else "interrupted"
    runs = [{"start": start, "deadline": start + float(report.config.timeout_s), "after": None, "end": end,
             "ended": ended, "rebuilt": "raynas doctor --repair, from the trial store's times"}]
    _set_aside(path, paths.root / DAMAGED_DIR)
    atomic_write(path, json.dumps(runs, indent=2))
    log.warning("%s rebuilt from the trial store's times: the time earlier runs used counts from the first trial's "
                "start to the last trial's end (the timeout and max_total_time accounting is approximate)", path)
    return "rebuilt from the trial store's times (timeout accounting approximate)"


def _rebuild_budget(paths: ExperimentPaths, report: Report, path: Path) -> str:
    failed = sum(1 for r in _records(paths) if r.status.counts_as_failure())
    _set_aside(path, paths.root / DAMAGED_DIR)
    atomic_write(path, json.dumps({"failed": failed, "max_failed": report.config.max_failed}))
    return f"rebuilt from the trial store ({failed} failed or invalid of max_failed {report.config.max_failed})"


def _rebuild_uid(paths: ExperimentPaths) -> str:
    from raynas.tracking import RunLedger

    uids = set()
    for ledger in sorted(paths.mlflow.glob("runs-*.json")) if paths.mlflow.is_dir() else []:
        try:
            uids.add(RunLedger.from_dict(json.loads(ledger.read_bytes())).experiment_uid)
        except Exception:  # noqa: BLE001 - a damaged ledger has its own check
            continue
    uids.discard("")
    if paths.uid_file.exists():
        _set_aside(paths.uid_file, paths.root / DAMAGED_DIR)
    if len(uids) == 1:
        atomic_write(paths.uid_file, uids.pop())
        return "restored from the MLflow run ledger"
    atomic_write(paths.uid_file, uuid.uuid4().hex)
    return "given a new id (no MLflow run ledger to restore it from)"
