"""The built-in trainer on a task: the task's model family trained with its fixed recipe on its dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raynas.errors import ConfigError
from raynas.targets._task import TaskTarget
from raynas.trials import Evaluator, Stage


class BuiltinTrainerTarget(TaskTarget):
    """Trials build the family's model and train it with raynas's own loop (:mod:`raynas.training`)."""

    kind = "builtin"
    searches_augmentation = True
    #: Measure latency and memory in every trial even without reward targets (a search whose objectives name them).
    measure_cost = False

    def evaluator(self, *, variant: str, stage: Stage, experiment_dir: Path, device: str = "auto",
                  spec: Any = None, keep_checkpoint: bool | None = None,
                  augmentation: dict[str, Any] | None = None, init: Any = None) -> Evaluator:
        from dataclasses import replace

        from raynas.training import TrainingEvaluator

        task = self.task
        if augmentation is not None:
            task = replace(task, augmentation=dict(augmentation))  # validates the policy
        self.prepare(experiment_dir)
        weights = tuple(w for w in (task.pretrained_weights(), init) if w is not None)
        return TrainingEvaluator(task, variant, str(Path(experiment_dir) / "split.parquet"), device,
                                 self.family().source, variant_spec=spec, keep_checkpoint=keep_checkpoint,
                                 weights=weights, measure=self.measure_cost)

    def validate(self) -> None:
        if self.task.dataset is None:  # pragma: no cover - the task file refuses it already
            raise ConfigError("dataset", None, "a dataset for the built-in trainer", "add `dataset:` to the task")

    def model_for(self, arch: Any, variant: str = "full") -> tuple[Any, tuple[int, ...]]:
        from raynas.data import load_dataset
        from raynas.training import family_input_kwargs, scaled_input_shape

        family = self.family()
        data = load_dataset(self.task.dataset_spec())
        spec = self.task.variant(variant)
        shape = scaled_input_shape(data.input_shape, spec.resolution_mult)
        model = family.build(arch, **family_input_kwargs(family.build, shape), num_classes=data.num_classes,
                             width_mult=spec.width_mult, depth_mult=spec.depth_mult)
        return model, shape

    def model_spec(self, arch: Any, variant: str = "full") -> Any:
        from raynas.training import model_spec

        return model_spec(self.task, arch, variant)
