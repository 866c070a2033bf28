"""`raynas baseline` and `raynas proxy variance`: curves, statistics, files, MLflow runs, errors and resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from raynas.benchmarks import TabularEvaluator, TabularTrialSettings, string_to_arch
from raynas.cli import main
from raynas.errors import ConfigError
from raynas.proxy import (
    TABULAR_BASELINE,
    DesignTarget,
    VarianceSettings,
    coefficient_of_variation,
    curve_rows,
    load_baseline,
    load_variance,
    smoothness,
)
from raynas.tracking import TrialRecord, TrialStore
from tests.mlflow_helpers import search_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

BROKEN_FAMILY = '''
from raynas.space import SearchSpace, one_of

NAME = "broken"
SPACE = SearchSpace({"mode": one_of("a", "b")}, name=NAME)
BASELINE = {"mode": "a"}


def build(arch, *, in_channels, num_classes, image_size, width_mult=1.0, depth_mult=1.0):
    import torch

    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x):
            raise RuntimeError("broken on purpose")

    return Broken()
'''


def tiny_task(tmp_path: Path, **changes) -> Path:
    """digits with 3 epochs of full training and a 2-epoch, half-data, half-width proxy."""
    task = yaml.safe_load(Path("proxy_tasks/digits.yaml").read_text())
    task["recipe"]["epochs"] = 3
    task["variants"] = {"full": {"epochs": 3, "data_fraction": 1.0, "width_mult": 1.0},
                        "proxy": {"epochs": 2, "data_fraction": 0.5, "width_mult": 0.5}}
    task.update(changes)
    path = tmp_path / f"{task['name']}.yaml"
    path.write_text(yaml.safe_dump(task))
    return path


def is_png(path: str | Path) -> bool:
    path = Path(path)
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def parents(uri: str, root: Path, stage: str) -> list:
    runs = search_runs(uri, root)
    assert runs and all(r.data.tags["raynas.stage"] == stage for r in runs)
    return [r for r in runs if r.data.tags.get("raynas.role") == "parent"]


def trial_runs(uri: str, root: Path) -> list:
    return [r for r in search_runs(uri, root) if r.data.tags.get("raynas.role") == "trial"]


# --- pure functions ---------------------------------------------------------------------------------------------

def test_smoothness_of_monotone_zigzag_and_known_curves():
    assert smoothness([0.1, 0.2, 0.2, 0.5]) == 1.0
    assert smoothness([0.4]) == 1.0 and smoothness([]) == 1.0 and smoothness([0.3, 0.3, 0.3]) == 1.0
    assert smoothness([0.5, 0.7, 0.6, 0.8]) == pytest.approx(1 - 0.1 / 0.5)
    assert smoothness([0.9, 0.5, 0.1]) == 0.0
    zigzag = smoothness([0.2, 0.6, 0.3, 0.7, 0.4])
    assert 0 < zigzag < 1 and zigzag == pytest.approx(1 - 0.6 / 1.4)
    assert smoothness([0.1, math.nan, 0.3]) == 1.0  # non-finite points are left out


def test_coefficient_of_variation_matches_numpy():
    values = [0.91, 0.93, 0.9, 0.95]
    assert coefficient_of_variation(values) == pytest.approx(np.std(values, ddof=1) / np.mean(values))
    assert coefficient_of_variation([0.9, math.nan, 0.8]) == pytest.approx(np.std([0.9, 0.8], ddof=1) / 0.85)
    assert math.isnan(coefficient_of_variation([0.9])) and math.isnan(coefficient_of_variation([0.0, 0.0]))


def test_variance_settings_refuse_a_single_repeat_and_bad_bars():
    with pytest.raises(ConfigError, match="at least 2 repeats"):
        VarianceSettings(repeats=1)
    with pytest.raises(ConfigError, match="min_smoothness"):
        VarianceSettings(min_smoothness=1.5)
    with pytest.raises(ConfigError, match="pass_separation"):
        VarianceSettings(pass_separation=0.5)  # below fail_separation (see test_variance_verdict.py)
    assert VarianceSettings().repeats == 5


def test_cli_refuses_one_repeat_with_a_clear_error(tmp_path, capsys):
    assert main(["proxy", "variance", "--repeats", "1", "--workdir", str(tmp_path), "--no-mlflow"]) == 2
    err = capsys.readouterr().err
    assert "repeats: got 1; expected at least 2 repeats" in err and "Traceback" not in err
    assert not (tmp_path / "nasbench201-proxy" / "variance").exists()


def test_curve_rows_merge_history_and_final_metrics_by_epoch():
    history = [{"epoch": 1, "val_accuracy": 0.5, "train_loss": 1.2, "lr": 0.01, "epoch_time": 0.3, "time": 1.0},
               {"epoch": 2, "val_accuracy": 0.6, "train_loss": 0.9, "lr": 0.005, "epoch_time": 0.3, "time": 2.0},
               {"epoch": 3, "val_accuracy": 0.7, "train_loss": 0.5, "lr": 0.0, "epoch_time": 0.3, "time": 3.0}]
    final = {"epoch": 3, "val_accuracy": 0.7, "train_loss": 0.5, "lr": 0.0, "epoch_time": 0.3, "flops": 10}
    record = TrialRecord("t", 1, {}, (), 0.7, "completed", metrics=final, history=history[:2])
    rows = curve_rows(record)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and [r["val_accuracy"] for r in rows] == [0.5, 0.6, 0.7]
    assert set(rows[0]) == {"epoch", "val_accuracy", "train_loss", "lr", "epoch_time"}
    assert curve_rows(TrialRecord("t", 1, {}, (), 0.7, "completed", metrics=final, history=history)) == rows
    failed = TrialRecord("t", 1, {}, (), None, "failed", metrics={"epoch": 2, "val_accuracy": 0.6}, history=history[:1])
    assert [r["epoch"] for r in curve_rows(failed)] == [1]
    no_epoch = TrialRecord("t", 1, {}, (), 0.8, "completed", metrics={"val_accuracy": 80.0}, history=[])
    assert curve_rows(no_epoch, final_epoch=12) == [{"epoch": 12, "val_accuracy": 80.0}]
    assert curve_rows(no_epoch) == [{"epoch": 1, "val_accuracy": 80.0}] and curve_rows(None) == []


def test_tabular_full_training_reports_epoch_12_then_returns_epoch_200():
    arch = string_to_arch(TABULAR_BASELINE)
    full = TabularEvaluator(TabularTrialSettings(variant="full"))
    proxy = TabularEvaluator(TabularTrialSettings(variant="proxy"))
    reports: list[dict] = []
    final = full.evaluate(arch, seed=0, report=reports.append)
    proxy_value = proxy.evaluate(arch, seed=0)["val_accuracy"]
    assert reports == [{"epoch": 12, "val_accuracy": proxy_value, "reward": proxy_value}]
    assert final["epoch"] == 200 and final == {**full.evaluate(arch, seed=0), "epoch": 200}
    assert "epoch" not in full.evaluate(arch, seed=0)
    assert proxy.evaluate(arch, seed=0, report=reports.append) == proxy.evaluate(arch, seed=0) and len(reports) == 1


def test_missing_baseline_results_name_the_command(tmp_path):
    task = tiny_task(tmp_path)
    with pytest.raises(ConfigError, match=r"run `raynas baseline --task .*digits\.yaml` first"):
        load_baseline(DesignTarget(task=str(task), workdir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"run `raynas baseline` first"):
        load_baseline(DesignTarget(workdir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"run `raynas proxy variance` first"):
        load_variance(DesignTarget(workdir=str(tmp_path)))


def test_a_task_without_a_baseline_architecture_is_a_clear_cli_error(tmp_path, capsys):
    source = Path("search_spaces/mlp.py").read_text()  # the mlp family without its BASELINE
    plain = "\n".join(line for line in source.splitlines() if not line.startswith("BASELINE"))
    assert "BASELINE =" in source and "BASELINE" not in plain
    (tmp_path / "plainmlp.py").write_text(plain)
    task = tiny_task(tmp_path, name="plain-mlp", family="./plainmlp.py")
    assert main(["baseline", "--task", str(task), "--workdir", str(tmp_path), "--no-mlflow"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("raynas: error:") and "Traceback" not in err
    assert "a baseline architecture for task 'plain-mlp'" in err and "add `baseline:`" in err
    assert not (tmp_path / "plain-mlp-proxy" / "baseline").exists()
    # variance falls back to the baseline when there are no reference models: the same problem, with both fixes
    # (no proxy search chose a candidate: variance refuses to pick one itself, so the test names one)
    assert main(["proxy", "variance", "--task", str(task), "--workdir", str(tmp_path), "--no-mlflow",
                 "--candidate", "e1"]) == 2
    err = capsys.readouterr().err
    assert "raynas proxy select-models" in err and "baseline" in err and "Traceback" not in err


# --- Ray: the tabular benchmark -----------------------------------------------------------------------------------

@pytest.mark.ray
def test_tabular_baseline_writes_its_curve_logs_to_mlflow_and_resumes(ray_cluster, session_mlflow_store, tmp_path,
                                                                       capsys):
    argv = ["baseline", "--workdir", str(tmp_path), "--max-concurrent", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    root = tmp_path / "nasbench201-proxy" / "baseline"
    data = json.loads((root / "baseline.json").read_text())
    assert data["status"] == "completed" and data["arch"] == string_to_arch(TABULAR_BASELINE)
    (record,) = TrialStore(root / "trials").records()
    table = TabularEvaluator(TabularTrialSettings(variant="full")).table
    row = table.row_of[TABULAR_BASELINE]
    assert data["accuracy"] == pytest.approx(record.metrics["val_accuracy"])
    assert data["accuracy"] == pytest.approx(float(table.column("val_acc_200ep")[row]))
    assert data["cost_s"] == pytest.approx(float(table.full_cost()[row])) and data["epochs"] == 200
    curve = pd.read_parquet(data["curve"])
    assert list(curve.columns) == ["epoch", "val_accuracy"] and curve["epoch"].tolist() == [12, 200]
    assert curve["val_accuracy"].tolist() == pytest.approx([float(table.column("val_acc_12ep")[row]), data["accuracy"]])
    assert is_png(data["png"]) and data["png"] in out and "completed" in out
    result = load_baseline(DesignTarget(workdir=str(tmp_path)))
    assert result.accuracy == data["accuracy"] and result.points()[-1]["epoch"] == 200

    (parent,) = parents(session_mlflow_store, root, "baseline")
    assert parent.data.tags["raynas.status"] == "completed"
    assert parent.data.metrics["accuracy"] == pytest.approx(data["accuracy"])
    (trial,) = trial_runs(session_mlflow_store, root)
    assert trial.data.tags["raynas.trial_id"] == record.trial_id

    assert main(argv) == 0  # resume: nothing trained again, nothing logged twice
    assert "to run" not in capsys.readouterr().err
    assert [r.trial_id for r in TrialStore(root / "trials").records()] == [record.trial_id]
    assert len(parents(session_mlflow_store, root, "baseline")) == 1 and len(trial_runs(session_mlflow_store, root)) == 1


@pytest.mark.ray
def test_tabular_variance_says_its_repeats_are_identical(ray_cluster, session_mlflow_store, tmp_path, capsys):
    argv = ["proxy", "variance", "--workdir", str(tmp_path), "--repeats", "3", "--max-concurrent", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    root = tmp_path / "nasbench201-proxy" / "variance"
    data = json.loads((root / "variance.json").read_text())
    assert data["candidate"] == "12-epoch" and data["model"] == "baseline" and data["repeats"] == 3
    assert data["cv"] == pytest.approx(np.std(data["values"], ddof=1) / np.mean(data["values"])) == 0.0
    assert data["smoothness"] == 1.0 and data["failure_rate"] == 0.0
    # identical repeats are no measurement of noise: an explicit note, not a pass
    assert data["verdict"] == "inconclusive" and data["passed"] is False
    assert data["separation"]["reason"] == data["note"]
    assert data["thresholds"] == {"pass_separation": 2.0, "fail_separation": 1.0, "level": 0.8, "min_smoothness": 0.7}
    assert "one training run per architecture" in data["note"] and "one training run per architecture" in out
    assert data["curves"] == [[[12, data["values"][0]]]] * 3
    records = TrialStore(root / "trials").records()
    assert sorted(r.seed for r in records) == [0, 1, 2]
    curves = pd.read_parquet(root / "curves.parquet")
    assert curves["repeat"].tolist() == [0, 1, 2] and curves["epoch"].tolist() == [12] * 3
    assert is_png(root / "curves.png")
    for name in ("run-to-run sd", "separation", "verdict: inconclusive", "cv (std/mean)", "smoothness (mean)",
                 "failure rate", ">= 0.7", "pass"):
        assert name in out
    (parent,) = parents(session_mlflow_store, root, "variance")
    assert parent.data.metrics["cv"] == 0.0 and parent.data.metrics["smoothness"] == 1.0
    assert len(trial_runs(session_mlflow_store, root)) == 3


# --- Ray: real training on a tiny task ------------------------------------------------------------------------------

@pytest.mark.ray
def test_real_baseline_and_variance_on_a_tiny_task(ray_cluster, session_mlflow_store, tmp_path, capsys):
    task = tiny_task(tmp_path)
    common = ["--task", str(task), "--workdir", str(tmp_path), "--max-concurrent", "2", "--device", "cpu"]
    assert main(["baseline", *common, "--no-mlflow"]) == 0  # MLflow of a baseline: see the tabular test
    target = DesignTarget(task=str(task), workdir=str(tmp_path))
    result = load_baseline(target)
    (record,) = TrialStore(Path(result.directory) / "trials").records()
    assert result.status == "completed" and result.epochs == 3 and 20 < result.accuracy <= 100
    assert result.accuracy == pytest.approx(record.metrics["val_accuracy"]) and result.cost_s > 0
    curve = pd.read_parquet(result.curve)
    assert curve["epoch"].tolist() == [1, 2, 3]
    assert {"epoch", "val_accuracy", "train_loss", "lr", "epoch_time"} <= set(curve.columns)
    assert curve["val_accuracy"].between(0, 100).all() and curve["val_accuracy"].iloc[-1] == pytest.approx(result.accuracy)
    assert curve["val_accuracy"].iloc[:2].tolist() == pytest.approx([h["val_accuracy"] for h in record.history][:2])
    assert is_png(result.png)
    capsys.readouterr()

    assert main(["proxy", "variance", *common, "--repeats", "2", "--candidate", "e2", "--min-smoothness", "0"]) == 0
    assert "note:" not in capsys.readouterr().out
    variance = load_variance(target)
    root = Path(variance.directory)
    records = {r.labels["repeat"]: r for r in TrialStore(root / "trials").records()}
    assert variance.model == "baseline" and variance.candidate == "e2" and variance.note is None
    assert variance.values == pytest.approx(tuple(records[str(i)].metrics["val_accuracy"] for i in range(2)))
    assert variance.cv == pytest.approx(np.std(variance.values, ddof=1) / np.mean(variance.values))
    assert [[e for e, _ in c] for c in variance.curves] == [[1, 2], [1, 2]]
    expected = np.mean([smoothness([a for _, a in c]) for c in variance.curves])
    assert variance.smoothness == pytest.approx(expected) and variance.failure_rate == 0
    # no reference models to compare the noise with: said, never a silent pass
    assert variance.verdict == "inconclusive" and not variance.passed and "select-models" in variance.separation.reason
    assert variance.separation.noise_sd == pytest.approx(np.std(variance.values, ddof=1))
    assert sorted(r.seed for r in records.values()) == [0, 1]
    assert all(r.metrics["params"] < record.metrics["params"] for r in records.values())  # the half-width proxy
    assert is_png(root / "curves.png")
    (parent,) = parents(session_mlflow_store, root, "variance")
    assert parent.data.metrics["cv"] == pytest.approx(variance.cv)
    assert parent.data.metrics["smoothness"] == pytest.approx(variance.smoothness)


@pytest.mark.ray
def test_a_failed_baseline_training_is_reported_with_its_reason(ray_cluster, tmp_path, capsys):
    (tmp_path / "broken.py").write_text(BROKEN_FAMILY)
    task = tiny_task(tmp_path, name="broken", family=str(tmp_path / "broken.py"))
    argv = ["baseline", "--task", str(task), "--workdir", str(tmp_path), "--no-mlflow", "--device", "cpu"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "broken on purpose" in captured.err and "--overwrite" in captured.err
    result = load_baseline(DesignTarget(task=str(task), workdir=str(tmp_path)))
    assert result.status == "failed" and "RuntimeError: broken on purpose" in result.reason
    assert math.isnan(result.accuracy) and result.epochs is None
    assert pd.read_parquet(result.curve).empty and is_png(result.png)


def test_variance_defaults_to_the_chosen_proxy_and_the_median_reference_model(tmp_path):
    from raynas.errors import UnknownNameError
    from raynas.proxy import (
        CandidateResult,
        ProxySearchResult,
        ReferenceModel,
        ReferenceSet,
        references_path,
        result_path,
    )
    from raynas.proxy._variance import _candidate, _model

    target = DesignTarget(task=str(tiny_task(tmp_path)), workdir=str(tmp_path))
    from raynas.proxy._variance import NoProxyChosen

    with pytest.raises(NoProxyChosen, match="No `raynas proxy search` has chosen one"):
        _candidate(target, None)  # no proxy search yet: no silent fallback to the first candidate
    assert _candidate(target, "e1").name == "e1"  # named: measured
    assert _model(target, None) == ("baseline", target.baseline_arch())  # no reference models yet: the baseline
    archs = target.sample(4, seed=0)
    models = tuple(ReferenceModel(f"m{i:02d}", a, full_accuracy=acc, full_status="completed")
                   for i, (a, acc) in enumerate(zip(archs, [90.0, 70.0, 80.0, 60.0])))
    models += (ReferenceModel("m09", archs[0], full_status="failed"),)
    references_path(target).parent.mkdir(parents=True)
    write = ReferenceSet("t", "flops", {"fractions": [0.5]}, models).to_dict()
    references_path(target).write_text(json.dumps(write))
    assert _model(target, None) == ("m01", archs[1])  # full accuracies 60, 70, 80, 90: the (lower) median, 70
    assert _model(target, "m03") == ("m03", archs[3]) and _model(target, "baseline")[0] == "baseline"
    with pytest.raises(UnknownNameError, match="unknown reference model 'm7'"):
        _model(target, "m7")
    cand = CandidateResult("e2", {}, 0.1, 1.0, 0.1, 4, 4, 0.8, 0.8, 1.0, None, 0.7, 0.6, 0.8, True, "passed")
    result = ProxySearchResult("t", {}, (cand,), "e2", 10.0, str(tmp_path))
    result_path(target).parent.mkdir(parents=True)
    result_path(target).write_text(json.dumps(result.to_dict()))
    assert _candidate(target, None).name == "e2"  # the proxy search's choice
    assert _candidate(target, "e1").name == "e1"
    with pytest.raises(UnknownNameError, match="unknown proxy candidate 'e3'"):
        _candidate(target, "e3")
