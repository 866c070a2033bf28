"""The ``cifar10`` kind: CIFAR-10 read from a local ``cifar-10-batches-py`` folder (nothing is downloaded).

The folder is ``path`` when given (relative to the task file's folder), else the task's ``data_dir``.
"""

from __future__ import annotations

from raynas.data._datasets import ArrayDataset, load_cifar10_dataset
from raynas.data._source import DatasetSpec
from raynas.errors import ConfigError

OPTIONS = {"path": "the cifar-10-batches-py folder (default: the task's data_dir)"}
WHAT = "the folder holding CIFAR-10 (cifar-10-batches-py)"


def validate(spec: DatasetSpec) -> None:
    spec.path("path", required=False, what=WHAT)


def load(spec: DatasetSpec) -> ArrayDataset:
    path = spec.path("path", required=False, what=WHAT)
    if path is None and spec.data_dir is None:
        raise ConfigError("data_dir", None, WHAT, "set data_dir in the task or pass --data-dir")
    return load_cifar10_dataset(path if path is not None else spec.data_dir)
