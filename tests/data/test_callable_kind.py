"""The callable kind: a function of the user's returning (train, val) torch Datasets, streamed through DataLoaders."""

from __future__ import annotations

import textwrap

import numpy as np

from raynas.data import StreamedDataset, load_dataset
from tests.data.helpers import assert_config_error, check_split_of, task_for, train_one_epoch

DATA_PY = textwrap.dedent('''
    import torch
    from torch.utils.data import Dataset, TensorDataset


    class WithTargets(Dataset):
        """Images as numpy arrays, labels in ``targets`` (as torchvision's datasets have them)."""

        def __init__(self, n, seed):
            g = torch.Generator().manual_seed(seed)
            self.targets = [i % 3 for i in range(n)]
            self.x = torch.rand(n, 1, 8, 8, generator=g) * 0.2 + torch.tensor(self.targets).view(-1, 1, 1, 1) * 0.4

        def __len__(self):
            return len(self.targets)

        def __getitem__(self, i):
            return self.x[i].numpy(), self.targets[i]


    def make(n=60):
        val_x = torch.rand(15, 1, 8, 8)
        val = TensorDataset(val_x, torch.arange(15) % 3)  # no targets: its labels are read item by item
        return WithTargets(n, 0), val


    def not_a_pair():
        return 42
''')


def test_a_file_function_loads_splits_and_trains_one_epoch(tmp_path):
    (tmp_path / "data.py").write_text(DATA_PY)
    task = task_for(tmp_path, {"kind": "callable", "function": "./data.py:make", "kwargs": {"n": 90}, "workers": 0},
                    proxy={"resolution_mult": 0.5})
    data = load_dataset(task.dataset_spec())
    assert isinstance(data, StreamedDataset) and data.arrays() is None
    assert data.input_shape == (1, 8, 8) and data.num_classes == 3 and len(data.train_y) == 90
    assert np.array_equal(data.val_y, np.arange(15) % 3)
    x, y = data.train_dataset(image_size=4)[1]
    assert tuple(x.shape) == (1, 4, 4) and str(x.dtype) == "torch.float32" and y == 1
    check_split_of(data)
    train_one_epoch(task, tmp_path)


def test_bad_functions_are_clear_errors(tmp_path):
    (tmp_path / "data.py").write_text(DATA_PY)
    assert_config_error("'./data.py:nothing'", "define nothing() there", load_dataset,
                        {"kind": "callable", "function": "./data.py:nothing"}, base_dir=tmp_path)
    assert_config_error("'./other.py:make'", "check the path", load_dataset,
                        {"kind": "callable", "function": "./other.py:make"}, base_dir=tmp_path)
    assert_config_error("'no_such_pkg.data:make'", "No module named 'no_such_pkg'", load_dataset,
                        {"kind": "callable", "function": "no_such_pkg.data:make"})
    assert_config_error("'./data.py:not_a_pair'", "returned int", load_dataset,
                        {"kind": "callable", "function": "./data.py:not_a_pair"}, base_dir=tmp_path)
