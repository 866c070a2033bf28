"""Cost of a model: inference latency (median of repeats after warm-up), peak memory, parameters and FLOPs."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ModelCost:
    """Measured cost of one model; ``memory_mb`` is the CUDA peak on GPU, an estimate on CPU (see below)."""

    latency_ms: float
    latency_p90_ms: float
    memory_mb: float
    params: int
    flops: int
    batch_size: int
    device: str
    memory_source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_flops(model: Any, example: Any) -> int:
    """FLOPs of one forward pass on ``example`` (torch's own counter; multiply-add = 2 FLOPs), in eval mode: batch
    normalisation neither fails on a batch of one nor keeps statistics of the example."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(example)
    finally:
        model.train(training)
    return int(counter.get_total_flops())


def measure_model(model: Any, *, input_shape: tuple[int, ...], batch_size: int = 1, device: str = "cpu",
                  warmup: int = 10, repeats: int = 50) -> ModelCost:
    """Latency (median and 90th percentile of ``repeats`` timed forward passes after ``warmup``), memory,
    parameter count and FLOPs (per sample).

    Memory: on CUDA the allocator's peak during a forward pass; on CPU parameters + buffers + the largest
    pair of consecutive layer outputs (an estimate of inference memory, labelled ``memory_source``).
    """
    import torch

    model = model.to(device).eval()
    example = torch.randn(batch_size, *input_shape, device=device)
    params = int(sum(p.numel() for p in model.parameters()))
    flops = count_flops(model, example[:1])
    cuda = device.startswith("cuda")
    with torch.no_grad():
        for _ in range(warmup):
            model(example)
        if cuda:
            torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(example)
            if cuda:
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000.0)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            model(example)
            memory = torch.cuda.max_memory_allocated() / 2**20
            source = "cuda peak allocated"
        else:
            memory = _cpu_memory_estimate(model, example)
            source = "estimate: weights + largest consecutive activations"
    times.sort()
    return ModelCost(statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))], memory, params,
                     flops, batch_size, device, source)


def _cpu_memory_estimate(model: Any, example: Any) -> float:
    import torch

    sizes: list[int] = []

    def hook(module: Any, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * output.element_size())

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model(example)
    finally:
        for h in handles:
            h.remove()
    weights = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
    peak = max((a + b for a, b in zip(sizes, sizes[1:])), default=sum(sizes))
    return (weights + peak + example.numel() * example.element_size()) / 2**20
