"""Datasets (bundled small real data, CIFAR-10 from a local folder) and the two-stage data split."""

from raynas.data._datasets import (
    DATASETS,
    ArrayDataset,
    load_cifar10_dataset,
    load_dataset,
    load_digits_dataset,
)
from raynas.data._split import DataSplit, SplitCheck, check_split, make_split

__all__ = [
    "DATASETS",
    "ArrayDataset",
    "DataSplit",
    "SplitCheck",
    "check_split",
    "load_cifar10_dataset",
    "load_dataset",
    "load_digits_dataset",
    "make_split",
]
