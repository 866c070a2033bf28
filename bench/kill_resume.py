"""SIGKILL a search's driver at random moments, resume it each time: every number once, nothing left running (issue 16).

One case: a simulated NAS-Bench-201 dry-run search (each trial sleeps ``--sleep`` s at most; MLflow on a SQLite file
in the case folder) started as ``raynas search`` in its own session (``start_new_session``); ``--kills`` times its
process group is SIGKILLed (``os.killpg``) at a random moment (seeded) and ``raynas resume`` started at once; the
last resume runs to the end. A kill moment is "a trial just launched": the kill waits until this run of the driver
appends a launch of number >= a random target to the launch ledger (``launches.jsonl``; with no ledger, until the
store holds that many trials), then a random 0..``--jitter`` s more, so most kills hit a trial launched after
anything Ray Tune saved and still running.

Checked per case:

- numbers: the trial store holds the numbers 1..N exactly once each (and N distinct trial ids);
- MLflow: one trial run per stored trial (runs tagged ``raynas.role: lost_trial`` do not count), each with the
  stored status, one parent run, and that parent FINISHED;
- survivors: 10 s after each kill, no process of the killed run is alive. A run's processes are every descendant
  of its driver seen while it ran (polled) and every process whose environment carries the run's marker
  (``RAYNAS_KILL_RUN=<token>``; Ray's GCS, raylet, agents and ``ray::`` workers inherit it; each run also gets its
  own ``RAY_TMPDIR``, so it starts its own Ray instance and never joins another one).

Prints one line per kill, one per case and a summary; exits 1 when any check failed.

    python bench/kill_resume.py              # 3 repetitions of a 60-trial search with 5 kills
    python bench/kill_resume.py --smoke      # 1 repetition, 20 trials, 2 kills (CI)
    python bench/kill_resume.py --reps 1 --trials 30 --kills 3 --seed 7 --keep /tmp/kr
    python bench/kill_resume.py --smoke --kill-pid   # kill -9 of the driver alone
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "killed"
MARKER = "RAYNAS_KILL_RUN"
#: Seconds after a kill at which no process of the killed run may be alive (issue 16).
GRACE_S = 10.0


@dataclass
class Kill:
    """One SIGKILL: when, what the run had launched, and which of its processes outlived it."""

    run: int
    target: int
    launched: int
    stored: int
    processes: int
    survivors: list[str] = field(default_factory=list)
    checked: threading.Event = field(default_factory=threading.Event)

    def line(self) -> str:
        alive = ", ".join(self.survivors) if self.survivors else "none"
        return (f"  kill {self.run}: after launch #{self.launched} (target {self.target}), {self.stored} stored, "
                f"{self.processes} processes of the run; alive {GRACE_S:g} s later: {alive}")


@dataclass
class CaseResult:
    """The figures and checks of one case."""

    rep: int
    trials: int
    kills: list[Kill]
    exit_code: int | None
    numbers_ok: bool
    numbers_note: str
    mlflow_ok: bool
    mlflow_note: str
    seconds: float
    output_tail: str = ""

    @property
    def survivors(self) -> int:
        return sum(len(k.survivors) for k in self.kills)

    @property
    def ok(self) -> bool:
        return self.numbers_ok and self.mlflow_ok and self.survivors == 0 and self.exit_code == 0

    def line(self) -> str:
        return (f"case {self.rep}: {len(self.kills)} kills, {self.survivors} survivors after {GRACE_S:g} s, "
                f"numbers {'ok' if self.numbers_ok else 'FAIL'} ({self.numbers_note}), "
                f"MLflow {'ok' if self.mlflow_ok else 'FAIL'} ({self.mlflow_note}), last exit {self.exit_code}, "
                f"{self.seconds:.0f} s")


# --- processes ----------------------------------------------------------------------------------------------------
def _key(proc: Any) -> tuple[int, float] | None:
    try:
        return proc.pid, proc.create_time()
    except Exception:  # noqa: BLE001 - gone already
        return None


def marked_processes(token: str) -> dict[tuple[int, float], str]:
    """Every live process whose environment has ``RAYNAS_KILL_RUN=token``: (pid, start time) -> a short name."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["pid", "name"]):
        try:
            if proc.environ().get(MARKER) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found[(proc.pid, proc.create_time())] = _describe(proc)
        except (psutil.Error, OSError):
            continue
    return found


def descendants(pid: int) -> dict[tuple[int, float], str]:
    """The live descendants of ``pid`` (and ``pid`` itself)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    found = {}
    for proc in procs:
        key = _key(proc)
        if key is not None:
            with contextlib.suppress(psutil.Error):
                found[key] = _describe(proc)
    return found


def _describe(proc: Any) -> str:
    import psutil

    try:
        cmd = " ".join(proc.cmdline())[:60] or proc.name()
    except psutil.Error:
        cmd = "?"
    return f"{proc.pid} {cmd}"


def alive(processes: dict[tuple[int, float], str]) -> list[str]:
    """Those of ``processes`` still running (same pid and start time, not a zombie)."""
    import psutil

    out = []
    for (pid, created), name in processes.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(name)
        except psutil.Error:
            continue
    return out


# --- one case -------------------------------------------------------------------------------------------------------
def write_config(folder: Path, trials: int, sleep_s: float, seed: int) -> Path:
    import yaml

    config = {"name": NAME, "workdir": str(folder / "work"), "space": "nasbench201", "max_trials": trials,
              "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5, "controller": "surrogate",
              "seed": seed, "benchmark": {"variant": "proxy", "sleep_fraction": 1.0, "max_sleep_s": sleep_s}}
    path = folder / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _launched(ledger: Path, skip: int) -> tuple[int, int]:
    """(lines in the launch ledger, highest number among the lines after the first ``skip``)."""
    try:
        lines = ledger.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 0, 0
    top = 0
    for line in lines[skip:]:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            top = max(top, int(json.loads(line)["number"]))
    return len(lines), top


def _stored(store_dir: Path) -> int:
    from raynas.tracking import TrialStore

    if not store_dir.is_dir():
        return 0
    with contextlib.suppress(Exception):
        return len(TrialStore(store_dir).records())
    return 0


class Driver:
    """One run of the driver (``raynas search`` or ``raynas resume``) in its own session and Ray temp dir."""

    def __init__(self, command: list[str], folder: Path, run: int, env: dict[str, str]) -> None:
        self.token = f"{uuid.uuid4().hex[:12]}-{run}"
        # short, under /tmp: Ray's socket paths (under RAY_TMPDIR) have a length limit
        self.ray_tmp = Path(tempfile.mkdtemp(prefix=f"kr{run}"))
        env = {**env, MARKER: self.token, "RAY_TMPDIR": str(self.ray_tmp)}
        self.log = open(folder / f"run{run}.log", "w")
        self.proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=folder)
        self.seen: dict[tuple[int, float], str] = {}

    def poll_tree(self) -> None:
        self.seen.update(descendants(self.proc.pid))

    def kill(self, group: bool = True) -> dict[tuple[int, float], str]:
        """SIGKILL the process group (``group``) or the driver alone; returns every process of the run known just
        before."""
        self.poll_tree()
        known = {**self.seen, **marked_processes(self.token)}
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if group else os.kill)(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        return known

    def wait(self, timeout_s: float) -> int | None:
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            code = None
        self.log.close()
        return code


def _check_later(kill: Kill, known: dict[tuple[int, float], str], token: str, at: float) -> None:
    time.sleep(max(0.0, at - time.time()))
    survivors = set(alive(known)) | set(marked_processes(token).values())
    kill.survivors = sorted(survivors)
    kill.checked.set()


def run_case(rep: int, *, trials: int, kills: int, seed: int, sleep_s: float = 0.6, jitter_s: float = 1.0,
             root: Path | None = None, timeout_s: float = 900.0, kill_group: bool = True,
             say: Any = print) -> CaseResult:
    """One search of ``trials`` trials killed ``kills`` times (seeded moments), resumed after each; see the module."""
    rng = random.Random(seed * 1000 + rep)
    folder = Path(tempfile.mkdtemp(prefix="kr", dir=root))
    began = time.time()
    config = write_config(folder, trials, sleep_s, seed + rep)
    work = folder / "work"
    exp = work / NAME
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}", "MLFLOW_DISABLE_TELEMETRY": "true",
           "RAY_AIR_NEW_OUTPUT": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    raynas = [sys.executable, "-m", "raynas"]
    # kill targets: distinct launch numbers spread over the search, leaving the last trials to the final resume
    targets = sorted(rng.sample(range(2, max(trials - 1, kills + 3)), kills))
    done: list[Kill] = []
    checkers: list[threading.Thread] = []
    drivers: list[Driver] = []
    code: int | None = None
    for run in range(kills + 1):
        command = raynas + (["search", "--config", str(config)] if run == 0 else
                            ["resume", NAME, "--workdir", str(work)]) + ["--format", "json"]
        skip, _ = _launched(exp / "launches.jsonl", 0)
        driver = Driver(command, folder, run, env)
        drivers.append(driver)
        if run == kills:
            code = driver.wait(timeout_s)
            break
        target = targets[run]
        deadline = time.time() + timeout_s
        fired = None
        while time.time() < deadline and driver.proc.poll() is None:
            driver.poll_tree()
            lines, top = _launched(exp / "launches.jsonl", skip)
            if top >= target or (lines == 0 and _stored(exp / "trials") >= target):
                fired = time.time() + rng.uniform(0.0, jitter_s)
                break
            time.sleep(0.1)
        if fired is None:  # the run ended (or hung) before its kill moment
            code = driver.wait(1.0)
            say(f"  run {run} ended before its kill (exit {code}); see {folder}/run{run}.log")
            break
        while time.time() < fired and driver.proc.poll() is None:
            driver.poll_tree()
            time.sleep(0.05)
        _, top = _launched(exp / "launches.jsonl", skip)
        stored = _stored(exp / "trials")
        known = driver.kill(kill_group)
        kill = Kill(run=run, target=target, launched=top, stored=stored, processes=len(known))
        done.append(kill)
        checker = threading.Thread(target=_check_later, args=(kill, known, driver.token, time.time() + GRACE_S),
                                   daemon=True)
        checker.start()
        checkers.append(checker)
    for checker in checkers:
        checker.join()
    for driver in drivers:  # leave nothing behind, whatever the checks say
        for pid, _ in marked_processes(driver.token):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(driver.ray_tmp, ignore_errors=True)
    for kill in done:
        say(kill.line())
    numbers_ok, numbers_note = check_numbers(exp, trials)
    mlflow_ok, mlflow_note = check_mlflow(env["MLFLOW_TRACKING_URI"], exp)
    tail = (folder / f"run{len(done)}.log").read_text(errors="replace")[-3000:] if code != 0 else ""
    return CaseResult(rep, trials, done, code, numbers_ok, numbers_note, mlflow_ok, mlflow_note,
                      time.time() - began, tail)


def check_numbers(exp: Path, trials: int) -> tuple[bool, str]:
    """Whether the store holds the numbers 1..trials exactly once each, under distinct trial ids."""
    from raynas.tracking import TrialStore

    records = TrialStore(exp / "trials").records() if (exp / "trials").is_dir() else []
    numbers = sorted(r.number for r in records)
    missing = sorted(set(range(1, trials + 1)) - set(numbers))
    doubled = sorted({n for n in numbers if numbers.count(n) > 1})
    extra = sorted({n for n in numbers if not 1 <= n <= trials})
    ids = len({r.trial_id for r in records})
    ok = numbers == list(range(1, trials + 1)) and ids == trials
    note = f"{len(records)} records, {ids} ids"
    if missing:
        note += f", missing {missing}"
    if doubled:
        note += f", twice {doubled}"
    if extra:
        note += f", outside 1..{trials}: {extra}"
    return ok, note


def check_mlflow(uri: str, exp: Path) -> tuple[bool, str]:
    """One trial run per stored trial with its status (lost_trial runs aside), one parent, FINISHED."""
    from mlflow import MlflowClient

    from raynas.tracking import TrialStore

    try:
        uid = (exp / "uid").read_text().strip()
        client = MlflowClient(uri)
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs, token = [], None
        while True:
            page = client.search_runs(experiments, f"tags.`raynas.experiment_uid` = '{uid}'", max_results=1000,
                                      page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return False, f"{type(exc).__name__}: {exc}"
    records = TrialStore(exp / "trials").records() if (exp / "trials").is_dir() else []
    status = {r.trial_id: str(r.status) for r in records}
    by_trial: dict[str, list[Any]] = {}
    roles: dict[str, int] = {}
    for run in runs:
        role = run.data.tags.get("raynas.role", "?")
        roles[role] = roles.get(role, 0) + 1
        if role == "trial":
            by_trial.setdefault(run.data.tags.get("raynas.trial_id", "?"), []).append(run)
    parents = [r for r in runs if r.data.tags.get("raynas.role") == "parent"]
    problems = []
    if set(by_trial) != set(status):
        problems.append(f"{len(set(by_trial) - set(status))} runs without a stored trial, "
                        f"{len(set(status) - set(by_trial))} stored trials without a run")
    doubles = {k: len(v) for k, v in by_trial.items() if len(v) > 1}
    if doubles:
        problems.append(f"{len(doubles)} trials with several runs")
    wrong = [k for k, v in by_trial.items() if k in status and v[0].data.tags.get("raynas.status") != status[k]]
    if wrong:
        problems.append(f"{len(wrong)} runs with another status than the store's")
    parent_status = ",".join(p.info.status for p in parents) or "none"
    if len(parents) != 1 or parent_status != "FINISHED":
        problems.append(f"parent runs: {parent_status}")
    note = ", ".join(f"{n} {role}" for role, n in sorted(roles.items())) + f"; parent {parent_status}"
    return not problems, note + ("; " + "; ".join(problems) if problems else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="1 repetition, 20 trials, 2 kills (CI)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.6, help="seconds a simulated trial sleeps at most")
    parser.add_argument("--jitter", type=float, default=1.0, help="random seconds between the launch and the kill")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kill-pid", action="store_true",
                        help="SIGKILL the driver process alone (kill -9 PID), not its process group")
    parser.add_argument("--keep", type=Path, help="keep the case folders under this folder")
    args = parser.parse_args()
    if args.smoke:
        args.reps, args.trials, args.kills = 1, 20, 2
    root = args.keep or Path(tempfile.mkdtemp(prefix="krb"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"kill/resume: {args.reps} x {args.trials} trials, {args.kills} SIGKILLs each "
          f"({'of the driver alone' if args.kill_pid else 'of the process group'}), seed {args.seed}", flush=True)
    results = []
    try:
        for rep in range(args.reps):
            result = run_case(rep, trials=args.trials, kills=args.kills, seed=args.seed, sleep_s=args.sleep,
                              jitter_s=args.jitter, root=root,
                              kill_group=not args.kill_pid)
            print(result.line(), flush=True)
            if result.output_tail:
                print(result.output_tail, flush=True)
            results.append(result)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    kills = sum(len(r.kills) for r in results)
    survivors = sum(r.survivors for r in results)
    summary = {"cases": len(results), "kills": kills, "survivors_after_10s": survivors,
               "numbers_ok": sum(r.numbers_ok for r in results), "mlflow_ok": sum(r.mlflow_ok for r in results),
               "completed": sum(r.exit_code == 0 for r in results),
               "seconds": round(sum(r.seconds for r in results), 1)}
    print("summary: " + json.dumps(summary), flush=True)
    sys.exit(0 if results and all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
