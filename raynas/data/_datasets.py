"""Datasets as numpy arrays: bundled small real data (scikit-learn's digits) and CIFAR-10 from a local folder.

:class:`ArrayDataset` is the in-memory implementation of the dataset interface (see :mod:`raynas.data._source`).
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raynas.errors import ConfigError

#: Seed of the fixed train/validation split of datasets that ship without one (digits).
OFFICIAL_SPLIT_SEED = 20240101


@dataclass(frozen=True)
class ArrayDataset:
    """Images (N, C, H, W) float32 in [0, 1] and integer labels, for the training and the real validation set."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        if len(self.train_x) != len(self.train_y) or len(self.val_x) != len(self.val_y):
            raise ConfigError("dataset", self.name, "as many labels as images in each set")

    def fingerprint(self) -> str:
        """A short hash of the labels and shapes: changes when the data does."""
        digest = hashlib.sha256()
        for array in (self.train_y, self.val_y):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        digest.update(repr((self.train_x.shape, self.val_x.shape, self.num_classes)).encode())
        return digest.hexdigest()[:16]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape, e.g. (C, H, W)."""
        return tuple(int(s) for s in self.train_x.shape[1:])

    @property
    def workers(self) -> int:
        return 0  # in memory: nothing to read in the background

    def arrays(self) -> "ArrayDataset":
        return self

    def train_dataset(self, *, image_size: int | None = None):
        """The training examples as a torch Dataset (images resized to ``image_size`` when given)."""
        from raynas.data._torchdata import ArrayItems

        return ArrayItems(self.train_x, self.train_y, image_size)

    def val_dataset(self, *, image_size: int | None = None):
        """The real validation examples as a torch Dataset."""
        from raynas.data._torchdata import ArrayItems

        return ArrayItems(self.val_x, self.val_y, image_size)


def load_digits_dataset(validation_fraction: float = 0.2) -> ArrayDataset:
    """scikit-learn's 1,797 8x8 handwritten digits (bundled with scikit-learn: no download).

    Digits has no official validation set, so a fixed seeded, stratified 20% plays that role for every search.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    from raynas.data._source import stratified_holdout

    is_val = stratified_holdout(y, validation_fraction, OFFICIAL_SPLIT_SEED)
    return ArrayDataset("digits", x[~is_val], y[~is_val], x[is_val], y[is_val], 10)


def load_cifar10_dataset(data_dir: str | Path) -> ArrayDataset:
    """CIFAR-10 in the torchvision/"python version" layout: ``data_batch_1..5`` and ``test_batch`` pickles.

    ``data_dir`` is the ``cifar-10-batches-py`` folder (or its parent). Nothing is downloaded.
    """
    root = Path(data_dir).expanduser()
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    train_files = [root / f"data_batch_{i}" for i in range(1, 6)]
    missing = [p.name for p in train_files + [root / "test_batch"] if not p.is_file()]
    if missing:
        raise ConfigError("data_dir", str(data_dir), "a CIFAR-10 'cifar-10-batches-py' folder (python version)",
                          f"missing {', '.join(missing)}; download and extract cifar-10-python.tar.gz there")

    def read(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for path in paths:
            with open(path, "rb") as handle:
                batch = pickle.load(handle, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
        return np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys)

    train_x, train_y = read(train_files)
    val_x, val_y = read([root / "test_batch"])
    return ArrayDataset("cifar10", train_x, train_y, val_x, val_y, 10)

