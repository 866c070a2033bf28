"""``raynas export`` and ``raynas.load_model`` on a tiny real experiment (digits, search and stage 2 on a local Ray
cluster): every format reproduces stage 2's validation accuracy, and bad input ends in one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import raynas
from raynas.cli import main
from raynas.config import SearchConfig
from raynas.errors import RaynasError, UnknownNameError

ACCURACY_TOLERANCE = 0.1  # points


@pytest.fixture(scope="module")
def experiment(ray_cluster, tmp_path_factory, session_mlflow_store):
    """A 4-trial search on a 2-epoch digits task and its stage 2 (top 2), logged to the session's MLflow store."""
    from raynas.stage2 import Stage2Settings, train_top_k
    from raynas.tune import run_search

    root = tmp_path_factory.mktemp("export")
    body = yaml.safe_load(open("proxy_tasks/digits.yaml"))
    body["recipe"]["epochs"] = 2
    body["variants"] = {"full": {"epochs": 2, "data_fraction": 1.0, "width_mult": 1.0},
                        "proxy": {"epochs": 1, "data_fraction": 0.5, "width_mult": 0.5}}
    task = root / "digits-tiny.yaml"
    task.write_text(yaml.safe_dump(body))
    config = SearchConfig(name="export-digits", task=str(task), workdir=str(root / "work"), max_trials=4,
                          max_concurrent=2, gpus_per_trial=0, cpus_per_trial=1, device="cpu")
    run_search(config)
    result = train_top_k(config.experiment_dir, Stage2Settings(top_k=2))
    assert result.picked_trial_id is not None and all(row.completed for row in result.rows)
    return config, result


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * float((np.asarray(logits).argmax(axis=1) == labels).mean())


def _validation_set():
    from raynas.data import load_dataset

    data = load_dataset("digits")
    return np.asarray(data.val_x, dtype=np.float32), np.asarray(data.val_y)


@pytest.mark.ray
def test_every_format_reproduces_the_stage2_accuracy(experiment, capsys, session_mlflow_store):
    import onnxruntime
    import torch

    config, stage2 = experiment
    out = Path(config.workdir) / "exported"
    assert main(["export", config.name, "--workdir", config.workdir, "--format", "state_dict,torchscript,onnx",
                 "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["files"]) == {"state_dict", "torchscript", "onnx"}
    assert all(diff is not None and diff < 1e-3 for diff in result["checks"].values())
    assert result["source"]["picked"] and result["source"]["trial_id"] == stage2.picked_trial_id
    val_x, val_y = _validation_set()
    expected = stage2.picked_accuracy

    scripted = torch.jit.load(str(out / "model.torchscript"))
    with torch.no_grad():
        script_logits = scripted(torch.as_tensor(val_x)).numpy()
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(None, {"input": val_x})[0]
    from_export = raynas.load_model(out)  # the state_dict export and its model.json
    with torch.no_grad():
        state_logits = from_export(torch.as_tensor(val_x)).numpy()
    accuracies = {"torchscript": _accuracy(script_logits, val_y), "onnx": _accuracy(onnx_logits, val_y),
                  "state_dict": _accuracy(state_logits, val_y)}
    print(f"stage-2 validation accuracy {expected:.4f}; exported: {accuracies}")
    for name, accuracy in accuracies.items():
        assert abs(accuracy - expected) <= ACCURACY_TOLERANCE, (name, accuracy, expected)

    # load_model on the experiment: the same module as the TorchScript file, in eval mode
    model = raynas.load_model(config.name, workdir=config.workdir)
    assert isinstance(model, torch.nn.Module) and not model.training
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.as_tensor(val_x)).numpy(), script_logits, rtol=0, atol=1e-5)

    # beside the model: the architecture, the build spec and the model card
    arch = json.loads((out / "architecture.json").read_text())
    assert arch["arch"] == stage2.picked_arch and arch["family"] == "small_cnn" and arch["picked"]
    spec = json.loads((out / "model.json").read_text())
    assert spec["build_kwargs"] == {"in_channels": 1, "num_classes": 10, "image_size": 8, "width_mult": 1.0,
                                    "depth_mult": 1.0} and spec["input_shape"] == [1, 8, 8]
    assert json.loads((Path(stage2.best_dir) / "model.json").read_text())["arch"] == stage2.picked_arch
    card = (out / "MODEL_CARD.md").read_text()
    from raynas.data import DataSplit

    split = DataSplit.load(config.experiment_dir / "split.parquet")
    assert f"{expected:.4f}".rstrip("0") in card and split.fingerprint in card and split.data_fingerprint in card
    assert "raynas.load_model" in card and "torch.jit.load" in card and "onnxruntime.InferenceSession" in card

    # MLflow: the export is an artifact folder and a logged model of the stage-2 parent run
    from mlflow import MlflowClient

    client = MlflowClient(session_mlflow_store)
    run_id = result["mlflow"]["run_id"]
    assert run_id == json.loads((config.experiment_dir / "stage2" / "stage2.json").read_text())["mlflow"]["parent_run_id"]
    logged = {Path(a.path).name for a in client.list_artifacts(run_id, "exported_model")}
    assert {"model.onnx", "model.torchscript", "state_dict.pt", "MODEL_CARD.md", "architecture.json"} <= logged
    logged_model = client.get_logged_model(result["mlflow"]["model_id"])
    assert logged_model.source_run_id == run_id
    # filed under the search's MLflow experiment (not the Default one, whose artifacts would land in ./mlruns)
    assert logged_model.experiment_id == client.get_run(run_id).info.experiment_id
    assert not (Path.cwd() / "mlruns").exists()


@pytest.mark.ray
def test_a_trial_by_id_and_its_errors(experiment, capsys):
    import torch

    from raynas.tracking import TrialStore

    config, stage2 = experiment
    common = ["export", config.name, "--workdir", config.workdir]
    other = next(row for row in stage2.rows if row.trial_id != stage2.picked_trial_id)
    assert main([*common, "--trial", other.trial_id, "--format", "torchscript", "--no-mlflow"]) == 0
    text = capsys.readouterr().out
    folder = config.experiment_dir / "export" / f"trial-{other.trial_id}"
    assert str(folder) in text and (folder / "model.torchscript").is_file()
    val_x, val_y = _validation_set()
    with torch.no_grad():
        accuracy = _accuracy(torch.jit.load(str(folder / "model.torchscript"))(torch.as_tensor(val_x)).numpy(), val_y)
    assert abs(accuracy - other.full_accuracy) <= ACCURACY_TOLERANCE
    # the stage-2 trial id names the same model
    by_stage2_id = raynas.load_model(config.experiment_dir, other.stage2_trial_id)
    by_stage1_id = raynas.load_model(config.experiment_dir, other.trial_id)
    with torch.no_grad():
        x = torch.as_tensor(val_x[:16])
        assert torch.equal(by_stage2_id(x), by_stage1_id(x))

    assert main([*common, "--trial", "deadbeef"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown trial 'deadbeef'" in err and stage2.picked_trial_id in err
    trained = {row.trial_id for row in stage2.rows}
    proxy_only = next(r.trial_id for r in TrialStore(config.experiment_dir / "trials").records() if r.trial_id not in trained)
    assert main([*common, "--trial", proxy_only]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no checkpoint" in err and stage2.picked_trial_id in err
    with pytest.raises(RaynasError, match="no checkpoint"):
        raynas.load_model(config.experiment_dir, proxy_only)


def _experiment_without_stage2(tmp_path: Path, **overrides) -> SearchConfig:
    config = SearchConfig(name="no-stage2", workdir=str(tmp_path), gpus_per_trial=0, **overrides)
    config.experiment_dir.mkdir(parents=True)
    (config.experiment_dir / "config.json").write_text(json.dumps(config.to_dict(), default=str))
    return config


def test_bad_input_is_one_line_with_the_fix_and_exit_code_2(tmp_path, capsys, monkeypatch):
    def run(*argv: str) -> str:
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("raynas: error: ") and "\n" not in err and "Traceback" not in err
        return err

    assert "unknown experiment 'nope'" in run("nope", "--workdir", str(tmp_path))
    config = _experiment_without_stage2(tmp_path, task="proxy_tasks/digits.yaml")
    assert f"raynas train no-stage2 --workdir {tmp_path.resolve()}" in run("no-stage2", "--workdir", str(tmp_path))
    err = run("no-stage2", "--workdir", str(tmp_path), "--format", "torchscript,onnnx")
    assert "--format" in err and "did you mean 'onnx'" in err
    assert "tabular benchmark" in run(str(_experiment_without_stage2(tmp_path / "t").experiment_dir))
    with pytest.raises(UnknownNameError):
        raynas.load_model("nope", workdir=tmp_path)
    with pytest.raises(RaynasError, match="raynas train"):
        raynas.load_model(config.experiment_dir)

    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("onnx", "onnxscript") else real(name, *a))
    assert "pip install 'raynas[export]'" in run("no-stage2", "--workdir", str(tmp_path), "--format", "onnx")


def test_import_raynas_stays_light_with_load_model():
    import subprocess
    import sys

    code = ("import sys, raynas, raynas.export\n"
            "assert callable(raynas.load_model)\n"
            "heavy = [m for m in ('ray', 'torch', 'mlflow', 'onnx', 'sklearn') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.ray
def test_a_stage1_trial_of_a_full_variant_search_kept_its_checkpoint(ray_cluster, tmp_path):
    """A search of the ``full`` variant keeps every trial's checkpoint: such a trial exports without stage 2."""
    import torch

    from raynas.config import TrackingConfig
    from raynas.tracking import TrialStore
    from raynas.tune import run_search

    body = yaml.safe_load(open("proxy_tasks/digits.yaml"))
    body["variants"] = {"full": {"epochs": 1, "data_fraction": 1.0, "width_mult": 0.5},
                        "proxy": {"epochs": 1, "data_fraction": 0.5, "width_mult": 0.5}}
    task = tmp_path / "digits-full.yaml"
    task.write_text(yaml.safe_dump(body))
    config = SearchConfig(name="full-variant", task=str(task), variant="full", workdir=str(tmp_path / "work"),
                          max_trials=1, max_concurrent=1, gpus_per_trial=0, cpus_per_trial=1, device="cpu",
                          mlflow=TrackingConfig(enabled=False))
    run_search(config)
    record = TrialStore(config.experiment_dir / "trials").records()[0]
    assert record.status == "completed" and record.checkpoint
    model = raynas.load_model(config.experiment_dir, record.trial_id)
    assert model[-1].in_features == 4 * max(4, round(record.arch["stages"][-1]["width"] * 0.5))  # the variant's width
    val_x, val_y = _validation_set()
    with torch.no_grad():
        accuracy = _accuracy(model(torch.as_tensor(val_x)).numpy(), val_y)
    assert abs(accuracy - record.metrics["val_accuracy"]) <= ACCURACY_TOLERANCE
    with pytest.raises(RaynasError, match="raynas train full-variant"):
        raynas.load_model(config.experiment_dir)  # no stage 2: the pick needs `raynas train`
