"""Latency/memory/FLOPs measurement and MnasNet-style rewards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from raynas.errors import ConfigError
from raynas.rewards import RewardTargets, compute_reward

RAYNAS = str(Path(sys.executable).with_name("raynas"))


def test_reward_formula_hard_and_soft():
    soft = RewardTargets(latency_ms=10, memory_mb=100, weight=0.5, mode="soft")
    out = compute_reward(80.0, targets=soft, latency_ms=40, memory_mb=25)
    assert out["latency_factor"] == pytest.approx(0.5) and out["memory_factor"] == pytest.approx(2.0)
    assert out["reward"] == pytest.approx(80.0 * 0.5 * 2.0) and out["accuracy"] == 80.0
    hard = RewardTargets(latency_ms=10, memory_mb=100, weight=0.5, mode="hard")
    out = compute_reward(80.0, targets=hard, latency_ms=40, memory_mb=25)
    assert out["memory_factor"] == 1.0 and out["reward"] == pytest.approx(40.0)  # faster/smaller earns nothing
    assert compute_reward(70.0, targets=RewardTargets())["reward"] == 70.0  # no targets: reward = accuracy


def test_bad_targets_are_clear_errors():
    with pytest.raises(ConfigError, match="targets.mode"):
        RewardTargets(latency_ms=1, mode="medium")
    with pytest.raises(ConfigError, match="targets.latency_ms"):
        RewardTargets(latency_ms=-1)


def test_flops_and_cost_of_a_known_model():
    import torch

    from raynas.training import count_flops, measure_model

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    assert count_flops(model, torch.zeros(1, 1, 8, 8)) == 2 * 64 * 10
    cost = measure_model(model, input_shape=(1, 8, 8), batch_size=4, warmup=2, repeats=5)
    assert cost.params == 650 and cost.flops == 1280 and cost.latency_ms > 0
    assert cost.latency_p90_ms >= cost.latency_ms and cost.memory_mb > 0 and cost.batch_size == 4


def test_latency_command_json_and_bad_arch():
    arch = {"stages": [{"block": "conv", "kernel": 3, "width": 16}], "activation": "relu", "downsample": True}
    out = subprocess.run([RAYNAS, "latency", "--task", "digits", "--arch", json.dumps(arch), "--repeats", "5",
                          "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["arch"] == arch and data["params"] > 0 and data["flops"] > 0 and data["latency_ms"] > 0
    bad = subprocess.run([RAYNAS, "latency", "--task", "digits", "--arch", '{"stages": 3}'], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_trial_reports_every_reward_term_when_the_task_sets_targets(tmp_path):
    from raynas.tasks import task_from_dict
    from raynas.training import TrainingEvaluator, ensure_split

    task = task_from_dict({"name": "t", "dataset": "digits", "family": "small_cnn", "recipe": {"epochs": 2},
                           "variants": {"full": {"epochs": 2}, "proxy": {"epochs": 2}},
                           "targets": {"latency_ms": 1e-4, "weight": 0.1, "mode": "soft"}})
    ensure_split(task, str(tmp_path / "split.parquet"))
    arch = {"stages": [{"block": "conv", "kernel": 3, "width": 16}], "activation": "relu", "downsample": True}
    metrics = TrainingEvaluator(task, "proxy", str(tmp_path / "split.parquet")).evaluate(arch, seed=0)
    assert {"latency_ms", "memory_mb", "flops", "params", "accuracy", "latency_factor", "memory_factor"} <= set(metrics)
    assert metrics["latency_factor"] < 1 and metrics["reward"] < metrics["accuracy"] == metrics["val_accuracy"]
