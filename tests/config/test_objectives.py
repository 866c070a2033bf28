"""`objectives:` in a search config: validated once at load (entries, distinct metrics, modes, reported metrics,
no single-reward targets, a multi-objective controller), and the shared rules: vector, reference point, front."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raynas.config import (
    REFERENCE_TRIALS,
    Mode,
    Objective,
    SearchConfig,
    front_summary,
    load_search_config,
    objective_vector,
    reference_point,
)
from raynas.errors import ConfigError, UnknownNameError

TWO = [{"metric": "val_accuracy", "mode": "max"}, {"metric": "train_seconds", "mode": "min"}]


def _config(**kwargs):
    return SearchConfig.from_dict({"gpus_per_trial": 0, **kwargs})


def test_objectives_set_the_metric_mode_and_default_controller():
    config = _config(objectives=TWO, controller="nsga2")
    assert config.objectives == (Objective("val_accuracy", Mode.MAX), Objective("train_seconds", Mode.MIN))
    assert (config.metric, config.mode, config.num_objectives) == ("val_accuracy", Mode.MAX, 2)
    assert config.to_dict()["objectives"] == TWO
    assert SearchConfig.from_dict(config.to_dict()) == config  # config.json round trip (resume reads it)
    config.validate_deep()
    assert config.build_controller(config.build_space()).num_objectives == 2


def test_without_a_controller_the_multi_objective_default_is_used():
    assert _config(objectives=TWO).controller.name == "mo-surrogate"
    assert SearchConfig(gpus_per_trial=0, objectives=TWO).controller.name == "mo-surrogate"


def test_a_single_reward_stays_the_default():
    config = _config()
    assert config.objectives == () and config.num_objectives == 1 and config.metric == "reward"
    assert config.controller.name == "surrogate"
    assert SearchConfig.from_dict({**config.to_dict()}) == config


@pytest.mark.parametrize("value, field, words", [
    ("val_accuracy", "objectives", "a list of {metric: NAME, mode: max|min}"),
    ([{"metric": "val_accuracy"}], "objectives", "at least 2 objectives"),
    ([{"metric": "val_accuracy"}, "params"], "objectives[1]", "a mapping"),
    ([{"metric": "val_accuracy"}, {"mode": "min"}], "objectives[1].metric", "the name of a metric"),
    ([{"metric": "val_accuracy"}, {"metric": "train_seconds", "mode": "lowest"}], "objectives[1].mode",
     "'max' or 'min'"),
    ([{"metric": "val_accuracy"}, {"metric": "val_accuracy", "mode": "min"}], "objectives[1].metric",
     "distinct metrics"),
    ([{"metric": "val_accuracy"}, {"metric": "train_seconds", "goal": "min"}], "objectives[1]", "goal"),
    ([{"metric": "val_accuracy"}, {"metric": "train_seconds", "reference": "inf"}], "objectives[1].reference",
     "a finite number"),
])
def test_bad_objectives_are_one_config_error_naming_the_entry(value, field, words):
    with pytest.raises((ConfigError, UnknownNameError)) as caught:
        _config(objectives=value, controller="nsga2")
    text = str(caught.value)
    assert text.startswith(f"{field}") or f"{field}:" in text or f"{field}." in text, text
    assert words in text


def test_an_objective_the_trials_do_not_report_is_refused_with_a_suggestion():
    config = _config(objectives=[{"metric": "val_accuracy"}, {"metric": "train_second", "mode": "min"}],
                     controller="nsga2")
    with pytest.raises(ConfigError, match=r"objectives\[1\]\.metric: got 'train_second'") as caught:
        config.validate_deep()
    assert "did you mean 'train_seconds'" in str(caught.value)


def test_the_tables_declared_metrics_are_objectives():
    config = _config(objectives=[{"metric": "val_accuracy"}, {"metric": "params", "mode": "min"}], controller="nsga2")
    assert "params" in config.reported_metrics()
    config.validate_deep()


def test_a_single_objective_controller_with_objectives_names_the_multi_objective_ones():
    for controller in ("surrogate", "evolution", {"name": "surrogate"}):
        with pytest.raises(ConfigError, match="controller: got '(surrogate|evolution)'") as caught:
            _config(objectives=TWO, controller=controller)
        assert "mo-surrogate" in str(caught.value) and "nsga2" in str(caught.value)


def test_a_metric_other_than_the_first_objective_is_refused():
    with pytest.raises(ConfigError, match="metric: got 'reward") as caught:
        _config(objectives=TWO, controller="nsga2", metric="reward", mode="min")
    assert "remove `metric:` and `mode:`" in str(caught.value)
    assert _config(objectives=TWO, controller="nsga2", metric="val_accuracy").metric == "val_accuracy"


def test_reward_targets_in_the_task_are_refused_with_objectives(tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text("name: t\ndataset: digits\nfamily: small_cnn\ntargets: {latency_ms: 5}\n"
                    "variants: {proxy: {epochs: 1}, full: {epochs: 2}}\n")
    objectives = [{"metric": "val_accuracy"}, {"metric": "params", "mode": "min"}]
    with pytest.raises(ConfigError, match="targets.latency_ms: got 5") as caught:
        _config(task=str(task), objectives=objectives, controller="nsga2")
    assert "remove targets.latency_ms from the task file" in str(caught.value)
    _config(task=str(task))  # the single reward with targets stays available


def test_the_builtin_trainer_measures_latency_when_an_objective_names_it(tmp_path):
    """Without reward targets the built-in trainer measures params and FLOPs only; a latency or memory objective
    makes its trials measure latency and memory too (on the task's targets.device / batch_size)."""
    import torch

    from raynas.targets import Stage, search_target

    objectives = [{"metric": "val_accuracy"}, {"metric": "latency_ms", "mode": "min"}]
    config = _config(task="digits", objectives=objectives, controller="nsga2")
    config._check_metric("latency_ms", "objectives[1].metric")
    with pytest.raises(ConfigError, match="latency_factor"):  # a reward factor: there is no reward with targets
        config._check_metric("latency_factor", "objectives[1].metric")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    measured = search_target(config).evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path)
    assert {"latency_ms", "memory_mb", "params", "flops"} <= set(measured._cost(model, (1, 8, 8)))
    plain = search_target(_config(task="digits", objectives=[{"metric": "val_accuracy"},
                                                             {"metric": "params", "mode": "min"}], controller="nsga2"))
    cost = plain.evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path)._cost(model, (1, 8, 8))
    assert set(cost) == {"params", "flops"}


def test_the_config_file_reports_the_entry_and_the_file(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text("gpus_per_trial: 0\ncontroller: nsga2\nobjectives:\n  - {metric: val_accuracy, mode: max}\n")
    with pytest.raises(ConfigError, match="at least 2 objectives") as caught:
        load_search_config(path)
    assert str(path) in str(caught.value)


# --- the shared rules ------------------------------------------------------------------------------------------------
OBJ = (Objective("acc", Mode.MAX), Objective("cost", Mode.MIN))


def test_the_vector_negates_min_objectives_and_marks_missing_values():
    assert objective_vector(OBJ, {"acc": 0.9, "cost": 3}) == (0.9, -3.0)
    assert math.isnan(objective_vector(OBJ, {"acc": 0.9})[1])
    assert math.isnan(objective_vector(OBJ, {"acc": float("inf"), "cost": 1})[0])
    assert math.isnan(objective_vector(OBJ, {"acc": True, "cost": 1})[0])


def test_the_reference_point_is_fixed_by_the_first_completed_trials():
    vectors = [(0.5 + 0.01 * i, -10.0 - i) for i in range(REFERENCE_TRIALS)]
    assert reference_point(OBJ, vectors[:-1]) is None  # not enough trials yet
    ref = reference_point(OBJ, vectors + [(0.0, -1000.0)])  # later trials do not move it
    assert ref == pytest.approx([0.5 - 0.1 * 0.09, -19.0 - 0.1 * 9.0])
    configured = (Objective("acc", Mode.MAX, 0.0), Objective("cost", Mode.MIN, 100.0))
    assert reference_point(configured, []) == pytest.approx([0.0, -100.0])


def test_the_front_and_its_hypervolume():
    configured = (Objective("acc", Mode.MAX, 0.0), Objective("cost", Mode.MIN, 10.0))
    vectors = [(0.8, -2.0), (0.6, -1.0), (0.5, -3.0), (float("nan"), -1.0)]
    summary = front_summary(configured, vectors)
    assert summary.front == (0, 1) and summary.size == 2
    # (0.8 x (10 - 2)) plus the strip only the cheaper point adds: 0.6 x 1
    assert summary.hypervolume == pytest.approx(0.8 * 8 + 0.6 * 1)
    assert summary.reference == (0.0, -10.0)
    assert front_summary(OBJ, vectors).hypervolume is None  # reference not fixed yet
    assert front_summary(OBJ, []).size == 0
    assert np.isfinite(front_summary(OBJ, vectors * 5).hypervolume)


def test_the_shipped_multi_objective_example_is_valid():
    from raynas.config._yaml import examples_dir

    path = examples_dir() / "nasbench201_multiobjective.yaml"  # in the package's examples/ (package-data: *.yaml)
    config = load_search_config(path)
    config.validate_deep()
    assert [(o.metric, o.mode) for o in config.objectives] == [("val_accuracy", Mode.MAX), ("params", Mode.MIN)]
    assert config.controller.name == "mo-surrogate" and config.gpus_per_trial == 0
