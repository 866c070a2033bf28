"""Logging an exported model to the MLflow run it came from (driver side, after the export is on disk).

The stage-2 pick goes to the stage-2 parent run (``<name>-stage2``), a full training to its own run and a stage-1
trial to its run in the search. The run is found through the run ledger its stage wrote; the export directory
becomes the run's artifacts under ``exported_model/``, and the TorchScript module, when exported, an MLflow model
(``mlflow.pytorch``) of that run. MLflow problems never fail the export: they come back as a note.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from raynas.export._locate import ModelSource

log = logging.getLogger(__name__)

ARTIFACT_DIR = "exported_model"


def log_export(source: ModelSource, folder: Path, *, make_model: Callable[[], Any] | None, example: Any, enabled: bool | None,
               tracking_uri: str | None) -> dict[str, Any]:
    """Log ``folder`` to the model's run, and the TorchScript module ``make_model()`` returns as an MLflow model
    of that run; returns what was logged, or ``{"note": why not}``."""
    from raynas.config import SearchConfig
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import resolve_target

    paths = ExperimentPaths(Path(source.experiment_dir))
    config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config))
    on = config.mlflow.enabled if enabled is None else enabled
    if not on:
        return {"note": "MLflow is off (the search config's mlflow, or --no-mlflow)"}
    target = resolve_target(tracking_uri or config.mlflow.tracking_uri, paths.root.parent)
    stage_dir = paths.root / "stage2" if source.stage == "stage2" else paths.root
    run_id, which = _run_of(source, stage_dir, target.uri)
    if run_id is None:
        note = (f"MLflow: nothing logged: {which} has no MLflow run at {target.uri} (was it run with --no-mlflow or "
                "another --tracking-uri?)")
        log.warning(note)
        return {"note": note, "tracking_uri": target.uri}
    from raynas.tracking import reachable

    if not reachable(target):
        note = f"MLflow: nothing logged: {target.uri} does not answer; the export is in {folder}"
        log.warning(note)
        return {"note": note, "tracking_uri": target.uri, "run_id": run_id}
    try:
        report = _log(target, run_id, folder, make_model, example, source)
    except Exception as exc:  # noqa: BLE001 - the export is on disk whatever MLflow does
        note = f"MLflow: logging the export to run {run_id} failed ({type(exc).__name__}: {str(exc)[:300]})"
        log.warning(f"{note}; the export is in {folder}")
        return {"note": note, "tracking_uri": target.uri, "run_id": run_id}
    report.update({"tracking_uri": target.uri, "run": which})
    log.info(f"MLflow: export logged to {which} (run {run_id})"
             + (f", model {report['model_uri']}" if report.get("model_uri") else ""))
    return report


def _run_of(source: ModelSource, stage_dir: Path, uri: str) -> tuple[str | None, str]:
    """The MLflow run id of the model's stage-2 parent run or trial run, from the stage's run ledger."""
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import ledger_path, load_ledger

    if not (stage_dir / "uid").is_file():
        return None, f"the {source.stage} of {source.experiment!r}"
    ledger = load_ledger(ledger_path(stage_dir, uri), uri, ExperimentPaths(stage_dir).uid())
    if source.picked:
        return ledger.parents.get("stage2"), f"the stage-2 parent run of {source.experiment!r}"
    trial = source.stage2_trial_id if source.stage == "stage2" else source.trial_id
    run = ledger.trials.get(str(trial))
    return (None if run is None else run.run_id), f"the run of trial {trial}"


def _log(target: Any, run_id: str, folder: Path, make_model: Any, example: Any, source: ModelSource) -> dict[str, Any]:
    from mlflow import MlflowClient

    from raynas.tracking import limit_http_retries

    if target.is_http:
        limit_http_retries()
    client = MlflowClient(tracking_uri=target.uri)
    client.log_artifacts(run_id, str(folder), ARTIFACT_DIR)
    client.set_tag(run_id, "raynas.exported_model", f"{ARTIFACT_DIR}/")
    report: dict[str, Any] = {"run_id": run_id, "artifacts": f"runs:/{run_id}/{ARTIFACT_DIR}"}
    if make_model is not None:
        report.update(_log_model(target.uri, run_id, make_model(), example, source))
    return report


def _log_model(uri: str, run_id: str, model: Any, example: Any, source: ModelSource) -> dict[str, Any]:
    """The TorchScript module as an MLflow model of the run (``mlflow.pytorch.load_model(model_uri)``)."""
    import mlflow
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    with torch.no_grad():
        logits = model(example).numpy()
    signature = infer_signature(example.numpy(), logits)
    import mlflow.tracking.fluent as fluent

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    # MLflow 3 files a logged model under the active experiment, not its run's: without this it went to the
    # Default experiment, whose artifacts land in ./mlruns of the current directory
    active = fluent._active_experiment_id
    fluent._active_experiment_id = mlflow.MlflowClient(uri).get_run(run_id).info.experiment_id
    quiet = logging.getLogger("mlflow.pytorch")  # its pickle warning is about pickled modules, not TorchScript
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        info = mlflow.pytorch.log_model(
            model, name="model", run_id=run_id, signature=signature, pip_requirements=[f"torch=={torch.__version__}"],
            serialization_format="pickle",  # what MLflow supports for TorchScript modules
            tags={"raynas.experiment": source.experiment, "raynas.trial_id": str(source.trial_id),
                  "raynas.stage": source.stage, "raynas.picked": str(source.picked).lower()})
    finally:
        mlflow.set_tracking_uri(before)
        fluent._active_experiment_id = active
        quiet.setLevel(level)
    return {"model_uri": info.model_uri, "model_id": getattr(info, "model_id", None)}
