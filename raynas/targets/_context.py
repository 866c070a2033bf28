"""What a user trainer receives: one :class:`TrainerContext`, and nothing else to import from raynas.

A user trainer is a plain function ``train(ctx)``. Per trial it:

- builds a model for ``ctx.arch`` (with ``ctx.build(...)`` when the task names a model family with ``build``);
- trains it for ``ctx.variant["epochs"]`` epochs (``ctx.variant`` also holds the keys the user defined in the task's
  variants, e.g. ``steps`` or ``image_size``, which proxy candidates may vary);
- uses the two-stage split: ``train_set, val_set = ctx.datasets()`` (the task's ``dataset:``, split for this stage),
  or ``ctx.subsets(my_train_dataset, my_val_dataset)`` on datasets it loads itself (in the same order);
- calls ``ctx.report(epoch=e, val_accuracy=..., **other_metrics)`` once per epoch (the task's ``metric`` is what
  the search ranks; everything else is logged);
- optionally saves ``ctx.save_checkpoint(state, epoch=e)`` before reporting epoch ``e``: when the trial's worker is
  lost and the trial starts again, ``ctx.load_checkpoint()`` returns that state and ``ctx.start_epoch`` is ``e + 1``;
- optionally ``ctx.save_model(model)`` at the end (stage 2 and ``raynas export`` use it; a model built with
  ``ctx.build(...)`` on data from ``ctx.datasets()`` can be rebuilt and exported by raynas).

On a trial holding 2 or more GPUs the function runs once per GPU (``ctx.rank``, ``ctx.world_size``);
``ctx.wrap_model`` wraps the model in DistributedDataParallel and ``ctx.loader`` shards the data with a
DistributedSampler. Only rank 0's reports, checkpoints and model count; the other ranks' calls are no-ops.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from raynas._files import atomic_path
from raynas.errors import RaynasError

#: File names inside a trainer checkpoint directory.
STATE_FILE = "state.pt"
EPOCH_FILE = "raynas_epoch.json"
METRICS_FILE = "raynas_metrics.json"
MODEL_FILE = "model.pt"


#: Prefix of a trial's failure reason when the user trainer broke its contract (the engine stops the whole run).
CONTRACT_PREFIX = "trainer contract: "


class TrainerContractError(Exception):
    """The user trainer broke its contract (never reported, reported without the metric, a bad epoch...)."""


class TrainerContractBroken(RaynasError):
    """A trial found the user trainer breaking its contract (every trial would): the run was stopped."""


@dataclass(frozen=True)
class SplitIndices:
    """The indices a trial trains and validates on.

    Stage 1 (``stage1`` True): ``train`` and ``val`` both index the *training* dataset (about 90/10).
    Stage 2: ``train`` indexes the training dataset (all of it, or the variant's ``data_fraction``) and ``val`` is
    None: the whole real validation set.
    """

    train: np.ndarray
    val: np.ndarray | None
    stage1: bool
    fingerprint: str


class TrainerContext:
    """Everything a user trainer gets for one trial (see the module docstring for the contract)."""

    def __init__(self, *, arch: Any, variant: Mapping[str, Any], stage: str, seed: int, split: SplitIndices | None,
                 build: Callable[..., Any] | None, metric: str, rank: int, world_size: int, devices: list[str],
                 send_report: Callable[[dict[str, Any], str | None], None], restored: str | None,
                 send_model: Callable[[str], None], open_data: Callable[[], Any] | None = None,
                 describe_model: Callable[[dict[str, Any]], Any] | None = None, work_dir: str | None = None,
                 keep_model: bool = True) -> None:
        self.arch = arch
        self.variant = dict(variant)
        self.stage = stage
        self.seed = int(seed)
        self.split = split
        self.metric = metric
        self.rank = int(rank)
        self.world_size = int(world_size)
        #: The devices this trial holds ("cuda:0", "cuda:1"; ["cpu"] without GPUs); this process uses ``device``.
        self.devices = list(devices)
        self._build = build
        self._send_report = send_report
        self._send_model = send_model
        self._restored = restored
        self._open_data = open_data
        self._describe_model = describe_model
        self._pending_checkpoint: str | None = None
        #: What the last ``build``/``datasets`` call used: written beside the saved model so it can be rebuilt.
        self._built: dict[str, Any] = {}
        self._last_epoch = 0
        self.reports = 0
        #: Scratch space for the trainer's own files, removed when the trial ends and not restored after a lost
        #: worker (what must survive goes into ``save_checkpoint``).
        self.checkpoint_dir = Path(tempfile.mkdtemp(prefix=f"rank{self.rank}-", dir=work_dir))
        self._keep_model = keep_model

    # --- what to train ---------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        """True on rank 0 (the process whose reports count)."""
        return self.rank == 0

    @property
    def device(self) -> str:
        """The device this process trains on."""
        return self.devices[self.rank] if self.rank < len(self.devices) else self.devices[0]

    def build(self, **kwargs: Any) -> Any:
        """The task's model family's ``build(ctx.arch, **kwargs)``."""
        if self._build is None:
            raise TrainerContractError("the task's model family defines no build(arch, ...): build the model "
                                       "yourself from ctx.arch")
        self._built["build_kwargs"] = dict(kwargs)
        model = self._build(self.arch, **kwargs)
        self._built["params"] = int(sum(p.numel() for p in model.parameters()))
        return model

    def datasets(self, *, image_size: int | None = None) -> tuple[Any, Any]:
        """``(train, validation)`` torch Datasets of this stage, read from the task's ``dataset:`` (any kind): the
        split already applied. ``image_size`` resizes image datasets (e.g. a proxy's smaller input)."""
        if self._open_data is None:
            raise TrainerContractError("this task names no `dataset:`, so raynas has no data to give: load your "
                                       "data yourself, or add a dataset to the task file")
        source = self._open_data()
        train, val = self.subsets(source.train_dataset(image_size=image_size), source.val_dataset(image_size=image_size))
        if len(train):
            self._built.update(input_shape=tuple(int(n) for n in train[0][0].shape), dataset=str(source.name),
                               num_classes=int(source.num_classes))
        return train, val

    def subsets(self, train_dataset: Any, val_dataset: Any = None) -> tuple[Any, Any]:
        """``(train, validation)`` torch Subsets of this stage's split (see :class:`SplitIndices`)."""
        from torch.utils.data import Subset

        if self.split is None:
            raise TrainerContractError("this task names no `dataset:`, so raynas made no split: add a dataset to the "
                                       "task file (any kind, e.g. {kind: callable, function: ./data.py:datasets})")
        train = Subset(train_dataset, self.split.train.tolist())
        if self.split.stage1:
            return train, Subset(train_dataset, self.split.val.tolist())
        if val_dataset is None:
            raise TrainerContractError("stage 2 validates on the real validation set: pass it, "
                                       "ctx.subsets(train_dataset, val_dataset)")
        return train, val_dataset

    # --- data-parallel helpers ---------------------------------------------------------------------------
    def wrap_model(self, model: Any) -> Any:
        """``model`` on this process's device; wrapped in DistributedDataParallel when the trial holds 2+ GPUs."""
        model = model.to(self.device)
        if self.world_size < 2:
            return model
        from torch.nn.parallel import DistributedDataParallel

        cuda = self.device.startswith("cuda")
        return DistributedDataParallel(model, device_ids=[int(self.device.split(":")[1])] if cuda else None)

    @staticmethod
    def unwrap(model: Any) -> Any:
        """The plain module inside a DistributedDataParallel wrapper (for evaluation and saving)."""
        return getattr(model, "module", model)

    def sampler(self, dataset: Any, *, shuffle: bool = True) -> Any:
        """A DistributedSampler over ``dataset`` with 2+ processes, else a seeded random (or sequential) one."""
        import torch
        from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

        if self.world_size > 1:
            return DistributedSampler(dataset, num_replicas=self.world_size, rank=self.rank, shuffle=shuffle,
                                      seed=self.seed)
        if not shuffle:
            return SequentialSampler(dataset)
        return RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))

    def loader(self, dataset: Any, *, batch_size: int, shuffle: bool = True, epoch: int | None = None,
               **kwargs: Any) -> Any:
        """A DataLoader with :meth:`sampler`; ``batch_size`` is per process. Pass ``epoch`` to reshuffle."""
        from torch.utils.data import DataLoader

        sampler = self.sampler(dataset, shuffle=shuffle)
        if epoch is not None and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **kwargs)

    # --- reporting and checkpoints -------------------------------------------------------------------------
    def report(self, *, epoch: int, **metrics: Any) -> None:
        """Report one epoch's metrics (call once per epoch, epochs counting up from ``start_epoch``)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 1:
            raise TrainerContractError(f"ctx.report(epoch={epoch!r}): epoch must be an integer >= 1")
        if epoch <= self._last_epoch:
            raise TrainerContractError(f"ctx.report(epoch={epoch}) after epoch {self._last_epoch}: report each "
                                       "epoch once, counting up")
        if self.metric not in metrics:
            raise TrainerContractError(
                f"ctx.report(epoch={epoch}, {', '.join(sorted(metrics)) or 'no metrics'}) has no {self.metric!r}, "
                f"the task's metric: report it every epoch, e.g. ctx.report(epoch=epoch, {self.metric}=accuracy)")
        clean: dict[str, Any] = {}
        for key, value in metrics.items():
            if hasattr(value, "item"):  # tensors and numpy scalars
                value = value.item()
            if not isinstance(value, (int, float, str, bool)):
                raise TrainerContractError(f"ctx.report(..., {key}={type(value).__name__}): metrics must be numbers "
                                           "or strings")
            clean[key] = value
        if isinstance(clean[self.metric], (str, bool)):
            raise TrainerContractError(f"ctx.report(..., {self.metric}={clean[self.metric]!r}): the task's metric "
                                       "must be a number")
        self._last_epoch = int(epoch)
        self.reports += 1
        if "params" in self._built:  # the size of a model built with ctx.build, reported like the built-in trainer's
            clean.setdefault("params", self._built["params"])
        if self.is_main and self._pending_checkpoint is not None:  # the checkpoint knows what its epoch reported
            (Path(self._pending_checkpoint) / METRICS_FILE).write_text(json.dumps({"epoch": int(epoch), **clean}))
        if self.is_main:
            self._send_report({"epoch": int(epoch), **clean}, self._pending_checkpoint)
        self._pending_checkpoint = None

    def save_checkpoint(self, state: Any, *, epoch: int) -> None:
        """Save ``state`` (anything torch.save takes) as the checkpoint of ``epoch``; it is kept with the next
        report. Save before reporting that epoch."""
        if not self.is_main:
            return
        import torch

        folder = Path(tempfile.mkdtemp(prefix="raynas-ckpt-", dir=self.checkpoint_dir))
        torch.save(state, folder / STATE_FILE)
        (folder / EPOCH_FILE).write_text(json.dumps({"epoch": int(epoch)}))
        self._pending_checkpoint = str(folder)

    def load_checkpoint(self) -> Any:
        """The state saved by the last checkpoint before this trial was started again, or None."""
        if self._restored is None or not (Path(self._restored) / STATE_FILE).is_file():
            return None
        import torch

        return torch.load(Path(self._restored) / STATE_FILE, map_location=self.device, weights_only=False)

    @property
    def start_epoch(self) -> int:
        """The first epoch to train: 1, or the epoch after the restored checkpoint's."""
        if self._restored is None or not (Path(self._restored) / EPOCH_FILE).is_file():
            return 1
        return int(json.loads((Path(self._restored) / EPOCH_FILE).read_text())["epoch"]) + 1

    def save_model(self, model: Any, *, input_shape: tuple[int, ...] | None = None) -> None:
        """Keep the trained model's weights as the trial's result (stage 2, ``raynas export``); a no-op in trials
        whose model is not kept (stage-1 proxies). ``raynas export`` can rebuild a model built with ``ctx.build``
        whose input shape it knows: from ``ctx.datasets()``, or ``input_shape`` (one example's, without the batch)."""
        if not self.is_main or not self._keep_model:
            return
        import torch

        folder = Path(tempfile.mkdtemp(prefix="raynas-model-"))
        state = {k: v.detach().cpu() for k, v in self.unwrap(model).state_dict().items()}
        with atomic_path(folder / MODEL_FILE) as tmp:
            torch.save({"model": state, "epoch": self._last_epoch, "metrics": {}}, tmp)
        if input_shape is not None:  # one example's shape, when the model was not trained on ctx.datasets()
            self._built["input_shape"] = tuple(int(n) for n in input_shape)
        if self._describe_model is not None and "build_kwargs" in self._built and self._built.get("input_shape"):
            self._describe_model(self._built).write(folder / "model.json")  # how `raynas export` rebuilds it
        self._send_model(str(folder))
