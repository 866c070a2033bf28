"""examples/custom_trainer/, copied outside the repository as a user would keep it, runs the whole workflow with
`raynas run path/to/workflow.yaml` from a third directory: split, baseline, proxy design, search, stage 2, analyze
and export; MLflow holds every training run; the exported TorchScript and ONNX models reproduce the stage-2
validation accuracy on the real validation set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raynas.tracking import TrialStore
from tests.mlflow_helpers import assert_one_mlflow_run_per_trial

pytestmark = pytest.mark.ray
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_trainer"
RAYNAS = str(Path(sys.executable).with_name("raynas"))


def _shrink(project: Path) -> None:
    """The example as shipped, made smaller for the test suite's time (same steps, fewer and shorter trainings)."""
    task = project / "task.yaml"
    task.write_text(task.read_text().replace("full:  {epochs: 6,", "full:  {epochs: 4,")
                    .replace("grid: {epochs: [2, 3], image_size: [8, 16]}", "grid: {epochs: [2], image_size: [8, 16]}"))
    workflow = project / "workflow.yaml"
    workflow.write_text(workflow.read_text().replace("initial: 8, keep: 5", "initial: 6, keep: 5")
                        .replace("max_trials: 12", "max_trials: 6").replace("top_k: 3", "top_k: 2"))


def test_the_custom_trainer_example_runs_the_whole_workflow_from_another_directory(tmp_path):
    project = tmp_path / "my-project"
    shutil.copytree(EXAMPLE, project)
    _shrink(project)
    made = subprocess.run([sys.executable, "make_data.py"], cwd=project, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run([RAYNAS, "run", str(project / "workflow.yaml")], cwd=elsewhere, capture_output=True,
                         text=True, timeout=1500, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert run.returncode == 0, run.stderr[-4000:]
    for step in ("split", "baseline", "proxy", "search", "stage2", "analyze", "export"):
        assert f"step {step}: " in run.stderr
    work = elsewhere / "raynas-work"

    # every training run is in MLflow: proxy design (baseline, references, candidates, variance), search, stage 2
    stores = sorted(work.rglob("trials"))
    assert len(stores) == 6, stores
    for store in stores:
        records = TrialStore(store).records()
        # none failed; proxy search may stop a candidate's jobs once a cheaper candidate has passed
        assert records and all(r.status in ("completed", "stopped") for r in records), store
        assert sum(r.status == "completed" for r in records) >= len(records) // 2, store
        assert_one_mlflow_run_per_trial(store.parent, records)

    # the proxy search varied the example's own variant key
    proxy = json.loads((work / "custom-digits-proxy" / "proxy-search" / "proxy_search.json").read_text())
    assert {c["settings"]["image_size"] for c in proxy["candidates"]} == {8, 16}
    assert all(c.get("kendall_tau") is not None for c in proxy["candidates"])

    # the exported models reproduce stage 2's validation accuracy on the real validation set
    import onnxruntime
    import torch

    from raynas.data import dataset_spec, load_dataset

    stage2 = json.loads((work / "custom-digits" / "stage2" / "stage2.json").read_text())
    source = load_dataset(dataset_spec({"kind": "image_folder", "path": str(project / "images"), "channels": 1,
                                        "val_fraction": 0.2, "workers": 0}))
    val = source.val_dataset(image_size=16)
    x = torch.stack([val[i][0] for i in range(len(val))]).numpy()
    y = np.array([val[i][1] for i in range(len(val))])
    export = work / "custom-digits" / "export" / "best"
    scripted = torch.jit.load(str(export / "model.torchscript"))
    with torch.no_grad():
        script_accuracy = 100.0 * float((scripted(torch.as_tensor(x)).argmax(1).numpy() == y).mean())
    session = onnxruntime.InferenceSession(str(export / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_accuracy = 100.0 * float((session.run(None, {"input": x})[0].argmax(1) == y).mean())
    assert abs(script_accuracy - stage2["picked_accuracy"]) <= 0.1
    assert abs(onnx_accuracy - stage2["picked_accuracy"]) <= 0.1
