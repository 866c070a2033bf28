"""Finding a trained model in an experiment: the stage-2 pick, or a trial's checkpoint, and how to build it.

The stage-2 pick is ``<experiment>/stage2/best/`` (``architecture.json``, ``model.json``, ``checkpoint/model.pt``);
a stage-2 training's checkpoint is ``stage2/checkpoints/rank-NN/model.pt`` (its row in ``stage2.json``); a stage-1
trial keeps a checkpoint only when it trained the full variant (``checkpoint`` in its trial-store record).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from raynas.errors import ConfigError, RaynasError, UnknownNameError
from raynas.experiment import DEFAULT_WORKDIR, ExperimentPaths, find_experiment
from raynas.trials import TrialStatus

CHECKPOINT_FILE = "model.pt"
#: Files of an export directory that :func:`raynas.load_model` reads back.
STATE_DICT_FILE = "state_dict.pt"


@dataclass(frozen=True)
class ModelSource:
    """A trained model of an experiment: where its weights are and how to build it.

    ``trial_id`` is the stage-1 trial id (what ``raynas train`` and ``raynas trials`` show), ``stage2_trial_id``
    the id of its full training when it comes from stage 2; ``picked`` is True for the stage-2 pick.
    ``metrics`` holds what is known of it (``val_accuracy``, ``stage1_reward``, ``stage1_rank``, ``params``...).
    """

    experiment: str
    experiment_dir: str
    stage: str
    trial_id: str | None
    stage2_trial_id: str | None
    picked: bool
    checkpoint: str
    spec: Any  # raynas.training.ModelSpec
    policy: Any = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    stage2: Mapping[str, Any] = field(default_factory=dict)

    @property
    def arch(self) -> Any:
        return self.spec.arch

    @property
    def label(self) -> str:
        """How to name it in one line, e.g. ``the stage-2 pick (trial 1a2b3c4d)``."""
        who = f"trial {self.trial_id}" if self.trial_id else f"stage-2 trial {self.stage2_trial_id}"
        if self.picked:
            return f"the stage-2 pick ({who})"
        return f"{'full-trained ' if self.stage == 'stage2' else 'stage-1 '}{who}"

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "experiment": self.experiment, "experiment_dir": self.experiment_dir, "stage": self.stage,
                "trial_id": self.trial_id, "stage2_trial_id": self.stage2_trial_id, "picked": self.picked,
                "checkpoint": self.checkpoint, "arch": self.arch, "policy": self.policy, "metrics": dict(self.metrics)}


def experiment_paths(experiment: str | Path, workdir: str | Path = DEFAULT_WORKDIR) -> ExperimentPaths:
    """An experiment by name (under ``workdir``) or directory; it must hold a search's ``config.json``."""
    paths = find_experiment(str(experiment), workdir)
    if not paths.config.is_file():
        raise ConfigError("experiment", str(paths.root), "an experiment directory with the config.json of a search",
                          "give the name (with --workdir) or the directory of a search")
    return paths


def _config(paths: ExperimentPaths) -> Any:
    from raynas.config import SearchConfig

    return SearchConfig.from_dict(paths.read_config(), source=str(paths.config))


def _train_command(paths: ExperimentPaths) -> str:
    return f"raynas train {paths.root.name} --workdir {paths.root.parent}"


def locate_model(experiment: str | Path, trial: str | None = None, *,
                 workdir: str | Path = DEFAULT_WORKDIR) -> ModelSource:
    """The stage-2 pick of ``experiment`` (``trial`` None), or the trial ``trial``: a stage-1 trial id shown by
    ``raynas train`` (its full training) or ``raynas trials``, or a stage-2 trial id. RaynasError with the fix
    when there is no such model or it kept no checkpoint."""
    paths = experiment_paths(experiment, workdir)
    config = _config(paths)
    if config.task is None:
        raise RaynasError(
            f"experiment {config.name!r} searches the tabular benchmark {config.space!r}: its trials are table "
            f"look-ups with no trained weights to export; export works on task experiments (`task:` in the search "
            f"config), whose stage 2 keeps the trained models")
    stage2_file = paths.root / "stage2" / "stage2.json"
    stage2 = json.loads(stage2_file.read_text()) if stage2_file.is_file() else None
    if trial is None:
        if stage2 is None:
            raise ConfigError("stage 2", str(stage2_file), f"the result of `raynas train` for experiment {config.name!r}",
                              f"run stage 2 first: `{_train_command(paths)}` (or name a trial that kept a "
                              "checkpoint with --trial ID)")
        return _picked(paths, config, stage2)
    trial = str(trial).strip()
    if stage2 is not None:
        row = next((r for r in stage2.get("rows", []) if trial in (r.get("trial_id"), r.get("stage2_trial_id"))), None)
        if row is not None:
            return _stage2_row(paths, config, stage2, row)
    return _stage1_trial(paths, config, stage2, trial)


def _picked(paths: ExperimentPaths, config: Any, stage2: Mapping[str, Any]) -> ModelSource:
    picked = stage2.get("picked_trial_id")
    if picked is None:
        raise RaynasError(f"stage 2 of {config.name!r} has no completed full training, so there is no picked model "
                          f"(see failure_reason in {paths.root / 'stage2' / 'stage2.json'}); run it again with "
                          f"`{_train_command(paths)} --overwrite`")
    row = next((r for r in stage2.get("rows", []) if r.get("trial_id") == picked), {})
    best = Path(stage2.get("best_dir") or paths.root / "stage2" / "best")
    if not best.is_dir():  # the experiment was moved: stage2.json holds absolute paths
        best = paths.root / "stage2" / "best"
    checkpoint = best / "checkpoint" / CHECKPOINT_FILE
    if not checkpoint.is_file():
        raise RaynasError(
            f"stage 2 of {config.name!r} kept no checkpoint of its pick (trial {picked}; {checkpoint} is missing): "
            "full trainings keep their final model only when one process trains it (a trial holding 2 or more GPUs "
            f"trains data-parallel and keeps none); full-train it again with `{_train_command(paths)} --overwrite "
            "--gpus-per-trial 1`")
    from raynas.training import SPEC_FILE, ModelSpec

    spec_file = best / SPEC_FILE
    arch = config.arch if config.search_type == "augmentation" else row.get("arch", stage2.get("picked_arch"))
    spec = ModelSpec.read(spec_file) if spec_file.is_file() else _spec(config, arch, "full")
    return ModelSource(experiment=config.name, experiment_dir=str(paths.root), stage="stage2", trial_id=picked,
                       stage2_trial_id=row.get("stage2_trial_id"), picked=True, checkpoint=str(checkpoint), spec=spec,
                       policy=row.get("arch") if config.search_type == "augmentation" else None,
                       metrics=_row_metrics(paths, row), stage2=_stage2_summary(stage2))


def _stage2_row(paths: ExperimentPaths, config: Any, stage2: Mapping[str, Any], row: Mapping[str, Any]) -> ModelSource:
    folder = row.get("checkpoint")
    if folder and not Path(folder).is_dir():  # moved experiment
        folder = str(paths.root / "stage2" / "checkpoints" / Path(folder).name)
    if not folder or not (Path(folder) / CHECKPOINT_FILE).is_file():
        raise RaynasError(
            f"trial {row.get('trial_id')} was full-trained in stage 2 of {config.name!r} but kept no checkpoint (its "
            f"full training is {row.get('status')}{': ' + str(row.get('failure_reason')) if row.get('failure_reason') else ''}); "
            f"{_with_checkpoints(stage2, [])}")
    arch = config.arch if config.search_type == "augmentation" else row.get("arch")
    spec = _spec(config, arch, "full", beside=Path(folder))
    return ModelSource(experiment=config.name, experiment_dir=str(paths.root), stage="stage2",
                       trial_id=row.get("trial_id"), stage2_trial_id=row.get("stage2_trial_id"),
                       picked=row.get("trial_id") == stage2.get("picked_trial_id"),
                       checkpoint=str(Path(folder) / CHECKPOINT_FILE), spec=spec,
                       policy=row.get("arch") if config.search_type == "augmentation" else None,
                       metrics=_row_metrics(paths, row), stage2=_stage2_summary(stage2))


def _stage1_trial(paths: ExperimentPaths, config: Any, stage2: Mapping[str, Any] | None, trial: str) -> ModelSource:
    from raynas.tracking import TrialStore

    records = TrialStore(paths.trials).records() if paths.trials.is_dir() else []
    record = next((r for r in records if r.trial_id == trial), None)
    # a stored checkpoint is relative to the experiment folder (an older experiment's is absolute: kept as it is)
    kept = [r.trial_id for r in records if r.checkpoint and (paths.root / r.checkpoint / CHECKPOINT_FILE).is_file()]
    if record is None:
        known = [r["trial_id"] for r in (stage2 or {}).get("rows", []) if r.get("checkpoint")] + kept
        raise UnknownNameError("trial", trial, known,
                               f"Trial ids are the `trial` column of `raynas train {paths.root.name}` and `raynas trials "
                               f"{paths.root.name}` (with --workdir {paths.root.parent}); the known ones listed kept a "
                               "checkpoint.")
    if not record.checkpoint or not (paths.root / record.checkpoint / CHECKPOINT_FILE).is_file():
        why = ("stage-1 trials train the proxy variant and keep no checkpoint" if record.status is TrialStatus.COMPLETED
               else f"it is {record.status}")
        raise RaynasError(f"trial {trial} of {config.name!r} has no checkpoint ({why}); {_with_checkpoints(stage2, kept)}"
                          + ("" if stage2 is not None else f", or full-train the top trials with `{_train_command(paths)}`"))
    arch = config.arch if config.search_type == "augmentation" else record.arch
    spec = _spec(config, arch, config.variant, beside=paths.root / record.checkpoint)
    metrics = {k: record.metrics.get(k) for k in ("val_accuracy", "reward", "params", "flops", "epoch", "latency_ms",
                                                  "memory_mb") if record.metrics.get(k) is not None}
    return ModelSource(experiment=config.name, experiment_dir=str(paths.root), stage="stage1", trial_id=trial,
                       stage2_trial_id=None, picked=False, checkpoint=str(paths.root / record.checkpoint / CHECKPOINT_FILE),
                       spec=spec, policy=record.arch if config.search_type == "augmentation" else None,
                       metrics={"variant": config.variant, **metrics},
                       stage2=_stage2_summary(stage2) if stage2 is not None else {})


def _with_checkpoints(stage2: Mapping[str, Any] | None, stage1_kept: list[str]) -> str:
    ids = [r["trial_id"] for r in (stage2 or {}).get("rows", []) if r.get("checkpoint")] + stage1_kept
    if not ids:
        return "no trial of this experiment kept one"
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    return f"trials with a checkpoint: {shown} (or leave out --trial for the stage-2 pick)"


def _spec(config: Any, arch: Any, variant: str, *, beside: Path | None = None) -> Any:
    """The build spec: the ``model.json`` the training wrote beside its checkpoint (a user trainer's), else made
    from the task (for checkpoints written before ``model.json`` existed, and trials' own)."""
    from raynas.targets import search_target
    from raynas.training import SPEC_FILE, ModelSpec

    if beside is not None and (beside / SPEC_FILE).is_file():
        return ModelSpec.read(beside / SPEC_FILE)
    spec = search_target(config).model_spec(arch, variant)
    if spec is None:
        raise RaynasError(f"experiment {config.name!r} trains with a trainer of its own that did not describe this "
                          "model: build it with ctx.build(...) on data from ctx.datasets() and keep it with "
                          "ctx.save_model(model), so raynas can rebuild it; or load the checkpoint with the trainer's "
                          "own code")
    return spec


def _row_metrics(paths: ExperimentPaths, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stage-2 row's numbers, with what its full training reported (params, FLOPs, epochs...)."""
    metrics: dict[str, Any] = {"val_accuracy": row.get("full_accuracy"), "full_reward": row.get("full_reward"),
                               "stage1_reward": row.get("stage1_reward"), "stage1_rank": row.get("rank"),
                               "variant": "full"}
    stage2_id = row.get("stage2_trial_id")
    store = paths.root / "stage2" / "trials"
    if stage2_id and store.is_dir():
        from raynas.tracking import TrialStore

        record = next((r for r in TrialStore(store).records() if r.trial_id == stage2_id), None)
        if record is not None:
            for key in ("params", "flops", "epoch", "train_loss", "latency_ms", "memory_mb", "train_seconds"):
                value = record.metrics.get(key)
                if isinstance(value, (int, float)) and math.isfinite(float(value)):
                    metrics[key] = value
    return {k: v for k, v in metrics.items() if v is not None}


def _stage2_summary(stage2: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("top_k", "kendall_tau", "spearman", "correlated", "picked_trial_id", "picked_accuracy", "search_bias",
            "search_bias_note")
    return {k: stage2.get(k) for k in keys}
