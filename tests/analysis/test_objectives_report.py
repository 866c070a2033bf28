"""The report of a multi-objective search: the front of its configured objectives, its hypervolume and reference
point, a plot for 2 objectives and one per pair for more; and the reward-vs-cost fronts use raynas.pareto."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from raynas.analysis import analyze, pareto_mask
from raynas.config import SearchConfig
from raynas.tracking import TrialRecord, TrialStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _experiment(workdir: Path, name: str, objectives: list[dict], n: int = 40) -> tuple[Path, list[TrialRecord]]:
    config = SearchConfig.from_dict({"name": name, "workdir": str(workdir), "max_trials": n, "gpus_per_trial": 0,
                                     "objectives": objectives})
    root = workdir / name
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(config.to_dict()))
    rng = random.Random(1)
    space = config.build_space()
    records = []
    for i in range(n):
        g = space.sample_genotype(rng)
        size = rng.uniform(0.1, 2.0)
        metrics = {"val_accuracy": 60 + 20 * size ** 0.5 + rng.uniform(-3, 3), "params": size,
                   "train_seconds": 100 + 50 * rng.random()}
        status = "failed" if i % 13 == 4 else "completed"
        records.append(TrialRecord(trial_id=f"{i:05d}x", number=i + 1, arch=space.decode(g), genotype=g,
                                   reward=metrics["val_accuracy"] if status == "completed" else None, status=status,
                                   metrics=metrics if status == "completed" else {}, start_time=float(i),
                                   end_time=i + 0.5))
    TrialStore(root / "trials").append_many(records)
    return root, records


def _images(text: str) -> int:
    return len(re.findall(r'<img src="data:image/png;base64,', text))


def test_two_objectives_front_hypervolume_and_plot(tmp_path):
    objectives = [{"metric": "val_accuracy", "mode": "max"}, {"metric": "params", "mode": "min"}]
    root, records = _experiment(tmp_path, "mo2", objectives)
    report = analyze(root, permutation=False)
    done = [r for r in records if r.status == "completed"]
    points = np.array([(r.metrics["val_accuracy"], -r.metrics["params"]) for r in done])
    on = {done[i].trial_id for i in np.flatnonzero(pareto_mask(-points[:, 1], points[:, 0]))}
    assert set(report.front["front_trials"]) == on and report.front["front_size"] == len(on)
    first = points[:10]
    ref = first.min(axis=0) - 0.1 * (first.max(axis=0) - first.min(axis=0))
    assert report.front["reference"] == pytest.approx([ref[0], -ref[1]])  # in the metrics' own units
    # hypervolume by hand: the staircase of the front above the reference point
    front = sorted((p for p in points[[r.trial_id in on for r in done]] if (p > ref).all()), key=lambda p: -p[0])
    area, top = 0.0, ref[1]
    for k, (x, y) in enumerate(front):
        top = max(top, y)
        area += (x - (front[k + 1][0] if k + 1 < len(front) else ref[0])) * (top - ref[1])
    assert report.front["hypervolume"] == pytest.approx(area) and area > 0
    text = report.html.read_text()
    assert 'id="objectives"' in text and "Pareto front of the objectives: val_accuracy (max), params (min)" in text
    assert f"{len(on)} of {len(done)} completed trials are on the front" in text
    assert f"hypervolume {report.front['hypervolume']:.6g}" in text
    plots = [p for p in report.plots if p.name.startswith("front-")]
    assert [p.name for p in plots] == ["front-val_accuracy-params.png"] and plots[0].read_bytes().startswith(PNG_MAGIC)
    section = text[text.index('id="objectives"'):text.index('id="pareto"')]
    assert _images(section) == 1 and section.count("<tr") == 1 + len(on)
    assert "front-val_accuracy-params.png" in report.markdown.read_text()


def test_three_objectives_get_one_plot_per_pair(tmp_path):
    objectives = [{"metric": "val_accuracy", "mode": "max"}, {"metric": "params", "mode": "min"},
                  {"metric": "train_seconds", "mode": "min", "reference": 1000}]
    root, _ = _experiment(tmp_path, "mo3", objectives)
    report = analyze(root, permutation=False)
    assert sorted(p.name for p in report.plots if p.name.startswith("front-")) == [
        "front-params-train_seconds.png", "front-val_accuracy-params.png", "front-val_accuracy-train_seconds.png"]
    assert report.front["reference"][2] == 1000.0 and report.front["hypervolume"] > 0


def test_a_single_objective_search_has_no_objectives_section(tmp_path):
    config = SearchConfig(name="so", workdir=str(tmp_path), gpus_per_trial=0)
    root = tmp_path / "so"
    root.mkdir()
    (root / "config.json").write_text(json.dumps(config.to_dict()))
    TrialStore(root / "trials").append_many([TrialRecord(trial_id="a", number=1, arch={}, genotype=(0,), reward=1.0,
                                                         status="completed", metrics={"reward": 1.0})])
    report = analyze(root, permutation=False)
    assert report.front is None and 'id="objectives"' not in report.html.read_text()
