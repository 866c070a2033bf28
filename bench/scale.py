"""A 10,000-trial tabular search at 50 concurrent trials: overhead vs plain Ray Tune, driver memory, store sizes,
controller cost at that scale (issue 7), and whether the driver's cost per trial grows with the trials (issue 15).

Four parts, each can run alone (``--parts``):

``compare``
    Per-trial overhead of ``run_search`` vs plain Ray Tune, measured on the same local Ray instance in the same
    process: ``--compare-trials`` short simulated trials, ``--concurrent`` at once, ``cpus_per_trial`` =
    CPUs / concurrent (fractional), no GPU, ``reuse_actors=True`` in both. raynas runs the bundled NAS-Bench-201
    table with ``benchmark: {sleep_fraction: 1.0, max_sleep_s: T}`` (every cell's recorded cost is far above T,
    so each trial sleeps T), MLflow on (embedded SQLite store in a fresh work directory: the honest figure) and
    off; plain Ray Tune samples the same six edges with ``tune.choice`` and its function trainable sleeps T and
    reports a number, once with Tune's default per-trial loggers and once without (raynas switches them off).
    Arms alternate (order reversed every other repeat); medians. Per-trial overhead = (wall - ideal) / trials
    with ideal = trials x T / concurrent.
``scale``
    ``raynas search --config`` (the CLI's own entry point) on ``--trials`` such trials, MLflow on, in a separate
    Python process that prints its own ``getrusage(RUSAGE_SELF).ru_maxrss`` at the end: the driver's peak
    memory (Ray's worker processes and the MLflow sender are other processes). This script samples the
    process tree meanwhile (psutil): the MLflow sender's peak (largest RSS sampled), the whole tree's RSS, and the
    driver's CPU time per finished trial in each tenth of the search and in two windows, around trial n/10 and
    just before trial n (750-1,250 and 9,400-9,900 of 10,000), with their ratio (issue 15: at most 1.2).
    Afterwards it checks the trial store (exactly N records, numbers 1..N once each,
    unique trial ids over all Parquet files, statuses) and the MLflow store (SQL on the SQLite file: N child
    runs of the parent run, the same trial ids), and reports the sizes on disk. ``--py-spy DIR`` also profiles
    the driver with py-spy in windows of ``--py-spy-window`` seconds (collapsed stacks, one file per window,
    flamegraph-ready) and prints the driver's CPU per finished trial in each window for its costliest functions:
    what grows as trials pile up.
``controllers``
    ``propose()`` + ``observe()`` of every controller on a 10^20-size space (20 decisions x 10 options, as
    bench/controller_speed.py) for ``--trials`` proposals: mean us/proposal, first and last 1,000, ratio to
    ``space.sample_genotype`` in the same run.
``driver``
    raynas' own driver work per trial without Ray Tune, in this process: the searcher (controller included),
    failure budget, auto stop (every rule evaluated, none firing), trial recorder (the real Parquet store),
    progress line and search plot get the calls Ray Tune makes for ``--trials`` trials, ``--concurrent`` in
    flight, evaluated by table look-up (not timed). ``time.process_time`` around each call: CPU per trial by
    component in both windows and their ratio (acceptance: at most 1.2 outside ``--smoke``).

Exits 1 when an acceptance check fails (scale: no lost trials, every trial in MLflow, driver peak < 2 GB;
driver: every trial stored, CPU per trial near trial n at most 1.2x that near trial n/10).

    python bench/scale.py                                  # all parts: 1,000-trial comparison, 10,000-trial run
    python bench/scale.py --parts scale --trials 10000 --keep /tmp/scale-work
    python bench/scale.py --compare-trials 100 --trials 500  # a quick look (~20 min on 2 cores)
    python bench/scale.py --parts scale --trials 2000 --py-spy /tmp/scale-profile
    python bench/scale.py --parts driver                   # raynas' own driver work at 10,000 trials (~2 min)
    python bench/scale.py --smoke                          # CI: the driver part on 400 trials (~10 s)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MB = 1024 * 1024
DRIVER_LIMIT_MB = 2048


def say(text: str = "") -> None:
    print(text, flush=True)


def du(path: Path) -> tuple[int, int]:
    """Bytes and number of files under ``path`` (a file: its own size)."""
    if path.is_file():
        return path.stat().st_size, 1
    size = files = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
                files += 1
            except OSError:
                pass
    return size, files


def search_config(*, name: str, workdir: str, trials: int, concurrent: int, cpus: float, trial_seconds: float,
                  mlflow: bool, controller: str | None, seed: int = 0) -> dict[str, Any]:
    """The search config of both the comparison and the big run (a ``raynas search --config`` file's content)."""
    config: dict[str, Any] = {
        "name": name, "space": "nasbench201", "workdir": workdir, "max_trials": trials,
        "max_concurrent": concurrent, "gpus_per_trial": 0, "cpus_per_trial": cpus, "seed": seed,
        "benchmark": {"sleep_fraction": 1.0, "max_sleep_s": trial_seconds} if trial_seconds > 0 else {},
        "mlflow": {"enabled": mlflow},
        # every trial must run: the convergence rules would end a long search early (by design)
        "auto_stop": False,
    }
    if controller:
        config["controller"] = {"name": controller}
    return config


# --- part 1: overhead vs plain Ray Tune ---------------------------------------------------------------------
def plain_arm(args: argparse.Namespace, storage: str, *, loggers: bool, run: int) -> float:
    from ray import tune

    from raynas.benchmarks import OPERATIONS

    seconds = args.trial_seconds

    def simulated(config):
        time.sleep(seconds)
        tune.report({"reward": 1.0})

    tuner = tune.Tuner(
        tune.with_resources(simulated, {"cpu": args.cpus_per_trial}),
        param_space={f"edge{i}": tune.choice(list(OPERATIONS)) for i in range(6)},
        tune_config=tune.TuneConfig(num_samples=args.compare_trials, max_concurrent_trials=args.concurrent,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name=f"plain-{loggers}-{run}", verbose=0),
    )
    if not loggers:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    # without loggers the result grid warns once per trial that it found no result files (as raynas silences it)
    analysis_logger = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = analysis_logger.level
    analysis_logger.setLevel(logging.ERROR)
    try:
        start = time.perf_counter()
        grid = tuner.fit()
        elapsed = time.perf_counter() - start
    finally:
        os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)
        analysis_logger.setLevel(level)
    assert len(grid) == args.compare_trials and not grid.errors, (len(grid), grid.errors)
    return elapsed


def raynas_arm(args: argparse.Namespace, storage: str, *, mlflow: bool, run: int) -> float:
    from raynas.config import SearchConfig
    from raynas.tune import run_search

    workdir = tempfile.mkdtemp(prefix=f"raynas-{run}-", dir=storage)  # a fresh MLflow database every run
    config = SearchConfig.from_dict(search_config(
        name=f"compare-{run}", workdir=workdir, trials=args.compare_trials, concurrent=args.concurrent,
        cpus=args.cpus_per_trial, trial_seconds=args.trial_seconds, mlflow=mlflow, controller=args.controller))
    start = time.perf_counter()
    result = run_search(config, progress_interval_s=1e9)
    elapsed = time.perf_counter() - start
    assert result.trials == args.compare_trials and result.status == "completed", result.status_line()
    if mlflow:
        report = result.extra["mlflow"]
        assert not report.get("error") and not report["pending"] and not report["refused"], report
    shutil.rmtree(workdir, ignore_errors=True)
    return elapsed


def workers_started() -> int:
    """Python worker processes the local Ray instance has started so far (one core-worker log file each)."""
    import ray

    logs = Path(ray._private.worker._global_node.get_logs_dir_path())
    return len(list(logs.glob("python-core-worker-*.log"))) + len(list(logs.glob("old/python-core-worker-*.log")))


ARMS = {
    "plain": ("plain Ray Tune (default loggers)", lambda a, s, r: plain_arm(a, s, loggers=True, run=r)),
    "plain-lean": ("plain Ray Tune (auto loggers off)", lambda a, s, r: plain_arm(a, s, loggers=False, run=r)),
    "raynas": ("raynas search, MLflow on", lambda a, s, r: raynas_arm(a, s, mlflow=True, run=r)),
    "raynas-nomlflow": ("raynas search, MLflow off", lambda a, s, r: raynas_arm(a, s, mlflow=False, run=r)),
}


def compare(args: argparse.Namespace) -> list[str]:
    import ray

    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise SystemExit(f"unknown --arms {unknown}; choose from {', '.join(ARMS)}")
    n, c, t = args.compare_trials, args.concurrent, args.trial_seconds
    ideal = n * t / c
    say(f"== compare: {n} trials of {t:g} s, {c} concurrent, {args.cpus_per_trial:g} CPU per trial "
        f"({os.cpu_count()} CPUs), reuse_actors=True; ideal wall {ideal:.1f} s")
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the embedded store of each run's work directory
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    walls: dict[str, list[float]] = {a: [] for a in arms}
    workers: dict[str, list[int]] = {a: [] for a in arms}
    try:
        with tempfile.TemporaryDirectory(prefix="raynas-scale-compare-") as storage:
            for run in range(args.repeats):
                order = arms if run % 2 == 0 else arms[::-1]
                for arm in order:
                    before = workers_started()
                    walls[arm].append(ARMS[arm][1](args, storage, run))
                    workers[arm].append(workers_started() - before)
                say(f"run {run}: " + ", ".join(f"{a} {walls[a][-1]:.1f} s ({workers[a][-1]} worker processes "
                                                f"started)" for a in order))
    finally:
        ray.shutdown()
    wall = {a: statistics.median(v) for a, v in walls.items()}
    lines = [f"{n} trials of {t:g} s, {c} concurrent, {args.cpus_per_trial:g} CPU each, median of {args.repeats}; "
             f"ideal {ideal:.1f} s = {1000 * t / c:.1f} ms per trial"]
    for arm in arms:
        lines.append(f"  {ARMS[arm][0]:34s}: wall {wall[arm]:7.1f} s, {1000 * wall[arm] / n:7.1f} ms per trial, "
                     f"overhead {1000 * (wall[arm] - ideal) / n:7.1f} ms per trial; "
                     f"{statistics.median(workers[arm]):.0f} Ray worker processes started")
    for ours in ("raynas", "raynas-nomlflow"):
        for base in ("plain", "plain-lean"):
            if ours in wall and base in wall:
                over = (wall[ours] - ideal) / max(wall[base] - ideal, 1e-9)
                lines.append(f"  ratio {ours} / {base}: wall {wall[ours] / wall[base]:.3f}, overhead {over:.3f}")
    return lines


# --- part 2: the big run in its own process ----------------------------------------------------------------
DRIVER = r"""
import json, resource, sys, time
start = time.perf_counter()
from raynas.cli import main
rc = main(["search", "--config", sys.argv[1]])
wall = time.perf_counter() - start
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print("SCALE-DRIVER " + json.dumps({"rc": rc, "wall_s": wall, "maxrss_kb": me.ru_maxrss,
      "cpu_s": me.ru_utime + me.ru_stime, "children_maxrss_kb": kids.ru_maxrss}), flush=True)
sys.exit(rc)
"""

def _descendants(root: Any) -> list[Any]:
    """``root`` (a psutil.Process) and every process below it."""
    import psutil

    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _cmdline(proc: Any) -> str:
    import psutil

    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _usage(proc: Any) -> tuple[int, float] | None:
    """RSS in kB and CPU time (user + system) in seconds of a process, None once it is gone."""
    import psutil

    try:
        with proc.oneshot():
            cpu = proc.cpu_times()
            return proc.memory_info().rss // 1024, cpu.user + cpu.system
    except psutil.Error:
        return None


class TreeWatcher(threading.Thread):
    """Samples the driver's process tree: driver RSS and CPU, MLflow sender peak, the tree's total RSS."""

    def __init__(self, pid: int, progress_path: Path, interval_s: float) -> None:
        import psutil

        super().__init__(daemon=True)
        self.pid = pid
        self.root = psutil.Process(pid)
        self.progress_path = progress_path
        self.interval_s = interval_s
        self.halt = threading.Event()
        self.samples: list[tuple[float, int, int, float, int]] = []  # time, done, driver RSS kB, CPU s, tree kB
        self.sender_hwm_kb = 0  # the largest RSS sampled (psutil has no VmHWM)
        self.tree_peak_kb = 0
        self.tree_peak_procs = 0
        self._senders: set[int] = set()
        self.cpu_by_pid: dict[int, tuple[str, float]] = {}  # last CPU time seen of every process in the tree

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval_s)

    @property
    def sender_cpu_s(self) -> float:
        return sum(cpu for pid, (_, cpu) in self.cpu_by_pid.items() if pid in self._senders)

    def _kind(self, proc: Any) -> str:
        if proc.pid == self.pid:
            return "driver"
        if proc.pid in self._senders:
            return "MLflow sender"
        cmd = _cmdline(proc)
        if "default_worker.py" in cmd or cmd.startswith("ray::"):
            return "Ray worker processes"
        for name in ("raylet", "gcs_server"):
            if name in cmd.split(" ", 1)[0]:
                return name
        return "other Ray processes"

    def cpu_lines(self, trials: int) -> list[str]:
        """CPU time by kind of process (last value seen; a process that ended between samples is undercounted)."""
        total: Counter = Counter()
        count: Counter = Counter()
        for kind, cpu in self.cpu_by_pid.values():
            total[kind] += cpu
            count[kind] += 1
        return [f"  {kind:22s} {count[kind]:4d} processes, CPU {cpu:7.1f} s = {1000 * cpu / trials:6.1f} ms per trial"
                for kind, cpu in total.most_common()]

    def _done(self) -> int:
        try:
            return int(json.loads(self.progress_path.read_text())["done"])
        except (OSError, ValueError, KeyError, TypeError):
            return self.samples[-1][1] if self.samples else 0

    def sample(self) -> None:
        procs = _descendants(self.root)
        tree = 0
        driver: tuple[int, float] | None = None
        for proc in procs:
            usage = _usage(proc)
            if usage is None:
                continue
            rss_kb, cpu = usage
            tree += rss_kb
            pid = proc.pid
            if pid == self.pid:
                driver = usage
            if pid not in self._senders and "raynas.tracking._mlflow_worker" in _cmdline(proc):
                self._senders.add(pid)
            if pid in self._senders:
                self.sender_hwm_kb = max(self.sender_hwm_kb, rss_kb)
            known = self.cpu_by_pid.get(pid)
            kind = "MLflow sender" if pid in self._senders else known[0] if known else self._kind(proc)
            self.cpu_by_pid[pid] = (kind, cpu)
        if tree > self.tree_peak_kb:
            self.tree_peak_kb, self.tree_peak_procs = tree, len(procs)
        if driver is not None:
            self.samples.append((time.time(), self._done(), driver[0], driver[1], tree))


def windows(n: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The two windows of trials whose driver CPU per trial is compared: around trial n/10 and just before trial n
    (750-1,250 and 9,400-9,900 of 10,000; the last trials also pay for the end of the search, so they are left out)."""
    w = max(10, n // 20)
    return (max(1, n // 10 - w // 2), n // 10 + w // 2), (n - w - w // 5, n - w // 5)


def growth_ratio_lines(label: str, early: tuple[tuple[int, int], float], late: tuple[tuple[int, int], float],
                       limit: float = 1.2) -> tuple[list[str], float]:
    """Lines reporting CPU per trial in both windows and their ratio (the acceptance of issue 15: <= ``limit``)."""
    (e, e_ms), (t, t_ms) = early, late
    ratio = t_ms / e_ms if e_ms > 0 else float("inf")
    return [f"  {label}: {e_ms:.2f} ms per trial over trials {e[0]:,}-{e[1]:,}, {t_ms:.2f} ms over trials "
            f"{t[0]:,}-{t[1]:,}: ratio {ratio:.3f} ({'within' if ratio <= limit else 'ABOVE'} {limit:g})"], ratio


def _sampled_window(samples: list[tuple[float, int, int, float, int]], lo: int, hi: int) -> tuple[tuple[int, int], float] | None:
    """Driver CPU ms per trial between the first samples that had ``lo`` and ``hi`` trials done (the window as
    sampled: the progress file that counts them is written every 5 s)."""
    a = next((s for s in samples if s[1] >= lo), None)
    b = next((s for s in samples if s[1] >= hi), None)
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (a[1], b[1]), 1000 * (b[3] - a[3]) / (b[1] - a[1])


def _growth_lines(samples: list[tuple[float, int, int, float, int]], trials: int) -> list[str]:
    """Driver CPU and wall time per finished trial in each tenth of the search (from the samples)."""
    lines = []
    marks = [trials * k // 10 for k in range(11)]
    points = []
    for mark in marks[1:]:
        hit = next((s for s in samples if s[1] >= mark), None)
        points.append((mark, hit))
    prev = next((s for s in samples if s[1] > 0), None)
    prev_mark = prev[1] if prev else 0
    for mark, hit in points:
        if hit is None or prev is None or hit[1] <= prev[1]:
            continue
        done = hit[1] - prev[1]
        lines.append(f"  trials {prev_mark:>6}-{hit[1]:<6}: {1000 * (hit[0] - prev[0]) / done:7.1f} ms wall, "
                     f"{1000 * (hit[3] - prev[3]) / done:6.1f} ms driver CPU per trial; driver RSS {hit[2] / 1024:6.0f} MB")
        prev, prev_mark = hit, hit[1]
    return lines


class SpyWindows(threading.Thread):
    """py-spy on the driver in successive windows (collapsed stacks, one file per window), each with the number
    of trials done at its start and end: how the driver's time per trial in each function changes as trials pile up."""

    def __init__(self, pid: int, out_dir: Path, window_s: float, rate: int, watcher: TreeWatcher) -> None:
        super().__init__(daemon=True)
        self.pid, self.out_dir, self.window_s, self.rate, self.watcher = pid, out_dir, window_s, rate, watcher
        self.windows: list[tuple[Path, float, float, int, int]] = []
        self.halt = threading.Event()
        self.py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        out_dir.mkdir(parents=True, exist_ok=True)

    def run(self) -> None:
        if self.py_spy is None:
            say("py-spy not found: no profile")
            return
        index = 0
        while not self.halt.is_set() and self.watcher.root.is_running():
            path = self.out_dir / f"window-{index:03d}.txt"
            t0, d0 = time.time(), self.watcher._done()
            subprocess.run([self.py_spy, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw",
                            "--duration", str(int(self.window_s)), "--output", str(path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if path.is_file():
                self.windows.append((path, t0, time.time(), d0, self.watcher._done()))
            index += 1

    def lines(self, top: int, groups: int = 8) -> list[str]:
        """Driver time per finished trial by function (inclusive), windows merged into at most ``groups`` columns
        of consecutive windows; also writes ``all.txt`` (every window's stacks, for flame graph tools)."""
        parsed: list[tuple[int, int, Counter]] = []
        with open(self.out_dir / "all.txt", "w") as merged:
            for path, _, _, d0, d1 in self.windows:
                counts: Counter = Counter()
                for line in path.read_text().splitlines():
                    stack, _, num = line.rpartition(" ")
                    if not num.isdigit():
                        continue
                    merged.write(line + "\n")
                    counts["<all driver samples>"] += int(num)
                    seen = set()
                    for frame in stack.split(";"):
                        name, _, where = frame.partition(" (")
                        where = where.split(":")[0].split("site-packages/")[-1].split("/main/")[-1]
                        key = f"{name} ({where})"
                        if key not in seen:
                            seen.add(key)
                            counts[key] += int(num)
                parsed.append((d0, d1, counts))
        if not parsed or parsed[-1][1] <= parsed[0][0]:
            return ["  (no profile windows with finished trials)"]
        size = -(-len(parsed) // groups)
        merged_groups = []
        for i in range(0, len(parsed), size):
            chunk = parsed[i:i + size]
            total: Counter = Counter()
            for _, _, counts in chunk:
                total.update(counts)
            merged_groups.append((chunk[0][0], chunk[-1][1], total))
        merged_groups = [g for g in merged_groups if g[1] > g[0]]
        ms = 1000.0 / self.rate
        last = merged_groups[-1]
        wrappers = ("<module> (", "main (raynas", "_run_search (", "run_search (", "Tuner.fit", "TunerInternal.",
                    "run (ray/tune/tune.py", "Thread._bootstrap", "Thread.run", "wrap_auto_init", "client_mode_hook")
        ranked = sorted((k for k in last[2] if not k.startswith(wrappers)),
                        key=lambda k: -last[2][k] / (last[1] - last[0]))
        head = " ".join(f"{f'{d0}-{d1}':>11s}" for d0, d1, _ in merged_groups)
        out = ["  driver busy time in ms per finished trial, by function including callees (py-spy samples of threads "
               "that are not sleeping:",
               "  running, or waiting for a CPU on a busy machine); columns: trials done during the windows",
               f"  {'':64s} {head}"]
        for key in ranked[:top]:
            values = " ".join(f"{g[2][key] * ms / (g[1] - g[0]):11.1f}" for g in merged_groups)
            out.append(f"  {key[:64]:64s} {values}")
        return out


def verify_store(store_dir: Path, trials: int) -> tuple[list[str], list[str], set[str]]:
    """Lines, failed checks and the trial ids of the trial store (read raw: every Parquet file, no dedup)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(store_dir.glob("chunk-*.parquet")) + sorted(store_dir.glob("part-*.parquet"))
    table = pa.concat_tables([pq.read_table(f, columns=["trial_id", "number", "status"]) for f in files]) \
        if files else None
    rows = 0 if table is None else table.num_rows
    ids = [] if table is None else table.column("trial_id").to_pylist()
    numbers = [] if table is None else table.column("number").to_pylist()
    statuses = Counter([] if table is None else table.column("status").to_pylist())
    unique = set(ids)
    missing = sorted(set(range(1, trials + 1)) - set(numbers))
    repeated = sorted(n for n, k in Counter(numbers).items() if k > 1)
    lines = [f"trial store: {rows} records in {len(files)} Parquet files, {len(unique)} unique trial ids, "
             f"numbers {min(numbers, default=0)}..{max(numbers, default=0)}; statuses {dict(statuses)}"]
    failed = []
    if rows != trials:
        failed.append(f"trial store holds {rows} records, expected {trials}")
    if len(unique) != rows:
        failed.append(f"{rows - len(unique)} duplicate trial ids in the trial store")
    if missing or repeated:
        failed.append(f"trial numbers: {len(missing)} missing (first {missing[:5]}), "
                      f"{len(repeated)} repeated (first {repeated[:5]})")
    if statuses.get("completed", 0) != trials:
        failed.append(f"{trials - statuses.get('completed', 0)} trials not completed: {dict(statuses)}")
    return lines, failed, unique


def verify_mlflow(db: Path, trial_ids: set[str], trials: int) -> tuple[list[str], list[str]]:
    """Child runs in the SQLite store (MLflow's own tables): one per trial, same ids, finished."""
    if not db.is_file():
        return [f"MLflow: no database at {db}"], [f"no MLflow database at {db}"]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        parents = [r[0] for r in con.execute(
            "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'raynas.role' AND t.value = 'parent' AND r.lifecycle_stage = 'active'")]
        children = con.execute(
            "SELECT r.run_uuid, r.status, (SELECT value FROM tags i WHERE i.run_uuid = r.run_uuid "
            "AND i.key = 'raynas.trial_id') FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'mlflow.parentRunId' AND r.lifecycle_stage = 'active'").fetchall()
        total = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        con.close()
    ids = [c[2] for c in children]
    status = Counter(c[1] for c in children)
    lines = [f"MLflow store: {len(parents)} parent run(s), {len(children)} child runs ({len(set(ids))} distinct "
             f"trial ids), {total} runs in all; child run statuses {dict(status)}"]
    failed = []
    if len(parents) != 1:
        failed.append(f"{len(parents)} parent runs in MLflow, expected 1")
    if len(children) != trials:
        failed.append(f"{len(children)} child runs in MLflow, expected {trials}")
    if set(ids) != trial_ids:
        failed.append(f"MLflow and the trial store disagree: {len(trial_ids - set(ids))} trials missing in MLflow, "
                      f"{len(set(ids) - trial_ids)} runs of unknown trials")
    if status.get("FINISHED", 0) != trials:
        failed.append(f"{trials - status.get('FINISHED', 0)} child runs not FINISHED: {dict(status)}")
    return lines, failed


def scale(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from raynas.experiment import ExperimentPaths

    n, c, t = args.trials, args.concurrent, args.trial_seconds
    ideal = n * t / c
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="raynas-scale-")).resolve()
    if args.keep and workdir.exists() and any(workdir.iterdir()):
        raise SystemExit(f"--keep {workdir}: choose an empty or new directory")
    workdir.mkdir(parents=True, exist_ok=True)
    name = "scale"
    config_path = workdir / "scale.json"
    config_path.write_text(json.dumps(search_config(
        name=name, workdir=str(workdir), trials=n, concurrent=c, cpus=args.cpus_per_trial, trial_seconds=t,
        mlflow=True, controller=args.controller), indent=2))
    paths = ExperimentPaths(workdir / name)
    say(f"== scale: raynas search, {n} trials of {t:g} s, {c} concurrent, {args.cpus_per_trial:g} CPU per trial, "
        f"controller {args.controller or 'default'}, MLflow on (embedded SQLite); work dir {workdir}; "
        f"ideal wall {ideal:.1f} s")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env["RAY_ADDRESS"] = "local"  # a Ray instance of its own, never one that happens to run on this machine
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", DRIVER, str(config_path)], stdout=subprocess.PIPE,
                             text=True, env=env)
    watcher = TreeWatcher(child.pid, paths.live, args.sample_s)
    watcher.start()
    spy = None
    if args.py_spy:
        spy = SpyWindows(child.pid, Path(args.py_spy), args.py_spy_window, args.py_spy_rate, watcher)
        spy.start()
    driver: dict[str, Any] = {}
    for line in child.stdout:
        if line.startswith("SCALE-DRIVER "):
            driver = json.loads(line.split(" ", 1)[1])
        else:
            sys.stdout.write(line)
            sys.stdout.flush()
    rc = child.wait()
    elapsed = time.perf_counter() - start
    watcher.halt.set()
    watcher.join()
    if spy is not None:
        spy.halt.set()
        spy.join(timeout=args.py_spy_window + 30)

    failed: list[str] = []
    status = json.loads(paths.status.read_text()) if paths.status.is_file() else {}
    fit = float(status.get("wall_seconds") or elapsed)
    driver_mb = driver.get("maxrss_kb", 0) / 1024
    lines = [f"{n} trials of {t:g} s, {c} concurrent, {args.cpus_per_trial:g} CPU per trial, "
             f"controller {args.controller or 'default'}; search {status.get('status', '?')} (exit code {rc})",
             f"wall: whole command {elapsed:.1f} s, Ray Tune run {fit:.1f} s (ideal {ideal:.1f} s); "
             f"{n / fit:.2f} trials/s; overhead {1000 * (fit - ideal) / n:.1f} ms per trial "
             f"({1000 * (elapsed - ideal) / n:.1f} ms with start-up and final MLflow sync)",
             f"driver: peak RSS {driver_mb:.0f} MB (getrusage in the driver; limit {DRIVER_LIMIT_MB} MB), "
             f"CPU {driver.get('cpu_s', 0):.1f} s = {1000 * driver.get('cpu_s', 0) / n:.1f} ms per trial",
             f"MLflow sender ({len(watcher._senders)} process(es) seen): peak RSS {watcher.sender_hwm_kb / 1024:.0f} MB "
             "(largest RSS sampled), "
             f"CPU {watcher.sender_cpu_s:.1f} s = {1000 * watcher.sender_cpu_s / n:.1f} ms per trial (last sample)",
             f"whole process tree (driver, Ray, trial workers, sender): peak RSS sum {watcher.tree_peak_kb / 1024:.0f} MB "
             f"over {watcher.tree_peak_procs} processes (shared pages counted in each)"]
    if not driver:
        failed.append("the driver printed no resource usage (it did not finish)")
    elif driver_mb >= DRIVER_LIMIT_MB:
        failed.append(f"driver peak memory {driver_mb:.0f} MB >= {DRIVER_LIMIT_MB} MB")
    if rc != 0 or status.get("status") != "completed":
        failed.append(f"search ended {status.get('status', '?')!r} with exit code {rc}")
    mlflow_report = (status.get("extra") or {}).get("mlflow") or {}
    if mlflow_report.get("error") or mlflow_report.get("pending") or mlflow_report.get("refused"):
        failed.append(f"MLflow final sync: error {mlflow_report.get('error')}, "
                      f"{len(mlflow_report.get('pending') or [])} pending, "
                      f"{len(mlflow_report.get('refused') or [])} refused")

    store_lines, store_failed, ids = verify_store(paths.trials, n)
    ml_lines, ml_failed = verify_mlflow(workdir / "mlflow.db", ids, n)
    lines += store_lines + ml_lines
    failed += store_failed + ml_failed

    sizes = {"trial store": du(paths.trials), "Ray Tune state (tune/)": du(paths.tune),
             "MLflow run ledger": du(paths.root / "mlflow"), "experiment dir in all": du(paths.root)}
    db = sum(du(p)[0] for p in workdir.glob("mlflow.db*"))
    art = du(workdir / "mlartifacts")
    for label, (size, files) in sizes.items():
        lines.append(f"size: {label:24s} {size / MB:8.2f} MB in {files} files ({size / n:.0f} bytes per trial)")
    lines.append(f"size: {'MLflow SQLite db':24s} {db / MB:8.2f} MB ({db / n:.0f} bytes per trial)")
    lines.append(f"size: {'MLflow artifacts':24s} {art[0] / MB:8.2f} MB in {art[1]} files")
    lines.append("CPU time of the process tree by kind (sampled; Ray worker processes: trial actors and idle ones):")
    lines += watcher.cpu_lines(n)
    lines.append("driver cost per trial through the search (sampled every "
                 f"{args.sample_s:g} s; progress file every 5 s):")
    lines += _growth_lines(watcher.samples, n) or ["  (too few samples)"]
    (e0, e1), (l0, l1) = windows(n)
    early, late = _sampled_window(watcher.samples, e0, e1), _sampled_window(watcher.samples, l0, l1)
    if early is None or late is None:
        lines.append("  driver CPU per trial near trial n/10 and near trial n: too few samples")
    else:
        lines += growth_ratio_lines("driver process CPU (psutil)", early, late)[0]
    if spy is not None:
        lines.append(f"py-spy profile of the driver (collapsed stacks per window, flamegraph-ready): {args.py_spy}")
        lines += spy.lines(args.py_spy_top)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        lines.append(f"kept: {workdir}")
    return lines, failed


# --- part 4: raynas' own driver work per trial, without Ray Tune ------------------------------------------
class SimTrial:
    """What raynas' callbacks read of a Ray Tune trial."""

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id, self.config = trial_id, config
        self.status = "RUNNING"
        self.last_result: dict[str, Any] = {}
        self.checkpoint = None
        self.run_metadata = None

    def get_error(self) -> None:
        return None


def driver(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """raynas' driver-side work per trial (searcher and controller, failure budget, auto stop, trial store,
    progress line, search plot) in this process, with trials evaluated by table look-up and no Ray Tune: its CPU
    time per trial near trial n/10 and near trial n, by component."""
    from raynas.config import SearchConfig
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import TrialStore
    from raynas.tune._autostop import AutoStop
    from raynas.tune._callbacks import FailureBudget, ProgressPrinter, TrialRecorder
    from raynas.tune._monitor import SearchPlotter
    from raynas.tune._runner import build_evaluator
    from raynas.tune._searcher import ControllerSearcher

    n, c = args.trials, args.concurrent
    workdir = Path(tempfile.mkdtemp(prefix="raynas-driver-"))
    data = search_config(name="driver", workdir=str(workdir), trials=n, concurrent=c, cpus=args.cpus_per_trial,
                         trial_seconds=0, mlflow=False, controller=args.controller)
    # every rule evaluated at every trial end, none firing (a rule that fired would stop evaluating)
    data["auto_stop"] = {"patience": 10**9, "no_convergence_after": None}
    config = SearchConfig.from_dict(data)
    paths = ExperimentPaths(config.experiment_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    evaluator = build_evaluator(config, paths.root)
    space = config.build_space()
    mode_max = config.mode.value == "max"
    searcher = ControllerSearcher(config.build_controller(space), max_trials=n, metric=config.metric,
                                  mode=config.mode, seed=config.seed, store_dir=str(paths.trials))
    resources = {"cpu": config.cpus_per_trial, "gpu": 0.0}
    parts: dict[str, Any] = {
        "failure budget": FailureBudget(config.max_failed, config.metric, str(paths.budget), str(paths.trials)),
        "auto stop": AutoStop(config.auto_stop, metric=config.metric, mode_max=mode_max,
                              ledger_path=str(paths.auto_stop), store_dir=str(paths.trials)),
        "trial store": TrialRecorder(str(paths.trials), config.metric, resources),
        "progress line": ProgressPrinter(n, config.metric, mode_max=mode_max, interval_s=5.0,
                                         stream=open(os.devnull, "w"), live_path=str(paths.live)),
        # redrawn every second (a real search: every 30 s; trials end ~100x faster here) or 50x its last duration
        "search plot": SearchPlotter(str(paths.trials), str(paths.search_plot), mode_max=mode_max, interval_s=1.0),
    }
    names = ["searcher", *parts]
    cost = {name: [0.0] * (n + 1) for name in names}  # CPU seconds by component and by trial (1-based, end order)
    clock = time.process_time
    trials: list[SimTrial] = []
    running: list[SimTrial] = []
    rng = random.Random(0)
    done = 0
    say(f"== driver: {n} trials, {c} in flight, controller {args.controller or 'default'}; raynas' callbacks and "
        f"searcher in this process, no Ray Tune; work dir {workdir}")
    start = time.perf_counter()
    while done < n:
        while len(running) < c and len(trials) < n:  # Tune asks the searcher for trials while slots are free
            t0 = clock()
            suggestion = searcher.suggest(f"sim{len(trials):06d}")
            spent = clock() - t0
            trial = SimTrial(f"sim{len(trials):06d}", suggestion)
            trials.append(trial)
            running.append(trial)
            for name, cb in parts.items():
                t1 = clock()
                cb.on_trial_start(0, trials, trial)
                cost[name][done + 1] += clock() - t1
            cost["searcher"][done + 1] += spent
        trial = running.pop(rng.randrange(min(len(running), 4)))  # trials end roughly in launch order
        metrics = evaluator.evaluate(trial.config["arch"], seed=int(trial.config["seed"]))  # the trial's work
        trial.last_result = {**metrics, "raynas_status": "completed", "raynas_time": time.time(),
                             "training_iteration": 1, "trial_id": trial.trial_id}
        trial.status = "TERMINATED"
        done += 1
        for name, cb in parts.items():
            t1 = clock()
            cb.on_trial_result(0, trials, trial, trial.last_result)
            cost[name][done] += clock() - t1
        t1 = clock()
        searcher.on_trial_complete(trial.trial_id, trial.last_result)
        cost["searcher"][done] += clock() - t1
        for name, cb in parts.items():
            t1 = clock()
            cb.on_trial_complete(0, trials, trial)
            cost[name][done] += clock() - t1
    wall = time.perf_counter() - start
    for cb in parts.values():
        cb.on_experiment_end(trials)
    recorded = len(TrialStore(paths.trials))
    (e0, e1), (l0, l1) = windows(n)

    def per_trial(name: str | None, lo: int, hi: int) -> float:
        picked = names if name is None else [name]
        return 1000 * sum(sum(cost[k][lo + 1:hi + 1]) for k in picked) / (hi - lo)

    total = sum(sum(v) for v in cost.values())
    lines = [f"{n} trials, {c} in flight, controller {args.controller or 'default'}: {wall:.1f} s, raynas' driver "
             f"work {1000 * total / n:.2f} ms CPU per trial (time.process_time around each call; the trials' table "
             f"look-ups excluded); trial store holds {recorded} records",
             f"  {'component':16s} {'all':>9s} {f'{e0:,}-{e1:,}':>13s} {f'{l0:,}-{l1:,}':>13s}  ratio (ms CPU per trial)"]
    for name in names:
        early, late = per_trial(name, e0, e1), per_trial(name, l0, l1)
        lines.append(f"  {name:16s} {1000 * sum(cost[name]) / n:9.3f} {early:13.3f} {late:13.3f}  "
                     f"{late / early if early > 0 else float('nan'):.2f}")
    growth, ratio = growth_ratio_lines("raynas' driver work", ((e0, e1), per_trial(None, e0, e1)),
                                       ((l0, l1), per_trial(None, l0, l1)))
    lines += growth
    failed = []
    if recorded != n:
        failed.append(f"driver: the trial store holds {recorded} records, expected {n}")
    if ratio > 1.2 and not args.smoke:
        failed.append(f"driver: CPU per trial near trial {n:,} is {ratio:.2f}x that near trial {n // 10:,} (> 1.2)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return lines, failed


# --- part 3: controller cost per proposal at this scale -----------------------------------------------------
def controllers(args: argparse.Namespace) -> list[str]:
    from raynas.controllers import CONTROLLERS, TrialStatus, make_controller
    from raynas.space import SearchSpace, WideDecisionWarning, one_of

    n = args.trials
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WideDecisionWarning)
        space = SearchSpace({f"d{i}": one_of(*range(10)) for i in range(20)}, name="huge")
    assert space.size == 10**20
    say(f"== controllers: {n} proposals each on a 10^{space.log10_size:.0f} space ({space.num_decisions} decisions)")
    rng = random.Random(0)

    def baseline_pass() -> float:
        start = time.perf_counter()
        for _ in range(n):
            space.sample_genotype(rng)
        return (time.perf_counter() - start) / n

    passes = [baseline_pass()]  # one before each controller and one at the end: a busy machine shifts them all
    tail = min(1000, max(1, n // 4))
    clock = time.perf_counter
    results = []
    for name in sorted(CONTROLLERS):
        if name == "grid":
            continue  # refuses spaces this large by design
        ctrl = make_controller(name, space, seed=0, max_trials=n)
        times = []
        for i in range(n):
            t0 = clock()
            genotype = ctrl.propose()
            if i % 10 == 9:
                ctrl.observe(genotype, None, TrialStatus.FAILED)
            else:
                ctrl.observe(genotype, rng.random())
            times.append(clock() - t0)
        results.append((name, sum(times) / n, sum(times[:tail]) / tail, sum(times[-tail:]) / tail))
        passes.append(baseline_pass())
    baseline = statistics.median(passes)
    lines = [f"{n} proposals (propose + observe, 10% observed as failures) on a 10^20 space; "
             f"'first'/'last' = mean over the first/last {tail}",
             f"  {'baseline: space.sample_genotype':32s} {baseline * 1e6:9.1f} us/proposal   1.00x   "
             f"(median of {len(passes)} passes, {min(passes) * 1e6:.1f}-{max(passes) * 1e6:.1f} us)"]
    for name, mean, first, last in results:
        lines.append(f"  {name:32s} {mean * 1e6:9.1f} us/proposal {mean / baseline:7.2f}x   "
                     f"first {first * 1e6:8.1f} us, last {last * 1e6:8.1f} us (last/first {last / first:.2f})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="compare,scale,controllers,driver",
                        help="comma-separated: compare, scale, controllers, driver (default: all four)")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick check that the bench runs (CI): the driver part on 400 trials, no acceptance")
    parser.add_argument("--trials", type=int, default=10_000, help="trials of the big run and proposals per controller")
    parser.add_argument("--compare-trials", type=int, default=1000, help="trials per arm of the comparison")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--cpus-per-trial", type=float, default=None,
                        help="default: this machine's CPUs / --concurrent (2/50 = 0.04 on 2 cores)")
    parser.add_argument("--trial-seconds", type=float, default=0.2, help="simulated duration of every trial")
    parser.add_argument("--repeats", type=int, default=1, help="comparison runs per arm (alternating order)")
    parser.add_argument("--arms", default="plain,plain-lean,raynas,raynas-nomlflow",
                        help=f"comparison arms (comma-separated): {', '.join(ARMS)}")
    parser.add_argument("--controller", default=None, help="controller of the raynas searches (default: raynas's)")
    parser.add_argument("--keep", metavar="DIR", help="run the big search in DIR (new or empty) and keep it "
                        "(the driver part then keeps its temporary work directory too)")
    parser.add_argument("--sample-s", type=float, default=2.0, help="how often the process tree is sampled")
    parser.add_argument("--py-spy", metavar="DIR", help="profile the big run's driver with py-spy, in windows, into DIR")
    parser.add_argument("--py-spy-window", type=float, default=60.0, help="seconds per py-spy window")
    parser.add_argument("--py-spy-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--py-spy-top", type=int, default=25, help="functions shown in the profile summary")
    args = parser.parse_args()
    if args.smoke:
        args.parts, args.trials = "driver", min(args.trials, 400)
    if args.cpus_per_trial is None:
        args.cpus_per_trial = round((os.cpu_count() or 1) / args.concurrent, 4)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in ("compare", "scale", "controllers", "driver")]
    if bad:
        raise SystemExit(f"unknown --parts {bad}; choose from compare, scale, controllers, driver")

    report: list[str] = []
    failed: list[str] = []
    if "compare" in parts:
        report += ["", "overhead vs plain Ray Tune (same Ray instance, same run):", *compare(args)]
    if "scale" in parts:
        lines, bad_checks = scale(args)
        report += ["", f"the {args.trials}-trial search (raynas search in its own process):", *lines]
        failed += bad_checks
    if "controllers" in parts:
        report += ["", "controller cost per proposal:", *controllers(args)]
    if "driver" in parts:
        lines, bad_checks = driver(args)
        report += ["", "raynas' own driver work per trial (in process, no Ray Tune):", *lines]
        failed += bad_checks
    for line in report:
        say(line)
    say()
    if failed:
        for line in failed:
            say(f"FAILED: {line}")
        sys.exit(1)
    if "scale" in parts:
        say(f"acceptance checks passed: {args.trials} trials, none lost, every trial in MLflow, "
            f"driver peak below {DRIVER_LIMIT_MB} MB")


if __name__ == "__main__":
    main()
