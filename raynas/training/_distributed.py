"""Data-parallel training inside one trial: one process per GPU the trial holds (NCCL), or gloo on CPU.

The trial's own process starts ``world_size`` worker processes (spawn), each trains a replica wrapped in
DistributedDataParallel on its share of every global batch; rank 0 evaluates and sends each epoch's metrics
back, so the trial reports exactly what a one-process trial reports.
"""

from __future__ import annotations

import math
import socket
import time
from typing import Any, Callable

import numpy as np

from raynas.training._trainer import NonFiniteLossError, TrainingRecipe, _optimizer, evaluate_accuracy, train_step


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_data_parallel(build: Callable[[], Any], *, world_size: int, train_x: np.ndarray, train_y: np.ndarray,
                        val_x: np.ndarray, val_y: np.ndarray, recipe: TrainingRecipe, seed: int, use_cuda: bool,
                        report: Callable[[dict[str, Any]], None] | None = None,
                        augmentation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Like :func:`train_and_evaluate` with ``world_size`` data-parallel processes; ``build`` must be picklable."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    workers = [ctx.Process(target=_worker, args=(rank, world_size, port, build, train_x, train_y, val_x, val_y,
                                                 recipe, seed, use_cuda, queue, augmentation), daemon=True)
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
            use_cuda: bool, queue: Any, augmentation: dict[str, Any] | None = None) -> None:
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
        memory_format = torch.channels_last if use_cuda and np.ndim(train_x) == 4 else torch.contiguous_format
        model = build().to(device=device, memory_format=memory_format)
        ddp = DistributedDataParallel(model, device_ids=[rank] if use_cuda else None)
        xs = torch.as_tensor(train_x, device=device).contiguous(memory_format=memory_format)
        ys = torch.as_tensor(train_y, device=device, dtype=torch.long)
        optimizer = _optimizer(ddp, recipe)
        steps = max(1, math.ceil(len(xs) / recipe.batch_size))
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
            order = torch.randperm(len(xs), generator=generator).to(device)
            total = torch.zeros(2, device=device)  # loss sum, examples
            for step in range(steps):
                batch = order[step * recipe.batch_size:(step + 1) * recipe.batch_size][rank::world_size]
                if len(batch) == 0:
                    batch = order[:1]
                loss = train_step(ddp, optimizer, schedule, loss_fn, xs, ys, batch, cuda=use_cuda, augment=augment,
                                  augment_generator=augment_generator)
                total += torch.stack([loss * len(batch), torch.tensor(float(len(batch)), device=device)])
            dist.all_reduce(total)
            train_loss = float(total[0] / total[1])
            if not math.isfinite(train_loss):
                if rank == 0:
                    queue.put(("nan", f"training loss is {train_loss} in epoch {epoch}"))
                return
            if rank == 0:
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
