"""seq1d: a family of 1-D networks for sequences (C, L), sized for CPU searches such as MNIST-1D.

Decisions, per stage (1-3 stages, a conditional choice): the block (a plain convolution, a depthwise-separable
convolution or a residual pair of convolutions, each with its kernel size; or a pointwise MLP block), its width and
how the stage downsamples (none, max pooling, average pooling, stride 2); then the activation and the head (global
average or max pooling, or flattening the whole sequence). About 3.4e7 architectures.

A GRU block was tried and left out: on 2 CPU cores it trained 2-4x slower than a convolution of the same width, and
its accuracy after a short proxy varied by 14 points between seeds (slow starters), which no cheap proxy ranks well.

On MNIST-1D the decisions matter: the digits are shifted, scaled and sheared at random, so kernel size, depth,
pooling and the head's translation invariance separate architectures by tens of points at CPU scale.
``width_mult`` and ``depth_mult`` scale the model for proxy tasks.
"""

from __future__ import annotations

from raynas.space import SearchSpace, one_of

NAME = "seq1d"

KERNELS = (3, 5, 7, 9)


def _stage() -> dict:
    return {
        "block": one_of(*[{"type": kind, "kernel": one_of(*KERNELS)} for kind in ("conv", "separable", "residual")],
                        {"type": "mlp"}),
        "width": one_of(16, 32, 64),
        "downsample": one_of("none", "max", "avg", "stride"),
    }


SPACE = SearchSpace(
    {
        # a conditional choice: the number of stages decides how many stage decisions exist
        "stages": one_of([_stage()], [_stage(), _stage()], [_stage(), _stage(), _stage()]),
        "activation": one_of("relu", "gelu", "silu"),
        "head": one_of("avg", "max", "flatten"),
    },
    name=NAME,
)

#: A plain small CNN: two 3-wide convolutions of 32 channels, max pooling, a global-average head. What
#: `raynas baseline` full-trains for tasks on this family.
BASELINE = {
    "stages": [{"block": {"type": "conv", "kernel": 3}, "width": 32, "downsample": "max"},
               {"block": {"type": "conv", "kernel": 3}, "width": 32, "downsample": "max"}],
    "activation": "relu",
    "head": "avg",
}


def build(arch: dict, *, in_channels: int, num_classes: int, image_size: int, width_mult: float = 1.0,
          depth_mult: float = 1.0, input_shape: tuple[int, ...] | None = None):
    """The torch module of an architecture: inputs of shape (N, C, L) (``input_shape`` is (C, L); without it a
    flat input of ``in_channels`` values is read as one channel)."""
    import torch
    from torch import nn

    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
    act = activations[arch["activation"]]
    if input_shape is not None and len(input_shape) == 2:
        channels, length = int(input_shape[0]), int(input_shape[1])
    else:
        channels, length = 1, int(in_channels) * int(image_size) * int(image_size)

    def conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Module:
        return nn.Conv1d(c_in, c_out, k, stride=stride, padding=k // 2, groups=groups, bias=False)

    class ConvBlock(nn.Module):
        def __init__(self, kind: str, c_in: int, c_out: int, k: int, stride: int) -> None:
            super().__init__()
            self.kind = kind
            if kind == "conv":
                self.body = nn.Sequential(conv(c_in, c_out, k, stride), nn.BatchNorm1d(c_out), act())
            elif kind == "separable":
                self.body = nn.Sequential(conv(c_in, c_in, k, stride, groups=c_in), nn.BatchNorm1d(c_in), act(),
                                          conv(c_in, c_out, 1), nn.BatchNorm1d(c_out), act())
            else:  # residual: two convolutions around an identity (or 1x1 projection) shortcut
                self.body = nn.Sequential(conv(c_in, c_out, k, stride), nn.BatchNorm1d(c_out), act(),
                                          conv(c_out, c_out, k), nn.BatchNorm1d(c_out))
                self.shortcut = (nn.Identity() if c_in == c_out and stride == 1
                                 else nn.Sequential(conv(c_in, c_out, 1, stride), nn.BatchNorm1d(c_out)))
                self.out = act()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.kind == "residual":
                return self.out(self.body(x) + self.shortcut(x))
            return self.body(x)

    class MlpBlock(nn.Module):
        """A pointwise feed-forward block (each position alone; 2x expansion), residual when the widths match."""

        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.stride = stride
            self.body = nn.Sequential(nn.Conv1d(c_in, 2 * c_out, 1), act(), nn.Conv1d(2 * c_out, c_out, 1),
                                      nn.BatchNorm1d(c_out))
            self.residual = c_in == c_out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x[:, :, ::self.stride] if self.stride > 1 else x
            out = self.body(x)
            return x + out if self.residual else out

    layers: list[nn.Module] = []
    num_stages = max(1, round(len(arch["stages"]) * depth_mult))
    for stage in arch["stages"][:num_stages]:
        width = max(4, int(round(stage["width"] * width_mult)))
        block, down = stage["block"], stage["downsample"]
        stride = 2 if down == "stride" and length >= 2 else 1
        if block["type"] == "mlp":
            layers.append(MlpBlock(channels, width, stride))
        else:
            layers.append(ConvBlock(block["type"], channels, width, block["kernel"], stride))
        length = (length + stride - 1) // stride
        if down in ("max", "avg") and length >= 2:
            layers.append(nn.MaxPool1d(2) if down == "max" else nn.AvgPool1d(2))
            length //= 2
        channels = width
    if arch["head"] == "flatten":
        layers += [nn.Flatten(), nn.Linear(channels * length, num_classes)]
    else:
        pool = nn.AdaptiveAvgPool1d(1) if arch["head"] == "avg" else nn.AdaptiveMaxPool1d(1)
        layers += [pool, nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
