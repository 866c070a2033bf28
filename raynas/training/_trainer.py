"""One training loop for proxy and full training: per-epoch reports, NaN detection, bf16/channels_last on CUDA."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from raynas._files import atomic_path
from raynas._parse import as_float, as_int, as_str
from raynas.errors import ConfigError


class NonFiniteLossError(ArithmeticError):
    """The training loss became NaN or infinite: the trial is invalid."""


@dataclass(frozen=True)
class TrainingRecipe:
    """The fixed training hyperparameters of a task (never searched in an architecture search)."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    batch_size: int = 64
    epochs: int = 10
    schedule: str = "cosine"
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if as_str("recipe.optimizer", self.optimizer) not in ("adam", "adamw", "sgd"):
            raise ConfigError("recipe.optimizer", self.optimizer, "adam, adamw or sgd")
        if as_str("recipe.schedule", self.schedule) not in ("cosine", "constant"):
            raise ConfigError("recipe.schedule", self.schedule, "cosine or constant")
        if not as_float("recipe.learning_rate", self.learning_rate) > 0:
            raise ConfigError("recipe.learning_rate", self.learning_rate, "a number > 0")
        as_float("recipe.weight_decay", self.weight_decay, minimum=0.0)
        as_float("recipe.momentum", self.momentum, minimum=0.0)
        as_int("recipe.batch_size", self.batch_size, minimum=1)
        as_int("recipe.epochs", self.epochs, minimum=1)
        if not 0 <= as_float("recipe.label_smoothing", self.label_smoothing) < 1:
            raise ConfigError("recipe.label_smoothing", self.label_smoothing, "a number in [0, 1)")


def pick_device(preferred: str = "auto") -> str:
    import torch

    if preferred == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preferred


def batches_per_epoch(examples: int, batch_size: int) -> int:
    """Batches of one epoch; a last batch of one example joins the one before it (batch normalisation cannot train
    on a batch of one, so such architectures would fail on data sizes that leave one over)."""
    steps = max(1, math.ceil(examples / batch_size))
    return steps - 1 if steps > 1 and examples % batch_size == 1 else steps


def train_and_evaluate(model: Any, *, train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
                       val_y: np.ndarray, recipe: TrainingRecipe, seed: int, device: str = "auto",
                       report: Callable[[dict[str, Any]], None] | None = None,
                       augment: Callable[[Any, Any], Any] | None = None,
                       checkpoint_path: str | None = None) -> dict[str, Any]:
    """Train ``model`` and return its final metrics; ``report`` gets the metrics of every epoch; ``augment``
    (batch, generator) -> batch transforms each training batch (an augmentation policy). With
    ``checkpoint_path`` the model, optimizer and epoch are saved there (atomically) after every epoch.

    Data lives on the device for the whole run (small proxy datasets fit). On CUDA the forward pass runs under
    bf16 autocast with channels_last memory layout; on CPU in fp32. Raises NonFiniteLossError on a NaN/Inf loss.
    """
    import torch
    from torch import nn

    device = pick_device(device)
    torch.manual_seed(seed)
    cuda = device.startswith("cuda")
    memory_format = torch.channels_last if cuda and np.ndim(train_x) == 4 else torch.contiguous_format  # images only
    model = model.to(device=device, memory_format=memory_format)
    xs = torch.as_tensor(train_x, device=device).contiguous(memory_format=memory_format)
    ys = torch.as_tensor(train_y, device=device, dtype=torch.long)
    vx = torch.as_tensor(val_x, device=device).contiguous(memory_format=memory_format)
    vy = torch.as_tensor(val_y, device=device, dtype=torch.long)
    optimizer = _optimizer(model, recipe)
    steps_per_epoch = batches_per_epoch(len(xs), recipe.batch_size)
    total_steps = steps_per_epoch * recipe.epochs
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps)
                if recipe.schedule == "cosine" else None)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    augment_generator = torch.Generator(device="cpu").manual_seed(seed + 1)
    metrics: dict[str, Any] = {}
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(xs), generator=generator).to(device)
        total_loss = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            end = len(xs) if step == steps_per_epoch - 1 else (step + 1) * recipe.batch_size
            batch = order[step * recipe.batch_size:end]
            loss = train_step(model, optimizer, schedule, loss_fn, xs, ys, batch, cuda=cuda, augment=augment,
                              augment_generator=augment_generator)
            total_loss += loss * len(batch)
        train_loss = float(total_loss) / len(xs)
        if not math.isfinite(train_loss):
            raise NonFiniteLossError(f"training loss is {train_loss} in epoch {epoch}")
        accuracy = evaluate_accuracy(model, vx, vy, batch_size=max(256, recipe.batch_size), cuda=cuda)
        metrics = {"epoch": epoch, "train_loss": train_loss, "val_accuracy": accuracy,
                   "lr": optimizer.param_groups[0]["lr"], "epoch_time": time.perf_counter() - start}
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model=model, optimizer=optimizer, epoch=epoch, metrics=metrics)
        if report is not None and epoch < recipe.epochs:
            report(dict(metrics))
    return metrics


def train_streamed(model: Any, *, train_data: Any, val_data: Any, recipe: TrainingRecipe, seed: int,
                   device: str = "auto", report: Callable[[dict[str, Any]], None] | None = None,
                   augment: Callable[[Any, Any], Any] | None = None, checkpoint_path: str | None = None,
                   workers: int = 2) -> dict[str, Any]:
    """:func:`train_and_evaluate` for data too large to hold in memory: the same recipe, reports, NaN detection and
    checkpoints, with ``train_data`` / ``val_data`` (torch Datasets of ``(tensor, label)``) streamed through
    DataLoaders whose ``workers`` processes read and decode examples while the model trains (seeded shuffle)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, RandomSampler

    device = pick_device(device)
    torch.manual_seed(seed)
    cuda = device.startswith("cuda")
    # the order comes from the sampler's own generator, the workers' seeds from the loader's: neither depends on
    # the number of workers nor touches the global random state
    options = {"num_workers": workers, "pin_memory": cuda, "persistent_workers": workers > 0,
               "generator": torch.Generator().manual_seed(seed + 2)}
    order = RandomSampler(train_data, generator=torch.Generator().manual_seed(seed))
    # a last batch of one example is left out of the epoch (batch normalisation cannot train on it)
    train_loader = DataLoader(train_data, batch_size=recipe.batch_size, sampler=order,
                              drop_last=len(train_data) > 1 and len(train_data) % recipe.batch_size == 1, **options)
    # the validation workers start for each evaluation: only the training ones stay while the model trains
    val_loader = DataLoader(val_data, batch_size=max(256, recipe.batch_size), shuffle=False,
                            **{**options, "persistent_workers": False})
    example = train_data[0][0]
    memory_format = torch.channels_last if cuda and example.dim() == 3 else torch.contiguous_format  # images only
    model = model.to(device=device, memory_format=memory_format)
    optimizer = _optimizer(model, recipe)
    steps_per_epoch = max(1, len(train_loader))
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps_per_epoch * recipe.epochs)
                if recipe.schedule == "cosine" else None)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    augment_generator = torch.Generator(device="cpu").manual_seed(seed + 1)

    def to_device(inputs: Any, labels: Any) -> tuple[Any, Any]:
        inputs = inputs.to(device, non_blocking=cuda).contiguous(memory_format=memory_format)
        return inputs, labels.to(device, dtype=torch.long, non_blocking=cuda)

    metrics: dict[str, Any] = {}
    try:
        for epoch in range(1, recipe.epochs + 1):
            model.train()
            start = time.perf_counter()
            total_loss, seen = torch.zeros((), device=device), 0
            for inputs, labels in train_loader:
                inputs, labels = to_device(inputs, labels)
                loss = train_step(model, optimizer, schedule, loss_fn, inputs, labels, slice(None), cuda=cuda,
                                  augment=augment, augment_generator=augment_generator)
                total_loss += loss * len(labels)
                seen += len(labels)
            train_loss = float(total_loss) / max(1, seen)
            if not math.isfinite(train_loss):
                raise NonFiniteLossError(f"training loss is {train_loss} in epoch {epoch}")
            model.eval()
            correct = total = 0
            with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                for inputs, labels in val_loader:
                    inputs, labels = to_device(inputs, labels)
                    correct += int((model(inputs).argmax(dim=1) == labels).sum())
                    total += len(labels)
            metrics = {"epoch": epoch, "train_loss": train_loss, "val_accuracy": 100.0 * correct / max(1, total),
                       "lr": optimizer.param_groups[0]["lr"], "epoch_time": time.perf_counter() - start}
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model=model, optimizer=optimizer, epoch=epoch, metrics=metrics)
            if report is not None and epoch < recipe.epochs:
                report(dict(metrics))
    finally:
        del train_loader, val_loader  # their worker processes end now, not whenever a kept traceback is freed
    return metrics


def train_step(model: Any, optimizer: Any, schedule: Any, loss_fn: Any, xs: Any, ys: Any, batch: Any, *,
               cuda: bool, augment: Callable[[Any, Any], Any] | None = None, augment_generator: Any = None) -> Any:
    """One optimisation step on ``xs[batch]`` (augmented when a policy is given); returns the detached loss."""
    import torch

    inputs = xs[batch] if augment is None else augment(xs[batch], augment_generator)
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
        loss = loss_fn(model(inputs), ys[batch])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if schedule is not None:
        schedule.step()
    return loss.detach().float()


def save_checkpoint(path: str, *, model: Any, optimizer: Any, epoch: int, metrics: dict[str, Any]) -> None:
    """Model and optimizer state, epoch and metrics, written to a temporary file then renamed."""
    import torch

    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "metrics": dict(metrics)}, tmp)


def evaluate_accuracy(model: Any, x: Any, y: Any, *, batch_size: int = 512, cuda: bool = False) -> float:
    """Top-1 accuracy in percent."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
        for start in range(0, len(x), batch_size):
            logits = model(x[start:start + batch_size])
            correct += int((logits.argmax(dim=1) == y[start:start + batch_size]).sum())
    return 100.0 * correct / max(1, len(x))


def _optimizer(model: Any, recipe: TrainingRecipe) -> Any:
    import torch

    params = model.parameters()
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.learning_rate, momentum=recipe.momentum,
                               weight_decay=recipe.weight_decay, nesterov=recipe.momentum > 0)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    return torch.optim.Adam(params, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
