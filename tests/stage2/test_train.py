"""Stage 2 (``raynas train``) end to end on a real local Ray cluster: the tabular benchmark, where the 200-epoch
column is full training, and a tiny real training on the digits task."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy import stats

from raynas.benchmarks import arch_to_string, load_table
from raynas.cli import main
from raynas.config import SearchConfig
from raynas.errors import ConfigError
from raynas.stage2 import Stage2Settings, top_trials, train_top_k
from raynas.tracking import TrialStore
from raynas.tune import latest_records, run_search
from tests.mlflow_helpers import search_runs

pytestmark = pytest.mark.ray

ROW_KEYS = {"rank", "trial_id", "arch", "stage1_reward", "full_accuracy", "full_reward", "status", "failure_reason",
            "checkpoint"}


@pytest.fixture(scope="module")
def tabular_search(ray_cluster, tmp_path_factory):
    """A 24-trial random search on the bundled NAS-Bench-201 table (reward: the 12-epoch column)."""
    work = tmp_path_factory.mktemp("stage2-tabular")
    config = SearchConfig(name="s2-tabular", workdir=str(work), max_trials=24, max_concurrent=2, gpus_per_trial=0,
                          cpus_per_trial=1, seed=0, controller=_controller("random"))
    result = run_search(config)
    assert result.status == "completed"
    return config


def _controller(name: str):
    from raynas.config import ControllerConfig

    return ControllerConfig(name)


def _table_values(archs):
    table = load_table()
    rows = [table.row_of[arch_to_string(a)] for a in archs]
    return ([float(table.column("val_acc_12ep")[r]) for r in rows], [float(table.column("val_acc_200ep")[r]) for r in rows])


def test_tabular_top10_correlation_pick_mlflow_and_resume(tabular_search, session_mlflow_store):
    config = tabular_search
    exp = config.experiment_dir
    result = train_top_k(exp, Stage2Settings(top_k=10))
    root = exp / "stage2"
    data = json.loads((root / "stage2.json").read_text())
    assert {"rows", "kendall_tau", "spearman", "picked_trial_id", "picked_arch", "search_bias"} <= set(data)
    assert len(data["rows"]) == 10 and all(ROW_KEYS <= set(row) for row in data["rows"])
    assert [row["rank"] for row in data["rows"]] == list(range(1, 11))

    # the 10 best distinct stage-1 trials, best first
    stage1 = TrialStore(exp / "trials").records()
    best = sorted((r for r in stage1 if r.status == "completed"), key=lambda r: -r.reward)
    distinct = list({tuple(r.genotype): r for r in reversed(best)}.values())
    assert {r["trial_id"] for r in data["rows"]} == {r.trial_id for r in sorted(distinct, key=lambda r: -r.reward)[:10]}
    rewards = [row["stage1_reward"] for row in data["rows"]]
    assert rewards == sorted(rewards, reverse=True)

    # stage-1 reward is the 12-epoch column, full accuracy the 200-epoch one; the correlation is scipy's on them
    archs = [row["arch"] for row in data["rows"]]
    proxy, full = _table_values(archs)
    assert rewards == pytest.approx(proxy)
    assert [row["full_accuracy"] for row in data["rows"]] == pytest.approx(full)
    assert all(row["status"] == "completed" and row["checkpoint"] is None for row in data["rows"])
    assert data["kendall_tau"] == pytest.approx(stats.kendalltau(proxy, full).statistic)
    assert data["spearman"] == pytest.approx(stats.spearmanr(proxy, full).statistic)
    verdicts = {"agree": False, "bias": True, "inconclusive": None}  # noise-aware: tests/stage2/test_verdict.py
    assert data["verdict"] in verdicts and data["search_bias"] is verdicts[data["verdict"]]
    assert data["noise"]["validation_examples"] == 25000 and data["noise"]["sd"] > 0
    assert data["kendall_tau_low"] <= data["kendall_tau_high"] and data["verdict_over"] == "top_k"
    winner = max(range(10), key=lambda i: full[i])
    assert data["picked_trial_id"] == data["rows"][winner]["trial_id"] and data["picked_arch"] == archs[winner]
    assert json.loads((root / "best" / "architecture.json").read_text())["arch"] == archs[winner]
    table = pd.read_parquet(root / "stage2.parquet")
    assert list(table["trial_id"]) == [row["trial_id"] for row in data["rows"]]
    assert result.picked_trial_id == data["picked_trial_id"] and not result.all_failed

    # stage-2 jobs: numbered by stage-1 rank and labelled with the stage-1 trial
    records = latest_records(root / "trials")
    assert sorted(records) == list(range(1, 11))
    assert all(records[n].labels == {"stage1_trial": data["rows"][n - 1]["trial_id"], "stage1_rank": str(n)}
               for n in records)

    # MLflow: a stage2 parent in the search's MLflow experiment, one child per full training
    runs = search_runs(session_mlflow_store, root)
    parents = [r for r in runs if r.data.tags.get("raynas.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("raynas.role") == "trial"]
    assert len(parents) == 1 and len(children) == 10
    parent = parents[0]
    assert parent.data.tags["raynas.stage"] == "stage2"
    assert parent.data.metrics["kendall_tau"] == pytest.approx(data["kendall_tau"])
    assert parent.data.metrics["best_full_accuracy"] == pytest.approx(max(full))
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    search_parent = next(r for r in search_runs(session_mlflow_store, exp) if r.data.tags.get("raynas.role") == "parent")
    assert parent.info.experiment_id == search_parent.info.experiment_id

    # running it again trains nothing
    ids = {n: r.trial_id for n, r in records.items()}
    again = train_top_k(exp, Stage2Settings(top_k=10))
    assert {n: r.trial_id for n, r in latest_records(root / "trials").items()} == ids
    assert again.kendall_tau == pytest.approx(result.kendall_tau) and again.picked_trial_id == result.picked_trial_id
    # other settings do not silently mix with the earlier run
    with pytest.raises(ConfigError, match="--overwrite"):
        train_top_k(exp, Stage2Settings(top_k=10, seed=1))


def test_batches_from_the_cli_give_the_same_result_and_run_every_job_once(tabular_search, capsys):
    config = tabular_search
    exp = config.experiment_dir
    common = ["train", config.name, "--workdir", config.workdir, "--top-k", "10"]
    assert main([*common, "--format", "json"]) == 0  # all at once (resumed when the other test ran first)
    at_once = json.loads(capsys.readouterr().out)
    assert main([*common, "--batch-size", "4", "--overwrite", "--no-mlflow", "--format", "json"]) == 0
    batched = json.loads(capsys.readouterr().out)
    for key in ("kendall_tau", "spearman", "picked_trial_id", "picked_arch", "search_bias"):
        assert batched[key] == at_once[key]
    assert [r["full_accuracy"] for r in batched["rows"]] == [r["full_accuracy"] for r in at_once["rows"]]
    store = TrialStore(exp / "stage2" / "trials").records()
    assert sorted(r.number for r in store) == list(range(1, 11))  # each job ran exactly once
    by_number = {r.number: r for r in store}
    for first, second in (((1, 2, 3, 4), (5, 6, 7, 8)), ((5, 6, 7, 8), (9, 10))):  # batch after batch
        assert max(by_number[n].end_time for n in first) <= min(by_number[n].start_time for n in second)

    assert main([*common, "--no-mlflow"]) == 0  # text report of the finished stage
    text = capsys.readouterr().out
    assert "Kendall tau" in text and "search bias" in text and "picked model" in text and "<- picked" in text


def test_controls_from_lower_stage1_ranks_are_trained_judged_never_picked_and_resume(tabular_search):
    from raynas.stage2 import control_ranks

    exp = tabular_search.experiment_dir
    settings = Stage2Settings(top_k=5, controls=2, mlflow=False)
    result = train_top_k(exp, settings, subdir="stage2-controls")
    ranks = control_ranks(result.available, 5, 2)
    assert [r.rank for r in result.rows] == [1, 2, 3, 4, 5, *ranks] and len(ranks) == 2
    assert [r.control for r in result.rows] == [False] * 5 + [True] * 2
    assert result.picked_rank in range(1, 6) and result.controls == 2 and result.verdict_over == "with_controls"
    records = latest_records(exp / "stage2-controls" / "trials")
    assert sorted(records) == [1, 2, 3, 4, 5, *ranks] and all(records[n].labels.get("control") == "true" for n in ranks)
    data = json.loads((exp / "stage2-controls" / "stage2.json").read_text())
    assert set(data["judgements"]) == {"top_k", "with_controls"} and data["judgements"]["with_controls"]["models"] == 7
    ids = {n: r.trial_id for n, r in records.items()}
    again = train_top_k(exp, settings, subdir="stage2-controls")  # resumes: nothing trained again
    assert {n: r.trial_id for n, r in latest_records(exp / "stage2-controls" / "trials").items()} == ids
    assert again.verdict == result.verdict and again.kendall_tau_low == result.kendall_tau_low
    with pytest.raises(ConfigError, match="controls"):
        train_top_k(exp, Stage2Settings(top_k=5, controls=3, mlflow=False), subdir="stage2-controls")


def test_top_k_below_two_is_refused_with_a_clear_message(tabular_search, capsys):
    with pytest.raises(ConfigError, match="at least 2"):
        Stage2Settings(top_k=1)
    with pytest.raises(ConfigError, match="batch_size"):
        Stage2Settings(batch_size=0)
    config = tabular_search
    assert main(["train", config.name, "--workdir", config.workdir, "--top-k", "1"]) == 2
    assert "top_k" in capsys.readouterr().err
    assert main(["train", config.name, "--workdir", config.workdir, "--augmentation", '{"policy": "randaugment"}',
                 "--no-mlflow"]) == 2
    assert "tabular" in capsys.readouterr().err


def test_fewer_completed_trials_than_top_k_trains_what_there_is(ray_cluster, tmp_path):
    config = SearchConfig(name="s2-small", workdir=str(tmp_path), max_trials=6, max_concurrent=2, gpus_per_trial=0,
                          cpus_per_trial=1, seed=3, controller=_controller("evolution"),
                          max_failed=6, benchmark={"failure_rate": 0.3}, mlflow=_no_mlflow())
    run_search(config)
    stage1 = TrialStore(config.experiment_dir / "trials").records()
    completed = len({tuple(r.genotype) for r in stage1 if r.status == "completed"})
    assert 2 <= completed <= 6
    result = train_top_k(config.experiment_dir, Stage2Settings(top_k=10))
    assert len(result.rows) == completed and result.available == completed
    assert result.note is not None and f"only {completed} distinct architectures" in result.note
    # a snapshot of the first trials, in its own folder (e.g. what an inline stage 2 would do)
    first = [r for r in stage1 if r.number <= 3]
    snapshot = train_top_k(config.experiment_dir, Stage2Settings(top_k=2), subdir="stage2-at-3", label="after 3 trials",
                           records=first)
    picked, _ = top_trials(first, 2)
    assert [row.trial_id for row in snapshot.rows] == [r.trial_id for r in picked]
    assert json.loads((config.experiment_dir / "stage2-at-3" / "stage2.json").read_text())["label"] == "after 3 trials"


def test_augmentation_override_reaches_full_training_and_is_validated(tmp_path):
    from raynas.errors import RaynasError
    from raynas.stage2 import full_training_evaluator

    config = SearchConfig(name="s2-aug", task="proxy_tasks/digits.yaml", workdir=str(tmp_path), gpus_per_trial=0)
    policy = {"policy": "randaugment", "num_ops": 2, "magnitude": 0.5}
    evaluator = full_training_evaluator(config, tmp_path, Stage2Settings(augmentation=policy), stream=None)
    assert evaluator.variant == "full" and dict(evaluator.task.augmentation) == policy
    assert (tmp_path / "split.parquet").is_file()
    with pytest.raises(RaynasError):
        full_training_evaluator(config, tmp_path, Stage2Settings(augmentation={"policy": "mixup"}), stream=None)


def _no_mlflow():
    from raynas.config import TrackingConfig

    return TrackingConfig(enabled=False)


def test_digits_full_training_keeps_a_loadable_checkpoint_of_the_picked_model(ray_cluster, tmp_path, capsys):
    import torch

    body = yaml.safe_load(open("proxy_tasks/digits.yaml"))
    body["recipe"]["epochs"] = 2
    body["variants"] = {"full": {"epochs": 2, "data_fraction": 1.0, "width_mult": 1.0},
                        "proxy": {"epochs": 1, "data_fraction": 0.5, "width_mult": 0.5}}
    task = tmp_path / "digits-tiny.yaml"
    task.write_text(yaml.safe_dump(body))
    config = SearchConfig(name="s2-digits", task=str(task), workdir=str(tmp_path / "work"), max_trials=4,
                          max_concurrent=2, gpus_per_trial=0, cpus_per_trial=1, device="cpu", mlflow=_no_mlflow())
    run_search(config)
    assert main(["train", "s2-digits", "--workdir", str(tmp_path / "work"), "--top-k", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["rows"]) == 2 and all(r["status"] == "completed" for r in data["rows"])
    picked = next(r for r in data["rows"] if r["trial_id"] == data["picked_trial_id"])
    assert picked["full_accuracy"] == max(r["full_accuracy"] for r in data["rows"])
    assert all(math.isfinite(r["full_accuracy"]) for r in data["rows"])
    assert [r["checkpoint"] for r in data["rows"]] == [str(Path(data["directory"]) / "checkpoints" / f"rank-0{n}")
                                                       for n in (1, 2)]
    assert all((Path(r["checkpoint"]) / "model.pt").is_file() for r in data["rows"])
    best = Path(data["directory"]) / "best"
    saved = torch.load(best / "checkpoint" / "model.pt", map_location="cpu", weights_only=False)
    assert saved["epoch"] == 2
    from raynas.families import load_family

    model = load_family("small_cnn").build(picked["arch"], in_channels=1, num_classes=10, image_size=8)
    model.load_state_dict(saved["model"])  # the picked architecture's weights
    assert json.loads((best / "architecture.json").read_text())["family"] == "small_cnn"
