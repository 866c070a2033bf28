"""Wall time of a 1,000-trial tabular search with MLflow logging on vs off, measured in the same run.

Both searches run the embedded NAS-Bench-201 search on the same local Ray instance with the same seed,
concurrency and resources. "off" is ``mlflow: {enabled: false}`` (the trial store only); "on" logs every trial
to the embedded SQLite store in the work directory (a fresh database, so its one-off table creation counts
too): a nested child run per trial with params, metrics, tags and the architecture artifact, the parent run's
summary, and the final flush. The wall time is the whole ``run_search`` call.

Each trial duration in ``--trial-seconds`` is measured (default: 0, trials that return at once, the worst case:
nothing but framework overhead with every core busy; and 0.5 s; real proxy trials take minutes). Runs alternate
(off, on, on, off, ...) so that drift hits both sides; medians are compared.

Auto stop is off (``auto_stop: false``): every search runs exactly ``--trials`` trials.

    python bench/mlflow_overhead.py [--trials 1000] [--concurrency 4] [--trial-seconds 0 0.5] [--repeats 2]
    python bench/mlflow_overhead.py --smoke     # CI: 6 instant trials, 2 concurrent, 1 run (every code path, no figure)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

SMOKE = {"trials": 6, "concurrency": 2, "trial_seconds": [0.0], "repeats": 1}  # --smoke: the smallest sizes


def search(workdir: str, name: str, *, trials: int, concurrency: int, trial_seconds: float, mlflow: bool) -> float:
    from raynas.config import SearchConfig
    from raynas.tune import run_search

    benchmark = {"sleep_fraction": 1.0, "max_sleep_s": trial_seconds} if trial_seconds > 0 else {}
    config = SearchConfig.from_dict({
        "name": name, "workdir": workdir, "max_trials": trials, "max_concurrent": concurrency, "gpus_per_trial": 0,
        "cpus_per_trial": 0.5, "benchmark": benchmark, "auto_stop": False, "mlflow": {"enabled": mlflow},
    })
    start = time.perf_counter()
    result = run_search(config, progress_interval_s=1e9)
    elapsed = time.perf_counter() - start
    assert result.trials == trials, result.status_line()
    if mlflow:
        report = result.extra["mlflow"]
        assert not report["pending"] and not report["refused"], report
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--trial-seconds", type=float, nargs="+", default=[0.0, 0.5],
                        help="trial durations to measure (0: trials return at once)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # measure the embedded default store

    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    lines = []
    for trial_seconds in args.trial_seconds:
        off, on = [], []
        for run in range(args.repeats):
            with tempfile.TemporaryDirectory() as workdir:  # a fresh MLflow database for every "on" run
                common = {"trials": args.trials, "concurrency": args.concurrency, "trial_seconds": trial_seconds}
                for mlflow in ((False, True) if run % 2 == 0 else (True, False)):
                    (on if mlflow else off).append(
                        search(workdir, f"{'on' if mlflow else 'off'}-{run}", mlflow=mlflow, **common))
            print(f"trials of {trial_seconds:g} s, run {run}: MLflow off {off[-1]:.1f} s, on {on[-1]:.1f} s", flush=True)
        ratio = statistics.median(on) / statistics.median(off)
        lines.append(f"{args.trials} trials of {trial_seconds:g} s, {args.concurrency} concurrent: "
                     f"MLflow off {statistics.median(off):.1f} s, on {statistics.median(on):.1f} s, "
                     f"ratio on/off {ratio:.3f} (logging adds {100 * (ratio - 1):+.1f}%)")
    ray.shutdown()
    print("\n".join(["", "baseline: the same search with MLflow logging off (trial store only)", *lines]))


if __name__ == "__main__":
    main()
