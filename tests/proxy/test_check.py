"""`raynas proxy check`: the final checklist, from hand-written inputs (no Ray, no training)."""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest

from raynas._files import write_json
from raynas.cli import main
from raynas.config import TrackingConfig
from raynas.errors import ConfigError
from raynas.proxy import (
    CandidateResult,
    CheckReport,
    CheckResult,
    CheckRow,
    CheckSettings,
    DesignTarget,
    ProxySearchResult,
    check_path,
    load_result,
    proxy_check,
)
from raynas.space import SearchSpace, WideDecisionWarning, int_range, one_of
from raynas.tracking import TrialRecord, TrialStore

PASS, WARN, FAIL = CheckResult.PASS, CheckResult.WARN, CheckResult.FAIL
ROWS = ["baseline", "rank correlation", "whole-space correlation", "variance", "curve smoothness",
        "proxy cost per trial", "failure rate", "GPU memory headroom", "data split", "search-space size",
        "options per decision"]
#: 3000 trials / 20 concurrent * h / 24 = 14 days at h = 2.24 hours (28 days at 4.48 hours).
HOURS_14_DAYS = 14 * 24 * 20 / 3000


def make_target(tmp_path: Path, *, task: str | None = None, mlflow: bool = False) -> DesignTarget:
    return DesignTarget(task=task, workdir=str(tmp_path / "work"), mlflow=TrackingConfig(enabled=mlflow))


def write_baseline(target: DesignTarget, *, status: str = "completed", accuracy: float | None = 0.91) -> None:
    folder = target.workspace / "baseline"
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "baseline.json", {"arch": {"op": 1}, "status": status, "accuracy": accuracy,
                                          "cost_s": 3600.0, "epochs": 200})


def candidate(name: str = "e8", *, tau: float = 0.8, space_tau: float = 0.7, cost_s: float = 600.0,
              passed: bool = True) -> CandidateResult:
    return CandidateResult(name=name, settings={"epochs": 8}, estimated_relative_cost=0.1, cost_per_model_s=cost_s,
                           cost_vs_full=0.1, valid=10, models=10, kendall_tau=tau, spearman=0.9, top_k_overlap=0.8,
                           latency_tau=None, space_tau=space_tau, space_tau_low=space_tau - 0.1,
                           space_tau_high=space_tau + 0.1, passed=passed, outcome="passed" if passed else "tau too low")


def write_search(target: DesignTarget, *candidates: CandidateResult, chosen: str | None = "e8",
                 min_tau: float = 0.65) -> None:
    folder = target.workspace / "proxy-search"
    folder.mkdir(parents=True, exist_ok=True)
    cands = candidates or (candidate(),)
    settings = {"min_tau": min_tau, "min_valid": 5, "min_valid_fraction": 0.7}
    result = ProxySearchResult("nasbench201", settings, tuple(cands), chosen, 6000.0, str(folder))
    write_json(folder / "proxy_search.json", result.to_dict())


def separation(verdict: str = "pass", *, ratio: float | None = 3.0, low: float | None = 1.5,
               high: float | None = 6.0, noise_sd: float | None = 0.2, spread: float | None = 0.63,
               basis: str = "proxy", reason: str = "why") -> dict:
    """What `raynas proxy variance` stores as its separation (see raynas.proxy._variance.Separation)."""
    return {"verdict": verdict, "reason": reason, "ratio": ratio, "low": low, "high": high, "level": 0.8,
            "noise_sd": noise_sd, "noise_low": None, "noise_high": None, "repeats": 5, "spread": spread,
            "models": 5, "basis": basis, "resolution": 0.01}


def write_variance(target: DesignTarget, *, sep: dict | None = None, smoothness: float | None = 0.9,
                   min_smoothness: float = 0.5, name: str = "e8", note: str | None = None,
                   old_rule: bool = False) -> None:
    folder = target.workspace / "variance"
    folder.mkdir(parents=True, exist_ok=True)
    sep = separation() if sep is None else sep
    data = {"candidate": name, "model": "m00", "repeats": 5, "values": [0.80, 0.81, 0.79, 0.80, 0.80], "cv": 0.01,
            "smoothness": smoothness, "failure_rate": 0.0, "passed": sep["verdict"] == "pass", "note": note,
            "thresholds": {"pass_separation": 2.0, "fail_separation": 1.0, "level": 0.8,
                           "min_smoothness": min_smoothness},
            "verdict": sep["verdict"], "separation": sep}
    if old_rule:  # a variance.json of the cv rule: no verdict, no separation
        data = {k: v for k, v in data.items() if k not in ("verdict", "separation")}
        data["thresholds"] = {"max_cv": 0.02, "min_smoothness": min_smoothness}
    write_json(folder / "variance.json", data)


def record(number: int, status: str = "completed", *, metrics: dict | None = None, end: float = 2000.0,
           reason: str | None = None) -> TrialRecord:
    return TrialRecord(trial_id=f"t{number}-{end}", number=number, arch={"op": number}, genotype=(number,),
                       reward=0.5 if status == "completed" else None, status=status, start_time=1000.0, end_time=end,
                       metrics=metrics or {"val_accuracy": 0.5}, failure_reason=reason)


def write_records(target: DesignTarget, tool: str, records: list[TrialRecord]) -> None:
    TrialStore(target.workspace / tool / "trials").append_many(records)


def passing_setup(target: DesignTarget) -> None:
    write_baseline(target)
    write_search(target)
    write_variance(target)
    write_records(target, "proxy-search", [record(i) for i in range(1, 21)])
    write_records(target, "variance", [record(100 + i) for i in range(5)])


def run(target: DesignTarget, settings: CheckSettings | None = None) -> CheckReport:
    return proxy_check(target, settings or CheckSettings(), stream=io.StringIO())


# ---- settings and values -----------------------------------------------------------------------------------------

def test_settings_defaults_and_validation():
    s = CheckSettings()
    assert (s.max_trials, s.trials_to_converge, s.max_concurrent, s.gpus_per_trial) == (5000, 3000, 20, 2.0)
    assert CheckSettings(gpus_per_trial=0).gpus_per_trial == 0  # a CPU search
    assert (s.timeout_days, s.max_total_days, s.memory_headroom) == (14.0, 28.0, 0.2)
    assert (s.max_failure_rate, s.warn_failure_rate, s.max_space_size) == (0.2, 0.05, 1e20)
    with pytest.raises(AttributeError):
        s.max_trials = 1  # type: ignore[misc]
    bad = [dict(max_trials=10), dict(max_concurrent=0), dict(gpus_per_trial=-1), dict(timeout_days=-1),
           dict(memory_headroom=1.0), dict(max_failure_rate=1.5), dict(warn_failure_rate=0.3),
           dict(max_total_days=7), dict(max_space_size=0), dict(trials_to_converge="many")]
    for kw in bad:
        with pytest.raises(ConfigError) as info:
            CheckSettings(**kw)
        assert next(iter(kw)) in str(info.value)


def test_row_and_report():
    rows = (CheckRow("a", "pass", "1", "ok"), CheckRow("b", "warn", "2", "look"))
    report = CheckReport(rows, {})
    assert rows[0].result is PASS and report.passed and report.counts() == {"pass": 1, "warn": 1, "fail": 0}
    assert "ready to search" in report.summary() and "b" in report.summary()
    failing = CheckReport(rows + (CheckRow("c", "fail", "-", "fix it"),), {})
    assert not failing.passed and "(c)" in failing.summary()
    assert failing.to_dict()["rows"][2] == {"name": "c", "result": "fail", "value": "-", "detail": "fix it"}
    with pytest.raises(ValueError):
        CheckRow("d", "maybe", "", "")


# ---- whole runs --------------------------------------------------------------------------------------------------

def test_all_inputs_missing(tmp_path):
    target = make_target(tmp_path)
    report = run(target)
    assert [r.name for r in report.rows] == ROWS
    assert not report.passed
    assert {r.name for r in report.failed} == {"baseline", "rank correlation"}
    assert "raynas baseline" in report.row("baseline").detail
    assert "raynas proxy search" in report.row("rank correlation").detail
    for name in ("whole-space correlation", "proxy cost per trial"):
        assert report.row(name).result is WARN and "raynas proxy search" in report.row(name).detail
    for name in ("variance", "curve smoothness"):
        assert report.row(name).result is WARN and "raynas proxy variance" in report.row(name).detail
    assert report.row("failure rate").result is WARN and report.row("failure rate").value == "no runs"
    assert report.row("GPU memory headroom").value == "n/a (no GPU used)"
    assert report.row("data split").value == "n/a (table)"
    saved = json.loads(check_path(target).read_text())
    assert saved["passed"] is False and saved["counts"]["fail"] == 2 and len(saved["rows"]) == len(ROWS)


def test_everything_passes(tmp_path):
    target = make_target(tmp_path)
    passing_setup(target)
    assert load_result(target).chosen == "e8"  # the hand-written result reads back as the tool's own
    report = run(target)
    assert report.passed and not report.warned, [(r.name, r.result, r.detail) for r in report.rows]
    assert report.row("baseline").value == "0.9100"
    assert report.row("rank correlation").value == "0.800"
    assert report.row("failure rate").value == "0.0% (0/25)"
    assert report.row("search-space size").value == "1.56e+04"
    assert report.row("options per decision").value == "5-5 over 6 decisions"


def test_corrupt_inputs_do_not_crash(tmp_path):
    target = make_target(tmp_path)
    for tool, name in (("baseline", "baseline.json"), ("proxy-search", "proxy_search.json"),
                       ("variance", "variance.json")):
        (target.workspace / tool).mkdir(parents=True)
        (target.workspace / tool / name).write_text("{not json")
    report = run(target)
    assert report.row("baseline").result is FAIL and "cannot read" in report.row("baseline").detail
    assert report.row("rank correlation").result is FAIL and "cannot read" in report.row("rank correlation").detail
    assert report.row("variance").result is WARN and "cannot read" in report.row("variance").detail


# ---- boundaries, row by row --------------------------------------------------------------------------------------

def test_baseline_status(tmp_path):
    target = make_target(tmp_path)
    write_baseline(target, status="failed")
    assert run(target).row("baseline").result is FAIL
    write_baseline(target, accuracy=None)
    assert run(target).row("baseline").result is FAIL
    write_baseline(target)
    assert run(target).row("baseline").result is PASS


def test_rank_correlation_bar(tmp_path):
    target = make_target(tmp_path)
    write_search(target, candidate(tau=0.65))
    assert run(target).row("rank correlation").result is PASS  # tau == min_tau passes
    write_search(target, candidate(tau=0.6499))
    assert run(target).row("rank correlation").result is FAIL
    write_search(target, candidate(tau=0.4, passed=False), chosen=None)
    row = run(target).row("rank correlation")
    assert row.result is FAIL and row.value == "no proxy" and "no candidate passed" in row.detail


def test_whole_space_correlation(tmp_path):
    target = make_target(tmp_path)
    write_search(target, candidate(space_tau=0.65))
    assert run(target).row("whole-space correlation").result is PASS
    write_search(target, candidate(space_tau=0.64))
    row = run(target).row("whole-space correlation")
    assert row.result is WARN and "[0.54, 0.74]" in row.value and "interval" in row.detail
    write_search(target, candidate(space_tau=math.nan))
    assert run(target).row("whole-space correlation").result is WARN


def test_variance_and_smoothness(tmp_path):
    target = make_target(tmp_path)
    write_search(target)
    write_variance(target, smoothness=0.5)  # smoothness exactly at its threshold
    report = run(target)
    assert report.row("variance").result is PASS and report.row("curve smoothness").result is PASS
    assert report.row("variance").value == "separation 3.00 [1.50, 6.00]"
    assert "run-to-run sd 0.2 vs 0.63 between the top 5 reference models" in report.row("variance").detail
    write_variance(target, smoothness=0.49)
    assert run(target).row("curve smoothness").result is WARN
    write_variance(target, smoothness=None)
    assert run(target).row("curve smoothness").result is WARN
    write_variance(target, note="The table holds one run per architecture. Measure on a real task.")
    assert run(target).row("variance").result is PASS
    write_variance(target, name="other")  # measured on another proxy than the chosen one
    row = run(target).row("variance")
    assert row.result is WARN and "raynas proxy variance" in row.detail


def test_variance_verdicts_map_to_check_results_with_their_figures(tmp_path):
    target = make_target(tmp_path)
    write_search(target)
    # the digits case: sd 4 points against 0.62 among the top 5 reference models
    write_variance(target, sep=separation("fail", ratio=0.0, low=0.0, high=0.0, noise_sd=4.01, spread=0.622))
    row = run(target).row("variance")
    assert row.result is FAIL and row.value == "separation 0.00 [0.00, 0.00]"
    assert "run-to-run sd 4.01 vs 0.622 between the top 5 reference models" in row.detail
    assert "cannot rank them" in row.detail and "5 repeats of m00 with proxy e8" in row.detail
    write_variance(target, sep=separation("warn", ratio=1.4, low=0.3, high=3.0))
    row = run(target).row("variance")
    assert row.result is WARN and "misorder close models" in row.detail
    write_variance(target, sep=separation("inconclusive", ratio=0.5, low=0.0, high=4.0))
    row = run(target).row("variance")
    assert row.result is WARN and "inconclusive" in row.detail and "--repeats" in row.detail
    # inconclusive without figures (no reference models, the table): the stored reason is shown
    write_variance(target, sep=separation("inconclusive", ratio=None, low=None, high=None, spread=None,
                                          reason="no reference models to compare it with"))
    row = run(target).row("variance")
    assert row.result is WARN and row.value == "inconclusive" and "no reference models" in row.detail
    write_variance(target, sep=separation("pass", basis="full"))
    row = run(target).row("variance")
    assert row.result is PASS and "full-training accuracies" in row.detail


def test_variance_of_the_old_cv_rule_asks_for_a_rerun(tmp_path):
    target = make_target(tmp_path)
    write_search(target)
    write_variance(target, old_rule=True)
    report = run(target)
    row = report.row("variance")
    assert row.result is WARN and row.value == "cv 0.01" and "old rule" in row.detail
    assert "raynas proxy variance" in row.detail and "--overwrite" in row.detail
    assert report.row("curve smoothness").result is PASS  # smoothness is read as before


def test_cost_against_time_budget(tmp_path):
    target = make_target(tmp_path)
    write_search(target, candidate(cost_s=HOURS_14_DAYS * 3600))
    assert run(target).row("proxy cost per trial").result is PASS  # exactly 14 days
    write_search(target, candidate(cost_s=HOURS_14_DAYS * 3600 * 1.01))
    row = run(target).row("proxy cost per trial")
    assert row.result is WARN and "1 resume" in row.detail and "--max-concurrent-search 21" in row.detail
    write_search(target, candidate(cost_s=HOURS_14_DAYS * 2 * 3600))
    assert run(target).row("proxy cost per trial").result is WARN  # exactly 28 days
    write_search(target, candidate(cost_s=HOURS_14_DAYS * 3 * 3600))  # 42 days: 30 concurrent fit in 28
    row = run(target).row("proxy cost per trial")
    assert row.result is FAIL and "--max-concurrent-search to 30" in row.detail
    settings = CheckSettings(max_concurrent=30)
    assert run(target, settings).row("proxy cost per trial").result is WARN


def test_failure_rate(tmp_path):
    target = make_target(tmp_path)
    # 20 finished probe jobs (a stopped one and an earlier failed attempt of a completed job do not count)
    ok = [record(i) for i in range(1, 20)]
    write_records(target, "proxy-search", ok + [record(1, "failed", end=1500.0), record(50, "stopped")])
    write_records(target, "variance", [record(100)])
    row = run(target).row("failure rate")
    assert row.result is PASS and row.value == "0.0% (0/20)"
    write_records(target, "variance", [record(100, "failed", end=3000.0, reason="CUDA out of memory")])
    row = run(target).row("failure rate")  # 1/20 = 5%: not below the warning rate
    assert row.result is WARN and row.value == "5.0% (1/20)" and "CUDA out of memory" in row.detail
    write_records(target, "proxy-search", [record(i, "invalid", end=3000.0) for i in (2, 3)])
    assert run(target).row("failure rate").result is WARN  # 3/20 = 15%
    write_records(target, "proxy-search", [record(4, "failed", end=3000.0)])
    assert run(target).row("failure rate").result is FAIL  # 4/20 = 20%


def test_gpu_memory_headroom(tmp_path):
    target = make_target(tmp_path)
    gpu = {"val_accuracy": 0.5, "gpu_total_mb": 80000.0}
    write_records(target, "proxy-search", [record(1, metrics={**gpu, "gpu_peak_mb": 64000.0}),
                                           record(2, metrics={**gpu, "gpu_peak_mb": 1000.0})])
    row = run(target).row("GPU memory headroom")
    assert row.result is PASS and row.value == "64000/80000 MB (80%)"
    write_records(target, "variance", [record(3, metrics={**gpu, "gpu_peak_mb": 64001.0})])
    row = run(target).row("GPU memory headroom")
    assert row.result is FAIL and "batch size" in row.detail
    assert run(target, CheckSettings(memory_headroom=0.1)).row("GPU memory headroom").result is PASS


def test_space_size_tabular(tmp_path):
    target = make_target(tmp_path)
    assert run(target, CheckSettings(max_space_size=15625)).row("search-space size").result is PASS
    row = run(target, CheckSettings(max_space_size=15624)).row("search-space size")
    assert row.result is WARN and row.value == "1.56e+04" and "split the space" in row.detail


def test_options_per_decision(tmp_path, monkeypatch):
    target = make_target(tmp_path)
    spaces = {"single": SearchSpace({"a": one_of("x"), "b": one_of(1, 2)}, name="single")}
    with pytest.warns(WideDecisionWarning):  # the space language warns above 10 options; the check above 20
        spaces["fine"] = SearchSpace({"w": int_range(0, 19), "b": one_of(1, 2)}, name="fine")
        spaces["wide"] = SearchSpace({"w": int_range(0, 20), "b": one_of(1, 2)}, name="wide")
    spaces["huge"] = SearchSpace({f"d{i}": int_range(0, 9) for i in range(21)}, name="huge", allow_huge=True)
    chosen = {}
    monkeypatch.setattr(DesignTarget, "space", lambda self: spaces[chosen["name"]])
    results = {}
    for name in spaces:
        chosen["name"] = name
        report = run(target)
        results[name] = (report.row("options per decision"), report.row("search-space size"))
    assert results["single"][0].result is WARN and "a" in results["single"][0].detail
    assert results["fine"][0].result is PASS and results["fine"][0].value == "2-20 over 2 decisions"
    assert results["wide"][0].result is WARN and "w (21)" in results["wide"][0].detail
    assert results["huge"][1].result is WARN and results["huge"][1].value == "1.00e+21"


def test_digits_split(tmp_path):
    target = make_target(tmp_path, task="digits")
    report = run(target)
    row = report.row("data split")
    assert row.result is PASS and row.value == "1294/144", row.detail
    assert (check_path(target).parent / "split.parquet").is_file()
    assert "--task digits" in report.row("baseline").detail
    assert report.row("search-space size").result is PASS


def test_split_warnings(tmp_path, monkeypatch):
    from raynas.data import SplitCheck
    from raynas.training import _evaluator

    real = _evaluator.ensure_split

    def small(task, path):
        split = real(task, path)
        return replace(split, checks=(SplitCheck("examples_per_class", False, 3.0, "too few examples per class"),))

    monkeypatch.setattr(_evaluator, "ensure_split", small)
    monkeypatch.setattr("raynas.training.ensure_split", small)  # the public name the target calls
    row = run(make_target(tmp_path, task="digits")).row("data split")
    assert row.result is WARN and row.detail == "too few examples per class"


# ---- MLflow and CLI ----------------------------------------------------------------------------------------------

def test_mlflow_parent_run(tmp_path):
    from tests.mlflow_helpers import search_runs

    target = make_target(tmp_path, mlflow=True)
    passing_setup(target)
    report = run(target)
    runs = search_runs(os.environ["MLFLOW_TRACKING_URI"], check_path(target).parent)
    parents = [r for r in runs if r.data.tags.get("raynas.stage") == "check"]
    assert len(parents) == 1, [r.data.tags for r in runs]
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags.get("raynas.status") == "completed" and report.passed
    assert parent.data.metrics["checks_failed"] == 0 and parent.data.metrics["checks_warned"] == 0


def cli(tmp_path, *extra: str) -> list[str]:
    return ["proxy", "check", "--workdir", str(tmp_path / "work"), "--no-mlflow", *extra]


def test_cli_text_and_json(tmp_path, capsys):
    assert main(cli(tmp_path)) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["check", "result", "value", "detail"]
    assert "2 fail (baseline, rank correlation)" in out.splitlines()[-1]
    passing_setup(make_target(tmp_path))
    assert main(cli(tmp_path, "--format", "json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and [r["name"] for r in data["rows"]] == ROWS
    assert data["settings"]["max_concurrent"] == 20
    # the search flags size the planned search: 600 s per trial, 3000 trials on 1 at a time = 20.8 days
    assert main(cli(tmp_path, "--max-concurrent-search", "1", "--format", "json")) == 0
    data = json.loads(capsys.readouterr().out)
    cost = next(r for r in data["rows"] if r["name"] == "proxy cost per trial")
    assert cost["result"] == "warn" and data["settings"]["max_concurrent"] == 1
    assert main(cli(tmp_path, "--timeout-days", "7", "--max-total-days", "14", "--max-concurrent-search", "1")) == 1
    out = capsys.readouterr().out  # 20.8 days > 14 days in all
    assert "fail (proxy cost per trial)" in out.splitlines()[-1]


def test_cli_bad_flag(tmp_path, capsys):
    assert main(cli(tmp_path, "--max-trials", "10")) == 2
    err = capsys.readouterr().err
    assert "--max-trials" in err and "--trials-to-converge" in err
