"""train_streamed: the DataLoader path of the built-in trainer keeps train_and_evaluate's contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from raynas.training import NonFiniteLossError, TrainingRecipe, train_streamed


def _data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    return TensorDataset(torch.randn(n, 4, generator=g) + y[:, None] * 2.0, y)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_reports_every_epoch_but_the_last_checkpoints_and_is_seeded(tmp_path):
    recipe = TrainingRecipe(batch_size=16, epochs=3, learning_rate=0.05)
    reports: list[dict] = []
    ckpt = tmp_path / "model.pt"
    first = train_streamed(_model(), train_data=_data(64, 0), val_data=_data(20, 1), recipe=recipe, seed=3,
                           device="cpu", report=reports.append, checkpoint_path=str(ckpt), workers=0)
    assert [r["epoch"] for r in reports] == [1, 2] and first["epoch"] == 3 and first["val_accuracy"] > 80
    assert torch.load(ckpt, weights_only=False)["epoch"] == 3
    second = train_streamed(_model(), train_data=_data(64, 0), val_data=_data(20, 1), recipe=recipe, seed=3,
                            device="cpu", workers=1)  # a worker process reads the batches: same result
    assert np.isclose(first["train_loss"], second["train_loss"]) and first["val_accuracy"] == second["val_accuracy"]


def test_a_non_finite_loss_raises():
    data = _data(32, 0)
    data.tensors[0][5] = float("nan")
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        train_streamed(_model(), train_data=data, val_data=_data(8, 1), recipe=TrainingRecipe(epochs=2), seed=0,
                       device="cpu", workers=0)
