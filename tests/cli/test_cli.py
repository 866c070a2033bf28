"""The `raynas` program as a user runs it: help, JSON output, exports, and errors without tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

RAYNAS = str(Path(sys.executable).with_name("raynas"))
SUBCOMMANDS = ["search", "resume", "validate", "trials", "space", "controllers", "split", "latency", "benchmark",
               "ui", "mlflow"]


def run(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([RAYNAS, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def test_help_lists_every_subcommand_with_one_line():
    out = run("--help")
    assert out.returncode == 0
    for name in SUBCOMMANDS:
        lines = [line for line in out.stdout.splitlines() if line.strip().startswith(name)]
        assert lines, name


def test_space_info_text_and_json():
    text = run("space", "info", "nasbench201")
    assert text.returncode == 0 and "6 decisions" in text.stdout and "15,625" in text.stdout
    data = json.loads(run("space", "info", "nasbench201", "--format", "json").stdout)
    assert data["num_decisions"] == 6 and data["size"] == "15625"
    assert [d["num_options"] for d in data["decisions"]] == [5] * 6
    listing = json.loads(run("space", "list", "--format", "json").stdout)
    assert {"name": "nasbench201", "size": "15625", "log10_size": 4.194, "num_decisions": 6,
            "source": "built-in"} in listing


def test_controllers_listing_json():
    data = json.loads(run("controllers", "--format", "json").stdout)
    names = {c["name"] for c in data}
    assert {"random", "grid", "evolution", "rl"} <= names
    assert sum(c["default"] for c in data) == 1


def test_benchmark_command_json():
    out = run("benchmark", "nasbench201", "--controller", "random", "--seeds", "20", "--format", "json")
    assert out.returncode == 0, out.stderr
    (summary,) = json.loads(out.stdout)
    assert summary["controller"] == "random" and summary["seeds"] == 20
    assert summary["optimum_full_accuracy"] == pytest.approx(91.6067)
    assert 85 < summary["stage1_mean"] <= summary["stage2_mean"] <= 91.6067


@pytest.mark.parametrize("content, expected", [
    ("name: x\nmax_trails: 3\n", "did you mean 'max_trials'"),
    ("name: x\nmax_concurrent: 0\n", "max_concurrent"),
    ("name: x\nmax_trials: 10\nmax_failed: 20\n", "max_failed"),
    ("name: x\ncontroller: evolutoin\n", "unknown controller 'evolutoin'"),
    ("name: x\nspace: nb201\n", "unknown search space 'nb201'"),
    ("name: x\nmax_trials: [1, 2\n", "YAML"),
    ("name: x\ngpus_per_trial: 0\nbenchmark: {variant: huge}\n", "benchmark.variant"),
])
def test_bad_configs_give_one_clear_error_and_no_traceback(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    for command in (["search", "--config", str(path)], ["validate", "--config", str(path)]):
        out = run(*command, cwd=tmp_path)
        assert out.returncode == 2
        assert "Traceback" not in out.stderr + out.stdout
        assert out.stderr.startswith("raynas: error: ") and expected in out.stderr


def test_unknown_experiment_is_a_clear_error(tmp_path):
    out = run("trials", "nope", "--workdir", str(tmp_path))
    assert out.returncode == 2 and "unknown experiment 'nope'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.ray
def test_search_then_trials_exports(tmp_path):
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({"name": "cli", "workdir": str(tmp_path / "work"), "max_trials": 12,
                                      "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5}))
    out = run("search", "--config", str(config), "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    status = json.loads(out.stdout[out.stdout.index("{"):])
    assert status["status"] == "completed" and status["trials"] == 12
    assert status["store_dir"].endswith("cli/trials")

    table = run("trials", "cli", "--workdir", str(tmp_path / "work"))
    assert table.returncode == 0 and "completed" in table.stdout and len(table.stdout.splitlines()) == 12 + 2
    csv = run("trials", "cli", "--workdir", str(tmp_path / "work"), "--format", "csv", "-o", str(tmp_path / "t.csv"))
    assert csv.returncode == 0
    frame = pd.read_csv(tmp_path / "t.csv")
    assert len(frame) == 12 and {"reward", "status", "arch", "metric.val_accuracy"} <= set(frame.columns)
    records = json.loads(run("trials", "cli", "--workdir", str(tmp_path / "work"), "--format", "json").stdout)
    assert len(records) == 12 and isinstance(records[0]["arch"], dict)
    parquet = run("trials", "cli", "--workdir", str(tmp_path / "work"), "--format", "parquet", "-o",
                  str(tmp_path / "t.parquet"))
    assert parquet.returncode == 0 and len(pd.read_parquet(tmp_path / "t.parquet")) == 12


def test_search_with_a_missing_table_fails_before_ray_starts(tmp_path):
    out = run("search", "--table", str(tmp_path / "nope.csv"), "--workdir", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2 and "table" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "nasbench201-dryrun").exists()


@pytest.mark.parametrize("task, expected", [
    ({"dataset": "cifar10", "data_dir": "/no/such/folder", "family": "small_cnn"}, "missing data_batch_1"),
    ({"dataset": "digits", "family": "resnet9000"}, "unknown model family 'resnet9000'"),
    ({"dataset": "digits", "family": "small_cnn",
      "variants": {"full": {"epochs": 2}, "proxy": {"epochs": 2, "width_mult": 2.0}}}, "no larger than the full"),
])
def test_bad_tasks_give_one_clear_error(tmp_path, task, expected):
    body = {"name": "t", "recipe": {"epochs": 2}, "variants": {"full": {"epochs": 2}, "proxy": {"epochs": 1}}, **task}
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(body))
    (tmp_path / "search.yaml").write_text(yaml.safe_dump({"name": "x", "task": str(tmp_path / "task.yaml"),
                                                          "gpus_per_trial": 0}))
    out = run("validate", "--config", str(tmp_path / "search.yaml"), cwd=tmp_path)
    assert out.returncode == 2 and expected in out.stderr and "Traceback" not in out.stderr


@pytest.mark.ray
def test_embedded_mlflow_store_is_the_default_and_raynas_ui_serves_it(tmp_path):
    from mlflow import MlflowClient

    from tests.mlflow_helpers import free_port, search_runs, trial_runs_by_id

    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    work = tmp_path / "work"
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({"name": "embedded", "workdir": str(work), "max_trials": 8,
                                      "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5}))
    out = run("search", "--config", str(config), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"raynas ui --workdir {work}" in out.stderr and (work / "mlflow.db").is_file()
    off = run("search", "--config", str(config), "--no-mlflow", "--overwrite", "--workdir", str(tmp_path / "w2"),
              cwd=tmp_path, env=env)
    assert off.returncode == 0 and "MLflow" not in off.stderr and not (tmp_path / "w2" / "mlflow.db").exists()

    port = free_port()
    # started with SIGINT ignored, as a CI worker's children may be (Python keeps an inherited SIG_IGN):
    # Ctrl-C must still stop the UI
    ui = subprocess.Popen([RAYNAS, "ui", "--workdir", str(work), "--port", str(port)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    drained: list[str] = []
    try:
        line = ""
        while "MLflow UI:" not in line:
            line = ui.stdout.readline()
            assert line or ui.poll() is None, "raynas ui exited early"
        url = line.split("MLflow UI:")[1].split()[0]
        assert url == f"http://127.0.0.1:{port}"
        # keep reading: the MLflow server logs to the same pipe, and a full pipe would block it (and its shutdown)
        threading.Thread(target=lambda: drained.extend(ui.stdout), daemon=True).start()
        by_trial = trial_runs_by_id(search_runs(url, work / "embedded"))
        assert len(by_trial) == 8
        artifact = MlflowClient(url).download_artifacts(next(iter(by_trial.values()))[0].info.run_id,
                                                       "architecture.json", str(tmp_path))
        assert "arch" in json.loads(Path(artifact).read_text())  # artifacts are served too
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            code = ui.wait(60)  # it stops the server (SIGTERM, SIGKILL after 10 s): well within, even on a busy CI
        except subprocess.TimeoutExpired:
            ui.kill()
            raise AssertionError("raynas ui did not exit after Ctrl-C; its last output:\n" + "".join(drained[-40:]))
        assert code == 0
    import urllib.request

    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)  # the server went with it


def test_mlflow_commands_explain_bad_input(tmp_path):
    missing = run("ui", "--workdir", str(tmp_path))
    assert missing.returncode == 2 and "no MLflow store" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run("mlflow", "sync", "nope", "--workdir", str(tmp_path))
    assert unknown.returncode == 2 and "unknown experiment 'nope'" in unknown.stderr
    bad_uri = run("search", "--tracking-uri", "ftp://x", "--workdir", str(tmp_path), cwd=tmp_path)
    assert bad_uri.returncode == 2 and "mlflow.tracking_uri" in bad_uri.stderr
