"""Auto-stop rules: they fire on a converged run and on too many invalid trials, never on a run still improving."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raynas.analysis import auto_stop_decision
from raynas.config import AutoStopConfig, SearchConfig
from raynas.errors import ConfigError


def _converged(n: int = 400, seed: int = 0) -> list[tuple[str, float]]:
    """Random exploration (wide spread), then rewards settling tightly just below a best found early on."""
    rng = np.random.default_rng(seed)
    early = rng.uniform(50, 90, 100)
    early[60] = 93.0  # the best, found during exploration
    late = 92.0 + rng.normal(0, 0.3, n - 100)
    return [("completed", float(r)) for r in np.concatenate([early, late])]


def test_fires_on_a_converged_run_and_says_why():
    decision = auto_stop_decision(_converged(), AutoStopConfig())
    assert decision is not None and decision.rule == "converged"
    assert "has not improved" in decision.reason and "spread" in decision.reason
    outcomes = _converged()
    assert auto_stop_decision(outcomes[:200], AutoStopConfig()).trials == 200  # fires once min_trials have ended
    for n in (150, 199):
        assert auto_stop_decision(outcomes[:n], AutoStopConfig()) is None  # before min_trials it waits


def test_fires_on_a_run_with_a_quarter_invalid_trials():
    rng = np.random.default_rng(1)
    outcomes = [("invalid", None) if i % 4 == 3 else ("completed", float(rng.uniform(60, 90))) for i in range(120)]
    invalid = sum(s == "invalid" for s, _ in outcomes[:50])
    assert invalid / 50 > 0.2
    decision = auto_stop_decision(outcomes[:50], AutoStopConfig())
    assert decision is not None and decision.rule == "too_many_invalid"
    assert f"{invalid} of 50 trials" in decision.reason
    assert auto_stop_decision(outcomes[:49], AutoStopConfig()) is None  # not before invalid_min_trials
    assert auto_stop_decision(outcomes[:50], AutoStopConfig(max_invalid_fraction=None)) is None  # turned off


def test_does_not_fire_on_a_run_still_improving():
    rng = np.random.default_rng(2)
    rewards = np.linspace(50, 90, 600) + rng.normal(0, 5, 600)  # rising, spread not shrinking
    outcomes = [("completed", float(r)) for r in rewards]
    for n in range(150, 601, 50):
        assert auto_stop_decision(outcomes[:n], AutoStopConfig()) is None


def test_no_convergence_after_500_trials_of_flat_random_rewards():
    rng = np.random.default_rng(3)
    outcomes = [("completed", float(r)) for r in rng.uniform(50, 90, 600)]
    assert auto_stop_decision(outcomes[:499], AutoStopConfig(converged=False)) is None
    decision = auto_stop_decision(outcomes[:500], AutoStopConfig(converged=False))
    assert decision is not None and decision.rule == "no_convergence"
    assert auto_stop_decision(outcomes, AutoStopConfig.off()) is None


def test_minimised_metrics_converge_downwards():
    outcomes = [(s, -r) for s, r in _converged()]
    decision = auto_stop_decision(outcomes, AutoStopConfig(), mode_max=False)
    assert decision.rule == "converged" and "best reward -93 " in decision.reason


def test_auto_stop_config_section():
    assert SearchConfig.from_dict({"auto_stop": False}).auto_stop == AutoStopConfig.off()
    config = SearchConfig.from_dict({"auto_stop": {"patience": 30, "no_convergence_after": None}})
    assert config.auto_stop.patience == 30 and config.auto_stop.no_convergence_after is None
    assert SearchConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="patiense"):
        SearchConfig.from_dict({"auto_stop": {"patiense": 3}})
    with pytest.raises(ConfigError, match="max_invalid_fraction"):
        AutoStopConfig(max_invalid_fraction=1.5)
    with pytest.raises(ConfigError, match="more than early_trials"):
        AutoStopConfig(no_convergence_after=50)


@pytest.mark.ray
def test_a_search_with_many_invalid_trials_stops_itself_and_records_why(ray_cluster, tmp_path, session_mlflow_store):
    from raynas.tune import run_search
    from tests.mlflow_helpers import search_runs

    config = SearchConfig(name="invalid-stop", workdir=str(tmp_path), max_trials=150, max_concurrent=2,
                          gpus_per_trial=0, cpus_per_trial=0.5, benchmark={"nan_rate": 0.3}, seed=0)
    result = run_search(config)
    assert result.status == "stopped"
    assert "auto stop" in result.status_line() and "invalid" in result.reason
    assert 50 <= result.trials < 150
    decision = json.loads((tmp_path / "invalid-stop" / "auto_stop.json").read_text())
    assert decision["rule"] == "too_many_invalid"
    assert json.loads((tmp_path / "invalid-stop" / "status.json").read_text())["status"] == "stopped"
    parent = next(r for r in search_runs(session_mlflow_store, tmp_path / "invalid-stop")
                  if r.data.tags.get("raynas.role") == "parent")
    assert "invalid" in parent.data.tags["raynas.stop_reason"]
