"""Datasets and the two-stage split: sizes, determinism, storage with fingerprint, and the checks."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raynas.data import DataSplit, load_cifar10_dataset, load_dataset, make_split
from raynas.errors import ConfigError

RAYNAS = str(Path(sys.executable).with_name("raynas"))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def split_of(dataset, **kw):
    return make_split(dataset.train_y, dataset.val_y, dataset=dataset.name,
                      data_fingerprint=dataset.fingerprint(), **kw)


def test_digits_is_real_bundled_data_with_a_fixed_validation_set(digits):
    assert digits.train_x.shape[1:] == (1, 8, 8) and len(digits.train_y) + len(digits.val_y) == 1797
    assert 0.0 <= digits.train_x.min() and digits.train_x.max() <= 1.0
    assert set(np.unique(digits.val_y)) == set(range(10))
    again = load_dataset("digits")
    assert np.array_equal(again.val_y, digits.val_y) and again.fingerprint() == digits.fingerprint()


def test_split_sizes_disjointness_and_seeding(digits):
    split = split_of(digits, seed=0)
    n = len(digits.train_y)
    assert len(split.stage1_val) == round(0.1 * n) and len(split.stage1_train) + len(split.stage1_val) == n
    assert not set(split.stage1_train) & set(split.stage1_val)
    same, other = split_of(digits, seed=0), split_of(digits, seed=1)
    assert np.array_equal(same.stage1_val, split.stage1_val) and same.fingerprint == split.fingerprint
    assert not np.array_equal(other.stage1_val, split.stage1_val) and other.fingerprint != split.fingerprint
    assert all(c.passed for c in split.checks), split.warnings


def test_split_round_trips_through_parquet_and_detects_tampering(tmp_path, digits):
    split = split_of(digits, seed=2)
    path = split.save(tmp_path / "split.parquet")
    loaded = DataSplit.load(path)
    assert loaded.fingerprint == split.fingerprint
    assert np.array_equal(loaded.stage1_train, split.stage1_train) and loaded.checks == split.checks
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"raynas.split"])
    meta["seed"] = 99
    pq.write_table(table.replace_schema_metadata({b"raynas.split": json.dumps(meta).encode()}), path)
    with pytest.raises(ConfigError, match="fingerprint"):
        DataSplit.load(path)


def test_imbalanced_and_tiny_data_warn_and_recommend_augmentation_search():
    rng = np.random.default_rng(0)
    train_y = np.concatenate([np.zeros(2000, int), np.ones(30, int)])
    val_y = rng.permutation(train_y)[:400]
    split = make_split(train_y, val_y, dataset="toy", data_fingerprint="x", seed=0)
    failed = {c.name: c for c in split.checks if not c.passed}
    assert {"examples_per_class", "class_balance"} <= set(failed)
    assert all("augmentation search" in c.message for c in failed.values())


def test_a_validation_set_drawn_differently_is_flagged():
    train_y = np.repeat(np.arange(4), 500)
    val_y = np.concatenate([np.zeros(300, int), np.repeat([1, 2, 3], 30)])  # class 0 heavily over-represented
    split = make_split(train_y, val_y, dataset="toy", data_fingerprint="x", seed=0)
    check = {c.name: c for c in split.checks}["validation_distribution"]
    assert not check.passed and "p =" in check.message


def test_bad_fractions_and_names_are_clear_errors(digits):
    with pytest.raises(ConfigError, match="validation_fraction"):
        split_of(digits, validation_fraction=1.5)
    with pytest.raises(ConfigError, match="dataset: got 'mnist'.*did you mean 'mnist1d'"):
        load_dataset("mnist")
    with pytest.raises(ConfigError, match="data_dir"):
        load_dataset("cifar10")


def _write_cifar_batch(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
    with open(path, "wb") as handle:
        pickle.dump(batch, handle)


def test_cifar10_loader_reads_the_python_batches_layout(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i in range(1, 6):
        _write_cifar_batch(root / f"data_batch_{i}", 20, i)
    _write_cifar_batch(root / "test_batch", 15, 9)
    data = load_cifar10_dataset(tmp_path)
    assert data.train_x.shape == (100, 3, 32, 32) and data.val_x.shape == (15, 3, 32, 32)
    assert data.train_x.dtype == np.float32 and data.train_x.max() <= 1.0
    (root / "data_batch_3").unlink()
    with pytest.raises(ConfigError, match="data_batch_3"):
        load_cifar10_dataset(root)


def test_split_command_writes_then_reuses_then_refuses_a_different_split(tmp_path):
    out = tmp_path / "s.parquet"
    first = subprocess.run([RAYNAS, "split", "--dataset", "digits", "--out", str(out), "--format", "json"],
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["action"] == "wrote" and data["stage1_val"] == 144 and out.is_file()
    second = json.loads(subprocess.run([RAYNAS, "split", "--dataset", "digits", "--out", str(out), "--format",
                                        "json"], capture_output=True, text=True).stdout)
    assert second["action"] == "reused" and second["fingerprint"] == data["fingerprint"]
    third = subprocess.run([RAYNAS, "split", "--dataset", "digits", "--out", str(out), "--seed", "5"],
                           capture_output=True, text=True)
    assert third.returncode == 2 and "--overwrite" in third.stderr and "Traceback" not in third.stderr
