"""The ``arrays`` kind: numpy arrays from a ``.npz`` file or a folder of ``.npy`` files, held in memory.

``path`` is a ``.npz`` with the keys ``x_train``, ``y_train`` and optionally ``x_val``, ``y_val``, or a folder holding
``x_train.npy``, ``y_train.npy`` (and optionally ``x_val.npy``, ``y_val.npy``). Without validation arrays a seeded,
stratified ``val_fraction`` (default 0.2, seed ``val_seed``) of the training arrays becomes the real validation set.
Inputs may have any shape per example (images (C, H, W), sequences (C, L), features (F,)); labels are integers
0, 1, ...
"""

from __future__ import annotations

import numpy as np

from raynas.data._datasets import ArrayDataset
from raynas.data._source import DatasetSpec, as_labels, holdout_options, stratified_holdout
from raynas.errors import ConfigError

OPTIONS = {
    "path": "a .npz file or a folder of .npy files",
    "val_fraction": "share held out as the real validation set when there are no validation arrays (default 0.2)",
    "val_seed": "seed of that held-out share",
}
REQUIRED = ("path",)
KEYS = ("x_train", "y_train", "x_val", "y_val")


def validate(spec: DatasetSpec) -> None:
    spec.path("path", what="a .npz file or a folder of .npy files (x_train, y_train, x_val, y_val)")
    holdout_options(spec)


def _read(spec: DatasetSpec) -> dict[str, np.ndarray]:
    path = spec.path("path", what="a .npz file or a folder of .npy files (x_train, y_train, x_val, y_val)")
    if path.is_dir():
        arrays = {k: np.load(path / f"{k}.npy", allow_pickle=False) for k in KEYS if (path / f"{k}.npy").is_file()}
        present = sorted(p.name for p in path.glob("*.npy"))
    elif path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {k: stored[k] for k in KEYS if k in stored.files}
                present = sorted(stored.files)
        except (OSError, ValueError) as exc:
            raise ConfigError(spec.field("path"), spec.option("path"), "a readable .npz file", str(exc)) from None
    elif path.suffix == ".npy":
        raise ConfigError(spec.field("path"), spec.option("path"), "a .npz file or a folder of .npy files",
                          "put x_train.npy, y_train.npy (and x_val.npy, y_val.npy) in one folder and give the folder")
    else:
        raise ConfigError(spec.field("path"), spec.option("path"), "a .npz file or a folder of .npy files")
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if ("x_val" in arrays) != ("y_val" in arrays):
        missing.append("y_val" if "x_val" in arrays else "x_val")
    if missing:
        raise ConfigError(spec.field("path"), spec.option("path"), "arrays named x_train, y_train (and x_val, y_val)",
                          f"missing {', '.join(missing)}; found {', '.join(present) or 'nothing'}")
    return arrays


def load(spec: DatasetSpec) -> ArrayDataset:
    arrays = _read(spec)
    value = spec.option("path")
    x, y = np.asarray(arrays["x_train"], dtype=np.float32), as_labels(spec.field("path"), value, arrays["y_train"])
    if len(x) != len(y):
        raise ConfigError(spec.field("path"), value, "as many labels as examples",
                          f"x_train has {len(x)} examples and y_train {len(y)} labels")
    if "x_val" in arrays:
        val_x = np.asarray(arrays["x_val"], dtype=np.float32)
        val_y = as_labels(spec.field("path"), value, arrays["y_val"])
        if len(val_x) != len(val_y) or val_x.shape[1:] != x.shape[1:]:
            raise ConfigError(spec.field("path"), value, "validation arrays like the training ones",
                              f"x_val {val_x.shape}, y_val {val_y.shape} vs x_train {x.shape}")
    else:
        fraction, seed = holdout_options(spec)
        is_val = stratified_holdout(y, fraction, seed)
        x, val_x, y, val_y = x[~is_val], x[is_val], y[~is_val], y[is_val]
    num_classes = int(max(y.max(initial=0), val_y.max(initial=0))) + 1
    return ArrayDataset(f"arrays:{spec.resolve(value).stem}", x, y, val_x, val_y, num_classes)
