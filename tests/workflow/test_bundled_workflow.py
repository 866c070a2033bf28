"""The bundled workflow (`raynas run` without a file, `make demo`): MNIST-1D on CPU, every step, on a smaller budget.

The same workflow file and task as the demo, with fewer reference models, trials and stage-2 models, half the
full-training epochs and MLflow off (tested elsewhere); each step's outputs are read back and checked (not timings).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from raynas.workflow import load_workflow


def test_the_bundled_workflow_is_the_mnist1d_task_on_the_seq1d_family():
    from raynas.tasks import load_task

    bundled = load_workflow(None)
    task = load_task(bundled.task)
    assert task.dataset == "mnist1d" and Path(task.family).stem == "seq1d"
    assert bundled.gpus_per_trial == 0 and bundled.device == "cpu" and bundled.top_k == 10
    assert bundled.controls >= 1 and bundled.steps[-3:] == ("stage2", "analyze", "export")
    from raynas.tasks import task_candidates

    # every proxy candidate costs at most a quarter of full training (the bar for the demo's proxy)
    assert all(c.relative_cost <= 0.25 for c in task_candidates(task))


def _smaller_task(folder: Path) -> str:
    """The bundled MNIST-1D task with half the full-training epochs (the test suite's budget); the rest as shipped."""
    import yaml

    from raynas.tasks import load_task

    task = load_task("mnist1d")
    data = yaml.safe_load(Path(task.source).read_text())
    data["family"] = task.family  # the bundled family's file (found beside the bundled task)
    data["recipe"]["epochs"] = data["variants"]["full"]["epochs"] = 6
    path = folder / "mnist1d-small.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


@pytest.mark.ray
def test_the_bundled_workflow_runs_every_step_on_a_small_budget(tmp_path, ray_cluster, monkeypatch):
    from raynas.workflow import run_workflow

    monkeypatch.chdir(tmp_path)
    work = tmp_path / "raynas-work"
    config = replace(load_workflow(None), task=_smaller_task(tmp_path), workdir=str(work), mlflow=False,
                     select_models={"initial": 5, "keep": 5, "fractions": [0.25]},
                     proxy_search={"min_tau": 0.65, "candidates": ["e2-d1"]}, variance_repeats=2,
                     search={"max_trials": 6, "controller": "surrogate"}, top_k=2, controls=1)
    result = run_workflow(config, progress_interval_s=60)
    assert list(result.steps) == ["split", "baseline", "proxy", "check", "estimate", "search", "stage2", "analyze",
                                  "export"]
    proxy = work / "mnist1d-nas-proxy"

    # split: 10% of MNIST-1D's 4,000 training sequences validate stage 1; stage 2 trains on all and uses the test set
    assert "stage 1: 3600 train / 400 validation; stage 2: 4000 train" in result.steps["split"]
    # baseline: the plain CNN, fully trained, far above chance (10 classes)
    baseline = json.loads((proxy / "baseline" / "baseline.json").read_text())
    assert baseline["status"] == "completed" and baseline["accuracy"] > 50
    # proxy design: reference models full-trained, candidates ranked against them, the variance verdict
    references = json.loads((proxy / "select-models" / "references.json").read_text())
    full = [m["full_accuracy"] for m in references["models"] if m.get("full_accuracy") is not None]
    assert len(full) == 5 and max(full) - min(full) > 5  # the space's decisions matter on this data
    searched = json.loads((proxy / "proxy-search" / "proxy_search.json").read_text())
    assert [c["name"] for c in searched["candidates"]] == ["e2-d1"]
    assert all(c["cost_vs_full"] < 1 for c in searched["candidates"] if c.get("cost_vs_full") is not None)
    if searched["chosen"] is not None:  # no candidate passed: no proxy to measure (never a silent fallback)
        variance = json.loads((proxy / "variance" / "variance.json").read_text())
        assert variance["verdict"] in ("pass", "warn", "fail", "inconclusive") and len(variance["values"]) == 2
    else:
        assert not (proxy / "variance" / "variance.json").exists() and "variance not measured" in result.steps["proxy"]
    # checklist and estimate: a CPU search is sized in CPU workers, in readable units, without rows of zeros
    assert (proxy / "check" / "check.json").is_file()
    estimate = json.loads((proxy / "estimate.json").read_text())
    assert estimate["estimate"]["uses_gpu"] is False and "CPU workers" in result.steps["estimate"]
    assert "accelerators" not in result.steps["estimate"]
    assert estimate["rows"] and not [r for r in estimate["rows"] if str(r["value"]).strip() in ("0", "0.0", "-")]
    # the search: every trial completed, in the trial store
    from raynas.tracking import TrialStore

    trials = TrialStore(work / "mnist1d-nas" / "trials").records()
    assert len(trials) == 6 and all(t.status == "completed" for t in trials)
    # stage 2: the top 2 and one control, judged with the noise of a 1,000-example validation set
    stage2 = json.loads((work / "mnist1d-nas" / "stage2" / "stage2.json").read_text())
    assert len(stage2["rows"]) == 3 and sum(bool(r.get("control")) for r in stage2["rows"]) == 1
    assert stage2["verdict"] in ("agree", "bias", "inconclusive")
    assert stage2["noise"]["validation_examples"] == 1000
    picked = next(r for r in stage2["rows"] if r["trial_id"] == stage2["picked_trial_id"])
    assert not picked.get("control")
    # analyze and export: the report, and the picked model reproduces its accuracy on the real validation set
    assert result.report and Path(result.report).is_file()
    export = work / "mnist1d-nas" / "export" / "best"
    assert {"model.json", "state_dict.pt", "model.torchscript"} <= {p.name for p in export.iterdir()}
    import torch

    import raynas
    from raynas.data import dataset_spec, load_dataset

    data = load_dataset(dataset_spec("mnist1d"))
    model = raynas.load_model(export)
    with torch.no_grad():
        predicted = model(torch.as_tensor(data.val_x)).argmax(1).numpy()
    assert abs(100.0 * float(np.mean(predicted == data.val_y)) - stage2["picked_accuracy"]) <= 0.1
    assert result.ui_command is None  # MLflow off: no UI to open (the bundled workflow logs to MLflow)
