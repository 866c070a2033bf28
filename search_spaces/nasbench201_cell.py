"""nasbench201_cell: the real NAS-Bench-201 cell network, over the same space as the tabular benchmark.

Architectures are the benchmark's (``{"cell": {"0->1": op, ...}}``, 5 operations on 6 edges), so a real
training run and the table can be compared. Macro skeleton of the benchmark: a 3x3 conv stem (16 channels),
three stages of N=5 cells (16, 32, 64 channels) joined by residual reduction blocks, global pooling and a
linear classifier. ``width_mult`` scales the channels and ``depth_mult`` the cells per stage (proxy tasks).
"""

from __future__ import annotations

from raynas.benchmarks import EDGES, edge_key, nasbench201_space

NAME = "nasbench201_cell"
SPACE = nasbench201_space()
CELLS_PER_STAGE = 5
BASE_CHANNELS = 16


def build(arch: dict, *, in_channels: int, num_classes: int, image_size: int, width_mult: float = 1.0,
          depth_mult: float = 1.0):
    """The cell network of an architecture."""
    import torch
    from torch import nn

    def relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Module:
        return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                             nn.BatchNorm2d(c_out))

    class Zero(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mul(0.0)

    def operation(name: str, channels: int) -> nn.Module:
        if name == "none":
            return Zero()
        if name == "skip_connect":
            return nn.Identity()
        if name == "nor_conv_1x1":
            return relu_conv_bn(channels, channels, 1)
        if name == "nor_conv_3x3":
            return relu_conv_bn(channels, channels, 3)
        if name == "avg_pool_3x3":
            return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        raise ValueError(f"unknown NAS-Bench-201 operation {name!r}")

    class Cell(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.edges = nn.ModuleDict({edge_key(t, s): operation(arch["cell"][edge_key(t, s)], channels)
                                        for t, s in EDGES})

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            nodes = [x]
            for target in (1, 2, 3):
                nodes.append(sum(self.edges[edge_key(target, s)](nodes[s]) for s in range(target)))
            return nodes[3]

    class Reduction(nn.Module):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.a = relu_conv_bn(c_in, c_out, 3, 2)
            self.b = relu_conv_bn(c_out, c_out, 3, 1)
            self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(self.a(x)) + self.shortcut(x)

    channels = max(4, int(round(BASE_CHANNELS * width_mult)))
    cells = max(1, int(round(CELLS_PER_STAGE * depth_mult)))
    layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)]
    for stage in range(3):
        if stage > 0:
            layers.append(Reduction(channels, channels * 2))
            channels *= 2
        layers += [Cell(channels) for _ in range(cells)]
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
