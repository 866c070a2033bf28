"""The analysis report's suggestions never contradict each other: a property test over generated decision statistics
(random spaces, rewards with and without real effects, few and many trials, failed and NaN trials), planted effects
found, false verdicts rare when nothing matters, and the statistics behind the rules checked independently."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats as st

from raynas.analysis import (
    Importance,
    SuggestionKind,
    Verdict,
    advise,
    anova_power,
    benjamini_hochberg,
    best_option,
    decision_stats,
    suggestions,
)
from raynas.errors import ConfigError
from raynas.space import SearchSpace, one_of
from raynas.tracking import TrialRecord

LABEL = re.compile(r"\bd\d+o\d+\b")  # option labels of the generated spaces: d<decision>o<option>
TRIALS = (3, 8, 20, 60, 200, 600)


@dataclass
class Case:
    """A generated search: its space, its records and the effects planted in it."""

    seed: int
    space: SearchSpace
    records: list
    mode_max: bool
    n_trials: int
    strength: float  # size of every planted effect, in noise sds (0: nothing matters)
    planted: dict  # decision path -> (best label, bad label)


def make_case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    sizes = [int(s) for s in rng.integers(2, 6, size=k)]
    space = SearchSpace({f"d{i}": one_of(*[f"d{i}o{j}" for j in range(m)]) for i, m in enumerate(sizes)},
                        name=f"generated-{seed}")
    n_trials = int(rng.choice(TRIALS))
    strength = float(rng.choice([0.0, 0.0, 0.5, 3.0]))
    effects, planted = [], {}
    for i, m in enumerate(sizes):
        effect = np.zeros(m)
        if strength and (i == 0 or rng.random() < 0.5):  # at least one decision matters when effects are planted
            best, bad = (int(v) for v in rng.choice(m, size=2, replace=False))
            effect[best], effect[bad] = strength, -strength
            planted[f"d{i}"] = (f"d{i}o{best}", f"d{i}o{bad}")
        effects.append(effect)
    mode_max = bool(rng.random() < 0.7)
    fail_rate = float(rng.choice([0.0, 0.1, 0.4]))
    records = []
    for t in range(n_trials):
        genotype = tuple(int(rng.integers(0, m)) for m in sizes)
        reward = float(sum(effects[d][g] for d, g in enumerate(genotype)) + rng.normal())
        if not mode_max:
            reward = -reward  # lower is better: the planted best option is still the best
        status = "completed"
        u = rng.random()
        if u < fail_rate / 2:
            status, reward = "failed", None
        elif u < fail_rate * 3 / 4:
            status, reward = "invalid", math.nan
        elif u < fail_rate:
            reward = math.nan  # a completed trial that reported NaN: left out like a failure
        records.append(TrialRecord(trial_id=f"t{t:04d}", number=t, arch={}, genotype=genotype, reward=reward,
                                   status=status, metrics={}))
    return Case(seed, space, records, mode_max, n_trials, strength, planted)


def labels_of(space: SearchSpace) -> dict[str, set[str]]:
    return {d.path: {f"{d.path}o{j}" for j in range(d.num_options)} for d in space.decisions}


def check_consistent(case: Case):
    """Every property the suggestions must hold, whatever the data; returns the advice."""
    stats = decision_stats(case.records, case.space, mode_max=case.mode_max)
    advice = advise(stats)
    labels = labels_of(case.space)
    # exactly one verdict per option of the space
    seen = [(o.path, o.label) for o in advice.options]
    assert sorted(seen) == sorted((p, lbl) for p, ls in labels.items() for lbl in ls), case.seed
    verdict = {(o.path, o.label): o for o in advice.options}
    assert all(isinstance(o.verdict, Verdict) for o in advice.options)
    kept_anywhere: dict[str, set[str]] = {p: set() for p in labels}
    dropped_anywhere: dict[str, set[str]] = {p: set() for p in labels}
    for s in advice.suggestions:
        tokens = set(LABEL.findall(s.text))
        if s.path is None:
            assert not (s.keep or s.drop or s.named) and not tokens, (case.seed, s.text)
            continue
        assert s.path in labels, (case.seed, s.text)
        # it names only existing options of its own decision, and the text names exactly those
        assert set(s.named) <= labels[s.path] and tokens == set(s.named), (case.seed, s.text)
        assert set(s.keep) <= set(s.named) and set(s.drop) <= set(s.named)
        assert all(verdict[(s.path, lbl)].verdict is Verdict.KEEP for lbl in s.keep), (case.seed, s.text)
        assert all(verdict[(s.path, lbl)].verdict is Verdict.DROP for lbl in s.drop), (case.seed, s.text)
        kept_anywhere[s.path] |= set(s.keep)
        dropped_anywhere[s.path] |= set(s.drop)
        if "never reached the top" in s.text:
            assert all(verdict[(s.path, lbl)].top_count == 0 for lbl in s.named), (case.seed, s.text)
            assert not set(s.named) & kept_anywhere[s.path]
        if "keep" in s.text:
            assert s.keep, (case.seed, s.text)  # a sentence that says keep names what it keeps
        if "drop candidate" in s.text:
            assert s.drop, (case.seed, s.text)
    for path in labels:
        assert not kept_anywhere[path] & dropped_anywhere[path], (case.seed, path)
    never = {(s.path, lbl) for s in advice.suggestions if "never reached the top" in s.text for lbl in s.named}
    for d in advice.decisions:
        if d.best is not None:
            best = next(o for o in advice.options if o.decision == d.decision and o.option == d.best)
            assert best.verdict is Verdict.KEEP and best.top_count >= 1
            assert (d.path, best.label) not in never
        if d.leader is not None:
            lead = next(o for o in advice.options if o.decision == d.decision and o.option == d.leader)
            assert d.best is None and lead.verdict is Verdict.NO_EVIDENCE and lead.top_count >= 1
        matters = [s for s in advice.suggestions if s.kind is SuggestionKind.MATTERS and s.path == d.path]
        assert len(matters) == (d.importance is Importance.MATTERS)
        for s in matters:
            if "keep its best option" in s.text:
                named_best = s.text.split("keep its best option ", 1)[1].split(" ", 1)[0]
                assert named_best == s.keep[0] == next(o.label for o in advice.options
                                                       if o.decision == d.decision and o.option == d.best)
                assert verdict[(d.path, named_best)].top_count >= 1 and (d.path, named_best) not in never
            else:
                assert "inconclusive" in s.text and not s.keep
    # an option is only dropped on significant evidence, given the number of trials
    for o in advice.options:
        if o.verdict is not Verdict.NO_EVIDENCE:
            assert o.q_value < 0.05 and o.n >= 5
        if o.verdict is Verdict.DROP:
            assert o.top_count < o.expected
    assert suggestions(stats) == advice.sentences
    return advice


N_CASES = 120


@pytest.fixture(scope="module")
def analysed():
    """Every generated case with its advice, each checked once against every consistency property."""
    return [(case, check_consistent(case)) for case in map(make_case, range(N_CASES))]


def test_suggestions_never_contradict_each_other_and_cover_every_situation(analysed):
    """The consistency properties held for every case (checked in the fixture); the generator made the situations
    they are about, so they cannot hold vacuously."""
    cases = [case for case, _ in analysed]
    assert {c.n_trials for c in cases} == set(TRIALS)
    assert sum(c.strength == 0 for c in cases) >= 30 and sum(c.strength == 3.0 for c in cases) >= 20
    assert any(not c.mode_max for c in cases) and any(len(c.space.decisions) == 4 for c in cases)
    assert any(r.status != "completed" for c in cases for r in c.records)
    kinds = {s.kind for _, advice in analysed for s in advice.suggestions}
    assert kinds >= set(SuggestionKind) - {SuggestionKind.KEEP, SuggestionKind.NOTHING}
    verdicts = {o.verdict for _, advice in analysed for o in advice.options}
    assert verdicts == set(Verdict)


def test_strong_planted_effects_are_found(analysed):
    """A planted best option (+3 noise sds) tried at least 40 times is kept; a planted bad one (-3 sds) tried at
    least 50 times is a drop candidate (0 of 50 in the top decile happens by chance 0.5% of the time)."""
    checked_best = checked_bad = 0
    for case, advice in analysed:
        if case.strength != 3.0 or case.n_trials < 200:
            continue
        for path, (best, bad) in case.planted.items():
            assert advice.decision(path).importance is Importance.MATTERS, (case.seed, path)
            if advice.option(path, best).n >= 40:
                assert advice.option(path, best).verdict is Verdict.KEEP, (case.seed, path)
                checked_best += 1
            if advice.option(path, bad).n >= 50:
                assert advice.option(path, bad).verdict is Verdict.DROP, (case.seed, path)
                checked_bad += 1
        if len(case.planted) == 1:  # one planted decision: its planted best option is the one named best
            (path, (best, _)), = case.planted.items()
            assert any(s.text.startswith(f"{path} matters") and f"keep its best option {best} " in s.text
                       for s in advice.suggestions), case.seed
    assert checked_best >= 10 and checked_bad >= 10, (checked_best, checked_bad)


def test_false_verdicts_are_rare_when_nothing_matters(analysed):
    null = [advice for case, advice in analysed if case.strength == 0]
    wrong = sum(any(o.verdict is not Verdict.NO_EVIDENCE for o in advice.options)
                or any(d.importance is Importance.MATTERS for d in advice.decisions) for advice in null)
    # each family of tests is held at 5% after the Benjamini-Hochberg correction: about 10% at most in all
    assert wrong / len(null) <= 0.15, (wrong, len(null))


def test_few_trials_are_inconclusive_not_dropped():
    """An option that never reached the top decile in a handful of trials is called inconclusive, with its chance."""
    space = SearchSpace({"width": one_of(16, 32, 48)}, name="w")
    rng = np.random.default_rng(1)
    records = []
    for t in range(24):
        g = (t % 3,)
        reward = 50.0 + 1.0 * g[0] + rng.normal(0, 0.3)  # 48 is best; 16 never makes the top 3
        records.append(TrialRecord(trial_id=f"t{t}", number=t, arch=space.decode(g), genotype=g, reward=reward,
                                   status="completed", metrics={}))
    advice = advise(decision_stats(records, space))
    assert advice.option("width", "16").verdict is Verdict.NO_EVIDENCE
    assert advice.option("width", "48").top_count == 3  # all of the top decile, yet only 8 trials: not significant
    text = " ".join(advice.sentences)
    assert "16 (0 of 8 trials" in text and "inconclusive, too few trials to drop" in text
    assert "consider dropping" not in text and "keep its best option" not in text
    chance = st.hypergeom.pmf(0, 24, 3, 8)
    assert f"does that {chance:.0%} of the time" in text
    assert best_option(decision_stats(records, space), 0) is None
    # with more trials of the same design the same effect becomes a verdict
    more = []
    for t in range(240):
        g = (t % 3,)
        more.append(TrialRecord(trial_id=f"t{t}", number=t, arch=space.decode(g), genotype=g,
                                reward=50.0 + 1.0 * g[0] + rng.normal(0, 0.3), status="completed", metrics={}))
    stats = decision_stats(more, space)
    advice = advise(stats)
    assert advice.option("width", "48").verdict is Verdict.KEEP
    assert {advice.option("width", lbl).verdict for lbl in ("16", "32")} == {Verdict.DROP}
    assert best_option(stats, 0)["label"] == "48"
    assert any(s.startswith("width matters") and "keep its best option 48 " in s for s in advice.sentences)


def test_benjamini_hochberg_matches_scipy_and_keeps_nan():
    rng = np.random.default_rng(0)
    p = rng.random(40) ** 3
    assert benjamini_hochberg(p) == pytest.approx(st.false_discovery_control(p).tolist())
    q = benjamini_hochberg([0.01, math.nan, 0.04])
    assert math.isnan(q[1]) and q[0] == pytest.approx(0.02) and q[2] == pytest.approx(0.04)
    assert benjamini_hochberg([]) == []


def test_anova_power_matches_a_simulation():
    rng = np.random.default_rng(0)
    n, groups, eta = 90, 3, 0.05
    means = np.array([-1.0, 0.0, 1.0])
    means *= math.sqrt(eta / (1 - eta) / np.mean(means ** 2))  # between-option sd / within sd = f
    labels = np.arange(n) % groups
    hits = 0
    sims = 400
    for _ in range(sims):
        y = means[labels] + rng.normal(size=n)
        hits += st.f_oneway(*[y[labels == g] for g in range(groups)]).pvalue < 0.05
    assert anova_power(n, groups, eta) == pytest.approx(hits / sims, abs=0.08)
    assert anova_power(3, 3, eta) == 0.0 and anova_power(500, 2, eta) > 0.95


@pytest.mark.parametrize("kwargs", [{"min_n": 0}, {"min_n": 2.5}, {"alpha": 0}, {"alpha": 1.5}, {"power": True},
                                    {"important": 0.01, "min_importance": 0.02}])
def test_bad_arguments_are_config_errors(kwargs):
    stats = decision_stats(make_case(3).records, make_case(3).space)
    field = next(iter(kwargs)) if len(kwargs) == 1 else "min_importance"
    with pytest.raises(ConfigError, match=field):
        advise(stats, **kwargs)
