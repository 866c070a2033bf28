"""What the proxy-design tools share: running a tool's jobs, reading their records, closing its MLflow run."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from raynas.errors import ConfigError

if TYPE_CHECKING:
    from raynas.proxy._target import DesignTarget
    pass


@contextlib.contextmanager
def ray_session(target: DesignTarget) -> Iterator[None]:
    """Ray started once for all of a tool's job lists (and shut down after, when this started it)."""
    from raynas.tune import ray_session as session

    with session(target.ray_address):
        yield


def run_tool_jobs(target: DesignTarget, root: Path, jobs: Sequence[Any], evaluators: Mapping[str, Any], *, tracking: Any,
                  policy: Any = None, what: str = "jobs",
                  progress_interval_s: float = 5.0) -> Any:
    """:func:`raynas.tune.run_jobs` with the target's resources."""
    from raynas.tune import run_jobs

    r = target.resources
    return run_jobs(jobs, evaluators, experiment_dir=root, metric="reward", cpus_per_trial=r.cpus_per_trial,
                    gpus_per_trial=r.gpus_per_trial, max_concurrent=r.max_concurrent, policy=policy,
                    tracking=tracking, ray_address=target.ray_address, what=what,
                    progress_interval_s=progress_interval_s)


def missing_result(what: str, path: Path, command: str, target: DesignTarget) -> ConfigError:
    """The error for a tool result that is not there yet: names the command that makes it."""
    command = command + (f" --task {target.task}" if getattr(target, "task", None) else "")
    return ConfigError(what, str(path), f"a finished `{command}` run",
                       f"run `{command}` first (with the same --name and --workdir)")


def finish_tool(tracking: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`raynas.tracking.finish_stage` (MLflow and pyarrow are imported only when a tool finishes)."""
    from raynas.tracking import finish_stage

    return finish_stage(tracking, **kwargs)
