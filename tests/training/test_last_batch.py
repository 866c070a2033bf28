"""A data size that leaves one example over does not fail architectures with batch normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.training import TrainingRecipe, batches_per_epoch, train_and_evaluate


@pytest.mark.parametrize("examples, batch, expected", [(65, 32, 2), (64, 32, 2), (66, 32, 3), (1, 32, 1), (33, 32, 1)])
def test_a_last_batch_of_one_joins_the_one_before(examples, batch, expected):
    assert batches_per_epoch(examples, batch) == expected


@pytest.mark.parametrize("examples", [65, 33])
def test_batch_norm_trains_when_one_example_is_left_over(examples):
    from torch import nn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(examples, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    metrics = train_and_evaluate(model, train_x=x, train_y=y, val_x=x, val_y=y, seed=0, device="cpu",
                                 recipe=TrainingRecipe(batch_size=32, epochs=2))
    assert metrics["epoch"] == 2 and np.isfinite(metrics["train_loss"])


def test_counting_flops_neither_fails_on_batch_norm_nor_changes_its_statistics():
    import torch
    from torch import nn

    from raynas.training import count_flops

    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8))
    before = model[1].running_mean.clone()
    assert count_flops(model, torch.zeros(1, 5)) > 0
    assert model.training and torch.equal(model[1].running_mean, before)
