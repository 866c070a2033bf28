"""Image augmentation operations on batches (N, C, H, W) in [0, 1], each driven by a magnitude in [0, 1]."""

from __future__ import annotations

from typing import Any, Callable


def _identity(x: Any, m: float) -> Any:
    return x


def _flip_lr(x: Any, m: float) -> Any:
    return x.flip(-1)


def _translate_x(x: Any, m: float) -> Any:
    return x.roll(max(1, int(round(m * x.shape[-1] * 0.3))), dims=-1)


def _translate_y(x: Any, m: float) -> Any:
    return x.roll(max(1, int(round(m * x.shape[-2] * 0.3))), dims=-2)


def _rotate(x: Any, m: float) -> Any:
    import math

    import torch
    import torch.nn.functional as F

    angle = math.radians(30.0 * m)
    c, s = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=x.dtype, device=x.device).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def _brightness(x: Any, m: float) -> Any:
    return (x * (1.0 + 0.9 * m)).clamp(0, 1)


def _contrast(x: Any, m: float) -> Any:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * (1.0 + 0.9 * m) + mean).clamp(0, 1)


def _cutout(x: Any, m: float) -> Any:
    size = max(1, int(round(m * x.shape[-1] * 0.5)))
    out = x.clone()
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    out[..., top:top + size, left:left + size] = 0.5
    return out


OPS: dict[str, Callable[[Any, float], Any]] = {
    "identity": _identity, "flip_lr": _flip_lr, "translate_x": _translate_x, "translate_y": _translate_y,
    "rotate": _rotate, "brightness": _brightness, "contrast": _contrast, "cutout": _cutout,
}
