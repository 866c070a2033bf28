"""How stage 2 chooses its set (raynas.stage2._selection): the fully trained models of the work folder (proxy design's
reference models, earlier `raynas train` results, inline snapshots) teach the proxy-vs-full disagreement."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from raynas.selection import References, choose_for_full_training
from raynas.stage2._selection import EARLIER_STAGE2, INLINE_STAGE2, PROXY_DESIGN, choose_stage2_set
from raynas.tracking import TrialRecord, TrialStore
from raynas.trials import ranked_trials


def truth(proxy: float, cost: float) -> float:
    """Full training rewards size: the proxy underrates costly models."""
    return proxy + 3.0 * math.log(cost)


def record(i: int, proxy: float, cost: float, **labels) -> TrialRecord:
    return TrialRecord(trial_id=f"t{i:03d}", number=i + 1, arch={"i": i}, genotype=(i,), reward=proxy,
                       status="completed", metrics={"reward": proxy, "train_seconds": cost}, labels=dict(labels))


@pytest.fixture
def stage1():
    rng = np.random.default_rng(0)
    cost = np.exp(rng.uniform(0.0, 2.0, 80))
    proxy = 70 + rng.normal(0.0, 2.0, 80) - 2.0 * np.log(cost)
    return [record(i, float(p), float(c)) for i, (p, c) in enumerate(zip(proxy, cost))]


def write_rows(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows}))


def row(r: TrialRecord, status: str = "completed") -> dict:
    return {"rank": 0, "trial_id": r.trial_id, "arch": r.arch, "stage1_reward": r.reward, "status": status,
            "full_accuracy": truth(r.reward, r.metrics["train_seconds"])}


def test_references_from_the_work_folder_correct_the_set(tmp_path, stage1):
    exp = tmp_path / "exp"
    ranked = ranked_trials(stage1)
    lower = ranked[40:]  # models ranked low by stage 1, fully trained earlier
    write_rows(exp / "stage2-old" / "stage2.json", [row(r) for r in lower[:6]] + [row(lower[6], "failed")])
    write_rows(exp / "stage2-inline" / "after-20.json", [row(r) for r in lower[7:10]])
    write_rows(exp / "stage2-inline" / "after-40.json", [row(r) for r in lower[8:10]])  # seen twice: counted once
    write_rows(exp / "stage2" / "stage2.json", [row(r) for r in lower[10:30]])  # the folder being written: not used
    # proxy design: 4 reference models scored by the chosen proxy "p1" (p2's scores are not the search's proxy)
    ws = tmp_path / "exp-proxy"
    refs = [(50.0 + 3 * j, float(j + 1)) for j in range(4)]
    (ws / "select-models").mkdir(parents=True)
    (ws / "select-models" / "references.json").write_text(json.dumps({"models": [
        {"model": f"m{j}", "full_accuracy": truth(p, c)} for j, (p, c) in enumerate(refs)]}))
    (ws / "proxy-search").mkdir()
    (ws / "proxy-search" / "proxy_search.json").write_text(json.dumps({"chosen": "p1"}))
    TrialStore(ws / "proxy-search" / "trials").append_many(
        [record(500 + j, p, c, candidate="p1", model=f"m{j}") for j, (p, c) in enumerate(refs)]
        + [record(600 + j, 0.0, 1.0, candidate="p2", model=f"m{j}") for j in range(4)])

    ordered, how = choose_stage2_set(ranked, 10, experiment_dir=exp, name="exp", mode="max", metric_name="reward",
                                     exclude=exp / "stage2")
    assert how["sources"] == {PROXY_DESIGN: 4, EARLIER_STAGE2: 6, INLINE_STAGE2: 3}
    assert how["method"] == "corrected" and how["references"] == 13 and (how["by_proxy"], how["by_prediction"]) == (5, 5)
    assert how["coefficients"]["log_cost"] == pytest.approx(3.0, abs=0.01)
    assert "13 fully trained references" in how["summary"] and "4 proxy-design reference models" in how["summary"]
    # the set is the rule's on the same figures: stage-1 reward and training time, the references' truth
    used = [r for r in lower[:10]]
    expected = choose_for_full_training(
        [r.trial_id for r in ranked], [r.reward for r in ranked], 10, cost=[r.metrics["train_seconds"] for r in ranked],
        references=References([p for p, _ in refs] + [r.reward for r in used],
                              [truth(p, c) for p, c in refs] + [truth(r.reward, r.metrics["train_seconds"]) for r in used],
                              [c for _, c in refs] + [r.metrics["train_seconds"] for r in used]))
    assert {r.trial_id for r in ordered[:10]} == set(expected.chosen) == set(how["chosen"])
    assert [r.trial_id for r in ordered[:10]] == [r.trial_id for r in ranked if r.trial_id in set(expected.chosen)]
    assert len(ordered) == len(ranked) and {r.trial_id for r in ordered} == {r.trial_id for r in ranked}
    # the correction chose some models below the top 10 by proxy, costlier ones
    below = [r for r in ordered[:10] if ranked.index(r) >= 10]
    assert len(below) >= 1 and min(r.metrics["train_seconds"] for r in below) > np.median(
        [r.metrics["train_seconds"] for r in ranked[:10]])


def test_without_references_the_set_is_the_top_k_and_says_why(tmp_path, stage1):
    ranked = ranked_trials(stage1)
    ordered, how = choose_stage2_set(ranked, 10, experiment_dir=tmp_path / "exp", name="exp", mode="max",
                                     metric_name="reward")
    assert ordered == ranked and how["method"] == "proxy" and how["fallback"] == "too few references"
    assert how["summary"] == ("10 chosen by proxy rank (0 fully trained references with a proxy score, at least 10 "
                              "needed); references: no fully trained models with a proxy score found")


def test_min_mode_and_damaged_files(tmp_path, stage1):
    """mode min: lower stage-1 rewards are better (the references' are negated the same way); a damaged result file
    is skipped."""
    flipped = [TrialRecord(**{**r.__dict__, "reward": -r.reward}) for r in stage1]
    exp = tmp_path / "exp"
    ranked = ranked_trials(flipped, mode="min")
    lower = ranked[40:]
    write_rows(exp / "stage2-old" / "stage2.json",
               [{**row(r), "full_accuracy": truth(-r.reward, r.metrics["train_seconds"])} for r in lower[:12]])
    (exp / "stage2-bad").mkdir()
    (exp / "stage2-bad" / "stage2.json").write_text("{not json")
    ordered, how = choose_stage2_set(ranked, 10, experiment_dir=exp, name="exp", mode="min", metric_name="reward")
    assert how["method"] == "corrected" and how["sources"] == {EARLIER_STAGE2: 12}
    max_ranked = ranked_trials(stage1)
    write_rows(tmp_path / "b" / "exp" / "stage2-old" / "stage2.json", [row(r) for r in max_ranked[40:52]])
    same, _ = choose_stage2_set(max_ranked, 10, experiment_dir=tmp_path / "b" / "exp", name="exp", mode="max",
                                metric_name="reward")
    assert [r.trial_id for r in ordered[:10]] == [r.trial_id for r in same[:10]]


@pytest.mark.ray
def test_raynas_train_chooses_with_the_rule_and_prints_how(ray_cluster, tmp_path, capsys):
    """A real tabular search and `raynas train`: first no references (top-k by proxy, and why), then an earlier
    stage-2 result of 12 lower-ranked trials (the table's 200-epoch accuracy) feeds the rule."""
    from raynas.benchmarks import arch_to_string, load_table
    from raynas.cli import main
    from raynas.config import ControllerConfig, SearchConfig, TrackingConfig
    from raynas.tune import run_search

    config = SearchConfig(name="s2-select", workdir=str(tmp_path), max_trials=30, max_concurrent=2, gpus_per_trial=0,
                          cpus_per_trial=1, seed=0, controller=ControllerConfig("random"),
                          mlflow=TrackingConfig(enabled=False))
    assert run_search(config).status == "completed"
    exp = config.experiment_dir
    common = ["train", config.name, "--workdir", config.workdir, "--top-k", "4", "--no-mlflow"]
    assert main(common) == 0
    text = capsys.readouterr().out
    assert ("stage-2 set: 4 chosen by proxy rank (0 fully trained references with a proxy score, at least 10 needed); "
            "references: no fully trained models with a proxy score found") in text
    stage1 = TrialStore(exp / "trials").records()
    ranked = ranked_trials(stage1)
    top4 = [r.trial_id for r in ranked[:4]]
    assert [r["trial_id"] for r in json.loads((exp / "stage2" / "stage2.json").read_text())["rows"]] == top4

    table = load_table()
    full = table.column("val_acc_200ep")
    lower = ranked[len(ranked) - 12:]
    write_rows(exp / "stage2-earlier" / "stage2.json",
               [{"trial_id": r.trial_id, "stage1_reward": r.reward, "status": "completed",
                 "full_accuracy": float(full[table.row_of[arch_to_string(r.arch)]])} for r in lower])
    assert main([*common, "--overwrite", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    how = data["selection"]
    assert how["sources"] == {EARLIER_STAGE2: 12} and how["references"] == 12
    cost = {r.trial_id: r.metrics["train_seconds"] for r in stage1 if "train_seconds" in r.metrics}
    expected = choose_for_full_training(
        [r.trial_id for r in ranked], [r.reward for r in ranked], 4, cost=[cost[r.trial_id] for r in ranked],
        references=References([r.reward for r in lower], [float(full[table.row_of[arch_to_string(r.arch)]])
                                                           for r in lower], [cost[r.trial_id] for r in lower]))
    assert {r["trial_id"] for r in data["rows"]} == set(expected.chosen) == set(how["chosen"])
    assert how["method"] == expected.method and how["reason"] == expected.reason
    assert main(common) == 0  # the finished stage's text report says how its set was chosen
    assert f"stage-2 set: {expected.summary()}; references: 12 earlier raynas train results" in capsys.readouterr().out
