"""``raynas baseline``: full-train the target's baseline architecture and keep its validation curve.

The baseline is the reference point of proxy-task design: what full training of a known, sensible model reaches
and costs, and how its validation curve rises (which tells how short a proxy can be). The run is one Ray Tune
job in the tool's trial store, so running the command again resumes it (a finished run is not trained again).
On the tabular benchmark the curve has the two points the table knows: epoch 12 and epoch 200.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from raynas._files import write_json
from raynas.proxy._common import finish_tool, missing_result, ray_session, run_tool_jobs
from raynas.targets import Stage
from raynas.trials import TrialStatus, cost_seconds, metric
from raynas.tune import Job

if TYPE_CHECKING:
    from raynas.proxy._target import DesignTarget
    from raynas.tracking import TrialRecord

log = logging.getLogger(__name__)

TOOL = "baseline"
JOB_NUMBER = 1
#: Columns of a validation curve, in order, when the training reported them.
CURVE_COLUMNS = ("epoch", "val_accuracy", "train_loss", "lr", "epoch_time")


@dataclass(frozen=True)
class BaselineResult:
    """The baseline's full training: status (and why it failed), final validation accuracy, cost, and the
    paths of its validation curve (``curve``: Parquet, ``png``: plot)."""

    target: str
    arch: Any
    status: str
    accuracy: float
    cost_s: float
    epochs: int | None
    curve: str
    png: str
    directory: str
    seed: int = 0
    reason: str | None = None

    @property
    def completed(self) -> bool:
        """Whether full training completed (a failed one has ``reason``)."""
        return self.status == TrialStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        """What ``baseline.json`` holds."""
        return asdict(self)

    def points(self) -> list[dict[str, Any]]:
        """The curve's rows (epoch, val_accuracy and what else the training reported), read from ``curve``."""
        import pandas as pd

        frame = pd.read_parquet(self.curve)
        return [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
                for row in frame.to_dict("records")]

    def summary(self) -> str:
        """One line: accuracy, epochs and cost, or why full training failed and how to run it again."""
        if not self.completed:
            return (f"baseline full training {self.status}: {self.reason or 'no reason recorded'}. Fix it and run "
                    "`raynas baseline` again with --overwrite (a failed run is not retried otherwise)")
        epochs = "" if self.epochs is None else f" after {self.epochs} epochs"
        return (f"baseline full training: val_accuracy {self.accuracy:.4g}{epochs}, {self.cost_s:.3g} s of "
                "training")


def baseline_path(target: DesignTarget) -> Path:
    """Where ``raynas baseline`` keeps its result (``baseline.json``)."""
    return target.workspace / TOOL / "baseline.json"


def curve_rows(record: TrialRecord | None, *, final_epoch: int | None = None) -> list[dict[str, Any]]:
    """A job's validation curve: the reports of its history that name their epoch, plus its final metrics when
    it completed, one row per epoch (the latest report of an epoch wins), with the :data:`CURVE_COLUMNS` each
    report has.

    Final metrics without ``epoch`` (an evaluator that does not count epochs, e.g. the tabular proxy) are placed
    at ``final_epoch`` when given, else one epoch after the last report (epoch 1 when there is none).
    """
    if record is None:
        return []
    rows: dict[int, dict[str, Any]] = {}

    def add(report: Mapping[str, Any], epoch: Any) -> None:
        if _is_number(report.get("val_accuracy")) and _is_number(epoch):
            rows[int(epoch)] = {"epoch": int(epoch), **{k: float(report[k]) for k in CURVE_COLUMNS[1:]
                                                        if _is_number(report.get(k))}}

    for report in record.history:
        add(report, report.get("epoch"))
    if record.status is TrialStatus.COMPLETED and record.metrics:
        final = record.metrics
        epoch = final.get("epoch")
        if not _is_number(epoch):
            epoch = final_epoch if final_epoch is not None else max(rows, default=0) + 1
        add(final, epoch)
    return [rows[e] for e in sorted(rows)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def baseline(target: DesignTarget, *, overwrite: bool = False, seed: int = 0,
             progress_interval_s: float = 5.0) -> BaselineResult:
    """Run (or resume) full training of ``target.baseline_arch()``; writes ``baseline.json``, ``curve.parquet``
    and ``curve.png`` in ``<workspace>/baseline`` and logs stage ``baseline`` to MLflow.

    A failed training is returned with status ``failed`` and its reason (it is not retried without
    ``overwrite``); a target without a baseline architecture raises the ConfigError naming the fix.
    """
    arch = target.baseline_arch()  # before Ray starts: a missing baseline is a config error
    with ray_session(target):
        return _baseline(target, arch, overwrite=overwrite, seed=seed,
                         progress_interval_s=progress_interval_s)


def _baseline(target: DesignTarget, arch: Any, *, overwrite: bool, seed: int,
              progress_interval_s: float) -> BaselineResult:
    label = target.task or "nasbench201"
    params = {"target": label, "arch": arch, "seed": seed}
    root = target.stage_dir(TOOL, settings=params, overwrite=overwrite)
    tracking = target.tracking(TOOL, root, params=params, variant="full")
    job = Job(JOB_NUMBER, arch, seed, "full", {"model": "baseline"})
    evaluators = {"full": target.full_evaluator(root, stage=Stage.BASELINE)}
    jobs_result = run_tool_jobs(target, root, [job], evaluators, tracking=tracking,
                                what=f"{TOOL} full training", progress_interval_s=progress_interval_s)
    record = jobs_result.records.get(JOB_NUMBER)
    rows = curve_rows(record)
    curve = write_curve(root / "curve.parquet", rows)
    png = plot_baseline(root / "curve.png", rows, label)
    status = "missing" if record is None else record.status
    reason = None if record is None else record.failure_reason
    if record is None:
        reason = "the job left no record in the trial store (see the Ray Tune log in the tool's directory)"
    epochs = int(rows[-1]["epoch"]) if rows else None
    result = BaselineResult(target=label, arch=arch, status=status, accuracy=metric(record, target.accuracy_key),
                            cost_s=cost_seconds(record), epochs=epochs, curve=str(curve), png=str(png),
                            directory=str(root), seed=seed, reason=reason)
    saved = write_json(baseline_path(target), result.to_dict())
    finish_tool(tracking, status="completed" if result.completed else "failed", reason=result.summary(),
                metrics={"accuracy": result.accuracy, "cost_s": result.cost_s}, artifacts=[curve, png, saved])
    log.info(f"{TOOL}: {result.summary()}; results in {root}")
    return result


def curve_frame(rows: Sequence[Mapping[str, Any]], extra: Mapping[str, Any] | None = None) -> Any:
    """Curve rows as a DataFrame: ``extra`` columns (the same on every row) first, then ``epoch``,
    ``val_accuracy`` and the other :data:`CURVE_COLUMNS` that any row has."""
    import pandas as pd

    columns = [*(extra or {}), *[c for c in CURVE_COLUMNS
                                 if c in ("epoch", "val_accuracy") or any(c in r for r in rows)]]
    return pd.DataFrame([{**(extra or {}), **r} for r in rows], columns=columns)


def write_curve(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Curve rows as Parquet (see :func:`curve_frame`)."""
    curve_frame(rows).to_parquet(path, index=False)
    return Path(path)


def plot_baseline(path: Path, rows: Sequence[Mapping[str, Any]], label: str) -> Path:
    """The baseline's validation curve as a PNG."""
    from raynas.proxy._plots import plot_curves

    points = [(r["epoch"], r["val_accuracy"]) for r in rows]
    return plot_curves({"baseline": points}, path, title=f"Baseline full training ({label})")


def load_baseline(target: DesignTarget) -> BaselineResult:
    """The saved result of the last ``raynas baseline`` (ConfigError naming the command when there is none)."""
    path = baseline_path(target)
    if not path.is_file():
        raise missing_result("baseline", path, "raynas baseline", target)
    data = json.loads(path.read_text())
    for key in ("accuracy", "cost_s"):
        if data.get(key) is None:
            data[key] = math.nan
    return BaselineResult(**data)


__all__ = ["BaselineResult", "baseline", "baseline_path", "curve_frame", "curve_rows", "load_baseline",
           "write_curve"]
