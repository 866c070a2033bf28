"""The ``callable`` kind: a function of yours returning ``(train_dataset, val_dataset)``, two torch Datasets.

``function`` is ``package.module:function`` or ``./file.py:function`` (relative to the task file's folder); ``kwargs``
a mapping passed to it. Items are ``(input, label)`` (more entries are ignored); inputs become float32 tensors.
Labels are read from a ``targets`` attribute when the dataset has one (as torchvision's do), else by reading every
item once. ``num_classes`` defaults to the largest label + 1; ``workers`` (default 2) DataLoader worker processes read
items in the background.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raynas.data._source import DatasetSpec, StreamedDataset, as_labels, fingerprint_of, load_object
from raynas.errors import ConfigError

OPTIONS = {
    "function": "package.module:function or ./file.py:function returning (train_dataset, val_dataset)",
    "kwargs": "keyword arguments passed to the function",
    "num_classes": "the number of classes (default: the largest label + 1)",
    "workers": "DataLoader worker processes reading items (default 2)",
}
REQUIRED = ("function",)


def validate(spec: DatasetSpec) -> None:
    from raynas._parse import as_int, as_mapping

    load_object(spec.field("function"), spec.option("function"), base_dir=spec.base_dir)
    as_mapping(spec.field("kwargs"), spec.option("kwargs"))
    as_int(spec.field("workers"), spec.option("workers", 2), minimum=0)
    if spec.option("num_classes") is not None:
        as_int(spec.field("num_classes"), spec.option("num_classes"), minimum=2)


def labels_of(dataset: Any) -> np.ndarray:
    """A dataset's labels: its ``targets`` attribute when it has one, else the second entry of every item."""
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        if hasattr(targets, "numpy"):
            targets = targets.detach().cpu().numpy() if hasattr(targets, "detach") else targets.numpy()
        return np.asarray(targets)
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))])


def load(spec: DatasetSpec) -> StreamedDataset:
    validate(spec)
    from raynas._parse import as_int

    ref = spec.option("function")
    function = load_object(spec.field("function"), ref, base_dir=spec.base_dir)
    result = function(**dict(spec.option("kwargs") or {}))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ConfigError(spec.field("function"), ref, "a function returning (train_dataset, val_dataset)",
                          f"it returned {type(result).__name__}")
    train, val = result
    for part, name in ((train, "train"), (val, "validation")):
        if not hasattr(part, "__getitem__") or not hasattr(part, "__len__") or len(part) == 0:
            raise ConfigError(spec.field("function"), ref, "two non-empty map-style Datasets (__getitem__, __len__)",
                              f"its {name} dataset is {type(part).__name__}"
                              + (" with no items" if hasattr(part, "__len__") and len(part) == 0 else ""))
    train_y = as_labels(spec.field("function"), ref, labels_of(train))
    val_y = as_labels(spec.field("function"), ref, labels_of(val))
    if len(train_y) != len(train) or len(val_y) != len(val):
        raise ConfigError(spec.field("function"), ref, "one label per item", "its datasets' targets and lengths differ")
    from raynas.data._torchdata import Converted

    input_shape = tuple(Converted(train)[0][0].shape)
    largest = int(max(train_y.max(), val_y.max())) + 1
    num_classes = as_int(spec.field("num_classes"), spec.option("num_classes", largest), minimum=2)
    if num_classes < largest:
        raise ConfigError(spec.field("num_classes"), num_classes, f"at least {largest} (the largest label + 1)")
    return StreamedDataset(f"callable:{ref.rpartition(':')[2]}", num_classes, input_shape, train_y, val_y,
                           fingerprint_of(train_y, val_y, input_shape, num_classes, ref),
                           lambda size: Converted(train, size), lambda size: Converted(val, size),
                           workers=as_int(spec.field("workers"), spec.option("workers", 2), minimum=0))
