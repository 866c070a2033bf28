"""The flags every proxy-design tool (and ``raynas baseline``) shares: what it works on, resources, MLflow."""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any, Iterator

from raynas.experiment import DEFAULT_WORKDIR


def add_target_args(parser: argparse.ArgumentParser) -> None:
    """What every proxy-design tool (and ``raynas baseline``) works on, where results go, and resources."""
    group = parser.add_argument_group("target")
    group.add_argument("--task", help="task file or name in proxy_tasks/ (default: the NAS-Bench-201 table, whose "
                                      "12-epoch column is the proxy and 200-epoch column full training)")
    group.add_argument("--table", help="tabular benchmark: a CSV/Parquet table instead of the bundled one")
    group.add_argument("--name", help="workspace and MLflow experiment name (default: <task>-proxy)")
    group.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where results go (default {DEFAULT_WORKDIR})")
    group.add_argument("--overwrite", action="store_true", help="start this tool's run again instead of resuming it")
    res = parser.add_argument_group("resources")
    res.add_argument("--max-concurrent", type=int, default=min(4, os.cpu_count() or 1),
                     help="jobs at once (default: min(4, CPUs))")
    res.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per job (default 1)")
    res.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per job (default 0)")
    res.add_argument("--device", default="auto", help="training device: auto, cpu, cuda (default auto)")
    res.add_argument("--ray-address", help="connect to this Ray cluster instead of starting one")
    res.add_argument("--simulate-time", type=float, default=0.0, metavar="FRACTION",
                     help="tabular benchmark: jobs sleep this fraction of their recorded training time")
    mlflow = parser.add_argument_group("MLflow")
    mlflow.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else SQLite in --workdir)")
    mlflow.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")


def target_from_args(args: argparse.Namespace):
    """The DesignTarget the flags describe."""
    from raynas.config import TrackingConfig
    from raynas.proxy import DesignTarget, Resources

    resources = Resources(cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                          max_concurrent=args.max_concurrent, device=args.device)
    tracking = TrackingConfig(enabled=not args.no_mlflow, tracking_uri=args.tracking_uri)
    return DesignTarget(task=args.task, table=args.table, name=args.name, workdir=args.workdir, resources=resources,
                        mlflow=tracking, ray_address=args.ray_address, sleep_fraction=args.simulate_time)


@contextlib.contextmanager
def workspace_lock(target: Any) -> Iterator[Any]:
    """Hold the lock of the tool's workspace (``<workdir>/<name>``, see :func:`raynas.experiment.experiment_lock`)
    while the block runs: one proxy-design writer at a time; a second one is refused naming the first."""
    from raynas.experiment import experiment_lock

    with experiment_lock(target.workspace):
        yield target
