"""A user trainer as a target: the task's ``trainer: module:function`` (or ``./file.py:function``) trains each trial.

The function receives one :class:`raynas.targets.TrainerContext` (see :mod:`raynas.targets._context`). raynas
keeps everything around it: the split, the variant settings, the seed, data parallelism over the GPUs a trial
holds, per-epoch reporting to Ray Tune, checkpoints that survive a lost worker, the outcome rules, MLflow.
"""

from __future__ import annotations

import functools
import inspect
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from raynas.errors import ConfigError, InvalidTrialError
from raynas.references import absolute_reference, load_reference
from raynas.targets._context import METRICS_FILE, SplitIndices, TrainerContext, TrainerContractError
from raynas.targets._task import TaskTarget
from raynas.trials import CHECKPOINT_KEY, Evaluator, Stage

#: The metric a user trainer must report every epoch (what the task's reward is made from).
USER_METRIC = "val_accuracy"


def check_trainer(ref: str, *, base_dir: str | Path | None) -> str:
    """The absolute reference of a user trainer, after checking that it is a function taking one argument."""
    ref = absolute_reference("trainer", ref, base_dir=base_dir)
    function = load_reference("trainer", ref)
    if not callable(function):
        raise ConfigError("trainer", ref, "a callable (a function train(ctx))",
                          f"{ref.rpartition(':')[2]} is a {type(function).__name__}: point at the function")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: let them run
        return ref
    required = [p for p in signature.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [p for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    if len(required) > 1 or not positional or any(p.kind is p.KEYWORD_ONLY for p in required):
        raise ConfigError("trainer", ref, f"a function taking one argument, the context: def "
                          f"{function.__name__}(ctx)", f"its signature is {function.__name__}{signature}: "
                          "read everything from ctx (ctx.arch, ctx.variant, ctx.report, ...)")
    return ref


class UserTrainerTarget(TaskTarget):
    """A task whose trials run the user's function."""

    kind = "user"

    def __init__(self, task: Any) -> None:
        super().__init__(task)
        base = Path(task.source).parent if task.source else None
        try:
            self.trainer = check_trainer(task.trainer, base_dir=base)
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=task.source) from None

    def evaluator(self, *, variant: str, stage: Stage, experiment_dir: Path, device: str = "auto",
                  spec: Any = None, keep_checkpoint: bool | None = None,
                  augmentation: dict[str, Any] | None = None, init: Any = None) -> Evaluator:
        if augmentation is not None:
            raise ConfigError("augmentation", augmentation, "no augmentation policy for a user trainer",
                              "your trainer owns its augmentation: vary it with a variant key instead")
        split = self.prepare(experiment_dir)
        family = self.family()
        keep = keep_checkpoint if keep_checkpoint is not None else variant == "full"
        return UserTrainerEvaluator(
            trainer=self.trainer, family_source=family.source, variant=variant,
            spec=spec if spec is not None else self.task.variant(variant), stage=Stage(stage).value,
            split_path=None if split is None else str(Path(experiment_dir) / "split.parquet"),
            device=device, targets=self.task.targets, keep_model=keep, task_source=self.task.source,
            weights=tuple(w for w in (self.task.pretrained_weights(), init) if w is not None))

    @property
    def latency_key(self) -> str:
        """Reference models are chosen for spread in accuracy and measured training time (a user's trainer reports
        no FLOPs); with latency in the reward, the latency it reports."""
        return "latency_ms" if self.latency_in_reward else "train_seconds"

    def model_for(self, arch: Any, variant: str = "full") -> tuple[Any, tuple[int, ...]]:
        raise ConfigError("task", self.task.name, "a task whose models raynas builds (the built-in trainer)",
                          f"this task's trainer ({self.task.trainer}) builds its own models with its own arguments: "
                          "measure latency in the trainer and report it, ctx.report(..., latency_ms=...)",
                          source=self.task.source)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "trainer": self.trainer}


@dataclass(frozen=True)
class UserTrainerEvaluator:
    """Runs the user's trainer for one architecture (picklable: workers re-import the trainer by reference)."""

    trainer: str
    family_source: str | None
    variant: str
    spec: Any
    stage: str
    split_path: str | None
    device: str = "auto"
    targets: Any = None
    keep_model: bool = False
    #: Processes per trial; None: one per GPU the trial holds (1 below 2 GPUs).
    workers: int | None = None
    #: The task file (workers open its dataset for ``ctx.datasets()``).
    task_source: str | None = None
    #: Weights ``ctx.build`` loads into every model it builds (the task's ``pretrained:``, stage 2's ``--init``).
    weights: tuple[Any, ...] = ()

    def evaluate(self, arch: Any, *, seed: int, report: Callable[..., None] | None = None) -> dict[str, Any]:
        from raynas.training import gpus_held_by_this_trial

        world = self.workers if self.workers is not None else gpus_held_by_this_trial()
        restored = getattr(report, "restored_checkpoint", lambda: None)()
        final: dict[str, Any] = {}
        model_dirs: list[str] = []
        started = time.perf_counter()

        def on_report(metrics: dict[str, Any], checkpoint: str | None) -> None:
            value = metrics[USER_METRIC]
            if not math.isfinite(float(value)):
                raise InvalidTrialError(f"{USER_METRIC} is {value} in epoch {metrics['epoch']}")
            full = self._with_reward({**metrics, "workers": world})
            final.clear()
            final.update(full)
            if report is None:
                return
            if checkpoint is not None and getattr(report, "takes_checkpoints", False):
                report(full, checkpoint_dir=checkpoint)
            else:
                report(full)

        # a trial lost after its last epoch's checkpoint has nothing left to train: what that epoch reported stands
        last_reported = _reported_with(restored)
        work = tempfile.mkdtemp(prefix="raynas-trainer-")  # every process's checkpoints, removed at the end
        payload = RankPayload(self, arch, int(seed), restored, work)
        try:
            if world > 1:
                from raynas.targets._ranks import run_ranks

                run_ranks(payload, world_size=world, on_report=on_report, on_model=model_dirs.append)
            else:
                payload.run(rank=0, world_size=1, port=None, on_report=on_report, on_model=model_dirs.append)
        except BaseException:
            for folder in model_dirs:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if restored is not None:
                shutil.rmtree(restored, ignore_errors=True)
        for folder in model_dirs[:-1] if self.keep_model else model_dirs:  # only the last saved model is kept
            shutil.rmtree(folder, ignore_errors=True)
        if not final and last_reported is not None and last_reported.get("epoch", 0) >= int(self.spec.epochs):
            final.update(self._with_reward({**last_reported, "workers": world}))
        if not final:
            raise TrainerContractError(f"{self.trainer} returned without calling ctx.report(epoch=..., "
                                       f"{USER_METRIC}=...): report every epoch")
        final["train_seconds"] = time.perf_counter() - started
        if model_dirs and self.keep_model:
            final[CHECKPOINT_KEY] = model_dirs[-1]
        return final

    def _with_reward(self, metrics: dict[str, Any]) -> dict[str, Any]:
        from raynas.rewards import RewardTargets, compute_reward

        targets = self.targets if self.targets is not None else RewardTargets()
        terms = compute_reward(float(metrics[USER_METRIC]), targets=targets, latency_ms=metrics.get("latency_ms"),
                               memory_mb=metrics.get("memory_mb"))
        return {**metrics, **terms}

    def split_indices(self) -> SplitIndices | None:
        """This variant's share of the task's split (stage 1: ~90/10 of training data; full: all of it)."""
        if self.split_path is None:
            return None
        from raynas.data import DataSplit

        split = DataSplit.load(self.split_path)
        fraction = float(getattr(self.spec, "data_fraction", 1.0))
        rng = np.random.default_rng(split.seed)
        if self.variant == "proxy":
            keep = max(1, int(round(fraction * len(split.stage1_train))))
            train = np.sort(rng.permutation(split.stage1_train)[:keep])
            return SplitIndices(train, np.asarray(split.stage1_val), True, split.fingerprint)
        keep = max(1, int(round(fraction * split.num_train)))
        return SplitIndices(np.sort(rng.permutation(split.num_train)[:keep]), None, False, split.fingerprint)


@dataclass(frozen=True)
class RankPayload:
    """One trial's call of the user trainer, runnable in this process or in a data-parallel worker."""

    evaluator: UserTrainerEvaluator
    arch: Any
    seed: int
    restored: str | None
    #: The trial process's folder for every rank's files (removed by the trial process when it ends).
    work_dir: str | None = None

    def run(self, *, rank: int, world_size: int, port: int | None, on_report: Callable[[dict[str, Any], str | None], None],
            on_model: Callable[[str], None]) -> None:
        import torch

        e = self.evaluator
        function = load_reference("trainer", e.trainer)
        build = None
        if e.family_source is not None:
            from raynas.families import load_family

            build = with_weights(load_family(e.family_source).build, e.weights)
        cuda = torch.cuda.is_available() and e.device != "cpu"
        devices = [f"cuda:{i}" for i in range(max(1, world_size))] if cuda else ["cpu"] * max(1, world_size)
        if world_size > 1:
            import torch.distributed as dist

            dist.init_process_group("nccl" if cuda else "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                    world_size=world_size)
            if cuda:
                torch.cuda.set_device(rank)
        variant = e.spec.to_dict() if hasattr(e.spec, "to_dict") else dict(e.spec)
        ctx = TrainerContext(arch=self.arch, variant={"name": e.variant, **variant}, stage=e.stage, seed=self.seed,
                             split=e.split_indices(), build=build, metric=USER_METRIC, rank=rank,
                             world_size=world_size, devices=devices, send_report=on_report, restored=self.restored,
                             send_model=on_model,
                             open_data=None if e.split_path is None or e.task_source is None else
                             functools.partial(open_task_data, e.task_source),
                             describe_model=None if e.family_source is None else
                             functools.partial(describe_user_model, e, self.arch),
                             work_dir=self.work_dir, keep_model=e.keep_model)
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)
        try:
            function(ctx)
        finally:
            if world_size > 1:
                import torch.distributed as dist

                if dist.is_initialized():
                    dist.destroy_process_group()


@functools.lru_cache(maxsize=4)
def open_task_data(task_source: str) -> Any:
    """The dataset source a task file names (opened once per process)."""
    from raynas.data import load_dataset
    from raynas.tasks import load_task

    return load_dataset(load_task(task_source).dataset_spec())


def with_weights(build: Callable[..., Any], weights: tuple[Any, ...]) -> Callable[..., Any]:
    """``build`` followed by loading ``weights`` (pretrained parts, stage 2's starting point) into the model."""
    if not weights:
        return build

    def build_with_weights(arch: Any, **kwargs: Any) -> Any:
        model = build(arch, **kwargs)
        for item in weights:
            item.load_into(model)
        return model

    return build_with_weights


def describe_user_model(evaluator: UserTrainerEvaluator, arch: Any, built: dict[str, Any]) -> Any:
    """The :class:`raynas.training.ModelSpec` of a model the user trainer built with ``ctx.build(**kwargs)``."""
    from raynas.training import ModelSpec

    return ModelSpec(family=str(evaluator.family_source), family_source=str(evaluator.family_source), arch=arch,
                     build_kwargs=built["build_kwargs"], input_shape=built.get("input_shape", ()),
                     dataset=built.get("dataset", "unknown"), num_classes=int(built.get("num_classes", 0)),
                     variant=evaluator.variant, task=evaluator.task_source, extra={"trainer": evaluator.trainer})


def _reported_with(checkpoint: str | None) -> dict[str, Any] | None:
    """The metrics reported with a restored checkpoint (None when there is none)."""
    if checkpoint is None or not (Path(checkpoint) / METRICS_FILE).is_file():
        return None
    import json

    return json.loads((Path(checkpoint) / METRICS_FILE).read_text())
