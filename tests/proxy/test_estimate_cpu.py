"""The estimate of a search without GPUs: CPU workers, readable times, no rows of zeros; estimate.json complete."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from raynas.cli import main
from raynas.errors import ConfigError
from raynas.proxy import EstimateInputs, duration_text, estimate

# the bundled workflow's shape: 60 trials, 2 at once, 1 CPU each; a proxy trial of 8 s, a full training of 60 s
CPU = dict(trials_to_converge=60, max_trials=60, proxy_hours_per_trial=8 / 3600, full_training_hours=60 / 3600,
           max_concurrent=2, gpus_per_trial=0, cpus_per_trial=1, stage2_models=5, source="measured: test")


@pytest.mark.parametrize(("hours", "text"), [
    (0.1 / 3600, "0.1 seconds"), (1 / 3600, "1 second"), (45 / 3600, "45 seconds"), (150 / 3600, "2.5 minutes"),
    (1.0, "60 minutes"), (3.0, "3 hours"), (36.0, "36 hours"), (300.0, "12.5 days"), (None, "-"), (float("nan"), "-"),
])
def test_duration_text_picks_a_readable_unit(hours, text):
    assert duration_text(hours) == text


def test_cpu_search_is_sized_in_cpu_workers():
    e = estimate(EstimateInputs(**CPU))
    assert not e.uses_gpu
    # 60 trials / 2 workers * 8 s = 240 s = 4 minutes; CPU time 60 * 8 s * 1 = 8 minutes
    assert e.days * 24 * 60 == pytest.approx(4)
    assert e.search_cost_cpu_hours * 60 == pytest.approx(8)
    assert e.cpus_needed == 2
    assert e.summary() == "about 4 minutes on 2 CPU workers"
    # stage 2: 5 models, 2 at once -> 3 rounds of 60 s = 3 minutes; 5 * 60 s * 1 CPU = 5 minutes of CPU time
    assert e.stage2_days_batched * 24 * 60 == pytest.approx(3)
    assert e.stage2_cpu_hours * 60 == pytest.approx(5)
    rows = {q: v for q, v, _ in e.rows()}
    assert rows["search time"] == "4 minutes" and rows["proxy time per trial"] == "8 seconds"
    assert rows["CPU workers (trial slots)"] == "2" and rows["CPUs needed"] == "2"
    assert rows["stage-2 time"] == "3 minutes" and rows["total cost (CPU time)"] == "13 minutes"


def test_cpu_rows_leave_out_zeros_and_what_does_not_apply():
    e = estimate(EstimateInputs(**CPU))
    quantities = [q for q, _, _ in e.rows()]
    assert not [q for q in quantities if "GPU" in q or "accelerator" in q or "resume" in q], quantities
    assert "ceiling time (max_trials)" not in quantities  # max_trials == trials_to_converge: the search time again
    assert all(v not in ("0", "-", "unknown") for _, v, _ in e.rows())
    # fewer rows than the GPU table of the same search, which keeps every GPU row
    gpu = estimate(EstimateInputs(**{**CPU, "gpus_per_trial": 1}))
    assert gpu.uses_gpu and "accelerators needed" in [q for q, _, _ in gpu.rows()]
    assert len(e.rows()) < len(gpu.rows())
    assert gpu.summary() == "about 4 minutes on 2 GPUs"
    # an unknown full training is a warning, not a row of "unknown"
    unknown = estimate(EstimateInputs(**{**CPU, "full_training_hours": None}))
    assert "stage-2 time" not in [q for q, _, _ in unknown.rows()]
    assert any("full_training_hours is unknown" in w for w in unknown.warnings())


def test_device_cpu_is_a_cpu_search_even_with_gpus_per_trial():
    e = estimate(EstimateInputs(**{**CPU, "gpus_per_trial": 2, "device": "cpu"}))
    assert not e.uses_gpu and e.summary().endswith("on 2 CPU workers")
    with pytest.raises(ConfigError) as err:
        EstimateInputs(**{**CPU, "device": "tpu"})
    assert err.value.field == "device"


def test_cpu_rows_show_resumes_when_they_are_needed():
    # 1000 trials * 2 h / 2 workers = 1000 h = 41.7 days: over 28 days -> resumes and concurrency fixes appear
    e = estimate(EstimateInputs(**{**CPU, "trials_to_converge": 1000, "max_trials": 2000, "proxy_hours_per_trial": 2}))
    rows = {q: v for q, v, _ in e.rows()}
    assert rows["resumes needed"] == "2" and rows["resumes allowed"] == "1"
    assert rows["max_concurrent for the policy"] == "3"  # 2000 trial-hours / 24 / 28 = 2.98 -> 3
    assert rows["ceiling time (max_trials)"] == "83.3 days"
    warning = next(w for w in e.warnings() if "resume" in w)
    assert "raise max_concurrent to 3 (3 CPUs)" in warning and "accelerators" not in warning


def test_to_dict_keeps_every_number():
    data = json.loads(json.dumps(estimate(EstimateInputs(**CPU)).to_dict()))
    est = data["estimate"]
    for key in ("days", "search_cost_gpu_hours", "accelerators_needed", "resumes_needed", "cpus_needed",
                "search_cost_cpu_hours", "stage2_cpu_hours", "stage2_days_batched", "ceiling_days", "uses_gpu"):
        assert key in est, key
    assert est["accelerators_needed"] == 0 and est["uses_gpu"] is False
    assert data["inputs"]["cpus_per_trial"] == 1 and data["inputs"]["device"] == "auto"
    assert data["summary"] == "about 4 minutes on 2 CPU workers"


def test_cli_cpu_search(capsys):
    argv = ["estimate", "--gpus-per-trial", "0", "--proxy-hours", "0.01", "--max-concurrent", "2",
            "--trials-to-converge", "60", "--max-trials", "60"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GPU" not in out and "accelerator" not in out
    # 60 * 36 s / 2 = 18 minutes
    assert "search: about 18 minutes on 2 CPU workers" in out.splitlines()
    assert main(["estimate", "--device", "npu"]) == 2
    assert "--device: got 'npu'" in capsys.readouterr().err


def test_workflow_estimate_step_speaks_of_cpu_workers(tmp_path):
    from raynas.workflow import load_workflow
    from raynas.workflow._run import _Workflow

    config = replace(load_workflow(None), workdir=str(tmp_path), max_concurrent=2, gpus_per_trial=0, device="cpu")
    out = io.StringIO()
    flow = _Workflow(config, out, 1.0)
    flow._search_settings = lambda: {"max_trials": 60, "max_concurrent": 2, "cpus_per_trial": 1, "gpus_per_trial": 0,
                                     "device": "cpu"}
    design = flow.target.workspace / "proxy-search"
    design.mkdir(parents=True)
    (design / "proxy_search.json").write_text(json.dumps({
        "chosen": "p", "full_cost_per_model_s": 60,
        "candidates": [{"name": "p", "cost_per_model_s": 8, "models": 8}]}))
    summary = flow.estimate()
    assert summary == "about 4 minutes on 2 CPU workers (cost measured by the proxy search)"
    table = out.getvalue()
    assert "CPU workers (trial slots)" in table and "accelerator" not in table and "GPU" not in table
    saved = json.loads((flow.target.workspace / "estimate.json").read_text())
    assert saved["estimate"]["days"] * 24 * 60 == pytest.approx(4) and saved["estimate"]["uses_gpu"] is False
