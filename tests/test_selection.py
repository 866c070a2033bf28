"""The stage-2 selection rule (raynas.selection): proxy rank, corrected by what fully trained references show."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raynas.selection import FALLBACKS, MIN_REFERENCES, POOL_FACTOR, References, choose_for_full_training


def world(seed: int, n: int, *, cost_effect: float = 2.0, noise: float = 0.05):
    """Synthetic models: full = proxy + cost_effect * log(cost) + noise. Bigger (costlier) models gain more from full
    training than the proxy shows, so the top by proxy is not the top by full score."""
    rng = np.random.default_rng(seed)
    log_cost = rng.uniform(0.0, 2.0, n)
    proxy = rng.normal(0.0, 1.0, n)
    full = proxy + cost_effect * log_cost + rng.normal(0.0, noise, n)
    return proxy, np.exp(log_cost), full


def refs(seed: int = 1, n: int = 12, **kw) -> References:
    proxy, cost, full = world(seed, n, **kw)
    return References(proxy=proxy, full=full, cost=cost)


def test_recovers_a_known_disagreement_and_explains_it():
    proxy, cost, full = world(0, 200)
    ids = [f"t{i}" for i in range(200)]
    sel = choose_for_full_training(ids, proxy, 10, cost=cost, references=refs())
    assert sel.method == "corrected" and sel.fallback is None
    assert (sel.by_proxy, sel.by_prediction, sel.references, sel.pool) == (5, 5, 12, POOL_FACTOR * 10)
    assert sel.coefficients["proxy"] == pytest.approx(1.0, abs=0.1)
    assert sel.coefficients["log_cost"] == pytest.approx(2.0, abs=0.2)
    assert sel.loo_error < sel.loo_error_proxy_only
    order = np.argsort(-proxy, kind="stable")
    assert list(sel.chosen[:5]) == [ids[i] for i in order[:5]]  # the proxy half: the top 5 by proxy
    pool = [int(i) for i in order[5:50]]
    expected = sorted(pool, key=lambda i: -(proxy[i] + 2.0 * math.log(cost[i])))[:5]
    assert set(sel.chosen[5:]) == {ids[i] for i in expected}
    # the corrected half trains better than the proxy ranks 6-10 it replaces
    by_id = dict(zip(ids, full))
    assert np.mean([by_id[i] for i in sel.chosen[5:]]) > np.mean(full[order[5:10]]) + 1.0
    text = sel.summary()
    assert "5 chosen by proxy rank and 5 by the full score predicted from 12 fully trained references" in text
    assert f"log_cost {sel.coefficients['log_cost']:+.3g}" in text and "top 50 by proxy" in text
    assert sel.to_dict()["chosen"] == list(sel.chosen) and sel.to_dict()["summary"] == text


def test_the_penalty_grows_as_the_evidence_weakens():
    """Leave-one-out picks the ridge penalty on the correction: next to none for a strong, clean effect, a larger one
    for a weak effect in noisy references (a shrunk correction, still better than proxy alone)."""
    proxy, cost, _ = world(0, 200)
    strong = choose_for_full_training(list(range(200)), proxy, 10, cost=cost, references=refs(seed=3))
    weak = choose_for_full_training(list(range(200)), proxy, 10, cost=cost,
                                    references=refs(seed=3, cost_effect=0.3, noise=0.5))
    assert strong.method == weak.method == "corrected"
    assert strong.penalty < weak.penalty and weak.loo_error < weak.loo_error_proxy_only
    assert 0 < weak.coefficients["log_cost"] < strong.coefficients["log_cost"]
    assert f"penalty {weak.penalty:g}" in weak.summary()


@pytest.mark.parametrize("n", [0, MIN_REFERENCES - 1])
def test_too_few_references_fall_back_to_proxy_rank(n):
    proxy, cost, _ = world(0, 40)
    references = refs(n=n) if n else None
    sel = choose_for_full_training(list(range(40)), proxy, 10, cost=cost, references=references)
    assert sel.method == "proxy" and sel.fallback == "too few references" and sel.references == n
    assert list(sel.chosen) == list(np.argsort(-proxy, kind="stable")[:10])
    assert f"{n} fully trained references" in sel.reason and f"at least {MIN_REFERENCES} needed" in sel.summary()


def test_references_with_a_nan_do_not_count():
    proxy, cost, full = world(1, 12)
    full[:3] = math.nan
    cost[3] = 0.0  # no log: left out too
    sel = choose_for_full_training(list(range(40)), world(0, 40)[0], 10, cost=world(0, 40)[1],
                                   references=References(proxy, full, cost))
    assert sel.references == 8 and sel.fallback == "too few references"


def test_no_spread_in_cost_falls_back():
    proxy, cost, full = world(0, 40)
    r = refs()
    flat = References(proxy=r.proxy, full=r.full, cost=[3.0] * len(r.proxy))
    sel = choose_for_full_training(list(range(40)), proxy, 10, cost=cost, references=flat)
    assert sel.method == "proxy" and sel.fallback == "no covariate spread" and "no spread in log_cost" in sel.reason
    no_cost = References(proxy=r.proxy, full=r.full)
    assert choose_for_full_training(list(range(40)), proxy, 10, references=no_cost).fallback == "no covariate spread"


def test_a_correction_that_fits_noise_is_refused_by_leave_one_out():
    """References where cost says nothing about full training: the cost term cannot beat the proxy alone."""
    rng = np.random.default_rng(5)
    proxy = rng.normal(0.0, 1.0, 12)
    cost = np.exp(rng.uniform(0.0, 2.0, 12))
    full = proxy + rng.normal(0.0, 0.05, 12)  # no cost effect at all
    cands, ccost, _ = world(0, 60)
    sel = choose_for_full_training(list(range(60)), cands, 10, cost=ccost, references=References(proxy, full, cost))
    assert sel.method == "proxy" and sel.fallback == "no gain by leave-one-out"
    assert sel.loo_error >= sel.loo_error_proxy_only and "leave-one-out error" in sel.reason
    assert list(sel.chosen) == list(np.argsort(-cands, kind="stable")[:10])


def test_ties_keep_the_input_order_and_nans_are_never_chosen():
    ids = ["a", "b", "c", "d", "e"]
    proxy = [1.0, math.nan, 1.0, 2.0, 1.0]
    sel = choose_for_full_training(ids, proxy, 3)
    assert sel.chosen == ("d", "a", "c") and sel.candidates == 4
    short = choose_for_full_training(ids, proxy, 10)  # only 4 finite: all of them, never the NaN
    assert short.chosen == ("d", "a", "c", "e") and short.fallback == "too few candidates"


def test_candidates_without_a_cost_are_only_chosen_by_proxy_rank():
    proxy, cost, _ = world(0, 60)
    cost = cost.copy()
    order = np.argsort(-proxy, kind="stable")
    cost[order[5:]] = math.nan  # only the proxy half has a cost
    sel = choose_for_full_training(list(range(60)), proxy, 10, cost=cost, references=refs())
    assert sel.method == "corrected" and list(sel.chosen) == list(order[:10])  # filled by proxy rank


def test_min_mode_orients_both_scores():
    """Lower is better (an error rate): the same world negated chooses the same models."""
    proxy, cost, _ = world(0, 200)
    r = refs()
    up = choose_for_full_training(list(range(200)), proxy, 10, cost=cost, references=r)
    down = choose_for_full_training(list(range(200)), -proxy, 10, cost=cost, mode="min",
                                    references=References(-np.asarray(r.proxy), -np.asarray(r.full), r.cost))
    assert down.method == "corrected" and down.chosen == up.chosen
    assert down.coefficients["log_cost"] == pytest.approx(-up.coefficients["log_cost"])
    assert down.coefficients["proxy"] == pytest.approx(up.coefficients["proxy"])


def test_covariates_feed_the_model():
    rng = np.random.default_rng(3)
    depth = rng.integers(1, 10, 200).astype(float)
    proxy = rng.normal(0.0, 1.0, 200)
    rdepth = rng.integers(1, 10, 12).astype(float)
    rproxy = rng.normal(0.0, 1.0, 12)
    r = References(rproxy, rproxy + 0.5 * rdepth + rng.normal(0, 0.05, 12), covariates={"depth": rdepth})
    sel = choose_for_full_training(list(range(200)), proxy, 10, covariates={"depth": depth}, references=r)
    assert sel.method == "corrected" and sel.coefficients["depth"] == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="depth"):
        choose_for_full_training(list(range(200)), proxy, 10, covariates={"depth": depth}, references=refs())


def test_small_sets_and_bad_arguments():
    proxy, cost, _ = world(0, 40)
    one = choose_for_full_training(list(range(40)), proxy, 1, cost=cost, references=refs())
    assert one.fallback == "set too small to split" and len(one.chosen) == 1
    assert set(FALLBACKS) >= {one.fallback}
    with pytest.raises(ValueError, match="k must be"):
        choose_for_full_training([1], [1.0], 0)
    with pytest.raises(ValueError, match="mode"):
        choose_for_full_training([1], [1.0], 1, mode="maximise")
    with pytest.raises(ValueError, match="one value per candidate"):
        choose_for_full_training([1, 2], [1.0], 1)
