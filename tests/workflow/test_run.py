"""``raynas run``: the whole workflow in one command, resumable, with clear errors for bad workflow files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from raynas.cli import main
from raynas.errors import ConfigError, RaynasError
from raynas.workflow import load_workflow


def _write(tmp_path, **data) -> str:
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_bundled_workflow_loads_and_bad_files_name_the_problem(tmp_path):
    bundled = load_workflow(None)
    # its `task: mnist1d` is looked up (./proxy_tasks, then the bundled tasks) and pinned to the file's absolute path
    assert Path(bundled.task).name == "mnist1d.yaml" and Path(bundled.task).is_absolute()
    assert bundled.steps[0] == "split" and bundled.steps[-2:] == ("analyze", "export")
    with pytest.raises(RaynasError, match="unknown workflow step 'deploy'"):
        load_workflow(_write(tmp_path, name="w", steps=["search", "deploy"]))
    with pytest.raises(ConfigError, match="serach"):
        load_workflow(_write(tmp_path, name="w", serach={"max_trials": 3}))
    with pytest.raises(ConfigError, match="the workflow sets it"):
        load_workflow(_write(tmp_path, name="w", search={"name": "other"}))
    with pytest.raises(ConfigError, match="name"):
        load_workflow(_write(tmp_path, task="digits"))
    assert load_workflow(_write(tmp_path, name="w", steps=["analyze", "search"])).steps == ("search", "analyze")


@pytest.mark.ray
def test_tabular_workflow_runs_every_step_then_resumes_without_redoing_them(tmp_path, ray_cluster, capsys):
    work = tmp_path / "work"
    # MLflow off: the workflow's MLflow runs are checked by the examples' tests (tests/examples)
    path = _write(tmp_path, name="flow", workdir=str(work), max_concurrent=2, cpus_per_trial=0.5, mlflow=False,
                  select_models={"initial": 6, "keep": 5, "fractions": [0.5]}, variance_repeats=2,
                  search={"max_trials": 10, "controller": "evolution"}, top_k=3)
    assert main(["run", path, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["steps"]) == ["split", "baseline", "proxy", "check", "estimate", "search", "stage2", "analyze",
                                     "export"]
    assert "chosen proxy 12-epoch" in result["steps"]["proxy"]
    assert result["steps"]["export"].startswith("not needed")  # table look-ups have no weights
    assert "completed: all max_trials=10 trials ran" in result["steps"]["search"]
    stage2 = json.loads((work / "flow" / "stage2" / "stage2.json").read_text())
    assert len(stage2["rows"]) == 3 and stage2["picked_trial_id"]
    assert (work / "flow" / "report" / "report.html").is_file() and result["report"].endswith("report.html")
    assert result["ui_command"] is None  # no MLflow, nothing to open
    for name in ("baseline/baseline.json", "select-models/references.json", "proxy-search/proxy_search.json",
                 "variance/variance.json", "check/check.json", "estimate.json"):
        assert (work / "flow-proxy" / name).is_file(), name
    trials_before = len(list((work / "flow" / "trials").glob("*.parquet")))
    # running it again skips every finished step (the search is not run twice)
    assert main(["run", path, "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["steps"]["baseline"] == "done already" and again["steps"]["stage2"] == "done already"
    assert again["steps"]["search"].startswith("done already: completed")
    assert "done already" in again["steps"]["proxy"]
    assert len(list((work / "flow" / "trials").glob("*.parquet"))) == trials_before
