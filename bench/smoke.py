"""Run every benchmark in ``bench/`` in its smoke mode, one after another: a benchmark cannot break unseen (CI).

Each ``bench/*.py`` script (found by glob; this file and ``_``-prefixed helpers excluded) runs as a subprocess
with ``--smoke``: the same code paths as its full run on the smallest sizes that exercise them. Prints each
script's name, exit code and seconds; exits 1 if any failed, after printing the tail of its output.

    python bench/smoke.py [--only NAME ...] [--timeout 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TAIL = 3000  # characters of a failed script's stderr (and stdout) shown


def scripts(only: list[str] | None = None) -> list[Path]:
    """The benchmark scripts: every ``bench/*.py`` but this file and helpers (names starting with ``_``)."""
    found = sorted(p for p in BENCH.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    if only:
        wanted = {name.removesuffix(".py") for name in only}
        unknown = wanted - {p.stem for p in found}
        if unknown:
            raise SystemExit(f"no benchmark named {', '.join(sorted(unknown))} in {BENCH} "
                             f"(there are: {', '.join(p.stem for p in found)})")
        found = [p for p in found if p.stem in wanted]
    return found


def run(script: Path, timeout: float) -> tuple[int, float, str, str]:
    """Exit code (124 on timeout), seconds, stdout and stderr of ``python script --smoke``."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(script), "--smoke"], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code = 124
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or ""))
        err += f"\n[smoke] timed out after {timeout:g} s"
    return code, time.perf_counter() - started, out, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (file names)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per script before it counts as failed")
    args = parser.parse_args()
    began = time.perf_counter()
    failed = []
    for script in scripts(args.only):
        code, seconds, out, err = run(script, args.timeout)
        print(f"{script.name:30s} exit {code:3d}  {seconds:6.1f} s", flush=True)
        if code != 0:
            failed.append((script.name, code, out, err))
    print(f"{'all':30s} {'ok' if not failed else 'FAILED':>8s}  {time.perf_counter() - began:6.1f} s")
    for name, code, out, err in failed:
        print(f"\n--- {name} failed (exit {code}); stdout tail:\n{out[-TAIL:]}\n--- {name} stderr tail:\n{err[-TAIL:]}",
              file=sys.stderr)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
