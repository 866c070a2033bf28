"""Real training trials on Ray: the digits task end to end, and invalid architectures recorded as such."""

from __future__ import annotations

import pytest
import yaml

from raynas.config import SearchConfig
from raynas.tasks import load_task
from raynas.tracking import TrialStore
from raynas.training import TrainingEvaluator
from raynas.tune import run_search

pytestmark = pytest.mark.ray


def test_digits_search_trains_real_models_and_finds_a_clearly_better_one(ray_cluster, tmp_path):
    config = SearchConfig.from_dict({"name": "digits", "task": "proxy_tasks/digits.yaml", "max_trials": 16,
                                     "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 1,
                                     "workdir": str(tmp_path)})
    result = run_search(config)
    assert result.status == "completed" and result.counts["completed"] == 16
    records = TrialStore(result.store_dir).records()
    task = load_task("proxy_tasks/digits.yaml")
    epochs = task.variant("proxy").epochs
    for r in records:
        assert r.metrics["epoch"] == epochs and r.iterations == epochs  # one report per epoch
        assert [h["epoch"] for h in r.history] == list(range(1, epochs + 1))
        assert {"train_loss", "val_accuracy", "lr", "epoch_time", "params"} <= set(r.metrics)
    best = max(records, key=lambda r: r.reward)
    worst = min(records, key=lambda r: r.reward)
    assert best.reward - worst.reward > 5
    # held-out check: full training, evaluated on the real validation set (never seen by the search)
    full = TrainingEvaluator(task, "full", str(config.experiment_dir / "split.parquet"))
    assert full.evaluate(best.arch, seed=0)["val_accuracy"] > full.evaluate(worst.arch, seed=0)["val_accuracy"]


FRAGILE = '''
from raynas.space import SearchSpace, one_of
SPACE = SearchSpace({"mode": one_of("ok", "unbuildable", "nan", "oom")}, name="fragile")


class OutOfMemory:
    def __call__(self, module, inputs):
        import torch
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB (simulated)")


def build(arch, *, in_channels, num_classes, image_size, width_mult=1.0, depth_mult=1.0):
    import torch
    if arch["mode"] == "unbuildable":
        raise ValueError("no such layer")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(in_channels * image_size ** 2, num_classes))
    if arch["mode"] == "nan":
        with torch.no_grad():
            model[1].bias[0] = float("nan")
    if arch["mode"] == "oom":
        model.register_forward_pre_hook(OutOfMemory())
    return model
'''


def test_unbuildable_nan_and_oom_architectures_end_with_their_reason_and_the_search_goes_on(ray_cluster, tmp_path):
    (tmp_path / "fragile.py").write_text(FRAGILE)
    task = {"name": "fragile", "dataset": "digits", "family": str(tmp_path / "fragile.py"),
            "recipe": {"epochs": 2}, "variants": {"full": {"epochs": 2}, "proxy": {"epochs": 2}}}
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(task))
    config = SearchConfig.from_dict({"name": "fragile", "task": str(tmp_path / "task.yaml"), "max_trials": 4, "max_failed": 4,
                                     "controller": "grid", "gpus_per_trial": 0, "cpus_per_trial": 1,
                                     "workdir": str(tmp_path)})
    result = run_search(config)
    by_mode = {r.arch["mode"]: r for r in TrialStore(result.store_dir).records()}
    assert by_mode["ok"].status == "completed" and by_mode["ok"].reward > 0
    assert by_mode["unbuildable"].status == "invalid"
    assert "cannot be built: ValueError: no such layer" in by_mode["unbuildable"].failure_reason
    assert by_mode["nan"].status == "invalid" and "loss is nan" in by_mode["nan"].failure_reason
    assert by_mode["oom"].status == "failed" and by_mode["oom"].failure_reason.startswith("out of memory")
    assert result.counts == {"completed": 1, "failed": 1, "invalid": 2, "stopped": 0}


def test_asha_stops_some_trials_early_and_trains_less_than_fifo(ray_cluster, tmp_path):
    def search(scheduler):
        config = SearchConfig.from_dict({"name": f"digits-{scheduler['name']}", "task": "proxy_tasks/digits.yaml",
                                         "max_trials": 12, "max_concurrent": 2, "gpus_per_trial": 0,
                                         "cpus_per_trial": 1, "workdir": str(tmp_path), "controller": "random",
                                         "seed": 3, "scheduler": scheduler})
        result = run_search(config)
        return result, TrialStore(result.store_dir).records()

    fifo, fifo_records = search({"name": "fifo"})
    asha, asha_records = search({"name": "asha", "grace_period": 1, "reduction_factor": 3})
    epochs = load_task("proxy_tasks/digits.yaml").variant("proxy").epochs
    stopped = [r for r in asha_records if r.status == "stopped"]
    assert stopped and all(1 <= r.iterations < epochs for r in stopped)
    assert all("stopped early" in r.failure_reason for r in stopped)
    assert asha.status == "completed" and asha.counts["failed"] == asha.counts["invalid"] == 0  # not failures
    assert all(r.iterations == epochs for r in fifo_records)
    assert sum(r.iterations for r in asha_records) < sum(r.iterations for r in fifo_records)


def test_augmentation_search_trains_one_architecture_with_searched_policies(ray_cluster, tmp_path):
    arch = {"stages": [{"block": "conv", "kernel": 3, "width": 16}], "activation": "relu", "downsample": True}
    config = SearchConfig.from_dict({"name": "aug", "task": "proxy_tasks/digits.yaml", "search_type": "augmentation",
                                     "arch": arch, "augmentation_space": "randaugment", "max_trials": 4,
                                     "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 1,
                                     "workdir": str(tmp_path)})
    result = run_search(config)
    records = TrialStore(result.store_dir).records()
    assert result.counts["completed"] == 4
    assert all(r.arch["policy"] == "randaugment" and r.reward > 0 for r in records)
    assert len({(r.arch["num_ops"], r.arch["magnitude"]) for r in records}) == 4


def test_full_training_trials_keep_their_final_checkpoint(ray_cluster, tmp_path):
    import glob

    import torch

    config = SearchConfig.from_dict({"name": "full", "task": "proxy_tasks/digits.yaml", "variant": "full",
                                     "max_trials": 1, "gpus_per_trial": 0, "cpus_per_trial": 1,
                                     "workdir": str(tmp_path)})
    result = run_search(config)
    (record,) = TrialStore(result.store_dir).records()
    assert record.status == "completed" and "raynas_checkpoint_dir" not in record.metrics
    (path,) = glob.glob(str(config.experiment_dir / "tune" / "run-*" / "*" / "checkpoint_*" / "model.pt"))
    state = torch.load(path)
    assert state["epoch"] == load_task("proxy_tasks/digits.yaml").variant("full").epochs
    assert state["metrics"]["val_accuracy"] == record.metrics["val_accuracy"]
    from raynas.families import load_family

    model = load_family("small_cnn").build(record.arch, in_channels=1, num_classes=10, image_size=8)
    model.load_state_dict(state["model"])  # the checkpoint rebuilds the trained model
