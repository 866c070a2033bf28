"""Inline stage 2: the current top-k full-trained after every N completed trials while the search goes on."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from raynas.benchmarks import arch_to_string, load_table
from raynas.config import SearchConfig

pytestmark = pytest.mark.ray


def test_inline_snapshots_full_train_the_current_top_k(ray_cluster, tmp_path):
    from raynas.stage2 import inline_stage2_callbacks
    from raynas.tune import run_search

    config = SearchConfig.from_dict({"name": "inline", "workdir": str(tmp_path), "max_trials": 30, "max_concurrent": 2,
                                     "gpus_per_trial": 0, "cpus_per_trial": 0.5, "controller": "random", "seed": 2,
                                     "mlflow": False, "inline_stage2": {"every": 10, "top_k": 3}})
    result = run_search(config, callbacks=inline_stage2_callbacks(config))
    assert result.status == "completed"
    table = load_table()
    full = table.column("val_acc_200ep")
    for at in (10, 20, 30):
        data = json.loads((tmp_path / "inline" / "stage2-inline" / f"after-{at}.json").read_text())
        assert data["done"] and data["after_trials"] == at and len(data["rows"]) == 3
        rewards = [r["stage1_reward"] for r in data["rows"]]
        assert rewards == sorted(rewards, reverse=True)  # the top 3 at that point, best first
        for row in data["rows"]:
            assert row["status"] == "completed"
            assert row["full_accuracy"] == pytest.approx(full[table.row_of[arch_to_string(row["arch"])]])
        tau = stats.kendalltau(rewards, [r["full_accuracy"] for r in data["rows"]]).statistic
        assert data["kendall_tau"] == pytest.approx(tau, nan_ok=True)
        best = max(data["rows"], key=lambda r: r["full_accuracy"])
        assert data["picked_trial_id"] == best["trial_id"]
