"""small_cnn: a compact convolutional family for small images (CPU-sized searches such as digits).

Decisions: number of stages (1-3, a conditional choice), per stage the conv block type (plain conv or
depthwise-separable), kernel size and width; activation; whether to downsample after each stage.
``width_mult`` and ``depth_mult`` scale the model for proxy tasks.
"""

from __future__ import annotations

from raynas.space import SearchSpace, one_of

NAME = "small_cnn"


def _stage() -> dict:
    return {"block": one_of("conv", "separable"), "kernel": one_of(3, 5), "width": one_of(16, 32, 48)}


SPACE = SearchSpace(
    {
        # a conditional choice: the number of stages decides how many stage decisions exist
        "stages": one_of([_stage()], [_stage(), _stage()], [_stage(), _stage(), _stage()]),
        "activation": one_of("relu", "gelu", "silu"),
        "downsample": one_of(True, False),
    },
    name=NAME,
)


#: A plain two-stage CNN: what `raynas baseline` full-trains for tasks on this family.
BASELINE = {
    "stages": [{"block": "conv", "kernel": 3, "width": 32}, {"block": "conv", "kernel": 3, "width": 32}],
    "activation": "relu",
    "downsample": True,
}


def build(arch: dict, *, in_channels: int, num_classes: int, image_size: int, width_mult: float = 1.0,
          depth_mult: float = 1.0):
    """The torch module of an architecture of this family."""
    from torch import nn

    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
    layers: list = []
    channels = in_channels
    size = image_size
    num_stages = max(1, round(len(arch["stages"]) * depth_mult))
    for stage in arch["stages"][:num_stages]:
        width = max(4, int(round(stage["width"] * width_mult)))
        k = stage["kernel"]
        if stage["block"] == "conv":
            layers += [nn.Conv2d(channels, width, k, padding=k // 2, bias=False)]
        else:
            layers += [nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels, bias=False),
                       nn.Conv2d(channels, width, 1, bias=False)]
        layers += [nn.BatchNorm2d(width), activations[arch["activation"]]()]
        if arch["downsample"] and size >= 4:
            layers.append(nn.MaxPool2d(2))
            size //= 2
        channels = width
    layers += [nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * channels, num_classes)]  # keep a 2x2 layout
    return nn.Sequential(*layers)
