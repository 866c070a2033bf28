"""Two writers of one experiment at once (issue 16's acceptance): one runs, the other is refused, nothing is lost.

Cases, each with real ``raynas`` processes on the bundled NAS-Bench-201 dry run (no MLflow):

- ``overwrite``: ``raynas search`` runs; once it holds the experiment's lock, ``raynas search --overwrite`` of the
  same name is started. Wanted: the overwrite exits 2 naming the running search, which completes with trial
  numbers 1..N once each, and nothing is left set aside.
- ``resume``: the experiment of the case above, made interrupted (its ``max_trials`` raised), is resumed by two
  ``raynas resume`` started at the same moment. Wanted: one runs to ``completed``, the other exits 2 naming it;
  the store holds numbers 1..M once each.

Prints one line per repetition and the counts per case; exits 1 when any repetition missed what is wanted.

    python bench/concurrent_writers.py            # 3 repetitions of both cases
    python bench/concurrent_writers.py --smoke    # 1 repetition of the overwrite case, few trials
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

LOCK_FILE = "raynas.lock"
REFUSED = "locked by another writer"


def _raynas(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "raynas", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=900)
    return proc.returncode, err


def _numbers(root: Path) -> list[int]:
    from raynas.tracking import TrialStore

    return sorted(r.number for r in TrialStore(root / "trials").records())


def _wait_for_lock(root: Path, procs: list[subprocess.Popen], limit_s: float = 300) -> dict | None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        try:
            return json.loads((root / LOCK_FILE).read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    return None


def _error_line(err: str) -> str:
    return next((line for line in err.splitlines() if line.startswith("raynas: error:")), "")


def overwrite_case(folder: Path, trials: int) -> dict:
    """A search runs; `search --overwrite` of its name is started once it holds the lock."""
    config = folder / "search.yaml"
    config.write_text(yaml.safe_dump({
        "name": "exp", "workdir": str(folder / "work"), "max_trials": trials, "max_concurrent": 2,
        "gpus_per_trial": 0, "cpus_per_trial": 0.5, "seed": 0, "controller": {"name": "random"},
        "benchmark": {"variant": "proxy", "sleep_fraction": 0.002}, "mlflow": {"enabled": False}}))
    root = folder / "work" / "exp"
    first = _raynas("search", "--config", str(config), cwd=folder)
    holder = _wait_for_lock(root, [first])
    second = _raynas("search", "--config", str(config), "--overwrite", cwd=folder)
    (code1, err1), (code2, err2) = _finish(first), _finish(second)
    numbers = _numbers(root)
    line = _error_line(err2)
    return {"one_ran": code1 == 0, "refused": code2 == 2 and REFUSED in line and holder is not None
            and f"pid {holder['pid']}" in line, "complete": numbers == list(range(1, trials + 1)),
            "doubled": sum(c - 1 for c in Counter(numbers).values()), "records": len(numbers),
            "set_aside_left": sum(1 for p in root.parent.iterdir() if ".replaced-" in p.name),
            "lock_left": (root / LOCK_FILE).exists(), "detail": line or err1[-300:]}


def resume_case(folder: Path, trials: int) -> dict:
    """The experiment of :func:`overwrite_case`, made interrupted, resumed twice at once."""
    root = folder / "work" / "exp"
    config = json.loads((root / "config.json").read_text())
    (root / "config.json").write_text(json.dumps({**config, "max_trials": trials}))
    procs = [_raynas("resume", str(root), "--no-mlflow", cwd=folder) for _ in range(2)]
    holder = _wait_for_lock(root, procs)
    ended = [_finish(p) for p in procs]
    codes = sorted(code for code, _ in ended)
    lines = [_error_line(err) for code, err in ended if code == 2]
    numbers = _numbers(root)
    status = json.loads((root / "status.json").read_text()).get("status")
    return {"one_ran": codes == [0, 2] and status == "completed",
            "refused": len(lines) == 1 and REFUSED in lines[0] and holder is not None
            and f"pid {holder['pid']}" in lines[0], "complete": numbers == list(range(1, trials + 1)),
            "doubled": sum(c - 1 for c in Counter(numbers).values()), "records": len(numbers),
            "set_aside_left": 0, "lock_left": (root / LOCK_FILE).exists(),
            "detail": lines[0] if lines else str([err[-300:] for _, err in ended])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="1 repetition of the overwrite case, few trials")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of each case (default 3)")
    args = parser.parse_args()
    repeats = 1 if args.smoke else args.repeats
    first, second = (3, 0) if args.smoke else (8, 16)
    totals: dict[str, Counter] = {}
    ok = True
    for rep in range(1, repeats + 1):
        with tempfile.TemporaryDirectory(prefix="concurrent-writers-") as tmp:
            folder = Path(tmp)
            cases = [("overwrite", overwrite_case, first)] + ([("resume", resume_case, second)] if second else [])
            for name, case, trials in cases:
                started = time.perf_counter()
                got = case(folder, trials)
                good = (got["one_ran"] and got["refused"] and got["complete"] and not got["doubled"]
                        and not got["set_aside_left"] and not got["lock_left"])
                ok &= good
                count = totals.setdefault(name, Counter())
                count["runs"] += 1
                count["one writer ran"] += got["one_ran"]
                count["other refused naming it"] += got["refused"]
                count["store complete (1..N once)"] += got["complete"]
                count["numbers doubled"] += got["doubled"]
                count["set-aside folders left"] += got["set_aside_left"]
                count["locks left"] += got["lock_left"]
                print(f"{name:9s} rep {rep}: {'ok ' if good else 'BAD'} {got['records']} records, "
                      f"{time.perf_counter() - started:5.1f} s; refused with: {got['detail'][:160]}", flush=True)
    for name, count in totals.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in count.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
