"""Stage 2 of a multi-objective search trains a spread of the Pareto front (raynas.stage2._front.spread_order), and
`raynas train` (train_top_k) uses it when the search config has objectives."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from raynas.config import Mode, Objective, SearchConfig
from raynas.stage2._front import spread_order
from raynas.tracking import TrialRecord

OBJ = (Objective("acc", Mode.MAX), Objective("cost", Mode.MIN))


def _records(points) -> list[TrialRecord]:
    return [TrialRecord(trial_id=f"t{i}", number=i + 1, arch={}, genotype=(i,), reward=float(acc), status="completed",
                        metrics={"acc": float(acc), "cost": float(cost)}) for i, (acc, cost) in enumerate(points)]


def test_a_long_front_is_thinned_evenly_and_keeps_its_extremes():
    # 21 points on one front (acc rises with cost), plus dominated ones
    front = [(50 + i, 10 + i) for i in range(21)]
    dominated = [(50 + i - 0.5, 10 + i + 3) for i in range(0, 21, 3)]
    records = _records(front + dominated)
    ordered, how = spread_order(OBJ, records, 5)
    picked = [int(r.trial_id[1:]) for r in ordered[:5]]
    assert set(picked) == {0, 5, 10, 15, 20}  # both extremes, evenly spaced along the front
    assert [records[i].metrics["acc"] for i in picked] == sorted((records[i].metrics["acc"] for i in picked),
                                                                 reverse=True)
    assert len(ordered) == len(records) and {r.trial_id for r in ordered} == {r.trial_id for r in records}
    assert "spread of 5 of the 21 trials on the Pareto front of acc (max), cost (min)" in how


def test_a_front_smaller_than_k_is_filled_from_the_next_fronts_and_incomplete_trials_come_last():
    records = _records([(90, 100), (80, 10), (85, 50),  # front 0
                        (84, 60), (70, 20), (60, 5.5),  # front 1 (60, 5.5 is on front 0: cheapest)
                        (10, 1000)])
    records.append(TrialRecord(trial_id="tx", number=99, arch={}, genotype=(99,), reward=1.0, status="completed",
                               metrics={"acc": 1.0}))  # no cost reported: never picked before the others
    ordered, how = spread_order(OBJ, records, 6)
    ids = [r.trial_id for r in ordered]
    assert set(ids[:4]) == {"t0", "t1", "t2", "t5"}  # the whole front first
    assert set(ids[4:6]) <= {"t3", "t4"} and ids[-1] == "tx"
    assert "the 4 trials on the Pareto front" in how and "to fill 6" in how


def test_objectives_in_very_different_units_weigh_the_same():
    # cost in bytes (huge range): a spread chosen on raw distances would only follow cost
    front = [(50 + i, 1e6 * (1 + i) ** 2) for i in range(11)]
    ordered, _ = spread_order(OBJ, _records(front), 3)
    assert {r.trial_id for r in ordered[:3]} >= {"t0", "t10"}


def test_inline_stage2_of_a_multi_objective_search_full_trains_the_same_spread(tmp_path, monkeypatch):
    from raynas.stage2._inline import InlineStage2
    from raynas.tracking import TrialStore

    front = [(50 + i, 10 + i) for i in range(21)]
    records = _records(front + [(40, 100)])
    store = TrialStore(tmp_path / "exp" / "trials")
    for record in records:
        store.append(record)
    inline = InlineStage2(every=5, top_k=5, experiment_dir=str(tmp_path / "exp"), metric="acc", mode_max=True,
                          evaluator=None, resources={"cpu": 1.0}, objectives=OBJ)
    monkeypatch.setattr(inline, "_submit", lambda at, indices: None)  # the full trainings themselves: Ray's
    monkeypatch.setattr(inline, "_write", lambda at: None)
    inline._snapshot(len(records))
    snapshot = inline.snapshots[len(records)]
    expected, how = spread_order(OBJ, store.records(), 5)
    assert [row["trial_id"] for row in snapshot["rows"]] == [r.trial_id for r in expected[:5]]
    assert {row["trial_id"] for row in snapshot["rows"]} == {"t0", "t5", "t10", "t15", "t20"}  # not the top 5 by acc
    assert snapshot["selection"]["summary"] == f"full-training {how}"


# --- the train path ---------------------------------------------------------------------------------------------------
@pytest.mark.ray
def test_raynas_train_full_trains_a_spread_of_the_front(ray_cluster, tmp_path):
    from raynas.benchmarks import arch_to_string, load_table
    from raynas.experiment import ExperimentPaths
    from raynas.stage2 import Stage2Settings, train_top_k

    config = SearchConfig.from_dict({
        "name": "mo-s2", "workdir": str(tmp_path), "gpus_per_trial": 0, "cpus_per_trial": 1, "max_concurrent": 2,
        "objectives": [{"metric": "val_accuracy", "mode": "max"}, {"metric": "train_seconds", "mode": "min"}],
        "controller": "nsga2", "mlflow": {"enabled": False}})
    paths = ExperimentPaths(config.experiment_dir)
    paths.root.mkdir(parents=True)
    paths.config.write_text(json.dumps(config.to_dict()))
    table, space = load_table(), config.build_space()
    rng = random.Random(0)
    genotypes = list(dict.fromkeys(space.sample_genotype(rng) for _ in range(30)))
    records = []
    for i, genotype in enumerate(genotypes):
        arch = space.decode(genotype)
        row = table.row_of[arch_to_string(arch)]
        acc, cost = float(table.proxy()[row]), float(table.proxy_cost()[row])
        records.append(TrialRecord(trial_id=f"s{i}", number=i + 1, arch=arch, genotype=tuple(genotype), reward=acc,
                                   status="completed", metrics={"val_accuracy": acc, "train_seconds": cost}))
    expected, _ = spread_order(config.objectives, records, 4)
    result = train_top_k(config.experiment_dir, Stage2Settings(top_k=4, mlflow=False), records=records)
    assert [row.trial_id for row in result.rows] == [r.trial_id for r in expected[:4]]
    accs = [r.metrics["val_accuracy"] for r in records]
    costs = [r.metrics["train_seconds"] for r in records]
    trained = {row.trial_id for row in result.rows}
    assert records[int(np.argmax(accs))].trial_id in trained  # the most accurate trial
    cheapest = min(costs)
    assert any(r.metrics["train_seconds"] == cheapest for r in records if r.trial_id in trained)  # the cheapest
    assert all(row.completed and math.isfinite(row.full_accuracy) for row in result.rows)
