"""Data-parallel training inside one trial: 2 gloo workers on CPU report what 1 process reports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from raynas.tasks import load_task
from raynas.training import TrainingEvaluator, ensure_split

ARCH = {"stages": [{"block": "conv", "kernel": 3, "width": 32}], "activation": "relu", "downsample": True}


def test_two_gloo_workers_report_the_same_metric_contract_as_one_process(tmp_path):
    task = load_task("digits")
    ensure_split(task, str(tmp_path / "split.parquet"))
    results = {}
    for workers in (1, 2):
        reports = []
        evaluator = TrainingEvaluator(task, "proxy", str(tmp_path / "split.parquet"), workers=workers)
        results[workers] = (evaluator.evaluate(ARCH, seed=0, report=reports.append), reports)
    (one, one_reports), (two, two_reports) = results[1], results[2]
    assert set(one) == set(two) and one["workers"] == 1 and two["workers"] == 2
    assert [r["epoch"] for r in one_reports] == [r["epoch"] for r in two_reports]
    assert two["val_accuracy"] > 70 and abs(two["val_accuracy"] - one["val_accuracy"]) < 15


@pytest.mark.ray
def test_a_two_gpu_trial_on_a_cluster_pretending_to_have_gpus_trains_with_two_workers(tmp_path):
    script = textwrap.dedent(f"""
        import json, os
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        import ray
        from raynas.config import SearchConfig
        from raynas.tracking import TrialStore
        from raynas.tune import run_search
        ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
        config = SearchConfig.from_dict({{"name": "ddp", "task": "proxy_tasks/digits.yaml", "max_trials": 2,
                                         "max_concurrent": 1, "gpus_per_trial": 2, "cpus_per_trial": 1,
                                         "workdir": {str(tmp_path)!r}, "device": "cpu"}})
        result = run_search(config)
        print(json.dumps([r.metrics for r in TrialStore(result.store_dir).records()]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(metrics) == 2 and all(m["workers"] == 2 and m["val_accuracy"] > 0 for m in metrics)
