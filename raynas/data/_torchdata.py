"""The torch Datasets the dataset kinds hand to the trainer (imported only when one is asked for: imports torch).

Each returns ``(float32 tensor, int label)`` items. They hold no Python object per example (file names are one
fixed-width numpy array), so forked DataLoader workers do not copy them page by page as they read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) images resized (bilinear) to ``size`` x ``size``."""
    if x.ndim != 4:
        raise ValueError(f"only images (N, C, H, W) can be resized; these examples have shape {x.shape[1:]}")
    out = F.interpolate(torch.as_tensor(x), size=(size, size), mode="bilinear", align_corners=False)
    return out.numpy()


class ArrayItems(Dataset):
    """In-memory arrays as a Dataset (resized once, up front, when ``image_size`` is given)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, image_size: int | None = None) -> None:
        if image_size is not None and x.ndim == 4 and x.shape[-1] != image_size:
            x = resize_images(x, image_size)
        self.x = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
        self.y = torch.as_tensor(np.asarray(y, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], int(self.y[index])

    @property
    def targets(self) -> np.ndarray:
        return self.y.numpy()


class ImageFiles(Dataset):
    """Image files decoded with Pillow, resized to ``size`` x ``size``, scaled to [0, 1] then normalised."""

    def __init__(self, root: str, files: np.ndarray, labels: np.ndarray, *, size: int, channels: int,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        self.root = str(root)
        self.files = files  # fixed-width bytes, relative to root
        self.labels = np.asarray(labels, dtype=np.int64)
        self.size = int(size)
        self.mode = "L" if channels == 1 else "RGB"
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path = Path(self.root) / self.files[index].decode()
        with Image.open(path) as image:
            image = image.convert(self.mode)
            if image.size != (self.size, self.size):
                image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        x = torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float().div_(255.0)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x, int(self.labels[index])

    @property
    def targets(self) -> np.ndarray:
        return self.labels


class Converted(Dataset):
    """A user's Dataset with its items made ``(float32 tensor, int)``, images resized when ``image_size`` is set."""

    def __init__(self, inner: Any, image_size: int | None = None) -> None:
        self.inner = inner
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x, y = self.inner[index][:2]
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        if self.image_size is not None and x.dim() == 3 and tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = F.interpolate(x[None], size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False)[0]
        return x, int(y)
