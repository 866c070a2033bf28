"""Model families, tasks and the trainer on real (small) data, without Ray."""

from __future__ import annotations

import math
import random

import pytest

from raynas.errors import ConfigError, InvalidTrialError, UnknownNameError
from raynas.families import discover_families, load_family
from raynas.tasks import load_task, task_from_dict
from raynas.training import NonFiniteLossError, TrainingEvaluator, TrainingRecipe, ensure_split, train_and_evaluate

FAMILIES = sorted(discover_families())
#: One example's shape per family (images (C, H, W) unless named here): what each family is built for.
INPUT_SHAPES = {"seq1d": (2, 40)}


def test_the_repository_ships_several_families():
    assert {"small_cnn", "mlp", "seq1d"} <= set(FAMILIES)


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_builds_random_samples_and_runs_forward_backward_on_cpu(name):
    import torch

    from raynas.training import family_input_kwargs

    family = load_family(name)
    shape = INPUT_SHAPES.get(name, (3, 16, 16))
    rng = random.Random(0)
    for _ in range(5):
        arch = family.space.sample(rng)
        for width, depth in ((1.0, 1.0), (0.5, 0.5)):
            model = family.build(arch, **family_input_kwargs(family.build, shape), num_classes=7, width_mult=width,
                                 depth_mult=depth)
            x = torch.randn(4, *shape)
            out = model(x)
            assert out.shape == (4, 7)
            out.sum().backward()
            assert any(p.grad is not None for p in model.parameters())


def _write_family(folder, name, body):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(body)
    return folder


def test_hyperparameters_inside_an_architecture_space_are_refused(tmp_path):
    folder = _write_family(tmp_path / "search_spaces", "sneaky", (
        "from raynas.space import SearchSpace, one_of\n"
        "SPACE = SearchSpace({'width': one_of(8, 16), 'learning_rate': one_of(0.1, 0.01)}, name='sneaky')\n"
        "def build(arch, **kw):\n    raise NotImplementedError\n"))
    with pytest.raises(ConfigError, match="learning_rate.*augmentation separately"):
        load_family("sneaky", search_dirs=[folder])


def test_unknown_family_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="model family 'resnet9000'.*search_spaces"):
        load_family("resnet9000")


def _task(**variants):
    return {"name": "t", "dataset": "digits", "family": "small_cnn", "recipe": {"epochs": 3},
            "variants": variants or {"full": {"epochs": 3}, "proxy": {"epochs": 1, "data_fraction": 0.5}}}


def test_task_validation():
    task = task_from_dict(_task())
    assert task.recipe_for("proxy").epochs == 1 and task.recipe_for("full").epochs == 3
    with pytest.raises(ConfigError, match="proxy no larger than the full variant"):
        task_from_dict(_task(full={"epochs": 3}, proxy={"epochs": 5}))
    with pytest.raises(ConfigError, match="both a 'proxy' and a 'full'"):
        task_from_dict(_task(full={"epochs": 3}))
    with pytest.raises(ConfigError, match="recipe.optimizer"):
        task_from_dict({**_task(), "recipe": {"optimizer": "lion"}})
    with pytest.raises(ConfigError, match="did you mean 'data_fraction'"):
        task_from_dict(_task(full={"epochs": 3}, proxy={"epochs": 1, "data_fracton": 0.5}))


def test_shipped_tasks_load():
    assert load_task("digits").family == "small_cnn"
    cifar = load_task("cifar10")
    assert cifar.dataset == "cifar10" and cifar.resolve_data_dir().endswith("cifar-10-batches-py")


def test_trainer_learns_digits_and_reports_every_epoch(tmp_path):
    task = load_task("digits")
    ensure_split(task, str(tmp_path / "split.parquet"))
    reports = []
    evaluator = TrainingEvaluator(task, "proxy", str(tmp_path / "split.parquet"))
    arch = {"stages": [{"block": "conv", "kernel": 3, "width": 32}], "activation": "relu", "downsample": True}
    metrics = evaluator.evaluate(arch, seed=0, report=reports.append)
    assert [r["epoch"] for r in reports] == list(range(1, task.variant("proxy").epochs))
    assert metrics["epoch"] == task.variant("proxy").epochs
    assert metrics["val_accuracy"] > 80 and metrics["reward"] == metrics["val_accuracy"]
    assert reports[0]["train_loss"] > metrics["train_loss"]
    again = evaluator.evaluate(arch, seed=0)
    assert again["val_accuracy"] == metrics["val_accuracy"]  # seeded


def test_nan_loss_and_unbuildable_architecture_are_invalid(tmp_path):
    import numpy as np
    import torch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")  # injected: the loss is NaN from the first batch on
    x = np.random.default_rng(0).random((64, 1, 8, 8), dtype=np.float32)
    y = np.arange(64) % 10
    with pytest.raises(NonFiniteLossError, match="training loss is nan in epoch 1"):
        train_and_evaluate(model, train_x=x, train_y=y, val_x=x, val_y=y, seed=0, recipe=TrainingRecipe(epochs=2))
    folder = _write_family(tmp_path / "search_spaces", "fragile", (
        "from raynas.space import SearchSpace, one_of\n"
        "SPACE = SearchSpace({'width': one_of(8, 0)}, name='fragile')\n"
        "def build(arch, *, in_channels, num_classes, image_size, width_mult=1.0, depth_mult=1.0):\n"
        "    import torch\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(in_channels * image_size ** 2,"
        " arch['width'] // arch['width'] * num_classes))\n"))
    task = task_from_dict({**_task(), "family": str(folder / "fragile.py")})
    ensure_split(task, str(tmp_path / "split.parquet"))
    evaluator = TrainingEvaluator(task, "proxy", str(tmp_path / "split.parquet"))
    assert math.isfinite(evaluator.evaluate({"width": 8}, seed=0)["reward"])
    with pytest.raises(InvalidTrialError, match="cannot be built: ZeroDivisionError"):
        evaluator.evaluate({"width": 0}, seed=0)
