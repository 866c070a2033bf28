"""Data-parallel user trainers: one process per GPU a trial holds (NCCL), or gloo processes on CPU.

The trial's process spawns ``world_size`` workers; each calls the user's function with its own rank. Rank 0's
reports, checkpoints and model come back through a queue and are reported to Ray Tune by the trial's process,
so a data-parallel trial reports exactly what a one-process trial reports.
"""

from __future__ import annotations

import queue as queue_module
from typing import Any, Callable

from raynas.errors import RunStoppingError
from raynas.targets._context import TrainerContractError


def run_ranks(payload: Any, *, world_size: int, on_report: Callable[[dict[str, Any], str | None], None],
              on_model: Callable[[str], None]) -> None:
    """Run ``payload`` (a picklable object with ``run(rank=, world_size=, port=, on_report=, on_model=)``) on
    ``world_size`` processes; re-raise the first error a rank hit."""
    import torch.multiprocessing as mp

    from raynas.training import free_port

    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    port = free_port()
    workers = [ctx.Process(target=_rank_main, args=(payload, rank, world_size, port, messages), daemon=True)
               for rank in range(world_size)]
    for worker in workers:
        worker.start()
    finished: set[int] = set()
    try:
        while len(finished) < world_size:
            try:
                kind, rank, body = messages.get(timeout=2.0)
            except queue_module.Empty:
                dead = [(r, w.exitcode) for r, w in enumerate(workers) if w.exitcode not in (None, 0) and r not in finished]
                if dead:
                    raise RuntimeError(f"data-parallel rank {dead[0][0]} exited with code {dead[0][1]}")
                continue
            if kind == "report":
                on_report(*body)
            elif kind == "model":
                on_model(body)
            elif kind == "done":
                finished.add(rank)
            elif kind == "contract":
                raise TrainerContractError(body)
            elif kind == "error":
                raise RuntimeError(f"rank {rank}: {body}")
    finally:
        for worker in workers:
            worker.join(timeout=10 if len(finished) == world_size else 0.1)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=10)


def _rank_main(payload: Any, rank: int, world_size: int, port: int, messages: Any) -> None:
    try:
        payload.run(rank=rank, world_size=world_size, port=port,
                    on_report=lambda metrics, checkpoint: messages.put(("report", rank, (metrics, checkpoint))),
                    on_model=lambda folder: messages.put(("model", rank, folder)))
    except (TrainerContractError, RunStoppingError) as exc:  # every trial would hit it: the run stops
        messages.put(("contract", rank, str(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - reported to the trial's process, which fails the trial
        messages.put(("error", rank, f"{type(exc).__name__}: {exc}"))
        return
    messages.put(("done", rank, None))
