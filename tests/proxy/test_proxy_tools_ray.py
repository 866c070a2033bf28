"""select-models and proxy search end to end on a real local Ray cluster: the tabular benchmark and a CPU task."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

from raynas.cli import main
from raynas.proxy import SelectionSettings, tabular_study
from raynas.tune import latest_records
from tests.mlflow_helpers import search_runs

pytestmark = pytest.mark.ray

PNG = b"\x89PNG\r\n\x1a\n"


def _json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_tabular_select_then_search_reports_tau_and_the_corrected_estimate(tmp_path, ray_cluster, capsys,
                                                                            session_mlflow_store):
    work = str(tmp_path / "work")
    common = ["--workdir", work, "--max-concurrent", "2"]
    assert main(["proxy", "select-models", *common, "--initial", "12", "--keep", "6", "--fractions", "0.5",
                 "--seed", "1", "--format", "json"]) == 0
    selection = _json_out(capsys)
    survivors = [m for m in selection["models"] if m["full_status"] == "completed"]
    assert len(survivors) == 6
    root = tmp_path / "work" / "nasbench201-proxy"
    store = latest_records(root / "select-models" / "trials")
    assert len(store) == 12 + 6  # one round of 12, then 6 full trainings
    # running it again resumes: nothing is trained twice
    assert main(["proxy", "select-models", *common, "--initial", "12", "--keep", "6", "--fractions", "0.5",
                 "--seed", "1"]) == 0
    capsys.readouterr()
    assert len(latest_records(root / "select-models" / "trials")) == 18

    assert main(["proxy", "search", *common, "--seed", "1", "--format", "json"]) == 0
    result = _json_out(capsys)
    assert result["chosen"] == "12-epoch"
    chosen = result["candidates"][0]
    # the same figures as the offline study of the same seed and settings (which the estimate tests average)
    study = tabular_study(seeds=range(1, 2), settings=SelectionSettings(initial=12, keep=6, fractions=(0.5,)))
    assert chosen["kendall_tau"] == pytest.approx(study.runs[0].reference_tau)
    # 6 reference models are too few for a whole-space estimate (tests/proxy/test_too_few_references.py)
    assert chosen["space_tau"] is None and study.runs[0].space_tau != study.runs[0].space_tau  # no figure (NaN)
    assert chosen["space_note"].startswith("too few reference models (n=6; at least 10 needed")
    assert 0.04 < chosen["cost_vs_full"] < 0.09  # the 12-epoch proxy costs ~6% of full training
    assert "easier to rank" in result["note"] and "Pearson-Lawley" in result["note"]
    for name in ("tau_vs_time.png", "proxy_vs_full.png"):
        assert (root / "proxy-search" / name).read_bytes()[:8] == PNG

    # `raynas estimate` sizes the search with the chosen proxy's measured cost and the measured full training
    assert main(["estimate", "--experiment", "nasbench201-proxy", "--workdir", work, "--format", "json"]) == 0
    sized = _json_out(capsys)["inputs"]
    assert sized["proxy_hours_per_trial"] == pytest.approx(chosen["cost_per_model_s"] / 3600)
    assert sized["full_training_hours"] == pytest.approx(result["full_cost_per_model_s"] / 3600)
    assert "chosen proxy 12-epoch" in sized["source"]

    runs = search_runs(session_mlflow_store, root / "proxy-search")
    trials = [r for r in runs if r.data.tags.get("raynas.role") == "trial"]
    assert len(trials) == 6 and {r.data.params["candidate"] for r in trials} == {"12-epoch"}
    parent = next(r for r in runs if r.data.tags.get("raynas.role") == "parent")
    assert parent.data.tags["raynas.stage"] == "proxy-search"
    assert parent.data.metrics["chosen_kendall_tau"] == pytest.approx(chosen["kendall_tau"])
    assert len([r for r in search_runs(session_mlflow_store, root / "select-models")
                if r.data.tags.get("raynas.role") == "trial"]) == 18


def test_bad_input_gets_one_clear_message(tmp_path, ray_cluster, capsys):
    work = str(tmp_path / "work")
    assert main(["proxy", "select-models", "--workdir", work, "--keep", "4"]) == 2
    assert "at least 5 reference models" in capsys.readouterr().err
    assert main(["proxy", "search", "--workdir", work]) == 2
    err = capsys.readouterr().err
    assert "run `raynas proxy select-models` first" in err
    assert main(["proxy", "search", "--workdir", work, "--candidates", "200-epoch"]) == 2


def _tiny_digits(tmp_path) -> str:
    body = yaml.safe_load(open("proxy_tasks/digits.yaml"))
    body["recipe"]["epochs"] = 3
    body["variants"] = {"full": {"epochs": 3, "data_fraction": 1.0, "width_mult": 1.0},
                        "proxy": {"epochs": 2, "data_fraction": 0.5, "width_mult": 0.5}}
    body["proxy_candidates"] = [{"name": "e1", "epochs": 1}, {"name": "e2-all-data", "epochs": 2, "data_fraction": 1.0}]
    path = tmp_path / "digits-tiny.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


def test_cpu_task_candidates_train_concurrently_and_the_report_explains_the_choice(tmp_path, ray_cluster, capsys,
                                                                                    session_mlflow_store):
    task = _tiny_digits(tmp_path)
    common = ["--task", task, "--workdir", str(tmp_path / "work"), "--max-concurrent", "2", "--device", "cpu"]
    assert main(["proxy", "select-models", *common, "--initial", "6", "--keep", "5", "--fractions", "0.5"]) == 0
    capsys.readouterr()
    code = main(["proxy", "search", *common, "--format", "json"])
    result = _json_out(capsys)
    root = tmp_path / "work" / "digits-tiny-proxy" / "proxy-search"
    rows = pd.read_parquet(root / "candidates.parquet")
    assert list(rows["name"]) == ["e1", "e2-all-data"]
    if result["chosen"] is None:  # allowed, but then the report must say why each candidate failed
        assert code == 1
        assert all(c["outcome"] != "passed" and c["outcome"] for c in result["candidates"])
    else:
        assert code == 0
        best = next(c for c in result["candidates"] if c["name"] == result["chosen"])
        assert best["kendall_tau"] >= 0.65 and best["cost_vs_full"] < 1
        assert best["valid"] >= 5
    # candidates ran at the same time: some jobs of different candidates overlap in the store's timeline
    records = list(latest_records(root / "trials").values())
    assert {r.labels["candidate"] for r in records} == {"e1", "e2-all-data"}
    overlaps = [(a, b) for a in records for b in records if a.labels["candidate"] < b.labels["candidate"]
                and a.start_time < b.end_time and b.start_time < a.end_time]
    assert overlaps
    for record in records:
        if record.status == "completed":
            assert record.metrics["train_seconds"] > 0 and 0 <= record.metrics["val_accuracy"] <= 100
    assert all(math.isfinite(c["kendall_tau"]) for c in result["candidates"] if c["valid"] >= 3)
    runs = search_runs(session_mlflow_store, root)
    trial_runs = [r for r in runs if r.data.tags.get("raynas.role") == "trial"]
    assert len(trial_runs) == len(records)
    assert {r.data.params["candidate"] for r in trial_runs} == {"e1", "e2-all-data"}
