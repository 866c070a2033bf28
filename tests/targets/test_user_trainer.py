"""The user-trainer target without Ray: the context contract, the split, variant keys, data parallelism,
checkpoints, and the errors a user gets for a trainer that is wrong."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from raynas.errors import ConfigError
from raynas.targets import Stage, TrainerContractError, task_target
from raynas.tasks import load_task


class Recorder:
    """Stands in for the engine's reporter: keeps every report and checkpoint directory."""

    takes_checkpoints = True

    keep = None  # where reported checkpoints are copied (None: the temporary folder)

    def __init__(self, restored: str | None = None) -> None:
        self.reports: list[dict] = []
        self.checkpoints: list[str | None] = []
        self.restored = restored

    def __call__(self, metrics, *, checkpoint_dir=None):
        """Like the engine, copies a checkpoint away when it is reported (its folder goes with the trial)."""
        import tempfile

        self.reports.append(dict(metrics))
        if checkpoint_dir is not None:
            copy = Path(tempfile.mkdtemp(prefix="recorded-", dir=self.keep))
            shutil.copytree(checkpoint_dir, copy, dirs_exist_ok=True)
            checkpoint_dir = str(copy)
        self.checkpoints.append(checkpoint_dir)

    def restored_checkpoint(self):
        return self.restored


def _task(project: Path, **changes) -> Path:
    text = (project / "task.yaml").read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    path = project / "task-changed.yaml"
    path.write_text(text)
    return path


def test_a_user_trainer_reports_every_epoch_and_its_final_metrics(project, tmp_path):
    target = task_target(project / "task.yaml")
    assert target.kind == "user"
    evaluator = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
    recorder = Recorder()
    final = evaluator.evaluate({"hidden": 32, "depth": 1, "activation": "relu"}, seed=0, report=recorder)
    assert [r["epoch"] for r in recorder.reports] == [1, 2, 3]
    assert all(c is not None and (Path(c) / "state.pt").is_file() for c in recorder.checkpoints)
    assert final["val_accuracy"] == recorder.reports[-1]["val_accuracy"] > 50  # digits: far above chance (10%)
    assert final["reward"] == final["val_accuracy"] and final["train_seconds"] > 0
    model = Path(final["raynas_checkpoint_dir"]) / "model.pt"  # full training keeps the model (stage 2, export)
    assert model.is_file()


def test_the_context_holds_the_stage_split_variant_keys_and_seed(project, tmp_path, monkeypatch):
    seen = {}

    def spy(ctx):
        seen.update(stage=ctx.stage, seed=ctx.seed, variant=dict(ctx.variant), split=ctx.split,
                    sizes=[len(d) for d in ctx.datasets()], world=(ctx.rank, ctx.world_size), device=ctx.device)
        ctx.report(epoch=1, val_accuracy=1.0)

    import raynas.targets._user as user

    monkeypatch.setattr(user, "load_reference", lambda field, ref: spy)
    target = task_target(project / "task.yaml")
    exp = tmp_path / "exp"
    target.evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=exp, device="cpu").evaluate({}, seed=7)
    split = target.prepare(exp)
    assert seen["stage"] == "search" and seen["seed"] == 7 and seen["world"] == (0, 1) and seen["device"] == "cpu"
    assert seen["variant"] == {"name": "proxy", "epochs": 2, "data_fraction": 1.0, "width_mult": 1.0, "depth_mult": 1.0,
                               "resolution_mult": 1.0, "steps": 10, "lr": 0.01}
    assert seen["split"].stage1 and seen["sizes"] == [len(split.stage1_train), len(split.stage1_val)]
    assert set(seen["split"].train).isdisjoint(seen["split"].val)  # stage 1 validates on held-out training data
    target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=exp, device="cpu").evaluate({}, seed=7)
    assert seen["stage"] == "stage2" and not seen["split"].stage1
    assert seen["sizes"] == [split.num_train, 359]  # stage 2: all training data, the real validation set


def test_proxy_candidates_vary_a_user_defined_key(project):
    target = task_target(project / "task.yaml")
    candidates = target.candidates()
    assert [c.name for c in candidates] == ["e2-steps2", "e2-steps20"]
    assert [c.variant.settings["steps"] for c in candidates] == [2, 20]
    assert all(c.variant.settings["lr"] == 0.01 for c in candidates)  # the rest of the proxy variant stays


def test_two_processes_train_data_parallel_and_report_like_one(project, tmp_path, monkeypatch):
    log = tmp_path / "epochs.log"
    monkeypatch.setenv("USER_TRAINER_LOG", str(log))
    target = task_target(project / "task.yaml")
    arch = {"hidden": 32, "depth": 1, "activation": "relu"}
    runs = {}
    for workers in (1, 2):
        evaluator = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
        from dataclasses import replace

        recorder = Recorder()
        replace(evaluator, workers=workers).evaluate(arch, seed=0, report=recorder)
        runs[workers] = recorder.reports
    one, two = runs[1], runs[2]
    assert [r["epoch"] for r in two] == [1, 2, 3]  # rank 0's reports only, once each
    assert {k for k in one[0] if k != "workers"} == {k for k in two[0] if k != "workers"}
    assert [r["world_size"] for r in two] == [2, 2, 2] and two[-1]["workers"] == 2
    lines = log.read_text().split()
    assert {"0 2", "1 2"} <= {" ".join(lines[i:i + 2]) for i in range(0, len(lines), 4)}  # both ranks trained
    assert abs(one[-1]["val_accuracy"] - two[-1]["val_accuracy"]) < 15  # both learn digits (chance is 10%)
    assert two[-1]["val_accuracy"] > 50


def test_a_restarted_trial_continues_after_its_last_checkpoint(project, tmp_path, monkeypatch):
    log = tmp_path / "epochs.log"
    monkeypatch.setenv("USER_TRAINER_LOG", str(log))
    target = task_target(project / "task.yaml")
    evaluator = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
    first = Recorder()
    arch = {"hidden": 32, "depth": 1, "activation": "relu"}
    evaluator.evaluate(arch, seed=0, report=first)
    restored = Recorder(restored=first.checkpoints[1])  # lost after epoch 2's checkpoint
    evaluator.evaluate(arch, seed=0, report=restored)
    assert [r["epoch"] for r in restored.reports] == [3]
    assert [line.split()[2] for line in log.read_text().splitlines()] == ["1", "2", "3", "3"]


@pytest.mark.parametrize("function, message", [
    ("never_reports", "returned without calling ctx.report"),
    ("reports_without_metric", "has no 'val_accuracy', the task's metric"),
])
def test_a_trainer_breaking_the_contract_is_told_how_to_fix_it(project, tmp_path, function, message):
    target = task_target(_task(project, **{"./train.py:train": f"./train.py:{function}"}))
    evaluator = target.evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path / "exp", device="cpu")
    with pytest.raises(TrainerContractError, match=message):
        evaluator.evaluate({"hidden": 16, "depth": 1, "activation": "relu"}, seed=0)


@pytest.mark.parametrize("reference, message", [
    ("./missing.py:train", "an existing Python file"),
    ("./train.py:nope", "define nope() there"),
    ("./train.py:NOT_A_FUNCTION", "a callable"),
    ("./train.py:two_arguments", "a function taking one argument"),
    ("train_without_colon", "'pkg.module:function' or './file.py:function'"),
    ("no_such_package.train:train", "an importable module"),
])
def test_a_bad_trainer_reference_fails_when_the_task_is_loaded(project, reference, message):
    path = _task(project, **{"./train.py:train": reference})
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        task_target(load_task(path))
    assert "trainer" in str(info.value) and str(path) in str(info.value)


def test_variant_keys_are_refused_for_the_built_in_trainer(tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("name: t\ndataset: digits\nfamily: mlp\nvariants:\n  full: {epochs: 2, steps: 3}\n"
                    "  proxy: {epochs: 1}\n")
    with pytest.raises(ConfigError, match="variants.full.steps"):
        load_task(path)


def _backbone(path: Path, width: int = 48) -> Path:
    import torch
    from torch import nn

    torch.manual_seed(3)
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU()).state_dict(), path)
    return path


def test_pretrained_weights_load_into_the_part_outside_the_space(project, tmp_path):
    import torch

    _backbone(project / "backbone.pt")
    path = project / "task.yaml"
    path.write_text(path.read_text() + "pretrained: {checkpoint: ./backbone.pt, prefix: backbone., freeze: true}\n")
    target = task_target(path)
    evaluator = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
    final = evaluator.evaluate({"hidden": 16, "depth": 1, "activation": "relu"}, seed=0)
    trained = torch.load(Path(final["raynas_checkpoint_dir"]) / "model.pt")["model"]
    expected = torch.load(project / "backbone.pt")
    assert torch.equal(trained["backbone.1.weight"], expected["1.weight"])  # loaded, and frozen: unchanged


def test_a_pretrained_checkpoint_that_does_not_fit_is_refused_with_the_keys_and_shapes(project, tmp_path):
    _backbone(project / "backbone.pt", width=40)
    path = project / "task.yaml"
    path.write_text(path.read_text() + "pretrained: {checkpoint: ./backbone.pt, prefix: backbone.}\n")
    evaluator = task_target(path).evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path / "exp",
                                            device="cpu")
    with pytest.raises(ConfigError, match=re.escape("backbone.1.weight: checkpoint (40, 64) vs model (48, 64)")):
        evaluator.evaluate({"hidden": 16, "depth": 1, "activation": "relu"}, seed=0)
    path.write_text(path.read_text().replace("./backbone.pt", "./missing.pt"))
    with pytest.raises(ConfigError, match="an existing checkpoint file"):
        load_task(path)


def test_a_trial_leaves_no_temporary_files_behind(project, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    target = task_target(project / "task.yaml")
    arch = {"hidden": 16, "depth": 1, "activation": "relu"}
    proxy = target.evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path / "exp", device="cpu")
    recorder = Recorder()
    recorder.keep = str(tmp_path)
    final = proxy.evaluate(arch, seed=0, report=recorder)
    assert "raynas_checkpoint_dir" not in final and len(recorder.checkpoints) == 2  # a proxy keeps no model
    assert list(scratch.iterdir()) == []
    proxy.evaluate(arch, seed=0)  # without a reporter taking the checkpoints
    assert list(scratch.iterdir()) == []
    full = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
    kept = full.evaluate(arch, seed=0)["raynas_checkpoint_dir"]
    assert [p for p in scratch.iterdir()] == [Path(kept)]  # only the model stage 2 keeps


def test_a_trial_lost_after_its_last_checkpoint_keeps_what_that_epoch_reported(project, tmp_path):
    target = task_target(project / "task.yaml")
    evaluator = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=tmp_path / "exp", device="cpu")
    first = Recorder()
    arch = {"hidden": 32, "depth": 1, "activation": "relu"}
    evaluator.evaluate(arch, seed=0, report=first)
    again = Recorder(restored=first.checkpoints[-1])  # lost after epoch 3 (the last) had been saved and reported
    final = evaluator.evaluate(arch, seed=0, report=again)
    assert again.reports == [] and final["epoch"] == 3
    assert final["val_accuracy"] == first.reports[-1]["val_accuracy"]
