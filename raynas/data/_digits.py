"""The ``digits`` kind: scikit-learn's 1,797 8x8 handwritten digits (bundled: no download), no options."""

from __future__ import annotations

from raynas.data._datasets import ArrayDataset, load_digits_dataset
from raynas.data._source import DatasetSpec

OPTIONS: dict[str, str] = {}


def load(spec: DatasetSpec) -> ArrayDataset:
    return load_digits_dataset()
