"""Parameter count and FLOPs of every NAS-Bench-201 cell: the ``params`` and ``flops`` columns of the bundled table.

Builds NAS-Bench-201's CIFAR-10 network in PyTorch once per cell (on PyTorch's ``meta`` device: shapes only, no
weights) and counts

- ``params``: trainable parameters (``sum(p.numel())``: conv weights, BatchNorm affine weight and bias, the
  classifier's weight and bias; BatchNorm running statistics are buffers, not parameters);
- ``flops``: multiply-adds of one 3x32x32 image through every Conv2d and Linear layer (forward hooks:
  ``k_h * k_w * C_in * C_out / groups`` per output position, plus ``C_out`` per position for a bias; a Linear layer
  ``in * out + out``). Pooling, BatchNorm, ReLU and additions are not counted: the convention of NAS-Bench-201's
  own counter (xautodl ``utils/flop_benchmark.py``, which sums Conv2d and Linear layers only).

Every edge is built, ``none`` included (a zero op) and whether or not its output reaches the cell's output, as in
the benchmark's ``InferCell``; so two cells that compute the same function may differ in ``params``.

The network (Dong & Yang, ICLR 2020): stem conv3x3 3->16 + BN; three stages of 5 cells (C = 16, 32, 64 on 32x32,
16x16, 8x8) with a residual reduction block between stages (ReLU-conv3x3 stride 2-BN, ReLU-conv3x3-BN, shortcut
avgpool 2x2 + conv1x1); cell ops nor_conv_3x3 / nor_conv_1x1 = ReLU-Conv-BN, avg_pool_3x3, skip_connect, none;
then BN-ReLU-global average pool-Linear(64, 10).

Every cell's counts come from a closed form (:func:`closed_form`), checked against the torch count on ``--check``
cells spread over the space (the smallest and largest networks among them; building a network takes ~0.3 s, so
all 15,625 would take over an hour on 2 cores), and against the bundled table's columns on every row. ``--write``
rebuilds the bundled Parquet table from the source CSV (values unchanged) with the two columns appended.

    python bench/nasbench201_params_flops.py                 # torch on 300 cells, closed form on all, ranges
    python bench/nasbench201_params_flops.py --write         # ... and rewrite raynas/benchmarks/data/*.parquet
    python bench/nasbench201_params_flops.py --smoke         # CI: torch on 4 cells
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from raynas.benchmarks import EDGES, OPERATIONS, edge_key, load_table, string_to_arch

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "benchmarks" / "nasbench201" / "cifar10.csv"
TARGET = ROOT / "raynas" / "benchmarks" / "data" / "nasbench201_cifar10.parquet"
STAGES = ((16, 32), (32, 16), (64, 8))  # (channels, feature map side) of the three stages
CELLS_PER_STAGE = 5
NUM_CLASSES = 10
SMOKE = {"check": 4}


def build_network(cell: dict[str, str]):  # noqa: ANN201 - torch imported inside
    """NAS-Bench-201's CIFAR-10 network for one cell (``{"0->1": op, ...}``): the repository's real cell network
    (``search_spaces/nasbench201_cell.py``, the benchmark's macro skeleton) at its full width and depth."""
    import importlib.util

    path = ROOT / "search_spaces" / "nasbench201_cell.py"
    spec = importlib.util.spec_from_file_location("nasbench201_cell", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build({"cell": cell}, in_channels=3, num_classes=NUM_CLASSES, image_size=32)


def torch_counts(cell: dict[str, str]) -> tuple[int, int]:
    """(parameters, multiply-adds of Conv2d and Linear layers for one 3x32x32 image) of the cell's network."""
    import torch
    from torch import nn

    with torch.device("meta"):
        net = build_network(cell)
    params = sum(p.numel() for p in net.parameters())
    flops = [0]

    def conv_hook(module: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        kh, kw = module.kernel_size
        positions = output.shape[0] * output.shape[2] * output.shape[3]
        flops[0] += kh * kw * module.in_channels * module.out_channels // module.groups * positions
        if module.bias is not None:
            flops[0] += module.out_channels * positions

    def linear_hook(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        flops[0] += output.shape[0] * (module.in_features * module.out_features
                                       + (module.out_features if module.bias is not None else 0))

    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(conv_hook)
        elif isinstance(module, nn.Linear):
            module.register_forward_hook(linear_hook)
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32, device="meta"))
    return params, flops[0]


def closed_form(cell: dict[str, str]) -> tuple[int, int]:
    """The same two counts by formula: a fixed network (stem, reduction blocks, head) plus each edge's op."""
    c0 = STAGES[0][0]
    params = 9 * 3 * c0 + 2 * c0  # stem conv + BN
    flops = 9 * 3 * c0 * STAGES[0][1] ** 2
    for (c_in, _), (c_out, side) in zip(STAGES, STAGES[1:]):  # reduction blocks
        params += 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out
        flops += (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * side * side
    last = STAGES[-1][0]
    params += 2 * last + last * NUM_CLASSES + NUM_CLASSES  # final BN, classifier
    flops += last * NUM_CLASSES + NUM_CLASSES
    kernel = {"nor_conv_3x3": 9, "nor_conv_1x1": 1}
    for op in cell.values():
        if op in kernel:
            for channels, side in STAGES:
                params += CELLS_PER_STAGE * (kernel[op] * channels * channels + 2 * channels)
                flops += CELLS_PER_STAGE * kernel[op] * channels * channels * side * side
    return params, flops


def all_cells() -> list[dict[str, str]]:
    return [{edge_key(t, s): op for (t, s), op in zip(EDGES, ops)} for ops in itertools.product(OPERATIONS, repeat=6)]


def sample(cells: list[dict[str, str]], count: int) -> list[dict[str, str]]:
    """``count`` cells spread over ``cells``, with the smallest network (all ``none``) and the largest (all
    ``nor_conv_3x3``) first."""
    extremes = [{edge_key(t, s): op for t, s in EDGES} for op in ("none", "nor_conv_3x3")]
    spread = cells[:: max(1, len(cells) // max(1, count - 2))]
    return (extremes + [c for c in spread if c not in extremes])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", type=int, default=300, help="cells counted with torch (default %(default)s)")
    parser.add_argument("--write", action="store_true", help=f"rewrite {TARGET.relative_to(ROOT)} from --source")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the NAS-Bench-201 CSV (default: %(default)s)")
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    cells = all_cells()
    started = time.perf_counter()
    checked = sample(cells, args.check)
    for cell in checked:
        counted, formula = torch_counts(cell), closed_form(cell)
        if counted != formula:
            raise SystemExit(f"torch count {counted} != closed form {formula} for {cell}")
    print(f"{len(checked)} cells counted with torch in {time.perf_counter() - started:.1f} s: the closed form agrees "
          "on every one")
    counts = {tuple(cell[edge_key(t, s)] for t, s in EDGES): closed_form(cell) for cell in cells}
    params = np.array([p for p, _ in counts.values()], dtype=float)
    flops = np.array([f for _, f in counts.values()], dtype=float)
    print(f"all {len(counts)} cells: params {params.min() / 1e6:.4f} - {params.max() / 1e6:.4f} M, FLOPs "
          f"{flops.min() / 1e6:.3f} - {flops.max() / 1e6:.3f} M (NAS-Bench-201 reports params 0.073 - 1.531 M and "
          "FLOPs up to about 220 M)")
    if args.write:
        write(args.source, counts)
    table = load_table()
    if "params" in table.columns and "flops" in table.columns:  # the bundled columns agree with the counts
        for row, text in enumerate(table.arch):
            cell = string_to_arch(text)["cell"]
            expected = counts[tuple(cell[edge_key(t, s)] for t, s in EDGES)]
            if (table.columns["params"][row], table.columns["flops"][row]) != expected:
                raise SystemExit(f"bundled table row {row} holds params/flops {table.columns['params'][row]}/"
                                 f"{table.columns['flops'][row]}, counted {expected}")
        print(f"the bundled table's params and flops columns agree on all {len(table)} rows")
    else:
        print("the bundled table has no params/flops columns yet (run with --write)")


def write(source: Path, counts: dict) -> None:
    """Rebuild the bundled Parquet table: the source CSV's columns unchanged, then ``params`` and ``flops``."""
    import pandas as pd

    frame = pd.read_csv(source)
    keys = [tuple(string_to_arch(a)["cell"][edge_key(t, s)] for t, s in EDGES) for a in frame["arch"]]
    frame["params"] = np.array([counts[k][0] for k in keys], dtype=float)
    frame["flops"] = np.array([counts[k][1] for k in keys], dtype=float)
    frame.to_parquet(TARGET, compression="zstd", index=False)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(frame)} rows, columns {list(frame.columns)}")


if __name__ == "__main__":
    main()
