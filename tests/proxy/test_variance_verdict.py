"""The variance verdict: the proxy's run-to-run sd against the spread of the top reference models (pure, no Ray)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from raynas._files import write_json
from raynas.cli import main
from raynas.errors import ConfigError
from raynas.proxy import (
    TABULAR_NOTE,
    DesignTarget,
    ReferenceModel,
    ReferenceSet,
    Separation,
    VarianceResult,
    VarianceSettings,
    Verdict,
    better_half,
    judge_separation,
    load_variance,
    reference_values,
    references_path,
    resolution,
    variance_path,
)
from raynas.proxy._variance import _separation
from raynas.tracking import TrialRecord, TrialStore
from tests.proxy.test_baseline_variance import tiny_task

#: The digits report: 3 seeds of one model, and a stage-1 top 5 of 100, 98.61 x4 (one image = 0.69 points).
DIGITS_REPEATS = [88.19, 95.14, 88.19]
DIGITS_MODELS = [100.0, 98.61, 98.61, 98.61, 98.61, 97.92, 96.53, 95.14, 93.06, 90.28]


# --- the rule ---------------------------------------------------------------------------------------------------

def test_the_digits_case_fails_with_its_figures():
    ranking = list(range(len(DIGITS_MODELS), 0, -1))  # full training ranks them in this order
    result = judge_separation(DIGITS_REPEATS, DIGITS_MODELS, ranking=ranking)
    assert result.verdict is Verdict.FAIL
    assert result.noise_sd == pytest.approx(np.std(DIGITS_REPEATS, ddof=1))  # 4.01 points
    assert result.spread == pytest.approx(np.std(DIGITS_MODELS[:5], ddof=1))  # 0.62 among the top 5
    assert result.models == 5 and result.repeats == 3 and result.basis == "proxy"
    assert result.ratio == 0.0 and result.high < 1  # even the optimistic end: noise swamps the spread
    assert "run-to-run sd 4.01" in result.reason and "cannot rank them" in result.reason
    # the old rule passed it: cv 0.0443 <= 0.05
    assert np.std(DIGITS_REPEATS, ddof=1) / np.mean(DIGITS_REPEATS) == pytest.approx(0.0443, abs=1e-4)


def test_small_noise_against_a_wide_spread_passes_and_a_middle_ground_warns():
    models = [95.0, 93.0, 91.0, 89.0, 87.0, 80.0, 75.0, 70.0, 65.0, 60.0]  # top 5: sd 3.16
    quiet = judge_separation([90.0, 90.2, 89.9, 90.1, 90.0], models)  # sd 0.11
    assert quiet.verdict is Verdict.PASS and quiet.ratio > 20 and quiet.low >= 1
    middle = judge_separation([88.0, 91.0, 89.0, 92.0, 90.0, 87.5, 91.5, 89.5, 90.5, 90.0], models)  # sd 1.4
    assert middle.verdict is Verdict.WARN and 1 <= middle.ratio < 2 and middle.low > 0
    assert "misorder close ones" in middle.reason


def test_the_point_value_alone_does_not_decide_with_two_repeats():
    models = [100.0, 98.61, 97.22, 95.83, 90.0, 85.0]  # top 3: sd 1.39
    two = judge_separation([90.3, 90.0], models)  # separation ~6 from a sd of 2 values
    five = judge_separation([90.3, 90.0, 90.1, 90.25, 90.05], models)  # about the same sd from 5 values
    assert two.ratio > 2 and two.low < 1 and two.verdict is not Verdict.PASS
    assert five.verdict is Verdict.PASS
    # the sd's chi-square interval: 2 values bound it within about 0.6x-8x at 80%, 5 values much tighter
    assert two.noise_low < two.noise_sd < two.noise_high and two.noise_high / two.noise_sd > 5
    assert five.noise_high / five.noise_sd < 2.2 and five.noise_low / five.noise_sd > 0.6


def test_identical_repeats_are_floored_at_the_metric_step_not_zero_noise():
    step = 100 / 144  # one validation image
    models = [100.0, 100 - step, 100 - 2 * step, 100 - 3 * step, 90.0, 80.0]
    same = judge_separation([88.19, 88.19], models)
    assert resolution([88.19, *models]) == pytest.approx(step)
    assert same.noise_sd == pytest.approx(step / math.sqrt(12)) and same.verdict is not Verdict.PASS
    assert math.isfinite(same.ratio)


@pytest.mark.parametrize("repeats, models, what", [
    ([90.0], [95.0, 90.0, 85.0, 80.0], "only 1 repeat"),
    ([], [95.0, 90.0, 85.0], "only 0 repeat"),
    ([90.0, 91.0, 90.5], [95.0, 90.0], "only 2 reference models"),
    ([90.0, 91.0, 90.5], [95.0, math.nan, 90.0, math.nan], "only 2 reference models"),
    ([90.0, 90.0], [90.0, 90.0, 90.0], "reads the same value"),
])
def test_too_little_data_is_inconclusive(repeats, models, what):
    result = judge_separation(repeats, models)
    assert result.verdict is Verdict.INCONCLUSIVE and what in result.reason


def test_the_better_half_is_ranked_by_full_training_and_keeps_at_least_three():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert better_half(values).tolist() == [7.0, 6.0, 5.0, 4.0]  # ceil(7 / 2) best by their own values
    assert better_half(values, [7, 6, 5, 4, 3, 2, 1]).tolist() == [1.0, 2.0, 3.0, 4.0]  # by full training
    assert better_half([1.0, 2.0, 3.0, 4.0]).tolist() == [4.0, 3.0, 2.0]  # at least 3
    assert better_half([1.0, math.nan, 3.0], [1, 2, math.nan]).tolist() == [1.0]


def test_full_training_basis_keeps_its_spread_and_says_so():
    repeats, models = [90.0, 91.0, 90.5, 89.5, 90.2], [95.0, 93.0, 91.0, 89.0, 87.0, 80.0]
    proxy = judge_separation(repeats, models, basis="proxy")
    full = judge_separation(repeats, models, basis="full")
    assert proxy.spread == full.spread and proxy.noise_sd == full.noise_sd
    ratio = proxy.spread / proxy.noise_sd
    assert full.ratio == pytest.approx(ratio) and proxy.ratio == pytest.approx(math.sqrt(ratio ** 2 - 1))
    assert "full-training accuracies" in full.reason and full.low <= full.ratio <= full.high


def _simulate(ratio: float, repeats: int, draws: int, rng: np.random.Generator) -> dict[str, float]:
    """Verdict rates for 10 reference models whose top half has true sd ``ratio`` x the run-to-run sd (0: all the
    same model), each measured once by the proxy, ranked by a full training with a little noise of its own; the
    median model is repeated ``repeats`` times."""
    counts = dict.fromkeys([v.value for v in Verdict], 0)
    for _ in range(draws):
        true = rng.normal(80.0, 2.0, 10)
        top_sd = float(np.std(np.sort(true)[-5:], ddof=1))
        sigma = top_sd / ratio if ratio > 0 else 1.0
        if ratio == 0:
            true = np.full(10, 80.0)
        full = true + rng.normal(0.0, 0.3 * sigma, 10)
        proxy = true + rng.normal(0.0, sigma, 10)
        runs = np.median(true) + rng.normal(0.0, sigma, repeats)
        counts[judge_separation(runs, proxy, ranking=full).verdict.value] += 1
    return {k: v / draws for k, v in counts.items()}


def test_simulation_tells_noise_that_swamps_the_spread_from_small_noise():
    """The documented rates (module docstring of raynas.proxy._variance), with margins for 400 draws."""
    rng = np.random.default_rng(0)
    swamped = _simulate(0.0, 5, 400, rng)  # the top models are one model: only noise
    assert swamped["pass"] <= 0.07 and swamped["fail"] >= 0.45
    half = _simulate(0.5, 5, 400, rng)  # noise twice the spread
    assert half["pass"] <= 0.09 and half["fail"] >= 0.4
    comparable = _simulate(1.0, 5, 400, rng)  # noise as large as the spread: the one-sided 10% of the interval
    assert comparable["pass"] <= 0.15
    small = _simulate(4.0, 5, 400, rng)  # noise a quarter of the spread
    assert small["pass"] >= 0.85 and small["fail"] <= 0.01
    # 2 repeats: the interval keeps a sd of 2 values from failing a good proxy or passing pure noise often
    assert _simulate(4.0, 2, 200, rng)["fail"] <= 0.02
    assert _simulate(0.0, 2, 200, rng)["pass"] <= 0.1


# --- settings and results ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, field, fix", [
    ({"fail_separation": 0.0}, "fail_separation", "1 (the default)"),
    ({"pass_separation": 1.0}, "pass_separation", "2 (the default)"),
    ({"pass_separation": 0.5, "fail_separation": 1.0}, "pass_separation", "above fail_separation"),
    ({"level": 1.0}, "level", "0.8 (the default)"),
    ({"pass_separation": math.inf}, "pass_separation", "finite"),
])
def test_settings_refuse_bad_bars_naming_the_fix(kw, field, fix):
    with pytest.raises(ConfigError) as info:
        VarianceSettings(**kw)
    assert info.value.field == field and fix in str(info.value)


def test_settings_defaults_are_the_documented_rule():
    s = VarianceSettings()
    assert (s.pass_separation, s.fail_separation, s.level, s.repeats) == (2.0, 1.0, 0.8, 5)
    assert s.thresholds() == {"pass_separation": 2.0, "fail_separation": 1.0, "level": 0.8, "min_smoothness": 0.7}
    assert not hasattr(s, "max_cv")


def test_cli_refuses_crossed_bars_before_any_run(tmp_path, capsys):
    argv = ["proxy", "variance", "--workdir", str(tmp_path), "--no-mlflow", "--pass-separation", "1",
            "--fail-separation", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "pass_separation: got 1" in err and "Traceback" not in err
    assert not (tmp_path / "nasbench201-proxy" / "variance").exists()


def _result(tmp_path: Path, sep: Separation, **changes) -> VarianceResult:
    fields = dict(target="t", candidate="e2", model="m01", arch={"a": 1}, repeats=3, seeds=(0, 1, 2),
                  values=tuple(DIGITS_REPEATS), statuses=("completed",) * 3, cv=0.0443, smoothness=0.9,
                  failure_rate=0.0, passed=False, thresholds=VarianceSettings().thresholds(),
                  curves=(((1, 80.0), (2, 88.19)),) * 3, outcome=sep.reason, directory=str(tmp_path),
                  verdict=sep.verdict.value, separation=sep)
    return VarianceResult(**{**fields, **changes})


def test_results_round_trip_and_old_results_load(tmp_path):
    target = DesignTarget(workdir=str(tmp_path))
    sep = judge_separation(DIGITS_REPEATS, DIGITS_MODELS)
    result = _result(tmp_path, sep)
    variance_path(target).parent.mkdir(parents=True)
    write_json(variance_path(target), result.to_dict())
    saved = json.loads(variance_path(target).read_text())
    assert saved["verdict"] == "fail" and saved["separation"]["verdict"] == "fail" and saved["cv"] == 0.0443
    loaded = load_variance(target)
    assert loaded.separation == sep and loaded.verdict == "fail" and "fail" in loaded.summary()
    old = {k: v for k, v in saved.items() if k not in ("verdict", "separation")}
    old["thresholds"], old["passed"] = {"max_cv": 0.05, "min_smoothness": 0.7}, True
    write_json(variance_path(target), old)
    loaded = load_variance(target)
    assert loaded.separation is None and loaded.verdict == "" and "old cv rule" in loaded.summary()


# --- where the spread comes from ----------------------------------------------------------------------------------

def _write_references(target: DesignTarget, full: list[float]) -> None:
    archs = target.sample(len(full), seed=0)
    models = tuple(ReferenceModel(f"m{i:02d}", a, full_accuracy=acc, full_status="completed")
                   for i, (a, acc) in enumerate(zip(archs, full)))
    references_path(target).parent.mkdir(parents=True, exist_ok=True)
    references_path(target).write_text(json.dumps(ReferenceSet("t", "flops", {"fractions": [0.5]}, models).to_dict()))


def _write_proxy_runs(target: DesignTarget, candidate: str, values: list[float], *, status: str = "completed",
                      base: int = 1000) -> None:
    """Proxy-search records as the tool numbers them: (candidate index + 1) * 1000 + model index + 1."""
    records = [TrialRecord(trial_id=f"{candidate}-{i}", number=base + i + 1, arch={}, genotype=(), reward=v,
                           status=status, end_time=float(i), metrics={"val_accuracy": v},
                           labels={"candidate": candidate, "model": f"m{i:02d}"}) for i, v in enumerate(values)]
    TrialStore(target.workspace / "proxy-search" / "trials").append_many(records)


def test_the_spread_is_the_candidates_proxy_accuracies_ranked_by_full_training(tmp_path):
    target = DesignTarget(task=str(tiny_task(tmp_path)), workdir=str(tmp_path))
    settings = VarianceSettings()
    none = _separation(target, "e2", [90.0, 91.0, 90.5], settings)
    assert none.verdict is Verdict.INCONCLUSIVE and none.basis == "none" and "select-models" in none.reason
    assert none.noise_sd == pytest.approx(0.5)  # measured, even with nothing to compare it with
    full = [70.0, 95.0, 90.0, 85.0, 80.0, 75.0]
    _write_references(target, full)
    by_full = _separation(target, "e2", [90.0, 91.0, 90.5], settings)
    assert by_full.basis == "full" and by_full.models == 3
    assert by_full.spread == pytest.approx(np.std([95.0, 90.0, 85.0], ddof=1))
    _write_proxy_runs(target, "e2", [60.0, 62.0, 61.0, 66.0, 59.0, 58.0])
    _write_proxy_runs(target, "e1", [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], base=2000)  # another candidate: not used
    proxy, known = reference_values(target, "e2")
    assert proxy["m03"] == 66.0 and len(proxy) == 6 and known["m01"] == 95.0
    judged = _separation(target, "e2", [90.0, 91.0, 90.5], settings)
    assert judged.basis == "proxy" and judged.models == 3
    assert judged.spread == pytest.approx(np.std([62.0, 61.0, 66.0], ddof=1))  # m01, m02, m03: best by full


def test_failed_proxy_runs_do_not_count_as_models(tmp_path):
    target = DesignTarget(task=str(tiny_task(tmp_path)), workdir=str(tmp_path))
    _write_references(target, [70.0, 95.0, 90.0, 85.0])
    _write_proxy_runs(target, "e2", [60.0, 62.0, 61.0, 66.0], status="failed")
    assert reference_values(target, "e2")[0] == {}
    assert _separation(target, "e2", [90.0, 91.0], VarianceSettings()).basis == "full"


def test_the_table_is_an_explicit_note_not_a_pass(tmp_path):
    target = DesignTarget(workdir=str(tmp_path))
    assert target.tabular
    judged = _separation(target, "12-epoch", [91.5, 91.5, 91.5], VarianceSettings())
    assert judged.verdict is Verdict.INCONCLUSIVE and judged.reason == TABULAR_NOTE


def test_cli_prints_the_figures_and_fails_on_a_failing_verdict(tmp_path, capsys, monkeypatch):
    import raynas.proxy._variance as variance

    sep = judge_separation(DIGITS_REPEATS, DIGITS_MODELS)
    monkeypatch.setattr(variance, "proxy_variance", lambda target, settings, overwrite: _result(tmp_path, sep))
    monkeypatch.setattr("raynas.proxy.proxy_variance", lambda target, settings, overwrite: _result(tmp_path, sep))
    argv = ["proxy", "variance", "--workdir", str(tmp_path), "--no-mlflow"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "separation" in out and "4.01" in out and "verdict: fail" in out and "cv (std/mean)" in out
    passing = judge_separation([90.0, 90.2, 89.9, 90.1, 90.0], [95.0, 93.0, 91.0, 89.0, 87.0, 80.0])
    monkeypatch.setattr(variance, "proxy_variance", lambda target, settings, overwrite: _result(tmp_path, passing))
    monkeypatch.setattr("raynas.proxy.proxy_variance", lambda target, settings, overwrite: _result(tmp_path, passing))
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "pass"
    inconclusive = judge_separation([90.0, 90.2], [])
    monkeypatch.setattr(variance, "proxy_variance", lambda target, settings, overwrite: _result(tmp_path, inconclusive))
    monkeypatch.setattr("raynas.proxy.proxy_variance", lambda target, settings, overwrite: _result(tmp_path, inconclusive))
    assert main(argv) == 0  # inconclusive: said, not failed
    assert "verdict: inconclusive" in capsys.readouterr().out
