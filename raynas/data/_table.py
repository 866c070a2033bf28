"""The ``table`` kind: a Parquet or CSV table for MLP families, held in memory as features (N, F).

``path`` is a ``.parquet`` or ``.csv`` file; ``label`` names the class column (integers 0, 1, ... or any values, which
are then numbered in sorted order); ``features`` lists the input columns (default: every other numeric column).
``val_path`` is a table with the same columns holding the real validation set; without it a seeded, stratified
``val_fraction`` (default 0.2, seed ``val_seed``) of ``path`` is. ``normalize`` (default true) standardises every
feature with the training rows' mean and standard deviation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from raynas.data._datasets import ArrayDataset
from raynas.data._source import DatasetSpec, holdout_options, stratified_holdout
from raynas.errors import ConfigError, suggest

OPTIONS = {
    "path": "a .parquet or .csv table",
    "label": "the class column",
    "features": "the input columns (default: every other numeric column)",
    "val_path": "a table with the same columns holding the real validation set",
    "val_fraction": "share of path held out as the real validation set when there is no val_path (default 0.2)",
    "val_seed": "seed of that held-out share",
    "normalize": "standardise the features with the training rows' statistics (default true)",
}
REQUIRED = ("path", "label")
WHAT = "a .parquet or .csv table"


def _columns(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pandas as pd

    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _read(spec: DatasetSpec, option: str) -> Any:
    import pandas as pd

    path = spec.path(option, what=WHAT)
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader error: name the file
        raise ConfigError(spec.field(option), spec.option(option), WHAT, f"{type(exc).__name__}: {exc}") from None


def validate(spec: DatasetSpec) -> None:
    """The files exist, are tables, and hold the label (and feature) columns: cheap, reads only the headers."""
    label = spec.option("label")
    if not isinstance(label, str) or not label:
        raise ConfigError(spec.field("label"), label, "the name of the class column")
    features = spec.option("features")
    if features is not None and (not isinstance(features, list) or not features
                                 or not all(isinstance(f, str) for f in features)):
        raise ConfigError(spec.field("features"), features, "a non-empty list of column names")
    holdout_options(spec)
    for option in ("path", "val_path"):
        path = spec.path(option, required=option == "path", what=WHAT)
        if path is None:
            continue
        if path.suffix not in (".parquet", ".csv") or not path.is_file():
            raise ConfigError(spec.field(option), spec.option(option), WHAT, "give a file ending in .parquet or .csv")
        try:
            columns = _columns(path)
        except Exception as exc:  # noqa: BLE001 - unreadable header
            raise ConfigError(spec.field(option), spec.option(option), WHAT, f"{type(exc).__name__}: {exc}") from None
        _check_columns(spec, option, columns)


def _check_columns(spec: DatasetSpec, option: str, columns: list[str]) -> None:
    label = spec.option("label")
    if label not in columns:
        raise ConfigError(spec.field("label"), label, f"a column of {spec.option(option)}",
                          f"the table has no column {label!r}{suggest(label, columns)}; its columns: "
                          f"{', '.join(columns[:20])}{', ...' if len(columns) > 20 else ''}")
    missing = [f for f in spec.option("features") or [] if f not in columns]
    if missing:
        raise ConfigError(spec.field("features"), missing, f"columns of {spec.option(option)}",
                          f"no column {missing[0]!r}{suggest(missing[0], columns)}")


def load(spec: DatasetSpec) -> ArrayDataset:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    validate(spec)
    label = spec.option("label")
    train = _read(spec, "path")
    val = _read(spec, "val_path") if spec.option("val_path") is not None else None
    features = spec.option("features")
    if features is None:
        features = [c for c in train.select_dtypes(include=["number", "bool"]).columns if c != label]
        if not features:
            raise ConfigError(spec.field("features"), None, "numeric feature columns",
                              f"{spec.option('path')} has no numeric column besides {label!r}; list `features:`")
    if label in features:
        raise ConfigError(spec.field("features"), features, "input columns other than the label column",
                          f"remove {label!r} from features")
    for frame, option in ((train, "path"), (val, "val_path")):
        if frame is None:
            continue
        bad = [f for f in features if not (is_numeric_dtype(frame[f]) or is_bool_dtype(frame[f]))]
        if bad:
            raise ConfigError(spec.field("features"), bad, "numeric columns",
                              f"{bad[0]!r} in {spec.option(option)} is {frame[bad[0]].dtype}; encode it as numbers "
                              "or leave it out of features")
        empty = [f for f in [*features, label] if frame[f].isna().any()]
        if empty:
            raise ConfigError(spec.field(option), spec.option(option), "a table without missing values",
                              f"column {empty[0]!r} has missing values; fill or drop them first")
    x = train[features].to_numpy(dtype=np.float32)
    y, classes = _labels(spec, train[label].to_numpy(), None)
    if val is not None:
        val_x = val[features].to_numpy(dtype=np.float32)
        val_y, _ = _labels(spec, val[label].to_numpy(), classes)
    else:
        fraction, seed = holdout_options(spec)
        is_val = stratified_holdout(y, fraction, seed)
        x, val_x, y, val_y = x[~is_val], x[is_val], y[~is_val], y[is_val]
    if spec.option("normalize", True):
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std == 0] = 1.0
        x, val_x = (x - mean) / std, (val_x - mean) / std
    num_classes = len(classes) if classes is not None else int(max(y.max(initial=0), val_y.max(initial=0))) + 1
    return ArrayDataset(f"table:{spec.resolve(spec.option('path')).stem}", x.astype(np.float32), y,
                        val_x.astype(np.float32), val_y, num_classes)


def _labels(spec: DatasetSpec, values: np.ndarray, classes: list[Any] | None) -> tuple[np.ndarray, list[Any] | None]:
    """Integer labels as they are; other values numbered in sorted order (``classes``: the training set's)."""
    if classes is None and np.issubdtype(values.dtype, np.integer) and (len(values) == 0 or values.min() >= 0):
        return values.astype(np.int64), None
    if classes is None:
        classes = sorted(set(values.tolist()), key=str)
    index = {c: i for i, c in enumerate(classes)}
    unknown = [v for v in set(values.tolist()) if v not in index]
    if unknown:
        raise ConfigError(spec.field("val_path"), spec.option("val_path"), "only classes the training table has",
                          f"class {unknown[0]!r} is not in {spec.option('path')}")
    return np.asarray([index[v] for v in values.tolist()], dtype=np.int64), classes
