"""Wall time of ``raynas proxy search`` (all candidates side by side) vs one candidate after another, same run.

A small real CPU task (the digits task of ``proxy_tasks/digits.yaml`` cut to 6 full-training epochs, three proxy
candidates e1, e2 and e4-all-data) is written to a temporary directory. ``select_models`` runs once (8 sampled
models, 5 kept and full-trained); both arms then rank the same reference models (its ``select-models`` folder is
copied into every workspace):

- raynas: one ``proxy_search`` call. The jobs of all candidates are interleaved in one Ray Tune run, so every
  candidate progresses at once and a free slot is filled by any candidate's next job; once a candidate passes,
  any other that has already cost more is stopped (``CandidatePolicy``).
- baseline, one candidate after another (as managed cloud NAS services run proxy candidates): for each
  candidate in turn a separate ``proxy_search`` call restricted to it (``ProxySearchSettings(candidates=(name,))``,
  its own workspace), each waiting for the previous one to end.

Both use the same ``max_concurrent``, the same Ray instance (started once for the whole bench, so neither pays
Ray's start-up) and MLflow logging off. Each ``proxy_search`` call is still one Ray Tune run whose trial actors
start fresh (worker processes that import torch and load the data), so the baseline pays that once per candidate:
on this small task, where a job trains for 0.2-2 s, that start-up is most of the difference.

The wall time is the whole ``proxy_search`` call(s); the shared ``select_models`` is not counted. Prints both
times, the ratio baseline/raynas, the training time inside the jobs and every candidate's Kendall tau and
outcome in each arm. With ``--repeats`` > 1 the arm order alternates and medians are reported.

    python bench/proxy_search_parallel.py [--max-concurrent 2] [--repeats 1]
    python bench/proxy_search_parallel.py --smoke     # CI: 1 candidate, 5 models of 2 epochs (no figure)
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"

ROOT = Path(__file__).resolve().parent.parent
RAY_CPUS = 2
CANDIDATES = [{"name": "e1", "epochs": 1}, {"name": "e2", "epochs": 2},
              {"name": "e4-all-data", "epochs": 4, "data_fraction": 1.0}]
# --smoke: the smallest sizes that run every code path of the bench (one candidate: both arms are one Tune run)
SMOKE = {"full_epochs": 2, "initial": 5, "candidates": 1}


def write_task(directory: Path, *, full_epochs: int = 6, candidates: int = len(CANDIDATES)) -> Path:
    task = yaml.safe_load((ROOT / "proxy_tasks" / "digits.yaml").read_text())
    task["recipe"]["epochs"] = full_epochs
    task["variants"] = {"full": {"epochs": full_epochs, "data_fraction": 1.0, "width_mult": 1.0},
                        "proxy": {"epochs": 2, "data_fraction": 0.5, "width_mult": 0.5}}
    task["proxy_candidates"] = CANDIDATES[:candidates]
    path = directory / "digits-bench.yaml"
    path.write_text(yaml.safe_dump(task, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--full-epochs", type=int, default=6, help="epochs of full training (the digits task cut to 6)")
    parser.add_argument("--initial", type=int, default=8, help="models sampled by select_models (5 kept)")
    parser.add_argument("--candidates", type=int, default=len(CANDIDATES), choices=range(1, len(CANDIDATES) + 1),
                        help="the first N of the proxy candidates e1, e2, e4-all-data")
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()

    import ray

    from raynas.config import TrackingConfig
    from raynas.proxy import DesignTarget, ProxySearchSettings, Resources, SelectionSettings, proxy_search, select_models

    ray.init(num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        task = str(write_task(Path(tmp), full_epochs=args.full_epochs, candidates=args.candidates))
        # Up to max_concurrent jobs at once on Ray's CPUs (one CPU each while they fit).
        resources = Resources(cpus_per_trial=min(1.0, RAY_CPUS / args.max_concurrent),
                              max_concurrent=args.max_concurrent, device="cpu")

        def target(name: str) -> DesignTarget:
            return DesignTarget(task=task, name=name, workdir=tmp, resources=resources,
                                mlflow=TrackingConfig(enabled=False))

        shared = target("raynas")
        names = [c.name for c in shared.candidates()]
        start = time.perf_counter()
        selection = select_models(shared, SelectionSettings(initial=args.initial, keep=5, fractions=(0.5,)),
                                  stream=io.StringIO(), progress_interval_s=1e9)
        print(f"select_models: {len(selection.references)} reference models full-trained "
              f"({time.perf_counter() - start:.1f} s, shared by both arms, not counted)", flush=True)
        for name in names:
            shutil.copytree(shared.workspace / "select-models", target(f"seq-{name}").workspace / "select-models")

        def raynas_arm() -> tuple[float, dict]:
            start = time.perf_counter()
            result = proxy_search(shared, ProxySearchSettings(), overwrite=True, progress_interval_s=1e9)
            return time.perf_counter() - start, {c.name: c for c in result.candidates}

        def baseline_arm() -> tuple[float, dict, dict]:
            outcomes, seconds = {}, {}
            for name in names:
                start = time.perf_counter()
                result = proxy_search(target(f"seq-{name}"), ProxySearchSettings(candidates=(name,)), overwrite=True,
                                      progress_interval_s=1e9)
                seconds[name] = time.perf_counter() - start
                outcomes.update({c.name: c for c in result.candidates})
            return sum(seconds.values()), outcomes, seconds

        raynas_s, baseline_s, lines = [], [], []
        for run in range(args.repeats):
            for arm in (("raynas", "baseline") if run % 2 == 0 else ("baseline", "raynas")):
                print(f"run {run}: {arm} ...", file=sys.stderr, flush=True)
                if arm == "raynas":
                    seconds, ours = raynas_arm()
                    raynas_s.append(seconds)
                else:
                    seconds, theirs, per_candidate = baseline_arm()
                    baseline_s.append(seconds)
            print(f"run {run}: raynas {raynas_s[-1]:.1f} s, one after another {baseline_s[-1]:.1f} s "
                  f"({', '.join(f'{n} {s:.1f} s' for n, s in per_candidate.items())})", flush=True)
            lines.append(f"run {run}: training inside the jobs (train_seconds summed) raynas {_trained(ours):.1f} s, "
                         f"one after another {_trained(theirs):.1f} s")
            lines.append(f"run {run} candidates (raynas | one after another):")
            for name in names:
                lines.append(f"  {name:12s} {_row(ours[name])} | {_row(theirs[name])}".rstrip())
    ray.shutdown()
    ours_med, theirs_med = statistics.median(raynas_s), statistics.median(baseline_s)
    label = "" if args.repeats == 1 else f", median of {args.repeats}"
    print("\n".join([
        "",
        f"{len(names)} proxy candidates x {len(selection.references)} reference models (digits, CPU), "
        f"max_concurrent {args.max_concurrent}, {RAY_CPUS} Ray CPUs{label}",
        f"one candidate after another (baseline): {theirs_med:7.1f} s",
        f"raynas proxy search (side by side)     : {ours_med:7.1f} s",
        f"ratio baseline / raynas = {theirs_med / ours_med:.2f}",
        *lines,
    ]))


def _row(result) -> str:
    tau = f"{result.kendall_tau:6.3f}" if math.isfinite(result.kendall_tau) else "   nan"
    outcome = result.outcome if len(result.outcome) <= 40 else result.outcome[:37] + "..."
    return f"tau {tau}, {result.cost_per_model_s:5.2f} s/model, {outcome:40s}"


def _trained(results: dict) -> float:
    return sum(r.cost_per_model_s * r.valid for r in results.values() if math.isfinite(r.cost_per_model_s))


if __name__ == "__main__":
    main()
