"""The built-in trainer with pretrained weights for the part outside the space, and stage 2's --init."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from raynas.errors import ConfigError
from raynas.targets import Stage, task_target

FAMILY = '''
from raynas.space import SearchSpace, one_of

SPACE = SearchSpace({"hidden": one_of(16, 32)}, name="headsearch")
BASELINE = {"hidden": 16}


def build(arch, *, in_channels, num_classes, image_size, width_mult=1.0, depth_mult=1.0):
    from torch import nn

    model = nn.Sequential()
    model.add_module("backbone", nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size ** 2, 48), nn.ReLU()))
    model.add_module("head", nn.Sequential(nn.Linear(48, arch["hidden"]), nn.ReLU(), nn.Linear(arch["hidden"], num_classes)))
    return model
'''


@pytest.fixture()
def task(tmp_path):
    import torch
    from torch import nn

    (tmp_path / "headsearch.py").write_text(FAMILY)
    torch.manual_seed(1)
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU()).state_dict(), tmp_path / "backbone.pt")
    path = tmp_path / "task.yaml"
    path.write_text("name: heads\ndataset: digits\nfamily: ./headsearch.py\nrecipe: {epochs: 5, learning_rate: 0.01}\n"
                    "variants:\n  full: {epochs: 5}\n  proxy: {epochs: 1}\n"
                    "pretrained: {checkpoint: ./backbone.pt, prefix: backbone., freeze: true}\n")
    return path


def test_the_built_in_trainer_loads_and_freezes_the_pretrained_backbone(task, tmp_path):
    import torch

    evaluator = task_target(task).evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp",
                                            device="cpu")
    final = evaluator.evaluate({"hidden": 16}, seed=0)
    trained = torch.load(Path(final["raynas_checkpoint_dir"]) / "model.pt")["model"]
    assert torch.equal(trained["backbone.1.weight"], torch.load(tmp_path / "backbone.pt")["1.weight"])
    assert final["val_accuracy"] > 50


def test_a_backbone_that_does_not_fit_is_refused_with_its_shapes(task, tmp_path):
    import torch
    from torch import nn

    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 40)).state_dict(), tmp_path / "backbone.pt")
    evaluator = task_target(task).evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path / "exp",
                                            device="cpu")
    with pytest.raises(ConfigError, match=re.escape("backbone.1.weight: checkpoint (40, 64) vs model (48, 64)")):
        evaluator.evaluate({"hidden": 16}, seed=0)


def test_stage2_init_starts_full_training_from_given_weights(task, tmp_path):
    from raynas.training import PretrainedWeights

    task.write_text(task.read_text().replace(", freeze: true", ""))
    target = task_target(task)
    first = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
    epochs_from_scratch = []
    trained = first.evaluate({"hidden": 32}, seed=0, report=epochs_from_scratch.append)
    init = PretrainedWeights(str(Path(trained["raynas_checkpoint_dir"]) / "model.pt"))
    again = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu",
                             init=init)
    epochs_from_init = []
    again.evaluate({"hidden": 32}, seed=0, report=epochs_from_init.append)
    # after one more epoch from the trained weights it is at least where training from scratch ended
    assert epochs_from_init[0]["val_accuracy"] >= trained["val_accuracy"] - 1.0
    assert epochs_from_init[0]["val_accuracy"] > epochs_from_scratch[0]["val_accuracy"]
    with pytest.raises(ConfigError, match="an existing checkpoint file"):
        PretrainedWeights.from_value("./nope.pt", base_dir=tmp_path)
