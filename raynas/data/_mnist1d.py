"""The ``mnist1d`` kind: MNIST-1D (Greydanus, 2020), 4,000 training and 1,000 test sequences of length 40, 10 classes.

Generated offline by the ``mnist1d`` package's own generator (its ``get_dataset`` would download a pickle) with the
package's default arguments, once, then cached as ``.npz`` in the user cache folder (``$RAYNAS_CACHE_DIR``, else
``$XDG_CACHE_HOME/raynas``, else ``~/.cache/raynas``) under a name holding the fingerprint of those arguments; the
file also stores a hash of its arrays, checked on every load (a damaged file is regenerated). Examples have shape
(1, 40): one channel of 40 steps.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np

from raynas._files import atomic_path
from raynas.data._datasets import ArrayDataset
from raynas.data._source import DatasetSpec, fingerprint_of

OPTIONS = {"cache_dir": "folder of the generated data's cache (default: the user cache folder)"}
REQUIRED: tuple[str, ...] = ()


def cache_dir(spec: DatasetSpec | None = None) -> Path:
    """Where generated data is cached: the spec's ``cache_dir``, ``$RAYNAS_CACHE_DIR``, the XDG cache, ~/.cache."""
    if spec is not None and spec.option("cache_dir") is not None:
        return spec.resolve(spec.option("cache_dir"))
    if os.environ.get("RAYNAS_CACHE_DIR"):
        return Path(os.environ["RAYNAS_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "raynas"


def _generator_args() -> tuple[Any, dict[str, Any]]:
    from mnist1d.data import get_dataset_args

    args = get_dataset_args()
    settings = {k: v for k, v in vars(args).items() if k != "url"}  # the url only serves the download
    return args, settings


def generate() -> dict[str, np.ndarray]:
    """Generate MNIST-1D with the package's generator (no network); the global random state is left as it was."""
    import matplotlib

    matplotlib.use("Agg", force=False)  # mnist1d imports pyplot
    from mnist1d.data import make_dataset

    args, _ = _generator_args()
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return {"x_train": data["x"].astype(np.float32)[:, None, :], "y_train": data["y"].astype(np.int64),
            "x_val": data["x_test"].astype(np.float32)[:, None, :], "y_val": data["y_test"].astype(np.int64)}


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    return fingerprint_of(*(arrays[k] for k in ("x_train", "y_train", "x_val", "y_val")))


def load(spec: DatasetSpec) -> ArrayDataset:
    """MNIST-1D from the cache, generated first when it is not there (or is damaged)."""
    _, settings = _generator_args()
    folder = cache_dir(spec)
    path = folder / f"mnist1d-{fingerprint_of(sorted(settings.items()))}.npz"
    arrays: dict[str, np.ndarray] | None = None
    if path.is_file():
        try:
            with np.load(path) as stored:
                arrays = {k: stored[k] for k in ("x_train", "y_train", "x_val", "y_val")}
                if str(stored["content_hash"]) != _content_hash(arrays):
                    arrays = None
        except Exception:  # noqa: BLE001 - unreadable or damaged: generate it again
            arrays = None
    if arrays is None:
        arrays = generate()
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # trials generating it at once each write a whole file
            np.savez(handle, content_hash=np.asarray(_content_hash(arrays)), **arrays)
    return ArrayDataset("mnist1d", arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"], 10)
