"""The mnist1d kind: generated offline by the mnist1d package once, then read from the user cache."""

from __future__ import annotations

import random

import numpy as np
import pytest

from raynas.data import ArrayDataset, load_dataset
from tests.data.helpers import check_split_of, task_for, train_one_epoch


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_generated_once_offline_then_read_from_the_cache(cache, monkeypatch):
    monkeypatch.setenv("RAYNAS_CACHE_DIR", str(cache))
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.get_state()[1].copy(), random.getstate())
    np.random.seed(123)
    random.seed(123)
    data = load_dataset("mnist1d")
    assert np.array_equal(np.random.get_state()[1], expected[0]) and random.getstate() == expected[1]  # untouched
    assert isinstance(data, ArrayDataset) and data.name == "mnist1d" and data.num_classes == 10
    assert data.train_x.shape == (4000, 1, 40) and data.val_x.shape == (1000, 1, 40) and data.input_shape == (1, 40)
    assert data.train_x.dtype == np.float32 and set(np.unique(data.val_y)) == set(range(10))
    files = list(cache.glob("mnist1d-*.npz"))
    assert len(files) == 1

    from raynas.data import _mnist1d

    monkeypatch.setattr(_mnist1d, "generate", lambda: pytest.fail("the cached copy should have been used"))
    again = load_dataset("mnist1d")
    assert again.fingerprint() == data.fingerprint() and np.array_equal(again.train_x, data.train_x)
    check_split_of(data)


def test_a_damaged_cache_file_is_regenerated(cache, monkeypatch):
    monkeypatch.setenv("RAYNAS_CACHE_DIR", str(cache))
    load_dataset("mnist1d")  # the first test may not have run
    (path,) = cache.glob("mnist1d-*.npz")
    with np.load(path) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays["y_train"] = arrays["y_train"][::-1].copy()
    np.savez(path, **arrays)  # its content hash no longer matches
    data = load_dataset("mnist1d")
    with np.load(path) as stored:
        assert np.array_equal(stored["y_train"], data.train_y) and not np.array_equal(data.train_y, arrays["y_train"])


def test_an_mlp_trains_one_epoch_on_it(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("RAYNAS_CACHE_DIR", str(cache))
    task = task_for(tmp_path, "mnist1d", family="mlp", proxy={"data_fraction": 0.1})
    metrics = train_one_epoch(task, tmp_path)
    assert metrics["params"] > 40 * 32  # 40 inputs into the first layer
