"""The image_folder kind: labels from folder names, images decoded as they are read, trained through DataLoaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raynas.data import DatasetSource, StreamedDataset, load_dataset
from tests.data.helpers import assert_config_error, check_split_of, task_for, train_one_epoch, write_images


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("imgs") / "images", classes=3, per_class=20, size=12)


def test_labels_come_from_folder_names_and_a_stratified_share_is_the_validation_set(images):
    data = load_dataset({"kind": "image_folder", "path": "images", "image_size": 8}, base_dir=images.parent)
    assert isinstance(data, StreamedDataset) and isinstance(data, DatasetSource) and data.arrays() is None
    assert data.name == "image_folder:images" and data.num_classes == 3 and data.input_shape == (3, 8, 8)
    assert len(data.train_y) == 48 and np.bincount(data.val_y).tolist() == [4, 4, 4]  # 20% of each class
    x, y = data.train_dataset()[0]
    assert x.dtype == torch.float32 and x.shape == (3, 8, 8) and 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
    assert y == int(data.train_y[0])
    assert data.val_dataset(image_size=4)[0][0].shape == (3, 4, 4)  # a proxy's resolution_mult
    again = load_dataset({"kind": "image_folder", "path": str(images), "image_size": 8})
    assert again.fingerprint() == data.fingerprint() and np.array_equal(again.val_y, data.val_y)
    check_split_of(data)


def test_a_validation_folder_grey_images_and_normalisation(tmp_path):
    write_images(tmp_path / "train", per_class=10, size=6, mode="L")
    write_images(tmp_path / "val", per_class=3, size=6, mode="L", seed=1)
    data = load_dataset({"kind": "image_folder", "path": "train", "val_path": "val", "channels": 1,
                         "mean": 0.5, "std": 0.25}, base_dir=tmp_path)
    assert data.input_shape == (1, 6, 6) and len(data.train_y) == 30 and len(data.val_y) == 9  # size: the images'
    x, _ = data.val_dataset()[0]
    assert x.shape == (1, 6, 6) and float(x.min()) < 0  # (pixels - 0.5) / 0.25
    check_split_of(data)


def test_trains_one_epoch_streamed_with_a_worker_process_and_the_proxy_scales(images):
    task = task_for(images.parent, {"kind": "image_folder", "path": "images", "image_size": 8, "workers": 1},
                    proxy={"data_fraction": 0.5, "resolution_mult": 0.5})
    proxy = train_one_epoch(task, images.parent)
    full = train_one_epoch(task, images.parent, variant="full")
    assert proxy["flops"] < full["flops"]  # 4x4 inputs instead of 8x8


def test_bad_image_folders_are_clear_errors(tmp_path):
    assert_config_error("'missing'", "does not exist", load_dataset, {"kind": "image_folder", "path": "missing"},
                        base_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    assert_config_error("'empty'", "sub-folder named after the class", load_dataset,
                        {"kind": "image_folder", "path": "empty"}, base_dir=tmp_path)
    write_images(tmp_path / "one", classes=1, per_class=3)
    error = assert_config_error("'one'", "'class_0'", load_dataset, {"kind": "image_folder", "path": "one"},
                                base_dir=tmp_path)
    assert error.field == "dataset.path" and "at least 2 classes" in str(error)
    write_images(tmp_path / "holey", classes=2, per_class=2)
    (tmp_path / "holey" / "class_9").mkdir()
    assert_config_error("'holey'", "'class_9' holds no images", load_dataset, {"kind": "image_folder", "path": "holey"},
                        base_dir=tmp_path)
    assert_config_error("dataset.imagesize", "did you mean 'image_size'", load_dataset,
                        {"kind": "image_folder", "path": "one", "imagesize": 8}, base_dir=tmp_path)


def test_a_task_checks_its_image_folder_when_it_is_loaded(tmp_path):
    with pytest.raises(Exception) as info:
        task_for(tmp_path, {"kind": "image_folder", "path": "./nowhere"})
    text = str(info.value)
    assert "task.yaml" in text and "dataset.path: got './nowhere'" in text and str(tmp_path / "nowhere") in text


def test_two_data_parallel_processes_each_stream_their_share(images, tmp_path):
    from raynas.training import TrainingEvaluator, ensure_split
    from tests.data.helpers import FAMILIES, SMALL_CNN

    task = task_for(images.parent, {"kind": "image_folder", "path": "images", "image_size": 8, "workers": 0})
    ensure_split(task, str(tmp_path / "split.parquet"))
    reports: list[dict] = []
    evaluator = TrainingEvaluator(task, "full", str(tmp_path / "split.parquet"), device="cpu",
                                  family_source=str(FAMILIES / "small_cnn.py"), workers=2, keep_checkpoint=False)
    metrics = evaluator.evaluate(SMALL_CNN, seed=0, report=reports.append)
    assert metrics["workers"] == 2 and metrics["epoch"] == 1 and 0 <= metrics["val_accuracy"] <= 100
