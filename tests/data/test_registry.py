"""The dataset registry: bundled names, mappings with kind, plug-ins (entry points, module:function), task checks."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml

from raynas.data import DATASET_KINDS, ENTRY_POINT_GROUP, ArrayDataset, DatasetSpec, dataset_kinds, dataset_spec, load_dataset
from raynas.errors import ConfigError
from raynas.tasks import load_task
from tests.data.helpers import assert_config_error, task_for, write_images

PLUGIN_PY = textwrap.dedent('''
    import numpy as np
    from raynas.data import ArrayDataset

    OPTIONS = {"n": "examples per class"}
    REQUIRED = ("n",)


    def load(spec):
        n = spec.option("n")
        y = np.arange(3 * n) % 3
        x = np.random.default_rng(0).normal(size=(3 * n, 5)).astype(np.float32)
        return ArrayDataset("ring", x, y, x[:6], y[:6], 3)
''')


def test_every_built_in_kind_is_a_lazy_module_function_reference():
    assert {"digits", "cifar10", "mnist1d", "image_folder", "arrays", "table", "callable"} <= set(DATASET_KINDS)
    assert all(ref.startswith("raynas.data._") and ":" in ref for ref in DATASET_KINDS.values())
    assert dataset_spec("digits") == DatasetSpec("digits", {})


def test_unknown_kinds_and_malformed_values_are_clear_errors():
    error = assert_config_error("'mnist'", "did you mean 'mnist1d'", load_dataset, "mnist")
    assert all(kind in error.expected for kind in DATASET_KINDS)  # lists the known kinds
    error = assert_config_error("'imagefolder'", "did you mean 'image_folder'", dataset_spec,
                                {"kind": "imagefolder", "path": "x"})
    assert error.field == "dataset.kind"
    assert_config_error("{'path': './images'}", "add `kind:`", dataset_spec, {"path": "./images"})
    with pytest.raises(ConfigError, match="dataset: got 7; expected a dataset name"):
        dataset_spec(7)


def test_a_task_rejects_an_unknown_kind_when_it_is_loaded(tmp_path):
    with pytest.raises(ConfigError) as info:
        task_for(tmp_path, {"kind": "parquet_table", "path": "t.parquet"})
    assert "task.yaml" in str(info.value) and "'parquet_table'" in str(info.value) and "table" in str(info.value)


def test_plug_ins_by_entry_point_and_by_module_function(tmp_path, monkeypatch):
    (tmp_path / "ring_data.py").write_text(PLUGIN_PY)
    monkeypatch.syspath_prepend(str(tmp_path))
    from importlib.metadata import EntryPoint

    import raynas.plugins

    installed = [EntryPoint(name="ring", value="ring_data:load", group=ENTRY_POINT_GROUP)]  # as a package declares it
    monkeypatch.setattr(raynas.plugins, "entry_points", lambda group: installed if group == ENTRY_POINT_GROUP else [])
    assert "ring" in dataset_kinds()
    data = load_dataset({"kind": "ring", "n": 4})
    assert isinstance(data, ArrayDataset) and data.name == "ring" and len(data.train_y) == 12
    assert load_dataset({"kind": "ring_data:load", "n": 2}).input_shape == (5,)
    assert load_dataset({"kind": "./ring_data.py:load", "n": 2}, base_dir=tmp_path).num_classes == 3
    assert_config_error("dataset.n: got None", "add `n:`", load_dataset, {"kind": "ring"})
    assert_config_error("dataset.nn", "did you mean 'n'", load_dataset, {"kind": "ring", "n": 1, "nn": 2})


def test_task_files_resolve_dataset_paths_against_their_folder_and_keep_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "tasks"
    write_images(folder / "pics", classes=2, per_class=3, size=4)
    task_file = folder / "pics.yaml"
    task_file.write_text(yaml.safe_dump({
        "name": "pics", "dataset": {"kind": "image_folder", "path": "pics"}, "family": "small_cnn",
        "recipe": {"epochs": 1}, "variants": {"full": {"epochs": 1}, "proxy": {"epochs": 1}}}))
    monkeypatch.chdir(tmp_path)  # not the task's folder
    task = load_task(str(task_file))
    spec = task.dataset_spec()
    assert spec.kind == "image_folder" and spec.path() == (folder / "pics").resolve()
    assert spec.to_task_value() == {"kind": "image_folder", "path": str((folder / "pics").resolve())}
    assert load_dataset(spec).num_classes == 2
    cifar = task_for(folder, "cifar10", data_dir="cifar-10-batches-py")
    assert cifar.dataset_spec().data_dir == str((folder / "cifar-10-batches-py").resolve())
    with pytest.raises(ConfigError, match="cifar-10-batches-py"):
        load_dataset(cifar.dataset_spec())  # the folder is checked when the data is loaded, as before


def test_load_dataset_keeps_its_name_and_data_dir_form():
    data = load_dataset("digits")
    assert isinstance(data, ArrayDataset) and data.input_shape == (1, 8, 8) and data.workers == 0
    assert np.array_equal(data.val_dataset().targets, data.val_y)
