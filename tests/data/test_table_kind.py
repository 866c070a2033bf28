"""The table kind: Parquet or CSV, a label column and numeric features, for MLP families (x shape (N, F))."""

from __future__ import annotations

import numpy as np
import pandas as pd

from raynas.data import load_dataset
from tests.data.helpers import assert_config_error, blobs, check_split_of, task_for, train_one_epoch


def _frame(n: int, seed: int) -> pd.DataFrame:
    x, y = blobs(n, features=4, seed=seed)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    frame["species"] = np.array(["ant", "bee", "cat"])[y]
    frame["note"] = "text columns are left out by default"
    return frame


def test_parquet_with_string_labels_loads_splits_and_trains_an_mlp(tmp_path):
    _frame(120, 0).to_parquet(tmp_path / "train.parquet")
    _frame(30, 1).to_parquet(tmp_path / "val.parquet")
    task = task_for(tmp_path, {"kind": "table", "path": "train.parquet", "val_path": "val.parquet",
                               "label": "species"}, family="mlp", proxy={"data_fraction": 0.5})
    data = load_dataset(task.dataset_spec())
    assert data.input_shape == (4,) and data.num_classes == 3 and data.name == "table:train"
    assert len(data.train_y) == 120 and len(data.val_y) == 30 and set(data.val_y) == {0, 1, 2}
    assert abs(float(data.train_x.mean())) < 1e-5  # standardised with the training rows' statistics
    check_split_of(data)
    metrics = train_one_epoch(task, tmp_path)
    assert metrics["params"] > 0


def test_csv_with_integer_labels_chosen_features_and_a_held_out_share(tmp_path):
    frame = _frame(100, 0)
    frame["label"] = frame.pop("species").map({"ant": 0, "bee": 1, "cat": 2})
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = load_dataset({"kind": "table", "path": "t.csv", "label": "label", "features": ["f0", "f2"],
                         "normalize": False}, base_dir=tmp_path)
    assert data.input_shape == (2,) and len(data.val_y) == 21 and data.num_classes == 3  # 7 of each 34/33 class
    assert np.allclose(np.sort(np.concatenate([data.train_x[:, 0], data.val_x[:, 0]])), np.sort(frame["f0"]))
    check_split_of(data)


def test_a_table_without_its_label_column_is_a_clear_error_at_task_load(tmp_path):
    _frame(20, 0).to_parquet(tmp_path / "t.parquet")
    error = assert_config_error("'specie'", "no column 'specie' (did you mean 'species'?)", task_for, tmp_path,
                                {"kind": "table", "path": "t.parquet", "label": "specie"}, family="mlp")
    assert error.field == "dataset.label" and "f0, f1" in str(error)
    assert_config_error("'nope.csv'", "does not exist", load_dataset,
                        {"kind": "table", "path": "nope.csv", "label": "y"}, base_dir=tmp_path)
    assert_config_error("dataset.label: got None", "add `label:`", load_dataset,
                        {"kind": "table", "path": "t.parquet"}, base_dir=tmp_path)
    assert_config_error("['note']", "'note'", load_dataset,
                        {"kind": "table", "path": "t.parquet", "label": "species", "features": ["f0", "note"]},
                        base_dir=tmp_path)
