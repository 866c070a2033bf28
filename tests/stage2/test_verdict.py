"""The noise-aware stage-1 vs stage-2 verdict (pure Python, no Ray): the noise of a full-training accuracy, Kendall
tau with a bootstrap interval, the three verdicts (checked by simulation and on the NAS-Bench-201 table),
controls, and what ``stage2.json`` and ``raynas train`` say."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from raynas.benchmarks import load_table, parse_declaration
from raynas.config import SearchConfig
from raynas.controllers import TrialStatus, make_controller
from raynas.errors import ConfigError
from raynas.stage2 import (
    FullTrainingNoise,
    Stage2Row,
    Stage2Settings,
    Stage2Verdict,
    binomial_sd,
    control_ranks,
    full_training_noise,
    judge,
    kendall_tau_b,
    stage2_verdict,
    tau_interval,
    validation_examples,
)
from raynas.stage2._train import _params, _summarize

NOISE = FullTrainingNoise(0.3, "test")


def _row(rank: int, stage1: float, full: float, *, control: bool = False, status: str = "completed") -> Stage2Row:
    return Stage2Row(rank=rank, trial_id=f"t{rank:03d}", arch={"rank": rank}, stage1_reward=stage1, full_accuracy=full,
                     full_reward=full, status=status, failure_reason=None, checkpoint=None, control=control)


# --- noise and tau ---------------------------------------------------------------------------------------------------

def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.integers(0, 4, 9).astype(float)  # many ties
        y = rng.integers(0, 5, 9).astype(float)
        expected = stats.kendalltau(x, y).statistic
        got = kendall_tau_b(x, y)[0]
        assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3])[0])


def test_binomial_noise_is_the_sampling_sd_and_a_larger_declared_sd_wins():
    assert binomial_sd(90.0, 10_000) == pytest.approx(100 * math.sqrt(0.09 / 10_000))  # 0.3 points
    assert binomial_sd(0.9, 10_000) == pytest.approx(math.sqrt(0.09 / 10_000))  # fractions stay fractions
    digits = full_training_noise([99.16, 99.44, 99.72], validation_examples=359)
    assert digits.sd == pytest.approx(100 * math.sqrt(0.9944 * 0.0056 / 359), rel=1e-3) and digits.known
    assert "359" in digits.source and "binomial" in digits.source
    declared = full_training_noise([90.0, 91.0], validation_examples=10_000, declared_sd=0.8)
    assert declared.sd == 0.8 and "declared" in declared.source and declared.binomial_sd == pytest.approx(0.2932, 1e-3)
    smaller = full_training_noise([90.0, 91.0], validation_examples=10_000, declared_sd=0.01)
    assert smaller.sd == pytest.approx(0.2932, 1e-3) and "larger than the declared" in smaller.source
    unknown = full_training_noise([90.0, 91.0], validation_examples=None)
    assert not unknown.known and "--noise-sd" in unknown.source


def test_tau_interval_is_seeded_covers_the_estimate_and_widens_with_noise():
    rng = np.random.default_rng(1)
    true = np.linspace(80, 90, 12)
    stage1 = true + rng.normal(0, 2, 12)
    a = tau_interval(stage1, true, noise_sd=0.5, seed=3, resamples=1000)
    assert a == tau_interval(stage1, true, noise_sd=0.5, seed=3, resamples=1000)
    assert a != tau_interval(stage1, true, noise_sd=0.5, seed=4, resamples=1000)
    assert a.tau == pytest.approx(stats.kendalltau(stage1, true).statistic)
    assert a.low <= a.tau <= a.high and a.models == 12 and a.level == 0.9
    noisy = tau_interval(stage1, true, noise_sd=5.0, seed=3, resamples=1000)
    assert noisy.high - noisy.low > a.high - a.low
    assert math.isnan(tau_interval([1, 2], [3, 4]).low)  # too few pairs for an interval
    assert tau_interval([1, 2, math.nan, 4], [1, 2, 3, 4]).models == 3  # non-finite pairs left out


# --- the verdict, validated by simulation ----------------------------------------------------------------------------

def _rates(n: int, spread: float, relation: str, *, seeds: int = 100, noise: FullTrainingNoise = NOISE) -> dict:
    counts = {v: 0 for v in Stage2Verdict}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        true = 90 + rng.normal(0, spread, n)
        observed = true + rng.normal(0, 0.3, n)  # the simulated run-to-run noise (sd 0.3), as declared by NOISE
        if relation == "random":
            stage1 = rng.normal(0, 1, n)
        elif relation == "reversed":
            stage1 = -true
        elif relation == "reversed-observed":  # the worst case for tied models: exactly against the observed noise
            stage1 = -observed
        else:  # stage 1 agrees, with proxy noise
            stage1 = true + rng.normal(0, 0.5 * spread, n)
        counts[judge(stage1, observed, noise=noise, seed=seed, resamples=1000).verdict] += 1
    return {v.value: c / seeds for v, c in counts.items()}


@pytest.mark.parametrize("n", [5, 10])
def test_truly_tied_models_are_almost_never_called_biased(n):
    for relation in ("random", "reversed-observed"):
        rates = _rates(n, 0.0, relation)
        assert rates["bias"] < 0.05 and rates["agree"] < 0.05 and rates["inconclusive"] > 0.9


@pytest.mark.parametrize("n", [5, 10])
def test_a_reversed_ranking_with_a_real_spread_is_called_biased(n):
    assert _rates(n, 1.5, "reversed")["bias"] > 0.9


def test_an_agreeing_stage_one_is_rarely_called_biased_and_mostly_agrees():
    rates = _rates(10, 1.5, "agree")
    assert rates["bias"] < 0.05 and rates["agree"] > 0.7


def test_unknown_noise_never_says_bias_but_names_the_fix():
    unknown = FullTrainingNoise(math.nan, "unknown")
    rates = _rates(10, 1.5, "reversed", seeds=20, noise=unknown)
    assert rates["bias"] == 0
    result = judge([5, 4, 3, 2, 1], [90, 91, 92, 93, 94], noise=unknown)
    assert result.verdict is Stage2Verdict.INCONCLUSIVE and "--noise-sd" in result.note


def test_verdicts_say_why_with_the_figures():
    tied = judge([5, 4, 3, 2, 1], [91.55, 91.50, 91.61, 91.45, 91.52], noise=FullTrainingNoise(0.18, "x"), what="the top 5")
    assert tied.verdict is Stage2Verdict.INCONCLUSIVE and tied.tied and tied.search_bias is None
    assert "the top 5 are within 0.16 points of each other" in tied.note and "sd 0.18" in tied.note
    assert "not a sign of bias" in tied.note
    biased = judge(list(range(10)), [90 + i for i in range(10)][::-1], noise=NOISE)
    assert biased.verdict is Stage2Verdict.BIAS and biased.search_bias is True
    assert biased.tau.high < 0.3 and "possible search bias" in biased.note and "interval" in biased.note
    agree = judge(list(range(10)), [90 + i for i in range(10)], noise=NOISE)
    assert agree.verdict is Stage2Verdict.AGREE and agree.search_bias is False and agree.tau.low > 0
    few = judge([1.0], [90.0], noise=NOISE)
    assert few.verdict is Stage2Verdict.INCONCLUSIVE and "at least 2" in few.note


# --- NAS-Bench-201: the acceptance ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nasbench201():
    return load_table()


def _converged_search(table, seed: int, budget_s: float = 60_000) -> list[int]:
    """Regularized evolution against the table, offline (as raynas.benchmarks._simulator does): the distinct rows
    it evaluated, best proxy score first."""
    proxy, cost = table.proxy(), table.proxy_cost()
    controller = make_controller("evolution", table.space, seed=seed, max_trials=int(budget_s / np.mean(cost)) + 1)
    spent, order = 0.0, []
    while spent < budget_s:
        genotype = controller.propose()
        row = table.row_of_genotype.get(genotype)
        if row is None or not math.isfinite(proxy[row]):
            controller.observe(genotype, None, TrialStatus.FAILED)
            continue
        spent += float(cost[row])
        order.append(row)
        controller.observe(genotype, float(proxy[row]), TrialStatus.COMPLETED)
    return sorted(set(order), key=lambda r: (-proxy[r], order.index(r)))


@pytest.mark.parametrize("seed", [0, 1])
def test_nasbench201_converged_search_is_not_flagged_as_biased(nasbench201, seed):
    """Issue 14: stage 2 of a converged search whose pick is within 0.1 of the optimum is not flagged as biased."""
    table = nasbench201
    proxy, full = table.proxy(), table.full()
    ranked = _converged_search(table, seed)
    examples, where = validation_examples(SearchConfig(name="nb201", workdir="unused"))
    assert examples == 25_000  # the table's declared validation set (cifar10-valid's validation half)
    rows = [_row(rank, float(proxy[r]), float(full[r])) for rank, r in enumerate(ranked[:5], start=1)]
    picked = max(row.full_accuracy for row in rows)
    assert picked >= float(np.nanmax(full)) - 0.1  # the search converged
    verdict = stage2_verdict(rows, validation_examples=examples, where=where, seed=seed)
    assert verdict.judgement.verdict is not Stage2Verdict.BIAS
    assert verdict.judgement.tied and verdict.judgement.verdict is Stage2Verdict.INCONCLUSIVE
    assert verdict.noise.sd == pytest.approx(binomial_sd(np.mean([r.full_accuracy for r in rows]), 25_000))
    # with controls from lower stage-1 ranks, the agreement shows
    controls = [_row(rank, float(proxy[ranked[rank - 1]]), float(full[ranked[rank - 1]]), control=True)
                for rank in control_ranks(len(ranked), 5, 3)]
    wider = stage2_verdict(rows + controls, validation_examples=examples, where=where, seed=seed)
    assert wider.over == "with_controls" and wider.judgement.verdict is Stage2Verdict.AGREE
    assert wider.top_k == verdict.top_k and not wider.control_beats_top_k


def test_a_reversed_set_with_a_real_spread_is_biased_and_a_tied_one_inconclusive():
    reversed_rows = [_row(rank, 80.0 - rank, 85.0 + rank) for rank in range(1, 11)]  # 10 points of spread, reversed
    verdict = stage2_verdict(reversed_rows, validation_examples=10_000)
    assert verdict.judgement.verdict is Stage2Verdict.BIAS and verdict.judgement.search_bias is True
    tied_rows = [_row(rank, 80.0 - rank, 91.5 + 0.02 * ((-1) ** rank) * rank) for rank in range(1, 11)]
    tied = stage2_verdict(tied_rows, validation_examples=10_000)
    assert tied.judgement.verdict is Stage2Verdict.INCONCLUSIVE and tied.judgement.tied
    assert "less than 2x the run-to-run noise" in tied.note


def test_min_mode_rewards_are_ranked_the_other_way():
    rows = [_row(rank, float(rank), 95.0 - rank) for rank in range(1, 9)]  # a loss: lower is better
    assert stage2_verdict(rows, mode="min", validation_examples=10_000).judgement.verdict is Stage2Verdict.AGREE
    assert stage2_verdict(rows, mode="max", validation_examples=10_000).judgement.verdict is Stage2Verdict.BIAS


# --- controls -------------------------------------------------------------------------------------------------------

def test_control_ranks_spread_evenly_below_the_top_k():
    assert control_ranks(100, 10, 3) == [26, 56, 86]  # the middles of ranks 11-40, 41-70, 71-100
    assert control_ranks(100, 10, 1) == [56]
    assert control_ranks(14, 10, 9) == [11, 12, 13, 14]  # fewer left than asked: all of them
    assert control_ranks(10, 10, 3) == [] and control_ranks(100, 10, 0) == []
    ranks = control_ranks(1000, 10, 7)
    assert len(ranks) == 7 and ranks == sorted(set(ranks)) and 10 < ranks[0] and ranks[-1] <= 1000


def test_a_control_above_every_top_k_model_is_said_loudly(tmp_path):
    rows = [_row(rank, 90.0 - rank, 91.0 + 0.01 * rank) for rank in range(1, 6)]
    rows += [_row(40, 70.0, 93.0, control=True), _row(80, 60.0, 85.0, control=True)]
    verdict = stage2_verdict(rows, validation_examples=10_000)
    assert verdict.control_beats_top_k and verdict.note.startswith("WARNING: control stage-1 rank 40")
    assert "over the top 5 alone" in verdict.note
    # the picked model stays the best of the top-k; stage2.json keeps the keys analyze/export read, adds the new ones
    config = SearchConfig(name="nb201", workdir=str(tmp_path))
    result = _summarize(config, tmp_path, tmp_path, tuple(rows), 100, Stage2Settings(top_k=5, controls=2), None, None,
                        1.0, validation=(10_000, "the validation set"))
    assert result.picked_rank == 5 and result.picked_trial_id == "t005" and result.control_beats_top_k
    assert result.controls == 2 and result.verdict_over == "with_controls"
    assert result.kendall_tau == pytest.approx(stats.kendalltau([r.stage1_reward for r in rows[:5]],
                                                                [r.full_accuracy for r in rows[:5]]).statistic)
    data = json.loads(json.dumps(result.to_dict()))
    assert {"rows", "kendall_tau", "spearman", "picked_trial_id", "picked_arch", "search_bias",
            "search_bias_note"} <= set(data)
    assert data["verdict"] == result.verdict.value and data["noise"]["sd"] > 0 and "source" in data["noise"]
    assert set(data["judgements"]) == {"top_k", "with_controls"}
    assert data["tau_interval"] == {"low": result.kendall_tau_low, "high": result.kendall_tau_high, "level": 0.9}
    assert data["kendall_tau_with_controls"] == data["judgements"]["with_controls"]["tau"]
    assert [r["control"] for r in data["rows"]] == [False] * 5 + [True] * 2
    assert (Path(tmp_path) / "best" / "architecture.json").is_file()


def test_summary_states_tau_interval_noise_and_verdict(tmp_path):
    rows = tuple(_row(rank, 90.0 - rank, 91.5 + 0.03 * (rank % 2)) for rank in range(1, 6))
    config = SearchConfig(name="nb201", workdir=str(tmp_path))
    result = _summarize(config, tmp_path, tmp_path, rows, 5, Stage2Settings(top_k=5), None, None, 1.0,
                        validation=(25_000, "the validation set"))
    assert result.verdict is Stage2Verdict.INCONCLUSIVE and result.search_bias is None
    line = result.summary()
    noise = f"sd {binomial_sd(np.mean([r.full_accuracy for r in rows]), 25_000):.2f}"
    assert "Verdict inconclusive" in line and "Kendall tau 0.00, 90% interval" in line and noise in line
    assert result.kendall_tau_low <= result.kendall_tau_high


def test_settings_validate_controls_and_noise_and_old_runs_still_resume():
    with pytest.raises(ConfigError, match="controls"):
        Stage2Settings(controls=-1)
    with pytest.raises(ConfigError, match="noise_sd"):
        Stage2Settings(noise_sd=0)
    with pytest.raises(ConfigError, match="noise_sd"):
        Stage2Settings(noise_sd=True)
    config = SearchConfig(name="nb201", workdir="unused")
    before = _params(config, Stage2Settings(top_k=5), [], None)
    assert "controls" not in before  # the settings.json of a run made before controls existed still matches
    with_controls = _params(config, Stage2Settings(top_k=5, controls=2), [], None, {})
    assert with_controls["controls"] == 2 and with_controls != before


def test_a_table_declaration_may_give_its_validation_set_size():
    from importlib import resources

    import yaml

    data = yaml.safe_load((resources.files("raynas.benchmarks") / "data" / "nasbench201.yaml").read_text())
    assert parse_declaration(data, source="test", base_dir=None).validation_examples == 25_000
    assert parse_declaration({**data, "validation_examples": None}, source="t", base_dir=None).validation_examples is None
    for bad in (0, 2.5, "many", True):
        with pytest.raises(ConfigError, match="validation_examples"):
            parse_declaration({**data, "validation_examples": bad}, source="test", base_dir=None)


def test_train_cli_passes_controls_and_noise_and_prints_the_verdict(tmp_path, monkeypatch, capsys):
    import raynas.experiment
    import raynas.stage2
    from raynas.cli import build_parser, main
    from raynas.experiment import ExperimentPaths

    seen = {}
    rows = tuple(_row(rank, 90.0 - rank, 80.0 + 2 * rank) for rank in range(1, 9))  # reversed, 14 points apart

    def fake_train(root, settings, **kwargs):
        seen["settings"] = settings
        return _summarize(SearchConfig(name="nb201", workdir=str(tmp_path)), tmp_path, tmp_path, rows, 8, settings,
                          None, None, 1.0, validation=(10_000, "the validation set"))

    build_parser()  # every CLI module imported before the patch: none keeps the fake after this test
    monkeypatch.setattr(raynas.stage2, "train_top_k", fake_train)
    monkeypatch.setattr(raynas.experiment, "find_experiment", lambda name, workdir: ExperimentPaths(tmp_path))
    assert main(["train", "nb201", "--top-k", "8", "--controls", "3", "--noise-sd", "0.4", "--no-mlflow"]) == 0
    assert seen["settings"].controls == 3 and seen["settings"].noise_sd == 0.4
    out = capsys.readouterr().out
    assert "verdict: bias (search bias: yes)" in out and "90% interval" in out
    assert "run-to-run noise of full training: sd 0.4 (declared" in out
