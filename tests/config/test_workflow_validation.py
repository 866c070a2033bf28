"""A workflow file is validated whole when it is loaded: a typo in any section is reported by `raynas validate` and
by `raynas run` before any step runs. `raynas validate` also reads search configs and task files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from raynas.cli import main
from raynas.config import SearchConfig
from raynas.workflow import load_workflow

ROOT = Path(__file__).resolve().parents[2]
RAYNAS = str(Path(sys.executable).with_name("raynas"))

#: A small valid workflow on the bundled NAS-Bench-201 table (no task: nothing to train when it is validated).
GOOD = {
    "name": "flow",
    "max_concurrent": 2, "cpus_per_trial": 1, "gpus_per_trial": 0, "device": "cpu",
    "select_models": {"initial": 12, "keep": 6, "fractions": [0.25]},
    "proxy_search": {"min_tau": 0.5},
    "variance_repeats": 3,
    "on_failed_check": "continue",
    "search": {"max_trials": 20, "controller": "random", "scheduler": {"name": "asha", "grace_period": 1}},
    "top_k": 3,
    "export": ["state_dict"],
    "mlflow": {"enabled": False},
}

#: One typo (or bad value) in each section of a workflow file, and what the one-line error must say.
TYPOS = [
    pytest.param({"max_concurent": 2}, "did you mean 'max_concurrent'", id="top-level key"),
    pytest.param({"serach": {"max_trials": 3}}, "did you mean 'search'", id="section name"),
    pytest.param({"search": {"max_trails": 20}}, "search.max_trails", id="search key"),
    pytest.param({"search": {"max_trials": 0}}, "search.max_trials", id="search value"),
    pytest.param({"search": {"controller": {"name": "evolution", "sample_sise": 4}}}, "search.controller.sample_sise",
                 id="search controller option"),
    pytest.param({"search": {"scheduler": {"name": "asha", "grace_perod": 1}}}, "search.scheduler.grace_perod",
                 id="search scheduler option"),
    pytest.param({"search": {"mlflow": False}}, "the workflow sets it", id="search sets a workflow key"),
    pytest.param({"search": {"gpus_per_trial": 1.5}}, "search.gpus_per_trial", id="search resources"),
    pytest.param({"select_models": {"kepe": 6}}, "select_models.kepe", id="select_models key"),
    pytest.param({"select_models": {"initial": 12, "keep": 20}}, "select_models.initial", id="select_models value"),
    pytest.param({"proxy_search": {"min_tua": 0.5}}, "did you mean 'min_tau'", id="proxy_search key"),
    pytest.param({"proxy_search": {"min_tau": 2}}, "proxy_search.min_tau", id="proxy_search value"),
    pytest.param({"mlflow": {"trackign_uri": "http://x:5000"}}, "did you mean 'tracking_uri'", id="mlflow key"),
    pytest.param({"mlflow": {"tracking_uri": "htp//x"}}, "mlflow.tracking_uri", id="mlflow value"),
    pytest.param({"steps": ["split", "serch"]}, "did you mean 'search'", id="steps"),
    pytest.param({"export": ["pickle"]}, "export", id="export"),
    pytest.param({"gpus_per_trial": 1.5}, "a fraction below 1 or a whole number", id="resources"),
    pytest.param({"cpus_per_trial": 0, "gpus_per_trial": 0}, "cpus_per_trial", id="resources hold nothing"),
    pytest.param({"device": "gpu"}, "auto, cpu, cuda or cuda:N", id="device"),
    pytest.param({"variance_repeats": 1}, "variance_repeats", id="variance"),
    pytest.param({"trials_to_converge": 50}, "at least trials_to_converge (50)", id="check settings"),
    pytest.param({"top_k": 1}, "top_k", id="stage 2"),
    pytest.param({"controls": -1}, "controls", id="stage 2 controls"),
    pytest.param({"on_failed_check": "halt"}, "on_failed_check", id="on_failed_check"),
    pytest.param({"task": "no_such_task"}, "task", id="task reference"),
]


def _write(folder: Path, data: dict, name: str = "workflow.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("raynas: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("change, expected", TYPOS)
def test_a_typo_in_any_section_is_reported_by_validate(tmp_path, capsys, change, expected):
    path = _write(tmp_path, {**GOOD, **change})
    assert main(["validate", str(path)]) == 2
    line = _one_error_line(capsys)
    assert expected in line and str(path) in line
    assert "read as a workflow" in line


@pytest.mark.parametrize("change, expected", TYPOS)
def test_a_typo_in_any_section_stops_run_before_any_step(tmp_path, capsys, monkeypatch, change, expected):
    import raynas.workflow

    started = []
    monkeypatch.setattr(raynas.workflow, "run_workflow", lambda *a, **k: started.append(a))
    work = tmp_path / "work"
    path = _write(tmp_path, {**GOOD, **change, "workdir": str(work)})
    assert main(["run", str(path), "--workdir", str(work)]) == 2
    line = _one_error_line(capsys)
    assert expected in line
    assert started == []  # no step ran: the workflow never started
    assert not work.exists()  # nothing was written (no proxy workspace, no experiment folder)


def test_the_good_workflow_is_valid_and_its_search_section_is_a_search_config(tmp_path, capsys):
    path = _write(tmp_path, {**GOOD, "workdir": str(tmp_path / "work")})
    workflow = load_workflow(path)
    search = workflow.search_config()
    assert isinstance(search, SearchConfig)
    assert (search.name, search.max_trials, search.controller.name, search.scheduler.name) == ("flow", 20, "random", "asha")
    assert search.max_concurrent == 2 and search.gpus_per_trial == 0 and search.device == "cpu"
    assert search.workdir == str(tmp_path / "work") and search.mlflow.enabled is False
    assert workflow.selection_settings().fractions == (0.25,) and workflow.proxy_search_settings().min_tau == 0.5
    assert workflow.stage2_settings().top_k == 3
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: valid workflow") and "20 trials, controller random" in out
    assert main(["validate", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is True and data["kind"] == "workflow" and data["search"]["max_trials"] == 20
    assert not (tmp_path / "work").exists()  # validating writes nothing


def test_the_search_section_keeps_its_own_resources_and_errors_name_the_top_level_keys(tmp_path):
    path = _write(tmp_path, {**GOOD, "search": {"max_trials": 20, "max_concurrent": 4, "gpus_per_trial": 0.5}})
    search = load_workflow(path).search_config()
    assert (search.max_concurrent, search.gpus_per_trial, search.cpus_per_trial) == (4, 0.5, 1.0)
    # a bad top-level value keeps its top-level name even though the search section inherits it
    from raynas.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_workflow(_write(tmp_path, {**GOOD, "seed": -1}))
    assert info.value.field == "seed"


@pytest.mark.parametrize("workflow", ["raynas/examples/mnist1d_workflow.yaml", "raynas/examples/digits_workflow.yaml"])
def test_bundled_workflows_load(workflow):
    config = load_workflow(ROOT / workflow)
    assert config.search_config().name == config.name


# --- validate: search configs, task files, and files of no known kind -------------------------------------------

def test_validate_reads_a_search_config(tmp_path, capsys):
    path = _write(tmp_path, {"name": "s", "max_trials": 10, "gpus_per_trial": 0, "controller": "random"}, "search.yaml")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: valid search config")
    assert main(["validate", "--config", str(path), "--format", "json"]) == 0  # the older spelling
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "search" and data["config"]["max_trials"] == 10 and data["space_size"] == "15625"
    bad = _write(tmp_path, {"name": "s", "max_trails": 10}, "bad.yaml")
    assert main(["validate", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert "did you mean 'max_trials'" in line and "read as a search config" in line


def test_validate_reads_a_task_file(tmp_path, capsys):
    task = ROOT / "proxy_tasks" / "digits.yaml"
    assert main(["validate", str(task)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{task}: valid task file") and "small_cnn" in out
    data = yaml.safe_load(task.read_text())
    data["famly"] = data.pop("family")
    bad = _write(tmp_path, data, "task.yaml")
    assert main(["validate", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert "did you mean 'family'" in line and "read as a task file" in line


def test_validate_names_the_three_kinds_for_a_file_of_none(tmp_path, capsys):
    path = _write(tmp_path, {"colour": "blue", "size": 3}, "other.yaml")
    assert main(["validate", str(path)]) == 2
    line = _one_error_line(capsys)
    assert "a search config, a workflow or a task file" in line and "--kind" in line


def test_validate_kind_flag_reads_the_file_as_that_kind(tmp_path, capsys):
    path = _write(tmp_path, {"name": "s", "max_trials": 10, "gpus_per_trial": 0}, "search.yaml")
    assert main(["validate", str(path), "--kind", "workflow"]) == 2
    line = _one_error_line(capsys)
    assert "max_trials" in line and "read as" not in line  # the kind was given, not told from the keys


def test_validate_without_a_file_or_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["validate"]) == 2
    assert "FILE" in _one_error_line(capsys)
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "an existing YAML file" in _one_error_line(capsys)


def test_the_program_reports_a_workflow_typo_without_a_traceback(tmp_path):
    path = _write(tmp_path, {**GOOD, "search": {"max_trails": 20}})
    for command in (["validate", str(path)], ["run", str(path), "--workdir", str(tmp_path / "work")]):
        out = subprocess.run([RAYNAS, *command], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("raynas: error: ") and "search.max_trails" in out.stderr
        assert "did you mean 'max_trials'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "work").exists()
