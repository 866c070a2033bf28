"""How raynas results map onto MLflow runs: params, metric points, tags and run statuses (pure, no MLflow).

One MLflow experiment per search; a parent run per stage or tool; one nested child run per trial. A child run
carries the architecture decisions as ``arch.<path>`` params, its per-report metric curves (step = epoch), the
final reward and its terms, and ``raynas.*`` tags with the trial's id, stage, status and failure reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from raynas.tracking._store import TrialRecord

#: MLflow's limits (mlflow.utils.validation) that matter here.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000

_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. :/]")

#: History keys that are coordinates of a report, not metrics.
STEP_KEY = "epoch"
TIME_KEY = "time"
#: Reported values that describe resources, logged as params rather than metric curves.
RESOURCE_METRICS = frozenset({"workers"})

#: Status of a child run in MLflow for each raynas trial status.
RUN_STATUS = {"completed": "FINISHED", "failed": "FAILED", "invalid": "FAILED", "stopped": "KILLED"}
#: Status of a parent run for each way a search ends.
PARENT_STATUS = {"completed": "FINISHED", "exhausted": "FINISHED", "cancelled": "FAILED", "timed_out": "KILLED",
                 "interrupted": "KILLED", "stopped": "FINISHED"}

TAG_STAGE = "raynas.stage"
TAG_TRIAL_ID = "raynas.trial_id"
TAG_TRIAL_NUMBER = "raynas.trial_number"
TAG_STATUS = "raynas.status"
TAG_REASON = "raynas.failure_reason"
TAG_ROLE = "raynas.role"
TAG_EXPERIMENT_DIR = "raynas.experiment_dir"
TAG_EXPERIMENT_UID = "raynas.experiment_uid"
TAG_STOP_REASON = "raynas.stop_reason"
#: On the runs of an earlier experiment (or stage) that ``--overwrite`` replaced: the new parent run's id. They are
#: kept (never deleted), their ``raynas.role`` unchanged.
TAG_SUPERSEDED_BY = "raynas.superseded_by"
PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    timestamp_ms: int
    step: int


@dataclass(frozen=True)
class TrialContext:
    """What every child run of one stage shares: the stage name, the task (or space) and the variant."""

    stage: str
    task: str
    variant: str
    controller: str | None = None


def key_text(key: Any) -> str:
    """A dict key as MLflow accepts it in a param name (``0->1`` becomes ``0-to-1``; other characters MLflow
    refuses become ``_``)."""
    return _BAD_KEY_CHARS.sub("_", str(key).replace("->", "-to-"))


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Nested dicts and lists flattened to ``prefix.key.0.sub`` -> leaf value."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in sorted(value, key=str):
            out.update(flatten(value[key], f"{prefix}.{key_text(key)}"))
        return out or {prefix: "{}"}
    if isinstance(value, (list, tuple)):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}"))
        return out or {prefix: "[]"}
    return {prefix: value}


def param_text(value: Any) -> str:
    """A param value as MLflow stores it (None as 'None', long values cut to MLflow's limit)."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text[:MAX_PARAM_VALUE]


def trial_params(record: TrialRecord, context: TrialContext) -> dict[str, str]:
    """Params of a trial's child run: every architecture decision as ``arch.<path>``, the genotype, the task
    and variant, the seed and the resources the trial held."""
    params: dict[str, Any] = flatten(record.arch, "arch")
    params["genotype"] = ",".join(str(int(g)) for g in record.genotype)
    params["task"] = context.task
    params["variant"] = context.variant
    params["seed"] = record.seed
    params["trial_number"] = record.number
    if context.controller:
        params["controller"] = context.controller
    for key, value in sorted(record.labels.items()):
        params[key_text(key)] = value
    for key, value in sorted(record.resources.items()):
        params[f"resources.{key}"] = value
    for key in sorted(RESOURCE_METRICS & set(record.metrics)):
        params[f"resources.{key}"] = record.metrics[key]
    return {key: param_text(value) for key, value in params.items()}


def trial_tags(record: TrialRecord, context: TrialContext, parent_run_id: str) -> dict[str, str]:
    """Tags of a trial's child run: nesting under the parent, stage, trial id and number, status, reason."""
    tags = running_tags(record.trial_id, record.number, context, parent_run_id)
    tags[TAG_STATUS] = record.status
    if record.failure_reason:
        tags[TAG_REASON] = record.failure_reason[:MAX_TAG_VALUE]
    if record.node:
        tags["raynas.node"] = record.node
    if record.restarts:
        tags["raynas.restarts"] = str(record.restarts)
    return tags


def running_tags(trial_id: str, number: int, context: TrialContext, parent_run_id: str) -> dict[str, str]:
    """Tags of a child run created while its trial is still running."""
    return {PARENT_TAG: parent_run_id, TAG_ROLE: "trial", TAG_STAGE: context.stage, TAG_TRIAL_ID: trial_id,
            TAG_TRIAL_NUMBER: str(number), TAG_STATUS: "running"}


def run_name(number: int, trial_id: str) -> str:
    return f"trial-{int(number):05d}-{trial_id}"


def _is_metric(key: str, value: Any) -> bool:
    return (key not in (STEP_KEY, TIME_KEY) and key not in RESOURCE_METRICS and isinstance(value, (int, float))
            and not isinstance(value, bool) and math.isfinite(float(value)))


def entry_points(entry: Mapping[str, Any], *, index: int, fallback_time: float) -> Iterator[MetricPoint]:
    """Metric points of one report: step = its epoch (else its 1-based position), timestamp = when reported."""
    step = entry.get(STEP_KEY)
    step = int(step) if isinstance(step, (int, float)) and not isinstance(step, bool) else index + 1
    moment = entry.get(TIME_KEY)
    moment = float(moment) if isinstance(moment, (int, float)) and not isinstance(moment, bool) else fallback_time
    for key in sorted(entry):
        if _is_metric(key, entry[key]):
            yield MetricPoint(key_text(key), float(entry[key]), int(moment * 1000), step)


def trial_metric_points(record: TrialRecord, *, skip_reports: int = 0) -> list[MetricPoint]:
    """Every metric point of a finished trial: the per-report curves (train loss, validation metric, learning
    rate, epoch time, reward and its terms per epoch) or, for single-report trials, the final values at step 1.

    ``skip_reports`` leaves out the first reports (already logged while the trial ran). Timestamps come from
    the record, so logging the same trial twice writes identical points (which MLflow de-duplicates).
    """
    end = record.end_time or record.start_time or 0.0
    if record.history:
        points: list[MetricPoint] = []
        for index, entry in enumerate(record.history):
            if index >= skip_reports:
                points.extend(entry_points(entry, index=index, fallback_time=end))
        return points
    if skip_reports > 0:
        return []
    return list(entry_points(record.metrics, index=0, fallback_time=end))


def run_status(trial_status: str) -> str:
    return RUN_STATUS.get(trial_status, "FAILED")


def config_params(config: Mapping[str, Any]) -> dict[str, str]:
    """A search config flattened to ``config.<key>`` params (at most MLflow's per-batch limit)."""
    flat = {key: param_text(value) for key, value in flatten(dict(config), "config").items()}
    return dict(list(flat.items())[:MAX_PARAMS_PER_BATCH])


def summary_metrics(counts: Mapping[str, int], best_reward: float | None) -> dict[str, float]:
    """A parent run's summary: trials per status (``trials_<status>``), ``trials_done`` and ``best_reward``."""
    summary = {f"trials_{status}": float(counts.get(status, 0)) for status in RUN_STATUS}
    summary["trials_done"] = float(sum(counts.values()))
    if best_reward is not None:
        summary["best_reward"] = float(best_reward)
    return summary
