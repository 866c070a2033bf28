"""Evaluating one architecture of a task: build it, train it on the task's variant, report the reward."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from raynas.data import DatasetSource, DatasetSpec, DataSplit, load_dataset
from raynas.errors import ConfigError, InvalidTrialError
from raynas.families import ModelFamily, load_family
from raynas.rewards import compute_reward
from raynas.training._shapes import family_input_kwargs, scaled_input_shape
from raynas.training._trainer import NonFiniteLossError, TrainingRecipe, train_and_evaluate, train_streamed
from raynas.trials import CHECKPOINT_KEY

if TYPE_CHECKING:
    from raynas.tasks import TaskConfig, Variant


@functools.lru_cache(maxsize=4)
def _dataset(spec: DatasetSpec) -> DatasetSource:
    return load_dataset(spec)  # once per worker process


@functools.lru_cache(maxsize=16)
def _family(name: str) -> ModelFamily:
    return load_family(name)


def ensure_split(task: TaskConfig, path: str) -> DataSplit:
    """The task's stored split at ``path``: reused when it matches the data and settings, (re)made otherwise."""
    from pathlib import Path

    from raynas.data import make_split

    data = _dataset(task.dataset_spec())
    split = make_split(data.train_y, data.val_y, dataset=data.name, data_fingerprint=data.fingerprint(),
                       seed=task.split_seed, validation_fraction=task.validation_fraction)
    if Path(path).is_file():
        try:
            existing = DataSplit.load(path)
        except ConfigError:
            existing = None
        if existing is not None and existing.fingerprint == split.fingerprint:
            return existing
    split.save(path)
    return split


@dataclass(frozen=True)
class TrainingEvaluator:
    """Trains architectures of a task's model family on the task's ``proxy`` (stage 1) or ``full`` variant.

    Proxy runs train on a seeded ``data_fraction`` of the stage-1 training part and validate on the stage-1
    validation part; full runs train on all training data and validate on the real validation set.
    """

    task: TaskConfig
    variant: str
    split_path: str
    device: str = "auto"
    #: Where the driver found the family (a file path or module): workers run in other folders.
    family_source: str | None = None
    #: Data-parallel processes per trial; None: one per GPU the Ray trial holds (1 when it holds fewer than 2).
    workers: int | None = None
    #: Train with this variant instead of the task's ``variant`` one (proxy candidates, partial trainings); the
    #: data split still follows ``variant``: stage-1 split for "proxy", all data for "full".
    variant_spec: Variant | None = None
    #: Keep the final model as the trial's checkpoint (default: full-variant runs only).
    keep_checkpoint: bool | None = None
    #: Weights loaded into every model built (the task's ``pretrained:``, stage 2's ``--init``):
    #: :class:`raynas.training.PretrainedWeights`; a checkpoint that does not fit stops the run.
    weights: tuple[Any, ...] = ()
    #: Measure latency and memory (on the task's ``targets.device`` at its ``targets.batch_size``) even without reward
    #: targets: a multi-objective search names them as objectives.
    measure: bool = False

    def spec(self) -> Variant:
        """The variant trained: ``variant_spec`` when given, else the task's ``variant``."""
        return self.variant_spec if self.variant_spec is not None else self.task.variant(self.variant)

    def recipe(self) -> TrainingRecipe:
        return replace(self.task.recipe, epochs=self.spec().epochs)

    def evaluate(self, arch: Any, *, seed: int, report: Callable[[dict], None] | None = None,
                 augmentation: dict[str, Any] | None = None) -> dict[str, Any]:
        """Train ``arch`` (with the augmentation policy given, else the task's own) and return its metrics."""
        from raynas.augment import make_augmenter

        augmentation = augmentation if augmentation is not None else self.task.augmentation
        data = _dataset(self.task.dataset_spec())
        split = DataSplit.load(self.split_path)
        if split.data_fingerprint != data.fingerprint():
            raise ConfigError("split", self.split_path, "a split of the data this trial loaded",
                              "the dataset changed since the split was made; rerun the search with --overwrite")
        variant = self.spec()
        if self.variant == "proxy":
            keep = max(1, int(round(variant.data_fraction * len(split.stage1_train))))
            train_idx = np.sort(np.random.default_rng(split.seed).permutation(split.stage1_train)[:keep])
            val_idx = split.stage1_val
        else:
            keep = max(1, int(round(variant.data_fraction * len(data.train_y))))
            train_idx = np.sort(np.random.default_rng(split.seed).permutation(len(data.train_y))[:keep])
            val_idx = None  # the real validation set
        input_shape = scaled_input_shape(data.input_shape, variant.resolution_mult)
        arrays = data.arrays()
        if arrays is not None:  # in memory: the tensor path
            train_x, train_y = arrays.train_x[train_idx], arrays.train_y[train_idx]
            if val_idx is None:
                val_x, val_y = arrays.val_x, arrays.val_y
            else:
                val_x, val_y = arrays.train_x[val_idx], arrays.train_y[val_idx]
            if variant.resolution_mult != 1.0:
                train_x, val_x = _resize(train_x, variant.resolution_mult), _resize(val_x, variant.resolution_mult)
        else:  # streamed: the same examples, read by DataLoader workers (images resized as they are decoded)
            from torch.utils.data import Subset

            size = input_shape[-1] if variant.resolution_mult != 1.0 else None
            train_data = Subset(data.train_dataset(image_size=size), train_idx)
            val_data = (data.val_dataset(image_size=size) if val_idx is None
                        else Subset(data.train_dataset(image_size=size), val_idx))
        family_ref = self.family_source or self.task.family
        family = _family(family_ref)
        import torch

        build_kwargs = {**family_input_kwargs(family.build, input_shape), "num_classes": data.num_classes,
                        "width_mult": variant.width_mult, "depth_mult": variant.depth_mult}
        torch.manual_seed(seed)  # the initial weights are part of the trial's seeded randomness
        try:
            model = family.build(arch, **build_kwargs)
        except Exception as exc:  # noqa: BLE001 - any builder error makes the architecture invalid
            raise InvalidTrialError(f"architecture cannot be built: {type(exc).__name__}: {exc}") from exc
        for weights in self.weights:
            weights.load_into(model)
        cost = self._cost(model, input_shape)

        def with_reward(metrics: dict[str, Any]) -> dict[str, Any]:
            terms = compute_reward(metrics["val_accuracy"], targets=self.task.targets,
                                   latency_ms=cost.get("latency_ms"), memory_mb=cost.get("memory_mb"))
            return {**metrics, **cost, **terms}

        def report_epoch(metrics: dict[str, Any]) -> None:
            if report is not None:  # schedulers compare trials on the reward of every epoch
                report(with_reward(metrics))

        workers = self.workers if self.workers is not None else gpus_held_by_this_trial()
        on_gpu = torch.cuda.is_available() and self.device != "cpu"
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        try:
            if workers > 1:
                from raynas.training._distributed import train_data_parallel

                data_args = (dict(train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y) if arrays is not None
                             else dict(train_data=train_data, val_data=val_data, loader_workers=data.workers))
                metrics = train_data_parallel(
                    functools.partial(build_family_model, family_ref, arch, build_kwargs, self.weights),
                    world_size=workers,
                    **data_args,
                    recipe=self.recipe(), seed=seed,
                    use_cuda=torch.cuda.is_available() and self.device != "cpu", report=report_epoch,
                    augmentation=augmentation)
            else:
                checkpoint = None
                keep = self.keep_checkpoint if self.keep_checkpoint is not None else self.variant == "full"
                if keep:  # full-training runs keep their final model
                    import tempfile

                    checkpoint = str(Path(tempfile.mkdtemp(prefix="raynas-ckpt-")) / "model.pt")
                if arrays is not None:
                    metrics = train_and_evaluate(model, train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y,
                                                 recipe=self.recipe(), seed=seed,
                                                 device=self.device, report=report_epoch,
                                                 augment=make_augmenter(augmentation), checkpoint_path=checkpoint)
                else:
                    metrics = train_streamed(model, train_data=train_data, val_data=val_data, recipe=self.recipe(),
                                             seed=seed, device=self.device, report=report_epoch,
                                             augment=make_augmenter(augmentation), checkpoint_path=checkpoint,
                                             workers=data.workers)
                if checkpoint is not None:
                    metrics[CHECKPOINT_KEY] = str(Path(checkpoint).parent)
        except NonFiniteLossError as exc:
            raise InvalidTrialError(str(exc)) from exc
        metrics.setdefault("workers", 1)
        metrics["train_seconds"] = time.perf_counter() - started  # what the trial cost (proxy-design tools)
        if on_gpu and workers == 1:  # peak memory of this process's GPU: `raynas proxy check` wants headroom
            metrics["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
            metrics["gpu_total_mb"] = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory / 2**20
        return with_reward(metrics)

    def _cost(self, model: Any, input_shape: tuple[int, ...]) -> dict[str, Any]:
        """Parameters and FLOPs always; latency and memory when the task sets targets or ``measure`` is set
        (measured before training: they do not depend on the weights)."""
        import torch

        from raynas.training._measure import count_flops, measure_model

        targets = self.task.targets
        if not targets.active and not self.measure:
            flops = count_flops(model, torch.zeros(1, *input_shape))
            return {"params": int(sum(p.numel() for p in model.parameters())), "flops": flops}
        measured = measure_model(model, input_shape=tuple(input_shape), batch_size=targets.batch_size,
                                 device=targets.device, warmup=5, repeats=20)
        return {"params": measured.params, "flops": measured.flops, "latency_ms": measured.latency_ms,
                "memory_mb": measured.memory_mb}


@dataclass(frozen=True)
class AugmentationEvaluator:
    """Augmentation search: every trial trains the same fixed architecture with the proposed policy."""

    inner: TrainingEvaluator
    arch: Any

    def evaluate(self, policy: Any, *, seed: int, report: Callable[[dict], None] | None = None) -> dict[str, Any]:
        return self.inner.evaluate(self.arch, seed=seed, report=report, augmentation=policy)


def build_family_model(family_ref: str, arch: Any, build_kwargs: dict[str, Any], weights: tuple[Any, ...] = ()) -> Any:
    """Build an architecture of a family, with ``weights`` loaded (module-level, so data-parallel workers can be
    given it)."""
    model = _family(family_ref).build(arch, **build_kwargs)
    for item in weights:
        item.load_into(model)
    return model


def gpus_held_by_this_trial() -> int:
    """GPUs Ray gave this trial's actor (each becomes a data-parallel worker); 1 outside Ray or below 2."""
    try:
        import ray

        if ray.is_initialized():
            return max(1, len(ray.get_gpu_ids()))
    except Exception:  # noqa: BLE001 - not inside a Ray worker
        pass
    return 1


def _resize(x: np.ndarray, factor: float) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    size = max(1, int(round(x.shape[-1] * factor)))
    out = F.interpolate(torch.as_tensor(x), size=(size, size), mode="bilinear", align_corners=False)
    return out.numpy()
