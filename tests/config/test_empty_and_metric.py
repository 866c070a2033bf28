"""Loading refuses what would otherwise run on defaults or fail in every trial: an empty file, an unknown metric, a
name no folder can have, a value nested past what the space language (or the YAML reader) can follow."""

from __future__ import annotations

import pytest

from raynas.config import MAX_NAME_LENGTH, SearchConfig, load_search_config
from raynas.config._yaml import examples_dir
from raynas.errors import ConfigError, SpaceError

EMPTY = ["", "\n\n", "# a comment\n# another\n", "null\n", "~\n", "---\n"]


@pytest.mark.parametrize("text", EMPTY)
def test_an_empty_search_config_is_refused(tmp_path, text):
    path = tmp_path / "search.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="the file is empty") as caught:
        load_search_config(path)
    assert str(path) in str(caught.value) and str(examples_dir()) in str(caught.value)
    assert (examples_dir() / "nasbench201_dryrun.yaml").is_file()  # the folder it names is there, installed or not


@pytest.mark.parametrize("text", EMPTY)
def test_an_empty_workflow_is_refused(tmp_path, text):
    from raynas.workflow import load_workflow

    path = tmp_path / "workflow.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="expected a workflow with settings; the file is empty"):
        load_workflow(path)


@pytest.mark.parametrize("text", EMPTY)
def test_an_empty_task_file_is_refused(tmp_path, text):
    from raynas.tasks import load_task

    path = tmp_path / "task.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="expected a task file with settings; the file is empty"):
        load_task(path)


def test_a_binary_task_file_is_refused(tmp_path):
    from raynas.tasks import load_task

    path = tmp_path / "task.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_task(path)


def test_a_config_with_one_setting_is_not_empty(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text("# comment\ngpus_per_trial: 0\n")
    assert load_search_config(path).gpus_per_trial == 0


# --- metric ----------------------------------------------------------------------------------------------------------
def test_a_metric_the_table_does_not_report_is_refused_by_validate_deep():
    config = SearchConfig(gpus_per_trial=0, metric="nonexistent")  # construction reads no table
    with pytest.raises(ConfigError, match="metric: got 'nonexistent'") as caught:
        config.validate_deep()
    assert "val_accuracy" in str(caught.value) and "reward" in str(caught.value)


def test_a_close_metric_name_gets_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'val_accuracy'"):
        SearchConfig(gpus_per_trial=0, metric="val_acuracy").validate_deep()


@pytest.mark.parametrize("metric", ["reward", "val_accuracy", "train_seconds", "test_accuracy"])
def test_the_tables_metrics_pass(metric):
    config = SearchConfig(gpus_per_trial=0, metric=metric)
    assert metric in config.reported_metrics()
    config.validate_deep()


def test_the_full_variant_of_a_table_with_epochs_reports_the_epoch():
    config = SearchConfig(gpus_per_trial=0, benchmark={"variant": "full"})
    assert "epoch" in config.reported_metrics()
    assert "epoch" not in SearchConfig(gpus_per_trial=0).reported_metrics()


def test_the_builtin_trainer_knows_its_metrics_and_a_user_trainer_does_not(tmp_path):
    from raynas.config import BUILTIN_TRAINER_METRICS

    builtin = SearchConfig(task="digits", gpus_per_trial=0)
    assert builtin.reported_metrics() == BUILTIN_TRAINER_METRICS
    with pytest.raises(ConfigError, match="a metric the built-in trainer reports"):
        SearchConfig(task="digits", gpus_per_trial=0, metric="nonexistent")._check_metric()
    trainer = tmp_path / "train.py"
    trainer.write_text("def train(arch, context):\n    return {'mine': 1.0}\n")
    task = tmp_path / "task.yaml"
    task.write_text("name: mine\nfamily: mlp\ntrainer: ./train.py:train\n"
                    "variants: {proxy: {epochs: 1}, full: {epochs: 2}}\n")
    user = SearchConfig(task=str(task), gpus_per_trial=0, metric="mine")
    assert user.reported_metrics() is None  # known only once a trial reports: its reason names what it reported
    user._check_metric()


def test_a_trial_without_the_metric_says_what_it_reported():
    """For a user trainer the metric is only known when a trial reports: the invalid trial's reason says so."""
    from raynas.tune import classify

    outcome = classify({"mine": 1.0, "raynas_status": "completed"}, metric="nonexistent")
    assert outcome.reason == "metric 'nonexistent' was not reported (reported: mine)"


# --- names and nesting -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, words", [
    ("a" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH} characters"),
    ("a" * 5000, "this one has 5000"),
    ("runs/one", "it holds '/'"),
    ("bad\x00name", "it holds '\\x00'"),
    ("é-search", "it holds 'é'"),
    ("-leading", "start with a letter or digit"),
    ("", "a non-empty string"),
])
def test_names_no_folder_can_have_are_refused(name, words):
    with pytest.raises(ConfigError, match="name") as caught:
        SearchConfig(name=name, gpus_per_trial=0)
    assert words in str(caught.value)


def test_the_longest_name_is_accepted():
    assert SearchConfig(name="a" * MAX_NAME_LENGTH, gpus_per_trial=0).name == "a" * MAX_NAME_LENGTH


def test_fixed_nested_past_the_limit_is_refused_without_recursion():
    from raynas.space import MAX_DEPTH

    value: object = 1
    for _ in range(20000):
        value = [value]
    with pytest.raises(ConfigError, match=f"more than {MAX_DEPTH} levels"):
        SearchConfig(gpus_per_trial=0, fixed={"cell": value})


def test_the_space_language_caps_nesting():
    from raynas.space import MAX_DEPTH, SearchSpace, nesting_depth, one_of

    deep: object = one_of(1, 2)
    for _ in range(MAX_DEPTH + 1):
        deep = {"a": deep}
    assert nesting_depth(deep) == MAX_DEPTH + 1
    with pytest.raises(SpaceError, match=f"more than {MAX_DEPTH} levels"):
        SearchSpace(deep)
    json_form: object = {"$one_of": [1, 2]}
    for _ in range(5000):
        json_form = {"a": json_form}
    with pytest.raises(SpaceError, match="nested more than"):
        SearchSpace.from_json({"name": "deep", "space": json_form})
    shallow = SearchSpace({"a": {"b": one_of(1, 2)}, "c": one_of(3, 4)})
    with pytest.raises(SpaceError, match="the value fixing 'c'"):
        shallow.fix({"c": _nested(MAX_DEPTH + 5)})
    assert nesting_depth({"a": [1, {"b": 2}]}) == 3 and nesting_depth(5) == 0


def _nested(depth: int) -> object:
    value: object = 3
    for _ in range(depth):
        value = [value]
    return value


def test_yaml_deeper_than_the_reader_can_follow_is_one_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("fixed: " + "[" * 20000 + "1" + "]" * 20000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply for the YAML reader"):
        load_search_config(path)


def test_a_workflow_name_is_checked_as_a_search_name():
    from raynas.workflow import WorkflowConfig

    with pytest.raises(ConfigError, match=f"at most {MAX_NAME_LENGTH} characters"):
        WorkflowConfig(name="w" * 300)
    with pytest.raises(ConfigError, match="it holds '/'"):
        WorkflowConfig(name="a/b")
