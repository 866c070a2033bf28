"""Damage an experiment one file at a time, then run every reader on it: never a traceback, never a hang (issue 16).

One small real experiment is built once (the bundled NAS-Bench-201 dry run, 14 trials, ``raynas search
--no-mlflow``, then ``raynas mlflow sync`` into a SQLite store in the bench folder, which writes the run ledger).
Each case copies it, damages ONE file (``truncate``, ``zero``, ``garble`` bytes, ``delete``, ``wrong_schema``
Parquet, ``wrong_type`` JSON, or ``create`` a missing optional JSON file with garbage) chosen at random (seeded), then
runs ``raynas trials --format json``, ``monitor --format json``, ``analyze``, ``mlflow sync`` (to the bench's SQLite
store), ``doctor``, ``doctor --repair`` then ``trials`` again; ``analyze`` (the HTML report, seconds) every
``--analyze-every``-th case and ``resume`` every ``--resume-every``-th (a resume with a damaged part runs the lost
trial again on Ray, which costs seconds). The copy lies at the experiment's
own path, since config.json and Ray Tune's state name it. Commands run in this process (``raynas.cli.main``) with a
time limit each (SIGALRM, ``--timeout`` s), resume as a subprocess (a fresh Ray, killed at the time limit).

Counted per command: exit codes, tracebacks (any exception out of ``main``: the CLI must turn every problem into one
line), hangs (the time limit hit), and whether ``trials --format json`` still reported every trial of the files that
were not damaged. Exits 1 when any case had a traceback, a hang or a lost trial.

    python bench/damage_fuzz.py              # 2,000 cases (analyze in 1 of 10, resume in 1 of 100)
    python bench/damage_fuzz.py --cases 1000 --seed 2 --keep /tmp/fuzz2   # run two halves side by side
    python bench/damage_fuzz.py --smoke      # ~20 cases, no resume (CI)
    python bench/damage_fuzz.py --cases 200 --seed 3 --keep /tmp/fuzz
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
NAME = "base"
CONFIG = {"name": NAME, "max_trials": 14, "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5, "seed": 1}
KINDS = ("truncate", "zero", "garble", "delete", "wrong_schema", "wrong_type")
OPTIONAL_JSON = ("failure_budget.json", "auto_stop.json", "progress.json")
#: Exit codes a reader may end with: ok, "something is not right" (doctor, sync), a one-line error, Ctrl-C.
ALLOWED_EXIT = {0, 1, 2, 3, 130}


# --- the experiment ---------------------------------------------------------------------------------------------
def build_experiment(folder: Path, *, mlflow: bool = True) -> Path:
    """A finished 14-trial dry-run search (one Parquet part per trial) in ``folder/work/base``, with a run ledger
    when ``mlflow``; returns the experiment folder."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "search.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    work = folder / "work"
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
    raynas = [sys.executable, "-m", "raynas"]
    subprocess.run(raynas + ["search", "--config", str(config), "--no-mlflow", "--workdir", str(work)],
                   check=True, capture_output=True, cwd=folder, env=env, timeout=600)
    if mlflow:
        subprocess.run(raynas + ["mlflow", "sync", NAME, "--workdir", str(work), "--tracking-uri", tracking_uri(folder)],
                       check=True, capture_output=True, cwd=folder, env=env, timeout=600)
    return work / NAME


def tracking_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def store_ids(experiment: Path) -> dict[str, list[str]]:
    """Trial ids of each store file (relative path -> ids)."""
    import pyarrow.parquet as pq

    return {str(p.relative_to(experiment)): [str(t) for t in pq.read_table(p).column("trial_id").to_pylist()]
            for p in sorted((experiment / "trials").glob("*.parquet"))}


# --- damage -----------------------------------------------------------------------------------------------------
def targets(experiment: Path) -> list[str]:
    """Every file of the experiment (relative paths), plus the optional JSON files it does not have."""
    found = sorted(str(p.relative_to(experiment)) for p in experiment.rglob("*") if p.is_file())
    return found + [name for name in OPTIONAL_JSON if name not in found]


def damage(experiment: Path, rng: random.Random, *, file: str | None = None, kind: str | None = None) -> tuple[str, str]:
    """Damage one file of ``experiment`` in place; returns (relative path, kind)."""
    file = file or rng.choice(targets(experiment))
    path = experiment / file
    if not path.exists():
        kind = kind or "create"
        path.write_bytes(_garbage_json(rng))
        return file, kind
    kinds = [k for k in KINDS if not (k == "wrong_schema" and path.suffix != ".parquet")
             and not (k == "wrong_type" and path.suffix != ".json")]
    kind = kind or rng.choice(kinds)
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[: rng.randrange(max(1, len(data)))])
    elif kind == "zero":
        path.write_bytes(bytes(len(data)))
    elif kind == "garble":
        raw = bytearray(data)
        for _ in range(max(1, min(len(raw), rng.choice((1, 4, 32, len(raw) // 4 or 1))))):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
    elif kind == "delete":
        path.unlink()
    elif kind == "wrong_schema":
        _wrong_schema(path, rng)
    elif kind == "wrong_type":
        path.write_bytes(_wrong_type(data, rng))
    else:
        raise ValueError(kind)
    return file, kind


def _garbage_json(rng: random.Random) -> bytes:
    return rng.choice([b"", b"{", b"\xff\xfe\x00", b"[1, 2]", b"null", b"\"text\"", b"42",
                       b'{"failed": "x", "max_failed": null}', b'{"reason": 5}', b"{}"])


def _wrong_type(data: bytes, rng: random.Random) -> bytes:
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    choices: list[Any] = [[], [1, "a"], "text", 7, None, {}, True]
    if isinstance(value, dict) and value:  # one key of the right file given a value of the wrong type
        key = rng.choice(sorted(value))
        choices.append({**value, key: rng.choice([[1], "x", -1, None, {"a": 1}, 1e300])})
    if isinstance(value, list) and value and isinstance(value[0], dict):
        key = rng.choice(sorted(value[0]) or ["x"])
        choices.append([{**value[0], key: rng.choice(["x", None, [1]])}] + value[1:])
    return json.dumps(rng.choice(choices)).encode()


def _wrong_schema(path: Path, rng: random.Random) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    original = pq.read_table(path)
    options: list[Callable[[], pa.Table]] = [
        lambda: pa.table({"a": [1, 2], "b": ["x", "y"]}),
        lambda: original.drop_columns(["trial_id"]),
        lambda: original.set_column(original.column_names.index("number"), "number",
                                    pa.array(["not a number"] * original.num_rows)),
        lambda: original.set_column(original.column_names.index("arch"), "arch",
                                    pa.array(["{not json"] * original.num_rows)),
        lambda: original.set_column(original.column_names.index("trial_id"), "trial_id",
                                    pa.nulls(original.num_rows, pa.string())),
        lambda: original.set_column(original.column_names.index("genotype"), "genotype",
                                    pa.array([3.5] * original.num_rows)),
    ]
    pq.write_table(rng.choice(options)(), path)


# --- running commands in this process ---------------------------------------------------------------------------
class Hang(BaseException):
    """A command ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def ring(signum, frame):  # noqa: ARG001
        raise Hang()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: list[str], timeout: int) -> tuple[int | str, str, str]:
    """(exit code, or "traceback" / "hang"; stdout; stderr) of ``raynas.cli.main(argv)`` in this process."""
    from raynas.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with time_limit(timeout), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | str = main(argv)
    except Hang:
        code = "hang"
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - what the fuzz looks for
        err.write(traceback.format_exc())
        code = "traceback"
    return code, out.getvalue(), err.getvalue()


def commands(experiment: Path, folder: Path, *, resume: bool, analyze: bool = True) -> list[tuple[str, list[str]]]:
    exp = str(experiment)
    steps = [("trials", ["trials", exp, "--format", "json"]),
             ("monitor", ["monitor", exp, "--format", "json"])]
    if analyze:
        steps.append(("analyze", ["analyze", exp, "-o", str(experiment.parent / "report")]))
    steps += [("mlflow sync", ["mlflow", "sync", exp, "--tracking-uri", tracking_uri(folder), "--format", "json"]),
             ("doctor", ["doctor", exp]),
             ("doctor --repair", ["doctor", exp, "--repair"]),
             ("trials after repair", ["trials", exp, "--format", "json"])]
    if resume:
        steps.append(("resume", ["resume", exp, "--no-mlflow"]))
    return steps


def reported_ids(stdout: str) -> set[str] | None:
    try:
        return {str(r["trial_id"]) for r in json.loads(stdout)}
    except (ValueError, TypeError, KeyError):
        return None


def run_subprocess(argv: list[str], timeout: int) -> tuple[int | str, str, str]:
    """(exit code, or "hang"; stdout; stderr) of ``python -m raynas argv`` (a fresh process, as a user runs it)."""
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
    try:
        done = subprocess.run([sys.executable, "-m", "raynas", *argv], capture_output=True, text=True, env=env,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return "hang", str(exc.stdout or ""), str(exc.stderr or "")
    return done.returncode, done.stdout, done.stderr


def run_case(pristine: Path, folder: Path, rng: random.Random, ids: dict[str, list[str]], *, resume: bool,
             timeout: int, file: str | None = None, kind: str | None = None, verbose: bool = False,
             analyze: bool = True) -> dict[str, Any]:
    """One case: a fresh copy of the experiment at its own path (``folder/work/base``: config.json and Ray Tune's
    state name it), one file damaged, every command run; what each did. Resume runs as a subprocess (its own Ray)."""
    experiment = folder / "work" / NAME
    shutil.rmtree(experiment, ignore_errors=True)
    shutil.copytree(pristine, experiment)
    file, kind = damage(experiment, rng, file=file, kind=kind)
    if verbose:
        print(f"case: {file} ({kind})", flush=True)
    expected = {tid for f, tids in ids.items() if f != file for tid in tids}
    result: dict[str, Any] = {"file": file, "kind": kind, "codes": {}, "tracebacks": [], "hangs": [], "lost": []}
    for name, argv in commands(experiment, folder, resume=resume, analyze=analyze):
        if verbose:
            print(f"  {name}", flush=True)
        code, out, err = (run_subprocess if name == "resume" else run_cli)(argv, timeout)
        if "Traceback" in err and code != "traceback":
            code = "traceback"
        result["codes"][name] = code
        if code == "traceback":
            result["tracebacks"].append((name, err[-3000:]))
        elif code == "hang":
            result["hangs"].append(name)
        elif code not in ALLOWED_EXIT:
            result["tracebacks"].append((name, f"exit code {code}: {err[-500:]}"))
        if name.startswith("trials"):
            got = reported_ids(out) if code == 0 else None
            if got is None or not expected <= got:
                result["lost"].append((name, code, sorted(expected - (got or set()))[:5], err[-300:]))
    return result


def summary(cases: int, kinds: collections.Counter, codes: dict[str, collections.Counter], tracebacks: int,
            hangs: int, lost: int, seconds: float, timeout: int) -> None:
    print(f"cases: {cases} ({dict(sorted(kinds.items()))}), {seconds:.0f} s")
    print(f"tracebacks: {tracebacks}; hangs (>{timeout} s): {hangs}; cases where `trials --format json` missed a "
          f"trial of an undamaged file: {lost}")
    for name, counter in codes.items():
        print(f"  {name:20s} exit codes: {dict(sorted(counter.items()))}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="~20 cases, no resume (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per command (default 60)")
    parser.add_argument("--resume-every", type=int, default=100,
                        help="run resume (a subprocess starting Ray: seconds) in every N-th case (0: never; default 100)")
    parser.add_argument("--analyze-every", type=int, default=10,
                        help="run analyze (the HTML report: seconds) in every N-th case (default 10; 1: every case)")
    parser.add_argument("--keep", help="work in this folder and keep it")
    parser.add_argument("--verbose", action="store_true", help="print each case and command as it starts")
    args = parser.parse_args(argv)
    cases = 20 if args.smoke else args.cases
    resume_every = 0 if args.smoke else args.resume_every
    analyze_every = 4 if args.smoke else args.analyze_every
    folder = Path(args.keep or tempfile.mkdtemp(prefix="damage-fuzz-"))
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    started = time.time()
    pristine = folder / "pristine" / NAME
    if not (pristine / "status.json").is_file():
        shutil.rmtree(folder / "work", ignore_errors=True)
        shutil.copytree(build_experiment(folder), pristine)
    ids = store_ids(pristine)
    print(f"experiment: {pristine} ({sum(len(v) for v in ids.values())} trials in {len(ids)} files, "
          f"{len(targets(pristine))} files to damage); built in {time.time() - started:.0f} s", flush=True)
    rng = random.Random(args.seed)
    codes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    kinds: collections.Counter = collections.Counter()
    bad: list[dict[str, Any]] = []
    tracebacks = hangs = lost = 0
    t0 = time.time()
    for i in range(cases):
        case = run_case(pristine, folder, rng, ids, resume=bool(resume_every) and i % resume_every == 0,
                        timeout=args.timeout, verbose=args.verbose, analyze=i % max(1, analyze_every) == 0)
        kinds[case["kind"]] += 1
        for name, code in case["codes"].items():
            codes[name][str(code)] += 1
        tracebacks += len(case["tracebacks"])
        hangs += len(case["hangs"])
        lost += bool(case["lost"])
        if case["tracebacks"] or case["hangs"] or case["lost"]:
            bad.append(case)
        if (i + 1) % 250 == 0 and i + 1 < cases:
            summary(i + 1, kinds, codes, tracebacks, hangs, lost, time.time() - t0, args.timeout)
    summary(cases, kinds, codes, tracebacks, hangs, lost, time.time() - t0, args.timeout)
    for case in bad[:10]:
        print(f"-- {case['file']} ({case['kind']}): hangs {case['hangs']}, lost {case['lost']}")
        for name, text in case["tracebacks"][:2]:
            print(f"   {name}:\n{text}")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if tracebacks or hangs or lost else 0


if __name__ == "__main__":
    sys.exit(main())
