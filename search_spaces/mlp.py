"""mlp: a multi-layer perceptron family for tabular (or flattened) inputs.

Decisions: number of hidden layers, width of each, activation, normalisation, residual connections.
"""

from __future__ import annotations

from raynas.space import SearchSpace, one_of

NAME = "mlp"
#: The plain baseline `raynas baseline` full-trains: two ReLU layers of 64, no normalisation, no residuals.
BASELINE = {"widths": [64, 64], "activation": "relu", "norm": "none", "residual": False}

SPACE = SearchSpace(
    {
        # a conditional choice: the depth decides how many width decisions exist
        "widths": one_of(*[[one_of(32, 64, 128, 256) for _ in range(depth)] for depth in (1, 2, 3, 4)]),
        "activation": one_of("relu", "gelu", "tanh"),
        "norm": one_of("none", "layer", "batch"),
        "residual": one_of(True, False),
    },
    name=NAME,
)


def build(arch: dict, *, in_channels: int, num_classes: int, image_size: int, width_mult: float = 1.0,
          depth_mult: float = 1.0):
    """The torch module of an architecture (inputs of shape (N, C, H, W) are flattened)."""
    import torch
    from torch import nn

    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}

    class Block(nn.Module):
        def __init__(self, width_in: int, width_out: int) -> None:
            super().__init__()
            self.linear = nn.Linear(width_in, width_out)
            norm = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}[arch["norm"]]
            self.norm = norm(width_out) if arch["norm"] != "none" else nn.Identity()
            self.act = activations[arch["activation"]]()
            self.residual = arch["residual"] and width_in == width_out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.act(self.norm(self.linear(x)))
            return x + out if self.residual else out

    width_in = in_channels * image_size * image_size
    depth = max(1, round(len(arch["widths"]) * depth_mult))
    blocks = []
    for width in arch["widths"][:depth]:
        width = max(4, int(round(width * width_mult)))
        blocks.append(Block(width_in, width))
        width_in = width
    return nn.Sequential(nn.Flatten(), *blocks, nn.Linear(width_in, num_classes))
