"""Data-parallel training inside one trial: one process per GPU the trial holds (NCCL), or gloo on CPU.

The trial's own process starts ``world_size`` worker processes (spawn), each trains a replica wrapped in
DistributedDataParallel on its share of every global batch; rank 0 evaluates and sends each epoch's metrics
back, so the trial reports exactly what a one-process trial reports. Data is arrays (each process holds them) or
torch Datasets streamed by each process's own DataLoader workers (image folders: each rank decodes its share).
"""

from __future__ import annotations

import math
import socket
import time
from typing import Any, Callable

import numpy as np

from raynas.training._trainer import NonFiniteLossError, TrainingRecipe, _optimizer, evaluate_accuracy, train_step


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_data_parallel(build: Callable[[], Any], *, world_size: int, train_x: np.ndarray | None = None,
                        train_y: np.ndarray | None = None, val_x: np.ndarray | None = None,
                        val_y: np.ndarray | None = None, recipe: TrainingRecipe, seed: int, use_cuda: bool,
                        report: Callable[[dict[str, Any]], None] | None = None,
                        augmentation: dict[str, Any] | None = None, train_data: Any = None, val_data: Any = None,
                        loader_workers: int = 2) -> dict[str, Any]:
    """Like :func:`train_and_evaluate` with ``world_size`` data-parallel processes; ``build`` must be picklable.

    With ``train_data`` / ``val_data`` (picklable torch Datasets) instead of arrays, like :func:`train_streamed`:
    each process reads its share of every global batch through ``loader_workers`` DataLoader workers."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    stream = None if train_data is None else (train_data, val_data, loader_workers)
    workers = [ctx.Process(target=_worker, args=(rank, world_size, port, build, train_x, train_y, val_x, val_y,
                                                 recipe, seed, use_cuda, queue, augmentation, stream), daemon=True)
               for rank in range(world_size)]
    for worker in workers:
        worker.start()
    final: dict[str, Any] | None = None
    error: tuple[str, str] | None = None
    try:
        while final is None and error is None:
            try:
                kind, payload = queue.get(timeout=5.0)
            except Exception:  # noqa: BLE001 - queue.Empty: check that the workers are still alive
                dead = [w for w in workers if w.exitcode not in (None, 0)]
                if dead:
                    error = ("failed", f"data-parallel worker exited with code {dead[0].exitcode}")
                continue
            if kind == "epoch" and report is not None:
                report(payload)
            elif kind == "done":
                final = payload
            elif kind in ("nan", "failed"):
                error = (kind, payload)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    if error is not None:
        if error[0] == "nan":
            raise NonFiniteLossError(error[1])
        raise RuntimeError(error[1])
    return final  # type: ignore[return-value]


def _worker(rank: int, world_size: int, port: int, build: Callable[[], Any], train_x: np.ndarray,
            train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, recipe: TrainingRecipe, seed: int,
            use_cuda: bool, queue: Any, augmentation: dict[str, Any] | None = None, stream: Any = None) -> None:
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    try:
        dist.init_process_group("nccl" if use_cuda else "gloo", init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world_size)
        device = torch.device(f"cuda:{rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(device)
        torch.manual_seed(seed)
        images = np.ndim(train_x) == 4 if stream is None else stream[0][0][0].dim() == 3
        memory_format = torch.channels_last if use_cuda and images else torch.contiguous_format
        model = build().to(device=device, memory_format=memory_format)
        ddp = DistributedDataParallel(model, device_ids=[rank] if use_cuda else None)
        if stream is None:
            xs = torch.as_tensor(train_x, device=device).contiguous(memory_format=memory_format)
            ys = torch.as_tensor(train_y, device=device, dtype=torch.long)
            steps = max(1, math.ceil(len(xs) / recipe.batch_size))
        else:
            loader, val_loader = _rank_loaders(stream, recipe.batch_size, rank, world_size, seed, use_cuda)
            steps = len(loader.batch_sampler)
        optimizer = _optimizer(ddp, recipe)
        schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps * recipe.epochs)
                    if recipe.schedule == "cosine" else None)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        generator = torch.Generator().manual_seed(seed)  # the same global order on every rank
        from raynas.augment import make_augmenter

        augment = make_augmenter(augmentation)
        augment_generator = torch.Generator().manual_seed(seed + 1 + rank)
        metrics: dict[str, Any] = {}
        for epoch in range(1, recipe.epochs + 1):
            ddp.train()
            start = time.perf_counter()
            total = torch.zeros(2, device=device)  # loss sum, examples
            if stream is not None:
                for inputs, labels in loader:
                    inputs = inputs.to(device, non_blocking=use_cuda).contiguous(memory_format=memory_format)
                    labels = labels.to(device, dtype=torch.long, non_blocking=use_cuda)
                    loss = train_step(ddp, optimizer, schedule, loss_fn, inputs, labels, slice(None), cuda=use_cuda,
                                      augment=augment, augment_generator=augment_generator)
                    total += torch.stack([loss * len(labels), torch.tensor(float(len(labels)), device=device)])
            else:
                order = torch.randperm(len(xs), generator=generator).to(device)
                for step in range(steps):
                    batch = order[step * recipe.batch_size:(step + 1) * recipe.batch_size][rank::world_size]
                    if len(batch) == 0:
                        batch = order[:1]
                    loss = train_step(ddp, optimizer, schedule, loss_fn, xs, ys, batch, cuda=use_cuda,
                                      augment=augment, augment_generator=augment_generator)
                    total += torch.stack([loss * len(batch), torch.tensor(float(len(batch)), device=device)])
            dist.all_reduce(total)
            train_loss = float(total[0] / total[1])
            if not math.isfinite(train_loss):
                if rank == 0:
                    queue.put(("nan", f"training loss is {train_loss} in epoch {epoch}"))
                return
            if rank == 0:
                if stream is not None:
                    accuracy = _loader_accuracy(model, val_loader, device, memory_format, use_cuda)
                else:
                    vx = torch.as_tensor(val_x, device=device).contiguous(memory_format=memory_format)
                    vy = torch.as_tensor(val_y, device=device, dtype=torch.long)
                    accuracy = evaluate_accuracy(model, vx, vy, batch_size=max(256, recipe.batch_size), cuda=use_cuda)
                metrics = {"epoch": epoch, "train_loss": train_loss, "val_accuracy": accuracy,
                           "lr": optimizer.param_groups[0]["lr"], "epoch_time": time.perf_counter() - start,
                           "workers": world_size}
                queue.put(("epoch" if epoch < recipe.epochs else "done", dict(metrics)))
            dist.barrier()
    except Exception as exc:  # noqa: BLE001 - reported to the trial process, which fails the trial
        queue.put(("failed", f"rank {rank}: {type(exc).__name__}: {exc}"))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


class _RankBatches:
    """This rank's share of every global batch, in the seeded global order every rank draws alike (a batch sampler)."""

    def __init__(self, size: int, batch_size: int, rank: int, world_size: int, seed: int) -> None:
        import torch

        self.size, self.batch_size, self.rank, self.world_size = size, batch_size, rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return max(1, math.ceil(self.size / self.batch_size))

    def __iter__(self) -> Any:
        import torch

        order = torch.randperm(self.size, generator=self.generator)
        for step in range(len(self)):
            batch = order[step * self.batch_size:(step + 1) * self.batch_size][self.rank::self.world_size]
            yield (batch if len(batch) else order[:1]).tolist()


def _rank_loaders(stream: Any, batch_size: int, rank: int, world_size: int, seed: int, use_cuda: bool) -> Any:
    """The training DataLoader of this rank and (rank 0 only) the validation one."""
    import torch
    from torch.utils.data import DataLoader

    train_data, val_data, workers = stream
    options = {"num_workers": workers, "pin_memory": use_cuda, "generator": torch.Generator().manual_seed(seed + 2)}
    loader = DataLoader(train_data, batch_sampler=_RankBatches(len(train_data), batch_size, rank, world_size, seed),
                        persistent_workers=workers > 0, **options)
    val_loader = DataLoader(val_data, batch_size=max(256, batch_size), **options) if rank == 0 else None
    return loader, val_loader


def _loader_accuracy(model: Any, loader: Any, device: Any, memory_format: Any, cuda: bool) -> float:
    import torch

    model.eval()
    correct = total = 0
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
        for inputs, labels in loader:
            inputs = inputs.to(device, non_blocking=cuda).contiguous(memory_format=memory_format)
            labels = labels.to(device, dtype=torch.long, non_blocking=cuda)
            correct += int((model(inputs).argmax(dim=1) == labels).sum())
            total += len(labels)
    return 100.0 * correct / max(1, total)
