"""Augmentation search spaces and policies (a separate search type, on a fixed architecture)."""

from __future__ import annotations

import pytest

from raynas.augment import OPS, autoaugment_space, make_augmenter, randaugment_space
from raynas.config import SearchConfig
from raynas.errors import ConfigError, RaynasError

ARCH = {"stages": [{"block": "conv", "kernel": 3, "width": 16}], "activation": "relu", "downsample": True}


def test_policies_change_batches_reproducibly():
    import torch

    x = torch.rand(8, 1, 8, 8)
    for space in (randaugment_space(), autoaugment_space()):
        for seed in range(5):
            policy = space.sample(seed)
            augment = make_augmenter(policy)
            a = augment(x, torch.Generator().manual_seed(1))
            b = augment(x, torch.Generator().manual_seed(1))
            assert a.shape == x.shape and torch.equal(a, b) and float(a.min()) >= 0 and float(a.max()) <= 1


def test_every_operation_keeps_shape_and_range():
    import torch

    x = torch.rand(3, 3, 16, 16)
    for name, op in OPS.items():
        y = op(x, 1.0)
        assert y.shape == x.shape and float(y.min()) >= -1e-6 and float(y.max()) <= 1 + 1e-6, name


def test_zero_probability_subpolicies_leave_the_batch_alone():
    import torch

    step = {"op": "cutout", "probability": 0.0, "magnitude": 1.0}
    policy = {"policy": "autoaugment", "subpolicies": [[step, step]] * 3}
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(make_augmenter(policy)(x, torch.Generator().manual_seed(0)), x)
    assert make_augmenter(None) is None


def test_augmentation_search_config():
    config = SearchConfig.from_dict({"task": "proxy_tasks/digits.yaml", "search_type": "augmentation", "arch": ARCH,
                                     "augmentation_space": "autoaugment"})
    assert config.build_space().name == "autoaugment"
    with pytest.raises(ConfigError, match="fixed architecture"):
        SearchConfig.from_dict({"task": "proxy_tasks/digits.yaml", "search_type": "augmentation"})
    with pytest.raises(RaynasError):
        SearchConfig.from_dict({"task": "proxy_tasks/digits.yaml", "search_type": "augmentation",
                                "arch": {"stages": 3}})
    with pytest.raises(ConfigError, match="search_type"):
        SearchConfig.from_dict({"search_type": "hyper"})
