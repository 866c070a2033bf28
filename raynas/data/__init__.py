"""Datasets as plug-ins (bundled small real data, image folders, arrays, tables, your own function) and the
two-stage data split. Every dataset kind loads to the interface described in :mod:`raynas.data._source`."""

from raynas.data._datasets import (
    ArrayDataset,
    load_cifar10_dataset,
    load_digits_dataset,
)
from raynas.data._registry import (
    DATASET_KINDS,
    DATASET_REGISTRY,
    DATASETS,
    ENTRY_POINT_GROUP,
    dataset_kinds,
    dataset_spec,
    load_dataset,
)
from raynas.data._source import DatasetSource, DatasetSpec, StreamedDataset
from raynas.data._split import DataSplit, SplitCheck, check_split, make_split

__all__ = ["ArrayDataset", "DATASETS", "DATASET_KINDS", "DATASET_REGISTRY", "DataSplit", "DatasetSource", "DatasetSpec",
           "ENTRY_POINT_GROUP", "SplitCheck", "StreamedDataset", "check_split", "dataset_kinds", "dataset_spec",
           "load_cifar10_dataset", "load_dataset", "load_digits_dataset", "make_split"]
