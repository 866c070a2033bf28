"""`raynas estimate`: search cost, duration, accelerators and resumes, checked against hand-computed numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from raynas.cli import main
from raynas.errors import ConfigError
from raynas.proxy import EstimateInputs, SearchEstimate, estimate, measured_proxy_cost
from raynas.tracking import TrialRecord, TrialStore


def record(i: int, *, status: str = "completed", seconds: float = 3600.0, metrics: dict | None = None) -> TrialRecord:
    return TrialRecord(trial_id=f"t{i}", number=i, arch={"op": i}, genotype=(i,), reward=None if status != "completed"
                       else 0.5, status=status, start_time=1000.0, end_time=1000.0 + seconds, metrics=metrics or {})


def write_store(experiment_dir, records) -> None:
    store = TrialStore(experiment_dir / "trials")
    for r in records:
        store.append(r)


# ---- formulas --------------------------------------------------------------------------------------------------------

def test_defaults_hand_computed():
    # 3000 trials * 2 h (placeholder) = 6000 trial-hours; * 2 GPUs = 12000 GPU-hours;
    # 3000 / 20 * 2 / 24 = 12.5 days; 20 * 2 = 40 accelerators; 12.5 <= 14 so no resume.
    e = estimate(EstimateInputs())
    assert isinstance(e, SearchEstimate)
    assert e.proxy_hours_per_trial == 2.0
    assert e.search_cost_trial_hours == pytest.approx(6000)
    assert e.search_cost_gpu_hours == pytest.approx(12000)
    assert e.search_cost_accelerator_hours == pytest.approx(12000)
    assert e.days == pytest.approx(12.5)
    assert e.accelerators_needed == 40
    assert e.resumes_needed == 0 and e.resumes_allowed == 1
    assert e.fits_timeout and e.fits_resume_policy
    assert e.full_training_equivalents is None and e.stage2_gpu_hours is None
    # 6000 / 24 / 14 = 17.86 -> 18 in parallel; 6000 / 24 / 28 = 8.93 -> 9
    assert e.max_concurrent_for_timeout == 18 and e.max_concurrent_for_policy == 9
    # ceiling: 5000 * 2 * 2 = 20000 GPU-hours; max_failed default ceil(5000 / 3) = 1667
    assert e.ceiling_gpu_hours == pytest.approx(20000) and e.max_failed_default == 1667
    assert EstimateInputs().source.startswith("default (unmeasured: 2 h per trial)")
    assert any("not measured" in w for w in e.warnings())


def test_one_resume_within_policy_and_stage2():
    # 1000 trials * 3 h = 3000 trial-hours (1 GPU each: 3000 GPU-hours); 3000 / 60 = 50 full trainings;
    # 1000 / 5 * 3 / 24 = 25 days: over 14, within 28 -> 1 resume, allowed.
    e = estimate(EstimateInputs(trials_to_converge=1000, proxy_hours_per_trial=3, full_training_hours=60,
                                max_concurrent=5, gpus_per_trial=1, max_trials=1000))
    assert e.search_cost_gpu_hours == pytest.approx(3000)
    assert e.full_training_equivalents == pytest.approx(50)
    assert e.days == pytest.approx(25)
    assert e.resumes_needed == 1 and not e.fits_timeout and e.fits_resume_policy
    # stage 2: 10 models * 60 h * 1 GPU = 600 GPU-hours; 2.5 days all in parallel on 10 accelerators
    assert e.stage2_gpu_hours == pytest.approx(600) and e.stage2_days == pytest.approx(2.5)
    assert e.stage2_accelerators == 10
    # 3000 / 24 / 14 = 8.93 -> 9 in parallel: 1000 / 9 * 3 / 24 = 13.9 days
    assert e.max_concurrent_for_timeout == 9
    (warning,) = [w for w in e.warnings() if "timeout" in w]
    assert "1 resume" in warning and "raise max_concurrent to 9" in warning
    rows = {q: (v, f) for q, v, f in e.rows()}
    assert rows["search days"][0] == "25" and rows["full-training equivalents"][0] == "50"
    assert rows["stage-2 cost (GPU-hours)"][0] == "600" and rows["total cost (GPU-hours)"][0] == "3,600"


def test_too_long_for_the_policy_suggests_concurrency():
    # 4000 / 10 * 4 / 24 = 66.7 days: ceil(66.7 / 14) - 1 = 4 resumes, policy allows 1.
    # Within 28 days: 16000 / 24 / 28 = 23.8 -> 24 in parallel (48 accelerators); within 14: 47.6 -> 48.
    e = estimate(EstimateInputs(trials_to_converge=4000, proxy_hours_per_trial=4, max_concurrent=10))
    assert e.days == pytest.approx(66.6667, rel=1e-4)
    assert e.resumes_needed == 4 and not e.fits_resume_policy
    assert e.max_concurrent_for_policy == 24 and e.max_concurrent_for_timeout == 48
    (warning,) = [w for w in e.warnings() if "resumes" in w]
    assert warning.startswith("the search needs 4 resumes at the 14-day timeout")
    assert "the default policy allows 1 (28 days in all)" in warning
    assert "raise max_concurrent to 24 (48 accelerators)" in warning and "cheaper proxy" in warning
    # and the suggestion really fits: 4000 / 24 * 4 / 24 = 27.8 days
    fixed = estimate(EstimateInputs(trials_to_converge=4000, proxy_hours_per_trial=4, max_concurrent=24))
    assert fixed.fits_resume_policy and fixed.resumes_needed == 1


@pytest.mark.parametrize("trials, resumes, fits_timeout, fits_policy", [
    (3360, 0, True, True),    # 3360 / 10 * 1 / 24 = 14.0 days exactly
    (3361, 1, False, True),   # just over 14
    (6720, 1, False, True),   # 28.0 days exactly
    (6721, 2, False, False),  # just over 28
])
def test_fourteen_day_boundaries(trials, resumes, fits_timeout, fits_policy):
    e = estimate(EstimateInputs(trials_to_converge=trials, proxy_hours_per_trial=1, max_concurrent=10, max_trials=10000))
    assert (e.resumes_needed, e.fits_timeout, e.fits_resume_policy) == (resumes, fits_timeout, fits_policy)


def test_boundary_survives_float_rounding():
    # 3360 * 0.1 h = 336 h = 14 days on one worker, though 0.1 is not exact in binary
    e = estimate(EstimateInputs(trials_to_converge=3360, proxy_hours_per_trial=0.1, max_concurrent=1))
    assert e.resumes_needed == 0 and e.fits_timeout and e.max_concurrent_for_timeout == 1


@pytest.mark.parametrize("timeout, total, allowed", [(14, 28, 1), (14, 14, 0), (7, 28, 3), (14, 30, 2), (14, 10, 0)])
def test_resumes_allowed(timeout, total, allowed):
    assert EstimateInputs(timeout_days=timeout, max_total_days=total).resumes_allowed == allowed


def test_trial_longer_than_timeout_has_no_concurrency_fix():
    e = estimate(EstimateInputs(trials_to_converge=100, proxy_hours_per_trial=400, max_trials=100))  # 16.7 days each
    # within 28 days: 100 * 400 / 24 / 28 = 59.5 -> 60 in parallel
    assert e.max_concurrent_for_timeout is None and e.max_concurrent_for_policy == 60
    assert any(w.startswith("one proxy trial takes 16.67 days") for w in e.warnings())


def test_proxy_as_expensive_as_full_training_warns():
    e = estimate(EstimateInputs(proxy_hours_per_trial=10, full_training_hours=10))
    assert e.full_training_equivalents == pytest.approx(3000)
    assert any("costs as much as a full training" in w for w in e.warnings())


def test_no_warnings_when_all_known_and_fitting():
    e = estimate(EstimateInputs(proxy_hours_per_trial=0.5, full_training_hours=24))
    assert e.warnings() == []


# ---- validation ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, field", [
    ({"trials_to_converge": 0}, "trials_to_converge"),
    ({"trials_to_converge": 2.5}, "trials_to_converge"),
    ({"trials_to_converge": True}, "trials_to_converge"),
    ({"trials_to_converge": 6000}, "max_trials"),  # above the default ceiling of 5000
    ({"max_trials": 100}, "max_trials"),
    ({"proxy_hours_per_trial": -1.0}, "proxy_hours_per_trial"),
    ({"proxy_hours_per_trial": 0}, "proxy_hours_per_trial"),
    ({"proxy_hours_per_trial": float("nan")}, "proxy_hours_per_trial"),
    ({"full_training_hours": -5}, "full_training_hours"),
    ({"max_concurrent": 0}, "max_concurrent"),
    ({"gpus_per_trial": -1}, "gpus_per_trial"),
    ({"timeout_days": 0}, "timeout_days"),
    ({"max_total_days": -28}, "max_total_days"),
    ({"stage2_models": 0}, "stage2_models"),
])
def test_bad_inputs_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        EstimateInputs(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: got ")


def test_max_trials_error_says_how_to_fix():
    with pytest.raises(ConfigError, match=r"raise max_trials to 6000 or more"):
        EstimateInputs(trials_to_converge=6000, max_trials=5000)


# ---- measured proxy cost ---------------------------------------------------------------------------------------------

def test_measured_cost_is_mean_of_completed_wall_clock(tmp_path):
    exp = tmp_path / "proxy-run"
    write_store(exp, [record(0, seconds=3600), record(1, seconds=7200),
                      record(2, status="failed", seconds=99999), record(3, status="invalid", seconds=5)])
    hours, n, source = measured_proxy_cost(exp)
    assert hours == pytest.approx(1.5) and n == 2
    assert source == "measured: 2 completed trials of experiment proxy-run"


def test_measured_cost_prefers_train_seconds_metric(tmp_path):
    exp = tmp_path / "nb201"
    write_store(exp, [record(0, seconds=2, metrics={"train_seconds": 1800.0, "reward": 0.9}),
                      record(1, seconds=3, metrics={"train_seconds": 5400.0})])
    hours, n, source = measured_proxy_cost(exp)
    assert hours == pytest.approx(1.0) and n == 2
    assert "train_seconds" in source and "2 completed trials of experiment nb201" in source


def test_measured_cost_mixes_metric_and_wall_clock(tmp_path):
    write_store(tmp_path, [record(0, seconds=7200), record(1, seconds=1, metrics={"train_seconds": 3600})])
    hours, n, source = measured_proxy_cost(tmp_path)
    assert hours == pytest.approx(1.5) and n == 2 and "1 by train_seconds metric, 1 by wall clock" in source


def test_measured_cost_none_without_completed_trials(tmp_path):
    assert measured_proxy_cost(tmp_path / "missing") is None
    write_store(tmp_path, [record(0, status="failed")])
    assert measured_proxy_cost(tmp_path) is None


# ---- CLI -------------------------------------------------------------------------------------------------------------

def test_cli_text_defaults(capsys):
    assert main(["estimate"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["quantity", "value", "formula"]
    gpu = next(line for line in lines if line.startswith("search cost (GPU-hours)"))
    assert "12,000" in gpu and "trial-hours * gpus_per_trial" in gpu
    assert any(line.startswith("search days") and "12.5" in line for line in lines)
    assert any(line.startswith("warning: the proxy cost is not measured") for line in lines)
    assert lines[-1] == "proxy cost: default (unmeasured: 2 h per trial)"


def test_cli_json_with_flags(capsys):
    argv = ["estimate", "--trials-to-converge", "4000", "--proxy-hours", "4", "--max-concurrent", "10",
            "--full-training-hours", "100", "--format", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    est = data["estimate"]
    assert est["search_cost_gpu_hours"] == pytest.approx(32000)  # 4000 * 4 * 2
    assert est["full_training_equivalents"] == pytest.approx(160)  # 16000 / 100
    assert est["resumes_needed"] == 4 and est["fits_resume_policy"] is False
    assert est["stage2_gpu_hours"] == pytest.approx(2000)  # 10 * 100 * 2
    assert data["source"] == "flag (--proxy-hours 4)" and data["inputs"]["proxy_hours"] == 4
    assert any("needs 4 resumes" in w for w in data["warnings"])
    assert {"quantity", "value", "formula"} == set(data["rows"][0])


def test_cli_measures_from_experiment(tmp_path, capsys):
    write_store(tmp_path / "exp1", [record(0, seconds=1800), record(1, seconds=5400)])
    assert main(["estimate", "--experiment", "exp1", "--workdir", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"]["proxy_hours"] == pytest.approx(1.0)
    assert data["source"] == "measured: 2 completed trials of experiment exp1"
    assert data["estimate"]["search_cost_gpu_hours"] == pytest.approx(6000)  # 3000 * 1 * 2
    assert not any("not measured" in w for w in data["warnings"])

    # by path, text output ends with where the cost came from
    assert main(["estimate", "--experiment", str(tmp_path / "exp1")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "proxy cost: measured: 2 completed trials of experiment exp1"

    # an explicit --proxy-hours wins over the measurement
    assert main(["estimate", "--experiment", "exp1", "--workdir", str(tmp_path), "--proxy-hours", "3",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"]["proxy_hours"] == 3 and data["source"].startswith("flag (--proxy-hours 3)")


def test_cli_experiment_without_completed_trials_falls_back(tmp_path, capsys):
    write_store(tmp_path / "empty", [record(0, status="failed")])
    assert main(["estimate", "--experiment", str(tmp_path / "empty"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"]["proxy_hours"] == 2.0 and "no completed trials" in data["source"]


def test_cli_errors_name_the_flag(tmp_path, capsys):
    assert main(["estimate", "--trials-to-converge", "6000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("raynas: error: --max-trials: got 5000") and "raise --max-trials to 6000" in err
    assert main(["estimate", "--proxy-hours", "-1"]) == 2
    assert "--proxy-hours: got -1.0" in capsys.readouterr().err
    assert main(["estimate", "--experiment", "nope", "--workdir", str(tmp_path)]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err


def test_module_imports_no_heavy_framework():
    code = ("import sys\nimport raynas.proxy._estimate\n"
            "heavy = [m for m in ('ray', 'torch', 'mlflow', 'pyarrow') if m in sys.modules]\nassert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
