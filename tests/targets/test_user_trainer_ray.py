"""A user trainer on a real local Ray: search, stage 2 and MLflow; a broken contract stops the run (exit 2); a
trial whose worker is SIGKILLed continues after its last checkpoint; a trial holding 2 (pretended) GPUs trains
data-parallel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from raynas.config import SearchConfig
from raynas.tracking import TrialStore
from raynas.tune import run_search
from tests.mlflow_helpers import assert_one_mlflow_run_per_trial

pytestmark = pytest.mark.ray


def _config(project: Path, tmp_path: Path, **extra) -> SearchConfig:
    return SearchConfig.from_dict({"name": "user", "task": str(project / "task.yaml"), "max_trials": 4,
                                   "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 1, "device": "cpu",
                                   "workdir": str(tmp_path / "work"), "auto_stop": False, **extra})


def test_search_and_stage2_run_the_users_trainer_and_log_every_run(ray_cluster, project, tmp_path):
    from raynas.stage2 import Stage2Settings, train_top_k

    config = _config(project, tmp_path)
    result = run_search(config)
    assert result.status == "completed" and result.counts["completed"] == 4
    records = TrialStore(result.store_dir).records()
    for record in records:
        assert [h["epoch"] for h in record.history] == [1, 2]  # the proxy variant's 2 epochs, reported by the user
        assert {"val_accuracy", "train_loss", "reward"} <= set(record.metrics)
    assert_one_mlflow_run_per_trial(config.experiment_dir, records)
    stage2 = train_top_k(config.experiment_dir, Stage2Settings(top_k=2))
    assert len(stage2.completed) == 2
    best = Path(config.experiment_dir) / "stage2" / "best"
    assert any(best.rglob("model.pt"))  # the user's save_model: what export loads

    # the user's model comes out: ctx.build's arguments and the data's input shape were kept beside it
    import numpy as np
    import onnxruntime
    import torch

    from raynas.data import load_dataset
    from raynas.export import export_model

    exported = export_model(config.experiment_dir, formats="torchscript,onnx", output=tmp_path / "out", mlflow=False)
    data = load_dataset("digits")  # the real validation set
    x, y = data.val_x.astype(np.float32), data.val_y
    scripted = torch.jit.load(exported.files["torchscript"])
    with torch.no_grad():
        script_acc = 100.0 * float((scripted(torch.as_tensor(x)).argmax(1).numpy() == y).mean())
    session = onnxruntime.InferenceSession(exported.files["onnx"], providers=["CPUExecutionProvider"])
    onnx_acc = 100.0 * float((session.run(None, {"input": x})[0].argmax(1) == y).mean())
    assert abs(script_acc - stage2.picked_accuracy) <= 0.1 and abs(onnx_acc - stage2.picked_accuracy) <= 0.1


def test_a_trainer_that_never_reports_stops_the_search_with_one_line_and_exit_code_2(ray_cluster, project, tmp_path,
                                                                                      capsys):
    from raynas.cli import main

    task = project / "task.yaml"
    task.write_text(task.read_text().replace("./train.py:train", "./train.py:never_reports"))
    config_path = tmp_path / "search.yaml"
    config_path.write_text(json.dumps({**_config(project, tmp_path).to_dict(), "max_trials": 6}))
    code = main(["search", "--config", str(config_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "returned without calling ctx.report" in err and "Fix it" in err
    records = TrialStore(tmp_path / "work" / "user" / "trials").records()
    assert len(records) < 6  # stopped, not run to the end
    # fixed, the search goes on where it stopped: `raynas resume` (the message says so) completes it
    assert "raynas resume user" in err
    task.write_text(task.read_text().replace("./train.py:never_reports", "./train.py:train"))
    assert main(["resume", "user", "--workdir", str(tmp_path / "work")]) == 0
    records = TrialStore(tmp_path / "work" / "user" / "trials").records()
    assert sum(r.status == "completed" for r in records) >= 1 and len({r.number for r in records}) == 6


def test_a_sigkilled_trial_continues_after_its_last_checkpoint(ray_cluster, project, tmp_path):
    log = tmp_path / "epochs.log"
    task = project / "task.yaml"
    text = task.read_text().replace("full: {epochs: 3, lr: 0.01}", "full: {epochs: 4}")
    task.write_text(text.replace("proxy: {epochs: 2, steps: 10, lr: 0.01}",
                                 f"proxy: {{epochs: 4, steps: 5, slow_epoch_s: 1.0, log: '{log}'}}"))
    config = _config(project, tmp_path, max_trials=1, max_concurrent=1, max_retries=2)
    killed: list[int] = []

    def kill_during_epoch_3() -> None:  # after epoch 2's checkpoint and report, while epoch 3 trains
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            lines = log.read_text().splitlines() if log.exists() else []
            third = [line.split() for line in lines if line.split()[2] == "3"]
            if third:
                pid = int(third[0][3])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_during_epoch_3, daemon=True)
    watcher.start()
    result = run_search(config)
    watcher.join(timeout=5)
    assert killed, "the trial never reached epoch 3"
    assert result.status == "completed"
    (record,) = TrialStore(result.store_dir).records()
    assert record.status == "completed" and record.restarts == 1
    epochs = [h["epoch"] for h in record.history]
    assert epochs == [1, 2, 3, 4]  # each epoch once: the lost run's epoch 3 never reported
    second_start = [h["epoch"] for h in record.history if h.get("attempt") == 1]
    assert second_start == [3, 4]  # the restarted trial began after its epoch-2 checkpoint, not at epoch 1
    trained = [int(line.split()[2]) for line in log.read_text().splitlines()]
    assert trained == [1, 2, 3, 3, 4]
    # of the 4 epoch checkpoints only the last stays in the experiment's storage once the trial has ended
    kept = [p for p in (Path(config.experiment_dir) / "tune").rglob("checkpoint_*") if p.is_dir()]
    assert len(kept) == 1 and (kept[0] / "state.pt").is_file()


GPU_SCRIPT = """
import json, sys
import ray
from raynas.config import SearchConfig
from raynas.tracking import TrialStore
from raynas.tune import run_search

ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
config = SearchConfig.from_dict(json.loads(sys.argv[1]))
result = run_search(config)
(record,) = TrialStore(result.store_dir).records()
print(json.dumps({"status": record.status, "history": record.history, "resources": record.resources}))
"""


def test_a_trial_holding_two_pretended_gpus_trains_data_parallel(project, tmp_path):
    config = _config(project, tmp_path, max_trials=1, max_concurrent=1, gpus_per_trial=2, mlflow=False)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    out = subprocess.run([sys.executable, "-c", GPU_SCRIPT, json.dumps(config.to_dict())], capture_output=True,
                         text=True, timeout=400, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["status"] == "completed" and data["resources"]["gpu"] == 2
    assert [h["world_size"] for h in data["history"]] == [2, 2]  # two gloo processes trained every epoch
    assert [h["epoch"] for h in data["history"]] == [1, 2] and data["history"][-1]["workers"] == 2


def test_a_pretrained_checkpoint_that_does_not_fit_stops_the_search_with_exit_code_2(ray_cluster, project, tmp_path,
                                                                                      capsys):
    import torch
    from torch import nn

    from raynas.cli import main

    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 40)).state_dict(), project / "backbone.pt")  # 40, not 48
    task = project / "task.yaml"
    task.write_text(task.read_text() + "pretrained: {checkpoint: ./backbone.pt, prefix: backbone.}\n")
    config_path = tmp_path / "search.yaml"
    config_path.write_text(json.dumps({**_config(project, tmp_path).to_dict(), "max_trials": 6}))
    assert main(["search", "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("raynas: error:") == 1 and "backbone.1.weight: checkpoint (40, 64) vs model (48, 64)" in err
