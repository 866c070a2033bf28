"""The ``image_folder`` kind: a folder per class of image files, decoded with Pillow as they are read.

Options: ``path`` (required) holds one sub-folder per class (its name is the class; classes are numbered in sorted
order); ``val_path`` the same layout for the real validation set, else a seeded, stratified ``val_fraction``
(default 0.2, seed ``val_seed``) of ``path`` is; ``image_size`` (default: the first image's, which must then be
square) is the side images are resized to; ``channels`` 3 (RGB, default) or 1 (grey); ``mean`` / ``std`` (one
number or one per channel) normalise the [0, 1] pixels (default: left in [0, 1]); ``workers`` (default 2) DataLoader
worker processes decode images in the background.

Nothing but the file names and labels is held in memory: the labels come from the folder names, which is all the
split and its checks need; images are decoded batch by batch while training.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from raynas.data._source import DatasetSpec, StreamedDataset, fingerprint_of, holdout_options, stratified_holdout
from raynas.errors import ConfigError

OPTIONS = {
    "path": "a folder with one sub-folder of images per class",
    "val_path": "the same layout for the real validation set (default: a held-out share of path)",
    "val_fraction": "share of path held out as the real validation set when there is no val_path (default 0.2)",
    "val_seed": "seed of that held-out share",
    "image_size": "side in pixels images are resized to (default: the first image's)",
    "channels": "3 (RGB) or 1 (grey), default 3",
    "mean": "per-channel mean subtracted from the [0, 1] pixels",
    "std": "per-channel standard deviation the pixels are divided by",
    "workers": "DataLoader worker processes decoding images (default 2)",
}
REQUIRED = ("path",)
EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
WHAT = "a folder with one sub-folder of images per class"


def validate(spec: DatasetSpec) -> None:
    """Option types and that the folders exist (listing the images waits for the load)."""
    from raynas._parse import as_int

    for option in ("path", "val_path"):
        path = spec.path(option, required=option == "path", what=WHAT)
        if path is not None and not path.is_dir():
            raise ConfigError(spec.field(option), spec.option(option), WHAT, f"{path} is a file, not a folder")
    holdout_options(spec)
    if spec.option("image_size") is not None:
        as_int(spec.field("image_size"), spec.option("image_size"), minimum=1)
    channels = spec.option("channels", 3)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(spec.field("channels"), channels, "3 (RGB) or 1 (grey)")
    as_int(spec.field("workers"), spec.option("workers", 2), minimum=0)
    for option in ("mean", "std"):
        _per_channel(spec, option, channels)
    if (spec.option("mean") is None) != (spec.option("std") is None):
        raise ConfigError(spec.field("mean" if spec.option("mean") is None else "std"), None,
                          "mean and std given together", "set both, or neither (pixels stay in [0, 1])")


def _per_channel(spec: DatasetSpec, option: str, channels: int) -> list[float] | None:
    value = spec.option(option)
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if (len(values) not in (1, channels) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       for v in values)
            or (option == "std" and not all(v > 0 for v in values))):
        raise ConfigError(spec.field(option), value, f"one number or {channels} (one per channel)"
                          + (", all > 0" if option == "std" else ""))
    return [float(v) for v in values] * (channels if len(values) == 1 else 1)


def scan(root: Path, field_name: str, value: Any, classes: list[str] | None = None) -> tuple[list[str], np.ndarray,
                                                                                            np.ndarray]:
    """Class names, file names relative to ``root`` (fixed-width bytes) and labels, in a sorted, stable order.

    With ``classes`` (the training folder's), every class folder here must be one of them."""
    folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith("."))
    loose = [entry.name for entry in os.scandir(root)
             if entry.is_file() and Path(entry.name).suffix.lower() in EXTENSIONS]
    if classes is None and len(folders) < 2:
        found = (f"it holds {len(loose)} image(s) directly and no class folders" if not folders
                 else f"it has one class folder, {folders[0]!r}")
        raise ConfigError(field_name, value, "a folder with one sub-folder of images per class, at least 2 classes",
                          f"{found}; put each class's images in a sub-folder named after the class")
    names: list[str] = []
    labels: list[int] = []
    index = {name: i for i, name in enumerate(classes if classes is not None else folders)}
    for folder in folders:
        if folder not in index:
            raise ConfigError(field_name, value, "only the classes of the training folder",
                              f"class folder {folder!r} is not in the training folder; rename or remove it")
        files = sorted(entry.name for entry in os.scandir(root / folder)
                       if entry.is_file() and Path(entry.name).suffix.lower() in EXTENSIONS
                       and not entry.name.startswith("."))
        if not files:
            raise ConfigError(field_name, value, "image files in every class folder",
                              f"class folder {folder!r} holds no images ({', '.join(sorted(EXTENSIONS))}); add images "
                              "or remove the folder")
        names.extend(f"{folder}/{name}" for name in files)
        labels.extend([index[folder]] * len(files))
    return list(index), np.array([n.encode() for n in names], dtype=bytes), np.asarray(labels, dtype=np.int64)


def load(spec: DatasetSpec) -> StreamedDataset:
    validate(spec)
    from raynas._parse import as_int

    root = spec.path("path", what=WHAT)
    classes, files, labels = scan(root, spec.field("path"), spec.option("path"))
    val_root = spec.path("val_path", required=False, what=WHAT)
    if val_root is not None:
        _, val_files, val_labels = scan(val_root, spec.field("val_path"), spec.option("val_path"), classes)
        train_files, train_labels = files, labels
    else:
        fraction, seed = holdout_options(spec)
        is_val = stratified_holdout(labels, fraction, seed)
        val_root, val_files, val_labels = root, files[is_val], labels[is_val]
        train_files, train_labels = files[~is_val], labels[~is_val]
    channels = int(spec.option("channels", 3))
    size = spec.option("image_size")
    if size is None:
        from PIL import Image

        with Image.open(root / train_files[0].decode()) as first:
            width, height = first.size
        if width != height:
            raise ConfigError(spec.field("image_size"), None, "the side images are resized to",
                              f"the first image is {width}x{height} (not square); set image_size")
        size = width
    size = as_int(spec.field("image_size"), size, minimum=1)
    mean, std = _per_channel(spec, "mean", channels), _per_channel(spec, "std", channels)
    fingerprint = fingerprint_of(train_files, train_labels, val_files, val_labels, classes, str(root), str(val_root),
                                 size, channels, mean, std)

    def make(folder: Path, names: np.ndarray, ys: np.ndarray) -> Any:
        def dataset(image_size: int | None) -> Any:
            from raynas.data._torchdata import ImageFiles

            return ImageFiles(str(folder), names, ys, size=image_size or size, channels=channels, mean=mean, std=std)

        return dataset

    return StreamedDataset(f"image_folder:{root.name}", len(classes), (channels, size, size), train_labels, val_labels,
                           fingerprint, make(root, train_files, train_labels), make(val_root, val_files, val_labels),
                           workers=as_int(spec.field("workers"), spec.option("workers", 2), minimum=0))
