"""Multi-objective search in the engine: the controller is told objective vectors (min objectives negated), a
resume rebuilds them from the store, progress and MLflow show the front and its hypervolume; and a real dry-run
search on the bundled NAS-Bench-201 table, resumed with a larger budget."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from raynas.config import Mode, Objective, SearchConfig, records_front
from raynas.controllers import TrialStatus
from raynas.tracking import TrialRecord, TrialStore

pytest.importorskip("ray.tune")

OBJECTIVES = [{"metric": "val_accuracy", "mode": "max"}, {"metric": "train_seconds", "mode": "min"}]
OBJ = (Objective("val_accuracy", Mode.MAX), Objective("train_seconds", Mode.MIN))


def _config(**kwargs) -> SearchConfig:
    return SearchConfig.from_dict({"max_trials": 40, "seed": 4, "gpus_per_trial": 0, "objectives": OBJECTIVES,
                                   "controller": "nsga2", **kwargs})


def _searcher(config, store_dir=None):
    from raynas.tune import ControllerSearcher

    return ControllerSearcher(config.build_controller(config.build_space()), max_trials=config.max_trials,
                              metric=config.metric, mode=config.mode, seed=config.seed, store_dir=store_dir,
                              objectives=config.objectives)


def _metrics(genotype) -> dict:
    return {"val_accuracy": 80.0 + sum(genotype) / 4, "train_seconds": 100.0 + 7 * (genotype[0] + 1) * sum(genotype)}


# --- searcher and replay, without Ray --------------------------------------------------------------------------------
def test_the_controller_is_told_the_objective_vector_with_min_objectives_negated():
    searcher = _searcher(_config())
    seen = []
    observe = searcher.controller.observe
    searcher.controller.observe = lambda g, reward=None, status=TrialStatus.COMPLETED: (
        seen.append((reward, TrialStatus(status))), observe(g, reward, status))
    cfg = searcher.suggest("a")
    searcher.on_trial_complete("a", {**_metrics(cfg["genotype"]), "raynas_status": "completed"})
    m = _metrics(cfg["genotype"])
    assert seen[-1] == ((m["val_accuracy"], -m["train_seconds"]), TrialStatus.COMPLETED)
    cfg = searcher.suggest("b")  # an objective missing: the controller counts the trial as invalid, not as a reward
    searcher.on_trial_complete("b", {"val_accuracy": 90.0, "raynas_status": "completed"})
    assert math.isnan(seen[-1][0][1]) and searcher.controller.num_failed == 1
    searcher.suggest("c")
    searcher.on_trial_complete("c", {"raynas_status": "failed", "raynas_reason": "boom"})
    assert seen[-1] == (None, TrialStatus.FAILED)


def test_store_history_rebuilds_the_vectors_from_the_stored_metrics():
    from raynas.tune._searcher import store_history

    records = [TrialRecord(trial_id="t1", number=1, arch={}, genotype=(1,), reward=91.0, status="completed",
                           metrics={"val_accuracy": 91.0, "train_seconds": 300.0}),
               TrialRecord(trial_id="t2", number=2, arch={}, genotype=(2,), reward=None, status="failed",
                           metrics={})]
    events = store_history(records, Mode.MAX, objectives=OBJ)
    assert [(e.status, e.reward) for e in events] == [(TrialStatus.COMPLETED, (91.0, -300.0)),
                                                      (TrialStatus.FAILED, None)]


def test_a_resumed_multi_objective_searcher_proposes_what_the_dead_one_would_have(tmp_path):
    from raynas.tune._resume import plan_resume

    config = _config()
    store = TrialStore(tmp_path / "trials")
    lived = _searcher(config, str(store.directory))
    for i in range(16):
        cfg = lived.suggest(f"t{i}")
        failed = cfg["number"] % 7 == 0
        metrics = {} if failed else _metrics(cfg["genotype"])
        lived.on_trial_complete(f"t{i}", {**metrics, "raynas_status": "failed" if failed else "completed"})
        store.append(TrialRecord(trial_id=f"t{i}", number=cfg["number"], arch=cfg["arch"],
                                 genotype=tuple(cfg["genotype"]), reward=metrics.get("val_accuracy"),
                                 status="failed" if failed else "completed", metrics=metrics,
                                 start_time=float(i), end_time=i + 0.5))
    restored = _searcher(config, str(store.directory))
    restored.resume(plan_resume(store.records(), {}, [], max_trials=40, direction=config.mode, seed=config.seed,
                                objectives=config.objectives))
    assert restored.controller.num_failed == lived.controller.num_failed == 2
    for i in range(16, 30):
        assert restored.suggest(f"t{i}") == lived.suggest(f"t{i}")


class _Trial:
    def __init__(self, trial_id, result):
        self.trial_id, self.last_result, self.status, self.config = trial_id, result, "TERMINATED", {"arch": {}}


def test_progress_line_and_progress_json_show_the_front_and_its_hypervolume(tmp_path, caplog):
    from raynas.tune._callbacks import ProgressPrinter

    live = tmp_path / "progress.json"
    progress = ProgressPrinter(20, "val_accuracy", interval_s=0.0, live_path=str(live), objectives=OBJ)
    vectors = []
    with caplog.at_level("INFO", logger="raynas"):
        for i in range(12):
            metrics = {"val_accuracy": 80.0 + (i * 7) % 11, "train_seconds": 50.0 + (i * 5) % 13}
            vectors.append((metrics["val_accuracy"], -metrics["train_seconds"]))
            progress.on_trial_complete(0, [], _Trial(f"t{i}", {**metrics, "raynas_status": "completed"}))
            if i == 3:
                assert json.loads(live.read_text())["hypervolume"] is None  # reference not fixed yet
    from raynas.pareto import hypervolume, pareto_mask

    points = np.array(vectors)
    first = points[:10]
    ref = first.min(axis=0) - 0.1 * (first.max(axis=0) - first.min(axis=0))
    data = json.loads(live.read_text())
    assert data["front_size"] == int(pareto_mask(points).sum())
    assert data["hypervolume"] == pytest.approx(hypervolume(points, ref))
    assert f"front {data['front_size']}, hypervolume {data['hypervolume']:.4g}" in caplog.records[-1].getMessage()


def test_mlflow_parent_summary_and_trial_tags_carry_the_front(tmp_path):
    from raynas.tune._front import front_tracking
    from raynas.tune._mlflow_callback import MlflowLogger

    class Worker:
        def __init__(self):
            self.summaries, self.finished = [], []

        def set_summary(self, step, metrics):
            self.summaries.append((step, metrics))

        def trial_finished(self, record):
            self.finished.append(record)

    logger = MlflowLogger(str(tmp_path), metric="val_accuracy", resources={}, objectives=OBJ)
    logger._worker = Worker()
    records = []
    for i in range(11):
        metrics = {"val_accuracy": 90.0 - i, "train_seconds": 10.0 + i * i % 5}
        trial = _Trial(f"t{i}", {**metrics, "raynas_status": "completed"})
        trial.config = {"arch": {}, "number": i + 1, "genotype": [i]}
        logger.on_trial_complete(0, [], trial)
        records.append(logger._worker.finished[-1])
    step, summary = logger._worker.summaries[-1]
    expected, _ = records_front(OBJ, records)
    assert step == 11 and summary["front_size"] == expected.size and summary["hypervolume"] == expected.hypervolume
    assert "hypervolume" not in logger._worker.summaries[5][1]  # not before the reference point is fixed
    metrics, tags = front_tracking(OBJ, records)
    on_front = {records[i].trial_id for i in expected.front}
    assert metrics == {"front_size": float(expected.size), "hypervolume": expected.hypervolume}
    assert tags == {r.trial_id: {"raynas.on_front": "true" if r.trial_id in on_front else "false"} for r in records}
    assert tags["t0"] == {"raynas.on_front": "true"}  # the most accurate trial is always on the front


# --- a real search ---------------------------------------------------------------------------------------------------
def _dominated(point, others) -> bool:
    return any(all(o >= p for o, p in zip(other, point)) and any(o > p for o, p in zip(other, point))
               for other in others)


@pytest.mark.ray
def test_a_multi_objective_dry_run_search_and_its_resume(ray_cluster, tmp_path):
    """~20 trials on the bundled NAS-Bench-201 table (accuracy max, trial cost min), MLflow off: the first run
    stops at 12 trials, the resume goes on to 20; the store holds every objective of every trial, and the front
    and hypervolume shown while it ran are those of the stored trials."""
    from raynas.tune import run_search

    base = {"name": "mo", "workdir": str(tmp_path), "max_trials": 12, "max_concurrent": 2, "gpus_per_trial": 0,
            "cpus_per_trial": 0.5, "seed": 3, "objectives": OBJECTIVES, "mlflow": {"enabled": False},
            "auto_stop": False}
    first = run_search(SearchConfig.from_dict(base), progress_interval_s=0.0)
    assert first.status == "completed" and first.trials == 12
    config = SearchConfig.from_dict({**base, "max_trials": 20})
    assert config.controller.name == "mo-surrogate" and config.num_objectives == 2
    result = run_search(config, resume=True, progress_interval_s=0.0)
    assert result.status == "completed" and result.trials == 20
    records = TrialStore(result.store_dir).records()
    assert sorted(r.number for r in records) == list(range(1, 21))
    assert all(r.status is TrialStatus.COMPLETED for r in records)
    for r in records:  # every objective's value, per trial
        assert math.isfinite(r.metrics["val_accuracy"]) and r.metrics["train_seconds"] > 0
        assert r.reward == r.metrics["val_accuracy"]
    summary, done = records_front(config.objectives, records)
    vectors = [(r.metrics["val_accuracy"], -r.metrics["train_seconds"]) for r in done]
    front = [vectors[i] for i in summary.front]
    assert front and all(not _dominated(p, vectors) for p in front)
    assert all(_dominated(v, front) or v in front for v in vectors)
    first10 = np.array(vectors[:10])
    ref = first10.min(axis=0) - 0.1 * (first10.max(axis=0) - first10.min(axis=0))
    assert summary.reference == pytest.approx(tuple(ref))
    # the hypervolume of a 2-objective front, by hand: the staircase of rectangles above the reference point
    stairs = sorted((p for p in front if p[0] > ref[0] and p[1] > ref[1]), key=lambda p: -p[0])
    area, top = 0.0, ref[1]
    for k, (x, y) in enumerate(stairs):
        nxt = stairs[k + 1][0] if k + 1 < len(stairs) else ref[0]
        top = max(top, y)
        area += (x - nxt) * (top - ref[1])
    assert summary.hypervolume == pytest.approx(area) and area > 0
    assert result.extra["front"]["front_size"] == summary.size
    assert result.extra["front"]["reference"] == pytest.approx([ref[0], -ref[1]])  # the metrics' own units
    assert (f"Pareto front {summary.size} trials, hypervolume {summary.hypervolume:.6g}" in result.status_line())
    status = json.loads((config.experiment_dir / "status.json").read_text())
    assert status["extra"]["front"]["hypervolume"] == pytest.approx(summary.hypervolume)
    live = json.loads((config.experiment_dir / "progress.json").read_text())
    assert live["front_size"] == summary.size and live["hypervolume"] == pytest.approx(summary.hypervolume)
    from raynas.cli._monitor import snapshot
    from raynas.experiment import ExperimentPaths

    state = snapshot(ExperimentPaths(config.experiment_dir))
    assert state["front_size"] == summary.size and state["hypervolume"] == pytest.approx(summary.hypervolume)


def test_the_final_mlflow_sync_tags_every_trial_run_and_logs_the_front(tmp_path, session_mlflow_store):
    """What a search's end sends (raynas.tune._runner._finish_tracking): parent front_size/hypervolume, and each
    completed trial's run tagged raynas.on_front, in a real MLflow store."""
    from mlflow import MlflowClient

    from raynas.experiment import ExperimentPaths
    from raynas.tune._runner import _finish_tracking, summarize

    config = SearchConfig.from_dict({"name": "mo-mlflow", "workdir": str(tmp_path), "max_trials": 12,
                                     "gpus_per_trial": 0, "objectives": OBJECTIVES, "controller": "nsga2"})
    paths = ExperimentPaths(config.experiment_dir)
    paths.root.mkdir(parents=True)
    paths.uid()
    paths.config.write_text(json.dumps(config.to_dict()))
    store = TrialStore(paths.trials)
    records = []
    for i in range(12):
        metrics = {"val_accuracy": 70.0 + (i * 7) % 12, "train_seconds": 20.0 + (i * 5) % 9}
        status = "failed" if i == 3 else "completed"
        records.append(TrialRecord(trial_id=f"m{i}", number=i + 1, arch={"i": i}, genotype=(i,),
                                   reward=metrics["val_accuracy"] if status == "completed" else None, status=status,
                                   metrics=metrics if status == "completed" else {}, start_time=100.0 + i,
                                   end_time=100.5 + i))
    store.append_many(records)
    result = _finish_tracking(config, summarize(config, wall_seconds=1.0))
    assert "error" not in result.extra["mlflow"], result.extra
    summary, done = records_front(config.objectives, records)
    client = MlflowClient(session_mlflow_store)
    experiment = client.get_experiment_by_name("mo-mlflow")
    runs = client.search_runs([experiment.experiment_id], "tags.`raynas.role` = 'trial'")
    tags = {r.data.tags["raynas.trial_id"]: r.data.tags.get("raynas.on_front") for r in runs}
    on_front = {done[i].trial_id for i in summary.front}
    assert tags == {r.trial_id: ("true" if r.trial_id in on_front else "false") if r.status == "completed" else None
                    for r in records}
    parent = client.search_runs([experiment.experiment_id], "tags.`raynas.role` = 'parent'")[0]
    assert parent.data.metrics["front_size"] == summary.size
    assert parent.data.metrics["hypervolume"] == pytest.approx(summary.hypervolume)
