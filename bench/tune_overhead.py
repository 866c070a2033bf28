"""Per-trial overhead of a raynas search vs plain Ray Tune, measured in the same run.

Both run N trivial trials on the same local Ray instance with the same concurrency, resources and
``reuse_actors=True``. Plain Ray Tune samples the NAS-Bench-201 cell with ``tune.choice`` and reports a
constant (once with Tune's default per-trial loggers, once without them, since raynas replaces them with
its trial store); raynas runs its whole search (controller via its Searcher, failure-budget callback, a Parquet
trial-store write per trial, progress lines, table look-up trials) with MLflow logging off, which
bench/mlflow_overhead.py measures on its own. Runs alternate (plain, raynas, ...) and
the median of each is reported. Auto stop is off in the raynas arm (``auto_stop: false``): both arms run exactly
N trials, and the bench measures the engine's overhead, not when a search would stop on its own.

    python bench/tune_overhead.py [--trials 300] [--concurrency 4] [--repeats 2]
    python bench/tune_overhead.py --smoke     # CI: 8 trials, 2 concurrent, 1 run (every code path, no figure)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

SMOKE = {"trials": 8, "concurrency": 2, "repeats": 1}  # --smoke: the smallest sizes that run every code path


def plain_tune(trials: int, concurrency: int, cpus: float, storage: str, *, loggers: bool, run: int) -> float:
    from ray import tune

    from raynas.benchmarks import OPERATIONS

    def trivial(config):
        tune.report({"reward": 1.0})

    tuner = tune.Tuner(
        tune.with_resources(trivial, {"cpu": cpus}),
        param_space={f"edge{i}": tune.choice(list(OPERATIONS)) for i in range(6)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=concurrency, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name=f"plain-{loggers}-{run}", verbose=0),
    )
    if not loggers:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    try:
        start = time.perf_counter()
        tuner.fit()
        return time.perf_counter() - start
    finally:
        os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)


def raynas_search(trials: int, concurrency: int, cpus: float, storage: str, run: int) -> float:
    from raynas.config import SearchConfig
    from raynas.tune import run_search

    # MLflow logging off: its cost is measured on its own by bench/mlflow_overhead.py. Auto stop off: the plain
    # arm runs exactly `trials` trials, so must this one (auto stop, on by default, ended it at 214 of 300).
    config = SearchConfig.from_dict({"name": f"bench-{run}", "workdir": storage, "max_trials": trials,
                                     "max_concurrent": concurrency, "gpus_per_trial": 0, "cpus_per_trial": cpus,
                                     "auto_stop": False, "mlflow": {"enabled": False}})
    start = time.perf_counter()
    result = run_search(config, progress_interval_s=1e9)
    elapsed = time.perf_counter() - start
    assert result.trials == trials, result.status_line()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--cpus-per-trial", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    plain, lean, ours = [], [], []
    with tempfile.TemporaryDirectory() as storage:
        for run in range(args.repeats):
            plain.append(plain_tune(args.trials, args.concurrency, args.cpus_per_trial, storage, loggers=True, run=run))
            ours.append(raynas_search(args.trials, args.concurrency, args.cpus_per_trial, storage, run))
            lean.append(plain_tune(args.trials, args.concurrency, args.cpus_per_trial, storage, loggers=False, run=run))
            print(f"run {run}: plain Ray Tune {plain[-1]:.2f} s, raynas {ours[-1]:.2f} s, "
                  f"plain Ray Tune without its loggers {lean[-1]:.2f} s", flush=True)
    ray.shutdown()
    per = {name: statistics.median(times) / args.trials
           for name, times in (("plain", plain), ("lean", lean), ("raynas", ours))}
    print(f"\n{args.trials} trivial trials, {args.concurrency} concurrent, reuse_actors=True, "
          f"{os.cpu_count()} CPUs, median of {args.repeats} runs each")
    print(f"plain Ray Tune (default loggers)          : {per['plain'] * 1000:8.1f} ms per trial")
    print(f"plain Ray Tune (auto loggers switched off): {per['lean'] * 1000:8.1f} ms per trial")
    print(f"raynas search (trial store, no auto loggers): {per['raynas'] * 1000:6.1f} ms per trial")
    print(f"ratio raynas / plain Ray Tune              = {per['raynas'] / per['plain']:.3f}  (target <= 1.25)")
    print(f"ratio raynas / plain Ray Tune, no loggers  = {per['raynas'] / per['lean']:.3f}")


if __name__ == "__main__":
    main()
