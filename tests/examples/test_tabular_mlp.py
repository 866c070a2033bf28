"""examples/tabular_mlp/, copied outside the repository, runs the whole workflow on table data (the built-in
trainer with the bundled `mlp` family) with `raynas run path/to/workflow.yaml` from a third directory."""

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
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabular_mlp"
RAYNAS = str(Path(sys.executable).with_name("raynas"))


def test_the_tabular_example_runs_the_whole_workflow_from_another_directory(tmp_path):
    project = tmp_path / "tables"
    shutil.copytree(EXAMPLE, project)
    workflow = project / "workflow.yaml"
    workflow.write_text(workflow.read_text().replace("initial: 8", "initial: 6").replace("max_trials: 12", "max_trials: 8"))
    made = subprocess.run([sys.executable, "make_data.py"], cwd=project, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run([RAYNAS, "run", str(workflow)], cwd=elsewhere, capture_output=True, text=True, timeout=1200,
                         env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert run.returncode == 0, run.stderr[-4000:]
    work = elsewhere / "raynas-work"
    search = TrialStore(work / "tumours" / "trials").records()
    assert len(search) == 8 and all(r.status == "completed" for r in search)
    assert_one_mlflow_run_per_trial(work / "tumours", search)
    assert {"params", "flops"} <= set(search[0].metrics)  # the built-in trainer measured the MLP on 30 features

    import raynas
    from raynas.data import dataset_spec, load_dataset

    stage2 = json.loads((work / "tumours" / "stage2" / "stage2.json").read_text())
    data = load_dataset(dataset_spec({"kind": "table", "path": str(project / "tumours.parquet"), "label": "diagnosis",
                                      "val_fraction": 0.2}))
    assert data.input_shape == (30,) and data.num_classes == 2
    model = raynas.load_model(work / "tumours" / "export" / "best")
    import torch

    with torch.no_grad():
        predicted = model(torch.as_tensor(data.val_x)).argmax(1).numpy()
    accuracy = 100.0 * float(np.mean(predicted == data.val_y))
    assert abs(accuracy - stage2["picked_accuracy"]) <= 0.1 and accuracy > 85  # far above the 63% majority class
