"""What the dataset-kind tests share: tiny data written to a temp folder, a task around it, one epoch of training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from raynas.data import make_split
from raynas.tasks import task_from_dict

FAMILIES = Path(__file__).resolve().parents[2] / "search_spaces"
SMALL_CNN = {"stages": [{"block": "conv", "kernel": 3, "width": 16}], "activation": "relu", "downsample": True}
MLP = {"widths": [32], "activation": "relu", "norm": "none", "residual": False}


def write_images(root: Path, *, classes: int = 3, per_class: int = 20, size: int = 12, seed: int = 0,
                 mode: str = "RGB") -> Path:
    """A folder per class of PNGs whose brightness gives the class away (learnable in one epoch)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label in range(classes):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size, size, 3) if mode == "RGB" else (size, size)
            pixels = np.clip(label * 200 // max(1, classes - 1) + rng.integers(-20, 20, shape), 0, 255)
            Image.fromarray(pixels.astype(np.uint8), mode).save(folder / f"{i:04d}.png")
    return root


def blobs(n: int, *, features: int = 6, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable Gaussian blobs: (n, features) float32 and int labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.normal(0, 3, (classes, features))
    return (centres[y] + rng.normal(0, 0.5, (n, features))).astype(np.float32), y.astype(np.int64)


def task_for(folder: Path, dataset: Any, *, family: str = "small_cnn", proxy: dict | None = None, **extra: Any):
    """A task whose file would live in ``folder`` (relative dataset paths resolve against it)."""
    data = {"name": "tiny", "dataset": dataset, "family": family, "recipe": {"batch_size": 16, "epochs": 1},
            "variants": {"full": {"epochs": 1}, "proxy": {"epochs": 1, **(proxy or {})}}, **extra}
    return task_from_dict(data, source=str(folder / "task.yaml"))


def check_split_of(data) -> None:
    """The two-stage split and its three checks work from the labels alone."""
    split = make_split(data.train_y, data.val_y, dataset=data.name, data_fingerprint=data.fingerprint(), seed=0)
    assert len(split.stage1_train) + len(split.stage1_val) == len(data.train_y)
    assert {c.name for c in split.checks} == {"validation_distribution", "examples_per_class", "class_balance"}


def train_one_epoch(task, folder: Path, *, variant: str = "proxy", arch: Any = None) -> dict[str, Any]:
    """ensure_split then one epoch of the built-in trainer, in this process (no Ray)."""
    from raynas.training import TrainingEvaluator, ensure_split

    split_path = str(folder / "split.parquet")
    ensure_split(task, split_path)
    family = FAMILIES / f"{task.family}.py"
    arch = arch if arch is not None else (SMALL_CNN if task.family == "small_cnn" else MLP)
    evaluator = TrainingEvaluator(task, variant, split_path, device="cpu", family_source=str(family), workers=1,
                                  keep_checkpoint=False)
    metrics = evaluator.evaluate(arch, seed=0)
    assert metrics["epoch"] == 1 and np.isfinite(metrics["train_loss"])
    assert 0.0 <= metrics["val_accuracy"] <= 100.0
    return metrics


def assert_config_error(match_value: str, match_fix: str, func, *args, **kwargs):
    """``func`` raises one ConfigError whose message names the bad value and the fix."""
    from raynas.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        func(*args, **kwargs)
    text = str(info.value)
    assert match_value in text and "Fix:" in text and match_fix in text.split("Fix:", 1)[1], text
    return info.value
