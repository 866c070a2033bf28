"""mnasnet: a MnasNet-style mobile search space (Tan et al. 2019), 7 blocks with per-block decisions.

Per block: repeats (1-4), block type (plain conv, or inverted bottleneck with expansion 3 or 6: a conditional
choice), kernel size (3 or 5), squeeze-and-excite (on/off) and a width multiplier (0.75, 1.0, 1.25) on the
block's base channels (MobileNetV2's 16, 24, 40, 80, 112, 192, 320). ``width_mult`` / ``depth_mult`` scale
the whole model for proxy tasks; strides are skipped once the feature map is 1x1 (small inputs).
"""

from __future__ import annotations

from raynas.space import SearchSpace, one_of

NAME = "mnasnet"
BASE_CHANNELS = (16, 24, 40, 80, 112, 192, 320)
STRIDES = (1, 2, 2, 2, 1, 2, 1)


def _block() -> dict:
    return {
        "repeats": one_of(1, 2, 3, 4),
        "type": one_of({"kind": "conv"}, {"kind": "mbconv", "expansion": one_of(3, 6)}),
        "kernel": one_of(3, 5),
        "squeeze_excite": one_of(False, True),
        "width": one_of(0.75, 1.0, 1.25),
    }


SPACE = SearchSpace({"blocks": [_block() for _ in BASE_CHANNELS]}, name=NAME)


def build(arch: dict, *, in_channels: int, num_classes: int, image_size: int, width_mult: float = 1.0,
          depth_mult: float = 1.0):
    """The mobile network of an architecture."""
    import torch
    from torch import nn

    def channels(c: float) -> int:
        return max(8, int(round(c * width_mult / 8)) * 8)

    class SqueezeExcite(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            hidden = max(4, c // 4)
            self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, hidden, 1), nn.ReLU(),
                                      nn.Conv2d(hidden, c, 1), nn.Sigmoid())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.gate(x)

    class Block(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int, spec: dict) -> None:
            super().__init__()
            k, layers = spec["kernel"], []
            if spec["type"]["kind"] == "mbconv":
                hidden = c_in * spec["type"]["expansion"]
                layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
                           nn.Conv2d(hidden, hidden, k, stride, k // 2, groups=hidden, bias=False),
                           nn.BatchNorm2d(hidden), nn.ReLU6()]
                if spec["squeeze_excite"]:
                    layers.append(SqueezeExcite(hidden))
                layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
            else:
                layers += [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU6()]
                if spec["squeeze_excite"]:
                    layers.append(SqueezeExcite(c_out))
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and c_in == c_out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.body(x)
            return x + out if self.residual else out

    stem = channels(32)
    size = image_size
    stride = 2 if size >= 16 else 1
    layers: list[nn.Module] = [nn.Conv2d(in_channels, stem, 3, stride, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU6()]
    size = (size + stride - 1) // stride
    c_in = stem
    for spec, base, block_stride in zip(arch["blocks"], BASE_CHANNELS, STRIDES):
        c_out = channels(base * spec["width"])
        for repeat in range(max(1, int(round(spec["repeats"] * depth_mult)))):
            s = block_stride if repeat == 0 and size > 1 else 1
            layers.append(Block(c_in, c_out, s, spec))
            size = (size + s - 1) // s
            c_in = c_out
    head = channels(1280)
    layers += [nn.Conv2d(c_in, head, 1, bias=False), nn.BatchNorm2d(head), nn.ReLU6(), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Linear(head, num_classes)]
    return nn.Sequential(*layers)
