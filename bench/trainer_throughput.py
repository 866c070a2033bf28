"""Training throughput of the raynas trainer vs a plain PyTorch loop written here, in the same run.

Same model (the NAS-Bench-201 all-conv3x3 cell network), batch size, optimizer and precision; both keep the
data on the device and evaluate once at the end of the epoch. Prints images/s of each and their ratio
(target: >= 0.9 on CPU, >= 0.95 on GPU). On a GPU it also reports the plain fp32 loop (what bf16 autocast and
channels_last buy) and the total throughput of 4 trials packed on the GPU (4 processes) vs 1.

    python bench/trainer_throughput.py [--images 2048] [--batch 64] [--width 0.25] [--repeats 5]
    python bench/trainer_throughput.py --smoke     # CI: 64 images (one batch), 1 run (no figure)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SMOKE = {"images": 64, "repeats": 1}  # --smoke: the smallest sizes that run every code path
ALL_CONV3X3 = {"cell": {k: "nor_conv_3x3" for k in ("0->1", "0->2", "1->2", "0->3", "1->3", "2->3")}}


def make_model(width: float):
    from raynas.families import load_family

    return load_family("nasbench201_cell").build(ALL_CONV3X3, in_channels=3, num_classes=10, image_size=32,
                                                 width_mult=width)


def make_data(images: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return (rng.random((images, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, images),
            rng.random((256, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, 256))


def raynas_trainer(args, device: str) -> float:
    import torch

    from raynas.training import TrainingRecipe, train_and_evaluate

    x, y, vx, vy = make_data(args.images)
    torch.manual_seed(0)
    model = make_model(args.width)
    recipe = TrainingRecipe(optimizer="sgd", learning_rate=0.05, batch_size=args.batch, epochs=1, schedule="constant")
    start = time.perf_counter()
    train_and_evaluate(model, train_x=x, train_y=y, val_x=vx, val_y=vy, recipe=recipe, seed=0, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return args.images / (time.perf_counter() - start)


def plain_loop(args, device: str, *, bf16_channels_last: bool) -> float:
    """What a user would write by hand: the baseline."""
    import torch
    from torch import nn

    x, y, vx, vy = make_data(args.images)
    torch.manual_seed(0)
    fmt = torch.channels_last if bf16_channels_last else torch.contiguous_format
    model = make_model(args.width).to(device=device, memory_format=fmt)
    start = time.perf_counter()
    xs = torch.as_tensor(x, device=device).contiguous(memory_format=fmt)
    ys = torch.as_tensor(y, device=device)
    vxs, vys = torch.as_tensor(vx, device=device).contiguous(memory_format=fmt), torch.as_tensor(vy, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(len(xs)).to(device)
    for i in range(0, len(xs), args.batch):
        batch = order[i:i + args.batch]
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=bf16_channels_last):
            loss = loss_fn(model(xs[batch]), ys[batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=bf16_channels_last):
        float((model(vxs).argmax(1) == vys).float().mean())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return args.images / (time.perf_counter() - start)


def _packed_worker(args, queue) -> None:
    queue.put(raynas_trainer(args, "cuda"))


def packed(args, processes: int) -> float:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_packed_worker, args=(args, queue)) for _ in range(processes)]
    for w in workers:
        w.start()
    rates = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    return sum(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=float, default=0.25, help="width_mult of the cell network (1.0 on GPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = device == "cuda"
    plain_rates, ours_rates = [], []
    plain_loop(args, device, bf16_channels_last=cuda)  # warm-up (allocator, kernels)
    for _ in range(args.repeats):
        plain_rates.append(plain_loop(args, device, bf16_channels_last=cuda))
        ours_rates.append(raynas_trainer(args, device))
    plain, ours = statistics.median(plain_rates), statistics.median(ours_rates)
    precision = "bf16 autocast + channels_last" if cuda else "fp32"
    print(f"device {device}, NAS-Bench-201 all-conv3x3 cell net (width x{args.width}), batch {args.batch}, "
          f"{args.images} images/epoch, {precision}, median of {args.repeats}")
    print(f"plain PyTorch loop : {plain:9.1f} images/s")
    print(f"raynas trainer     : {ours:9.1f} images/s")
    print(f"ratio raynas / plain loop = {ours / plain:.3f}  (target >= {0.95 if cuda else 0.9})")
    if cuda:
        fp32 = statistics.median(plain_loop(args, device, bf16_channels_last=False) for _ in range(args.repeats))
        print(f"plain loop fp32    : {fp32:9.1f} images/s  (bf16 + channels_last gives {plain / fp32:.2f}x)")
        one, four = packed(args, 1), packed(args, 4)
        print(f"1 trial on the GPU : {one:9.1f} images/s; 4 packed trials: {four:9.1f} images/s total "
              f"({four / one:.2f}x)")


if __name__ == "__main__":
    main()
