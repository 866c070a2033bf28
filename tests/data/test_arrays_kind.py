"""The arrays kind: a .npz file or a folder of .npy files, in memory (the tensor path of the trainer)."""

from __future__ import annotations

import numpy as np

from raynas.data import ArrayDataset, load_dataset
from tests.data.helpers import assert_config_error, check_split_of, task_for, train_one_epoch


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return (y[:, None, None, None] / 2 + rng.normal(0, 0.1, (n, 1, 8, 8))).astype(np.float32), y


def test_npz_with_a_validation_set_loads_splits_and_trains(tmp_path):
    (x, y), (vx, vy) = _images(90, 0), _images(30, 1)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_val=vx, y_val=vy)
    task = task_for(tmp_path, {"kind": "arrays", "path": "data.npz"}, proxy={"data_fraction": 0.5})
    data = load_dataset(task.dataset_spec())
    assert isinstance(data, ArrayDataset) and data.arrays() is data and data.input_shape == (1, 8, 8)
    assert data.num_classes == 3 and len(data.train_y) == 90 and len(data.val_y) == 30
    assert data.train_dataset()[0][0].shape == (1, 8, 8)
    check_split_of(data)
    train_one_epoch(task, tmp_path)


def test_a_folder_of_npy_files_without_validation_arrays_holds_out_a_share(tmp_path):
    x, y = _images(100, 0)
    np.save(tmp_path / "x_train.npy", x)
    np.save(tmp_path / "y_train.npy", y)
    data = load_dataset({"kind": "arrays", "path": ".", "val_fraction": 0.3}, base_dir=tmp_path)
    assert len(data.val_y) == 30 and len(data.train_y) == 70 and data.name == "arrays:" + tmp_path.name
    check_split_of(data)


def test_bad_arrays_are_clear_errors(tmp_path):
    assert_config_error("'gone.npz'", "does not exist", load_dataset, {"kind": "arrays", "path": "gone.npz"},
                        base_dir=tmp_path)
    np.savez(tmp_path / "half.npz", x_train=np.zeros((4, 2)), labels=np.zeros(4))
    assert_config_error("'half.npz'", "missing y_train; found labels, x_train", load_dataset,
                        {"kind": "arrays", "path": "half.npz"}, base_dir=tmp_path)
    np.savez(tmp_path / "neg.npz", x_train=np.zeros((4, 2)), y_train=np.array([0, 1, -1, 0]))
    assert_config_error("'neg.npz'", "smallest label is -1", load_dataset, {"kind": "arrays", "path": "neg.npz"},
                        base_dir=tmp_path)
