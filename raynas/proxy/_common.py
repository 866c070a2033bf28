"""What the proxy-design tools share: running a tool's jobs, reading their records, closing its MLflow run."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, TextIO

from raynas._json import json_safe
from raynas.errors import ConfigError

if TYPE_CHECKING:
    from raynas.tracking import TrialRecord


def metric(record: TrialRecord | None, key: str) -> float:
    """A final metric of a completed job (NaN for a missing, failed or invalid one)."""
    if record is None or record.status != "completed":
        return math.nan
    value = record.metrics.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan


def cost_seconds(record: TrialRecord | None) -> float:
    """What a job cost: its reported ``train_seconds`` (tabular: the table's recorded time), else its wall time."""
    if record is None:
        return 0.0
    value = record.metrics.get("train_seconds")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if record.start_time is not None and record.end_time is not None:
        return max(0.0, record.end_time - record.start_time)
    return 0.0


@contextlib.contextmanager
def ray_session(target: Any) -> Iterator[None]:
    """Ray started once for all of a tool's job lists (and shut down after, when this started it)."""
    from raynas.tune._runner import ray_session as session

    with session(target.ray_address):
        yield


def run_tool_jobs(target: Any, root: Path, jobs: Sequence[Any], evaluators: Mapping[str, Any], *, tracking: Any,
                  policy: Any = None, stream: TextIO | None = None, what: str = "jobs",
                  progress_interval_s: float = 5.0) -> Any:
    """:func:`raynas.tune._jobs.run_jobs` with the target's resources."""
    from raynas.tune._jobs import run_jobs

    r = target.resources
    return run_jobs(jobs, evaluators, experiment_dir=root, metric="reward", cpus_per_trial=r.cpus_per_trial,
                    gpus_per_trial=r.gpus_per_trial, max_concurrent=r.max_concurrent, policy=policy,
                    tracking=tracking, ray_address=target.ray_address, stream=stream, what=what,
                    progress_interval_s=progress_interval_s)


def finish_tool(tracking: Any, *, status: str, reason: str, metrics: Mapping[str, float] | None = None,
                artifacts: Sequence[str | Path] = (), stream: TextIO | None = None) -> dict[str, Any]:
    """Send what MLflow has not received and close the tool's parent run (never fails the tool)."""
    out = stream or sys.stderr
    if tracking is None:
        return {}
    from raynas.tracking._mlflow_search import sync_stage

    try:
        report = sync_stage(tracking, status={"status": status, "reason": reason, "metrics": dict(metrics or {}),
                                              "artifacts": [str(a) for a in artifacts]}, stream=out)
    except Exception as exc:  # noqa: BLE001 - results are on disk whatever MLflow does
        print(f"[raynas] MLflow: logging failed ({type(exc).__name__}: {exc}); results are in {tracking.experiment_dir}",
              file=out, flush=True)
        return {"error": f"{type(exc).__name__}: {exc}"}
    for line in report.lines(tracking.experiment_dir):
        print(f"[raynas] {line}", file=out, flush=True)
    return report.to_dict()


def write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically (NaN written as null)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(json_safe(data), indent=2, sort_keys=False, default=str))
    tmp.replace(path)
    return path


def missing_result(what: str, path: Path, command: str, target: Any) -> ConfigError:
    """The error for a tool result that is not there yet: names the command that makes it."""
    command = command + (f" --task {target.task}" if getattr(target, "task", None) else "")
    return ConfigError(what, str(path), f"a finished `{command}` run",
                       f"run `{command}` first (with the same --name and --workdir)")
