"""Per-decision statistics of a search: which options win, which decisions matter (workflow step 9).

Everything is computed over completed trials, from each trial's genotype. A conditional decision that is
inactive in a genotype (its parent decision took another option) is left out for that trial, so its options
are compared only among the trials where the decision existed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Sequence

from raynas._plotting import pyplot as _pyplot
from raynas._plotting import save_figure
from raynas.errors import ConfigError
from raynas.trials import TrialStatus

OPTION_COLUMNS = ("decision", "path", "option", "label", "n", "mean", "std", "ci_low", "ci_high", "top_count",
                  "top_share", "top_rate")
IMPORTANCE_COLUMNS = ("decision", "path", "n", "options_tried", "eta_squared", "chance", "p_value", "permutation")
#: Below this many completed trials the permutation importance is not computed (NaN).
MIN_TRIALS_FOR_FOREST = 20


@dataclass(frozen=True, eq=False)  # holds DataFrames: compared by identity
class DecisionStats:
    """Per-option and per-decision statistics of the completed trials of a search.

    ``options``: one row per option of every decision (options never tried have ``n`` 0), with columns
    ``decision`` (index), ``path``, ``option`` (index), ``label``, ``n`` (completed trials where the decision was
    active and took this option), ``mean``, ``std`` (ddof 1) and the ``confidence`` t interval ``ci_low`` /
    ``ci_high`` of their reward (NaN for n < 2), ``top_count`` (of them in the top decile), ``top_share``
    (``top_count`` over the top-decile trials where the decision was active: the option's share of the top
    decile) and ``top_rate`` (``top_count / n``; 0.1 is what an option that does not matter gets on average).

    ``importance``: one row per decision with ``n`` (completed trials where it was active), ``options_tried``,
    ``eta_squared`` (share of the reward variance between its options: between-option sum of squares over
    total sum of squares), ``chance`` (the eta squared expected when the decision does not matter,
    ``(options_tried - 1) / (n - 1)``), ``p_value`` (one-way ANOVA F test) and ``permutation`` (random-forest
    permutation importance: the drop in held-out R^2 when the decision is shuffled; NaN when not computed).
    """

    options: Any
    importance: Any
    n_completed: int
    top_trials: int
    top_threshold: float
    mode_max: bool
    confidence: float

    def option_rows(self, decision: int) -> Any:
        """The ``options`` rows of one decision."""
        return self.options[self.options["decision"] == decision]


def _completed_genotypes(records: Iterable[Any], space: Any) -> tuple[list[tuple[int, ...]], list[float]]:
    """Genotypes and rewards of the completed trials whose genotype fits the space (others are skipped)."""
    genotypes, rewards = [], []
    sizes = space.options_per_decision
    for record in records:
        reward = record.reward
        if record.status is not TrialStatus.COMPLETED or reward is None or not math.isfinite(float(reward)):
            continue
        genotype = tuple(int(g) for g in (record.genotype or ()))
        if len(genotype) != len(sizes) or any(not 0 <= g < s for g, s in zip(genotype, sizes)):
            try:
                genotype = tuple(space.encode(record.arch))
            except Exception:  # noqa: BLE001 - a trial from another version of the space: left out
                continue
        genotypes.append(genotype)
        rewards.append(float(reward))
    return genotypes, rewards


def top_mask(rewards: Sequence[float], *, mode_max: bool = True, fraction: float = 0.1):
    """Boolean array: which rewards are in the top ``fraction`` (the best ``ceil(fraction * n)``, ties at the
    boundary included), and the boundary value."""
    import numpy as np

    values = np.asarray(rewards, dtype=float)
    if not len(values):
        return np.zeros(0, dtype=bool), math.nan
    k = max(1, math.ceil(fraction * len(values)))
    ordered = np.sort(values)
    if mode_max:
        threshold = float(ordered[-k])
        return values >= threshold, threshold
    threshold = float(ordered[k - 1])
    return values <= threshold, threshold


def eta_squared(rewards: Sequence[float], groups: Sequence[Any]) -> float:
    """Share of the variance of ``rewards`` explained by ``groups``: SS_between / SS_total (NaN when undefined)."""
    import pandas as pd

    frame = pd.DataFrame({"reward": list(rewards), "group": list(groups)})
    if len(frame) < 2:
        return math.nan
    grand = frame["reward"].mean()
    total = float(((frame["reward"] - grand) ** 2).sum())
    if total <= 0:
        return math.nan
    stats = frame.groupby("group")["reward"].agg(["count", "mean"])
    between = float((stats["count"] * (stats["mean"] - grand) ** 2).sum())
    return between / total


def decision_stats(records: Iterable[Any], space: Any, *, mode_max: bool = True, top_fraction: float = 0.1,
                   confidence: float = 0.95, permutation: bool = False, seed: int = 0,
                   n_estimators: int = 100) -> DecisionStats:
    """Statistics of every decision of ``space`` over the completed ``records`` (see :class:`DecisionStats`).

    ``mode_max`` false means lower rewards are better (the top decile is then the lowest rewards).
    ``permutation`` adds a random-forest permutation importance (scikit-learn, seeded with ``seed``) when at
    least 20 trials completed.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats as st

    genotypes, rewards = _completed_genotypes(records, space)
    decisions = space.decisions
    n_trials = len(rewards)
    top, threshold = top_mask(rewards, mode_max=mode_max, fraction=top_fraction)
    # long format: one row per (completed trial, active decision)
    conditional = space.is_conditional
    trial_idx, dec_idx, opt_idx = [], [], []
    for t, genotype in enumerate(genotypes):
        active = space.active_decisions(genotype) if conditional else range(len(decisions))
        for d in active:
            trial_idx.append(t)
            dec_idx.append(d)
            opt_idx.append(genotype[d])
    reward_arr = np.asarray(rewards, dtype=float)
    trial_arr = np.asarray(trial_idx, dtype=int)
    long = pd.DataFrame({"trial": trial_arr, "decision": np.asarray(dec_idx, dtype=int),
                         "option": np.asarray(opt_idx, dtype=int),
                         "reward": reward_arr[trial_arr] if len(trial_arr) else np.zeros(0),
                         "top": top[trial_arr] if len(trial_arr) else np.zeros(0, dtype=bool)})
    grouped = long.groupby(["decision", "option"])["reward"]
    per_option = grouped.agg(n="count", mean="mean", std="std")
    per_option["top_count"] = long.groupby(["decision", "option"])["top"].sum()
    top_active = long.groupby("decision")["top"].sum()

    rows = []
    for d in decisions:
        tops_here = int(top_active.get(d.index, 0))
        for option in range(d.num_options):
            key = (d.index, option)
            if key in per_option.index:
                n, mean, std, top_count = per_option.loc[key, ["n", "mean", "std"]].tolist() + [
                    int(per_option.loc[key, "top_count"])]
                n = int(n)
            else:
                n, mean, std, top_count = 0, math.nan, math.nan, 0
            if n >= 2:
                half = float(st.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
                ci_low, ci_high = mean - half, mean + half
            else:
                ci_low = ci_high = math.nan
            rows.append({"decision": d.index, "path": d.path, "option": option, "label": _label(d, option), "n": n,
                         "mean": mean, "std": std, "ci_low": ci_low, "ci_high": ci_high, "top_count": top_count,
                         "top_share": top_count / tops_here if tops_here else math.nan,
                         "top_rate": top_count / n if n else math.nan})
    options = pd.DataFrame(rows, columns=list(OPTION_COLUMNS))

    importance_rows = []
    for d in decisions:
        part = long[long["decision"] == d.index]
        n = len(part)
        tried = int(part["option"].nunique())
        eta = eta_squared(part["reward"], part["option"]) if tried >= 1 else math.nan
        chance = (tried - 1) / (n - 1) if n > 1 and tried >= 1 else math.nan
        importance_rows.append({"decision": d.index, "path": d.path, "n": n, "options_tried": tried,
                                "eta_squared": eta, "chance": chance, "p_value": _anova_p(part, tried),
                                "permutation": math.nan})
    importance = pd.DataFrame(importance_rows, columns=list(IMPORTANCE_COLUMNS))
    if permutation and n_trials >= MIN_TRIALS_FOR_FOREST and len(decisions):
        importance["permutation"] = forest_importance(genotypes, rewards, space, seed=seed, n_estimators=n_estimators)
    return DecisionStats(options=options, importance=importance, n_completed=n_trials, top_trials=int(top.sum()),
                         top_threshold=threshold, mode_max=mode_max, confidence=confidence)


def _label(decision: Any, option: int) -> str:
    try:
        text = str(decision.label(option))
    except Exception:  # noqa: BLE001 - a label is cosmetic
        return str(option)
    if len(text) >= 2 and text[0] == text[-1] == '"':  # a JSON string: show it without quotes
        try:
            return str(json.loads(text))
        except ValueError:
            return text
    return text


def _anova_p(part: Any, tried: int) -> float:
    """p-value of the one-way ANOVA F test of reward between the options (NaN when undefined).

    NaN with fewer than two options tried or no more trials than options; when every option's rewards are constant,
    0.0 if the options differ and NaN if all rewards are equal (scipy's ``f_oneway``, its warning about it silenced).
    """
    import warnings

    from scipy import stats as st

    if tried < 2 or len(part) <= tried:
        return math.nan
    groups = [g.to_numpy(dtype=float) for _, g in part.groupby("option")["reward"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", st.ConstantInputWarning)
        warnings.simplefilter("ignore", st.DegenerateDataWarning)
        return float(st.f_oneway(*groups).pvalue)


def forest_importance(genotypes: Sequence[Sequence[int]], rewards: Sequence[float], space: Any, *, seed: int = 0,
                      n_estimators: int = 100, n_repeats: int = 5) -> list[float]:
    """Random-forest permutation importance of each decision (scikit-learn, seeded with ``seed``).

    A pipeline of a one-hot encoder and a random forest is trained on the integer-coded genotype (one column per
    decision; an inactive conditional decision is its own category) of 75% of the trials; scikit-learn's
    ``permutation_importance`` then shuffles each decision's column as a whole on the other 25% (``n_repeats``
    times) and the mean drop in R^2 is its importance.
    """
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    decisions = space.decisions
    x = np.asarray(genotypes, dtype=int).copy()
    if space.is_conditional:
        for row, genotype in enumerate(genotypes):
            active = set(space.active_decisions(tuple(genotype)))
            for d in range(len(decisions)):
                if d not in active:
                    x[row, d] = -1
    y = np.asarray(rewards, dtype=float)
    categories = [list(range(-1, d.num_options)) for d in decisions]
    model = Pipeline([
        ("onehot", OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False)),
        ("forest", RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2, random_state=seed, n_jobs=1)),
    ])
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed)
    model.fit(x_train, y_train)
    result = permutation_importance(model, x_test, y_test, scoring="r2", n_repeats=n_repeats, random_state=seed,
                                    n_jobs=1)
    return [float(v) for v in result.importances_mean]


# --- suggestions: one verdict per option, consistent by construction ----------------------------------------------
#: Significance level of every test behind a suggestion, after the Benjamini-Hochberg correction over the tests of
#: one kind (all the options tested, or all the decisions tested): with no real effect anywhere, a report shows a
#: false "keep", "drop candidate" or "matters" with probability at most about this.
ALPHA = 0.05
#: The power (chance to detect a decision whose eta squared is ``important``) above which a decision without a
#: significant effect is said to barely matter; below it the data cannot tell (inconclusive).
TARGET_POWER = 0.8


class Verdict(str, Enum):
    """The one verdict :func:`advise` gives each option."""

    KEEP = "keep"
    DROP = "drop candidate"
    NO_EVIDENCE = "no evidence"


class Importance(str, Enum):
    """What :func:`advise` says about a decision as a whole (from its ANOVA)."""

    MATTERS = "matters"
    SMALL = "small effect"
    BARELY = "barely matters"
    INCONCLUSIVE = "inconclusive"


class SuggestionKind(str, Enum):
    """What a :class:`Suggestion` is about."""

    NOTE = "note"
    MATTERS = "matters"
    KEEP = "keep"
    DROP = "drop"
    INCONCLUSIVE_OPTIONS = "inconclusive options"
    BARELY = "barely matters"
    INCONCLUSIVE_DECISIONS = "inconclusive decisions"
    NOTHING = "nothing stands out"


@dataclass(frozen=True)
class OptionAdvice:
    """The verdict on one option and the test behind it.

    ``expected``: the top-decile trials an option that does not matter gets on average (``n * T / N`` for a
    decision active in ``N`` trials, ``T`` of them in the top decile); ``p_value``: two-sided hypergeometric test
    of ``top_count`` against that (NaN when not tested); ``q_value``: Benjamini-Hochberg adjusted over every option
    tested; ``reason``: why the verdict (e.g. "too few trials")."""

    decision: int
    path: str
    option: int
    label: str
    verdict: Verdict
    n: int
    mean: float
    top_count: int
    expected: float
    p_value: float
    q_value: float
    reason: str

    @property
    def top_rate(self) -> float:
        """Share of the option's trials in the top decile (NaN when never tried)."""
        return self.top_count / self.n if self.n else math.nan


@dataclass(frozen=True)
class DecisionAdvice:
    """What :func:`advise` says about one decision: its ``importance`` (ANOVA ``p_value``, ``q_value`` adjusted
    over the decisions tested, ``power`` to detect an eta squared of ``important``), ``best`` (the option index it
    recommends keeping; its verdict is always ``keep``) and, when no option is kept, ``leader`` (the option with
    the highest top-decile rate among those not suggested for dropping, with enough trials; ``no evidence``)."""

    decision: int
    path: str
    importance: Importance
    n: int
    options_tried: int
    eta_squared: float
    p_value: float
    q_value: float
    power: float
    best: int | None
    leader: int | None
    reason: str


@dataclass(frozen=True)
class Suggestion:
    """One sentence of advice: its ``kind``, the decision it is about (``path``; None for notes), the option labels
    it recommends keeping (``keep``) or dropping (``drop``) and every option label it names (``named``)."""

    kind: SuggestionKind
    text: str
    path: str | None = None
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    named: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Advice:
    """The verdicts of :func:`advise`: one per option, one per decision, and the sentences built from them."""

    options: tuple[OptionAdvice, ...]
    decisions: tuple[DecisionAdvice, ...]
    suggestions: tuple[Suggestion, ...]

    @property
    def sentences(self) -> list[str]:
        """The suggestions as plain sentences."""
        return [s.text for s in self.suggestions]

    def option(self, path: str, label: str) -> OptionAdvice:
        """The advice on the option ``label`` of the decision at ``path``."""
        for o in self.options:
            if o.path == path and o.label == label:
                return o
        raise KeyError(f"{path}={label}")

    def decision(self, path: str) -> DecisionAdvice:
        """The advice on the decision at ``path``."""
        for d in self.decisions:
            if d.path == path:
                return d
        raise KeyError(path)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values) of ``p_values``; NaN entries stay NaN and do not count."""
    import numpy as np

    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        values = p[ok]
        order = np.argsort(values, kind="stable")
        ranked = values[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(ranked, 1.0)
        out[ok] = adjusted
    return out.tolist()


def anova_power(n: int, groups: int, eta_sq: float, *, alpha: float = ALPHA) -> float:
    """Power of the one-way ANOVA F test at level ``alpha`` with ``n`` trials in ``groups`` options to detect a
    decision whose true eta squared is ``eta_sq`` (Cohen's f² = eta² / (1 - eta²), noncentrality f² n)."""
    from scipy import stats as st

    if groups < 2 or n <= groups:
        return 0.0
    d1, d2 = groups - 1, n - groups
    noncentrality = eta_sq / (1.0 - eta_sq) * n
    return float(st.ncf.sf(st.f.ppf(1.0 - alpha, d1, d2), d1, d2, noncentrality))


def _check_advice_args(min_n: Any, min_importance: Any, important: Any, alpha: Any, power: Any) -> None:
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise ConfigError("min_n", min_n, "an integer >= 1", "e.g. min_n=5")
    for name, value in (("min_importance", min_importance), ("important", important), ("alpha", alpha),
                        ("power", power)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) < 1:
            raise ConfigError(name, value, "a number between 0 and 1 (exclusive)", f"e.g. {name}=0.05")
    if min_importance > important:
        raise ConfigError("min_importance", min_importance, f"at most important ({important})",
                          "e.g. min_importance=0.02, important=0.05")


def advise(stats: DecisionStats, *, min_n: int = 5, min_importance: float = 0.02, important: float = 0.05,
           alpha: float = ALPHA, power: float = TARGET_POWER) -> Advice:
    """Turn decision statistics into one consistent set of verdicts and suggestions for the next search space.

    Every option gets exactly one :class:`Verdict`, all from one statistic, its count of top-decile trials:

    * tested when it has at least ``min_n`` trials (else ``no evidence``, "too few trials"): its top-decile count
      against what an option that does not matter gets (hypergeometric, two-sided), Benjamini-Hochberg adjusted
      over every option tested;
    * ``keep`` when significantly more often in the top decile than chance (adjusted p < ``alpha``),
      ``drop candidate`` when significantly less often, ``no evidence`` otherwise.

    Each decision gets one :class:`Importance` from its ANOVA (p adjusted over the decisions): ``matters`` (eta
    squared >= ``important``, adjusted p < ``alpha``), ``small effect`` (significant, smaller), ``barely matters``
    (eta squared below ``min_importance``, or below ``important`` and not significant, and the test had at least
    ``power`` to detect an eta squared of ``important``) or ``inconclusive``. The best option of a decision is its
    kept option with the highest top-decile rate, so a decision that matters either names a kept option that
    reached the top decile, or says which option is best is inconclusive. Nothing kept is ever suggested for
    dropping, and a suggestion only names options of its own decision.
    """
    from scipy import stats as st

    _check_advice_args(min_n, min_importance, important, alpha, power)
    opts, imp = stats.options, stats.importance
    active = {int(r.decision): int(r.n) for r in imp.itertuples()}
    tops = {int(d): int(c) for d, c in opts.groupby("decision")["top_count"].sum().items()}

    # --- options: one hypergeometric test each, adjusted together
    pending = []
    for o in opts.itertuples(index=False):
        big_n, big_t, n, t = active.get(int(o.decision), 0), tops.get(int(o.decision), 0), int(o.n), int(o.top_count)
        expected = n * big_t / big_n if big_n else math.nan
        p, reason = math.nan, ""
        if n < min_n:
            reason = f"too few trials ({n} < {min_n})"
        elif big_t == 0:
            reason = "no trial where the decision was active reached the top decile"
        elif big_t >= big_n:
            reason = "every trial where the decision was active is in the top decile (tied rewards)"
        else:
            low = float(st.hypergeom.cdf(t, big_n, big_t, n))
            high = float(st.hypergeom.sf(t - 1, big_n, big_t, n))
            p = min(1.0, 2.0 * min(low, high))
        pending.append((o, expected, p, reason))
    q_values = benjamini_hochberg([p for _, _, p, _ in pending])
    tested = sum(math.isfinite(p) for _, _, p, _ in pending)
    options: list[OptionAdvice] = []
    for (o, expected, p, reason), q in zip(pending, q_values):
        verdict = Verdict.NO_EVIDENCE
        if math.isfinite(q):
            if q < alpha and o.top_count > expected:
                verdict, reason = Verdict.KEEP, "in the top decile more often than chance"
            elif q < alpha and o.top_count < expected:
                verdict, reason = Verdict.DROP, "in the top decile less often than chance"
            else:
                reason = "not significant: inconclusive, too few trials"
        options.append(OptionAdvice(decision=int(o.decision), path=str(o.path), option=int(o.option),
                                    label=str(o.label), verdict=verdict, n=int(o.n), mean=float(o.mean),
                                    top_count=int(o.top_count), expected=float(expected), p_value=float(p),
                                    q_value=float(q), reason=reason))

    # --- decisions: ANOVA, adjusted together, read with its power
    dq = benjamini_hochberg(imp["p_value"].tolist())
    decisions: list[DecisionAdvice] = []
    sign = 1.0 if stats.mode_max else -1.0
    for row, q in zip(imp.itertuples(), dq):
        n, tried, eta = int(row.n), int(row.options_tried), float(row.eta_squared)
        pw = anova_power(n, tried, important, alpha=alpha)
        significant = math.isfinite(q) and q < alpha
        if tried < 2:
            importance, reason = Importance.INCONCLUSIVE, ("no option tried" if tried == 0 else "one option tried")
        elif not math.isfinite(q) or math.isnan(eta):
            importance, reason = Importance.INCONCLUSIVE, "too few trials for a test"
        elif significant and eta >= important:
            importance, reason = Importance.MATTERS, ""
        elif pw >= power and (eta < min_importance or (eta < important and not significant)):
            importance, reason = Importance.BARELY, ""
        elif significant:
            importance, reason = Importance.SMALL, ""
        else:
            importance, reason = Importance.INCONCLUSIVE, (
                f"power {pw:.0%}" if eta < important else f"eta squared {eta:.2f}, adjusted p {_num(q)}")
        mine = [o for o in options if o.decision == row.decision]
        kept = sorted((o for o in mine if o.verdict is Verdict.KEEP), key=lambda o: (-o.top_rate, -sign * o.mean))
        candidates = sorted((o for o in mine if o.verdict is not Verdict.DROP and o.n >= min_n and o.top_count >= 1),
                            key=lambda o: (-o.top_rate, -sign * o.mean))
        best = kept[0].option if kept else None
        leader = None if kept or not candidates else candidates[0].option
        decisions.append(DecisionAdvice(decision=int(row.decision), path=str(row.path), importance=importance, n=n,
                                        options_tried=tried, eta_squared=eta, p_value=float(row.p_value),
                                        q_value=float(q), power=pw, best=best, leader=leader, reason=reason))
    text = _sentences(stats, options, decisions, min_n=min_n, important=important, power=power, tested=tested,
                      tested_decisions=sum(math.isfinite(q) for q in dq))
    return Advice(options=tuple(options), decisions=tuple(decisions), suggestions=tuple(text))


def _sentences(stats: DecisionStats, options: Sequence[OptionAdvice], decisions: Sequence[DecisionAdvice], *,
               min_n: int, important: float, power: float, tested: int, tested_decisions: int) -> list[Suggestion]:
    """The sentences of :func:`advise`, built only from its verdicts (so they cannot disagree with them)."""
    from scipy import stats as st

    if stats.n_completed == 0:
        return [Suggestion(SuggestionKind.NOTE, "No trial completed yet: nothing to suggest.")]
    notes: list[Suggestion] = []
    if stats.n_completed < 30:
        notes.append(Suggestion(SuggestionKind.NOTE, f"Only {stats.n_completed} trials completed: most verdicts "
                                "below are inconclusive until more trials finish."))
    per_option = f"adjusted for the {tested} options tested"
    kinds: dict[SuggestionKind, list[Suggestion]] = {k: [] for k in SuggestionKind}
    unsure: list[str] = []
    order = sorted(decisions, key=lambda d: (math.isnan(d.eta_squared),
                                             0.0 if math.isnan(d.eta_squared) else -d.eta_squared, d.decision))
    for d in order:
        mine = [o for o in options if o.decision == d.decision]
        by_option = {o.option: o for o in mine}
        kept = sorted((o for o in mine if o.verdict is Verdict.KEEP), key=lambda o: o.option != d.best)
        dropped = [o for o in mine if o.verdict is Verdict.DROP]
        zero = [o for o in mine if o.verdict is Verdict.NO_EVIDENCE and math.isfinite(o.p_value) and o.top_count == 0]
        figures = f"eta squared {d.eta_squared:.2f}, {_p(d.q_value, adjusted=True)}"
        named_in_decision: tuple[str, ...] = ()
        if d.importance is Importance.MATTERS:
            if d.best is not None:
                best = by_option[d.best]
                text = (f"{d.path} matters ({figures}): keep its best option {best.label} ({_top(best)}; "
                        f"the highest top-decile rate; mean reward {_g(best.mean)})")
                others = kept[1:]
                if others:
                    text += "; also keep " + ", ".join(f"{o.label} ({_top(o)})" for o in others)
                named_in_decision = tuple(o.label for o in kept)
                kinds[SuggestionKind.MATTERS].append(Suggestion(SuggestionKind.MATTERS, text + ".", d.path,
                                                                keep=named_in_decision, named=named_in_decision))
            elif d.leader is not None:
                lead = by_option[d.leader]
                kinds[SuggestionKind.MATTERS].append(Suggestion(
                    SuggestionKind.MATTERS,
                    f"{d.path} matters ({figures}), but which option is best is inconclusive: {lead.label} leads the "
                    f"top decile ({_top(lead)}), which could be chance.", d.path, named=(lead.label,)))
            else:
                kinds[SuggestionKind.MATTERS].append(Suggestion(
                    SuggestionKind.MATTERS,
                    f"{d.path} matters ({figures}), but which option is best is inconclusive: no option with at least "
                    f"{min_n} trials reached the top decile.", d.path))
        elif d.importance is Importance.BARELY:
            power_text = f"an eta squared of {important:g} would have been found with {d.power:.0%} probability"
            if kept:
                fix = f"fix it to its best option {kept[0].label} ({_top(kept[0])})"
                keep = (kept[0].label,)
            elif dropped:
                fix = "fix it to one option other than " + ", ".join(o.label for o in dropped)
                keep = ()
            else:
                fix, keep = "fix it to one option", ()
            kinds[SuggestionKind.BARELY].append(Suggestion(
                SuggestionKind.BARELY,
                f"{d.path} barely matters (eta squared {d.eta_squared:.3f} over {d.n} trials, "
                f"{_p(d.q_value, adjusted=True)}; {power_text}): {fix}, or drop the decision to shrink the space.",
                d.path, keep=keep, named=keep + tuple(o.label for o in dropped if not kept)))
            named_in_decision = keep
        elif d.importance is Importance.INCONCLUSIVE:
            unsure.append(f"{d.path} ({d.reason})")
        rest = [o for o in kept if o.label not in named_in_decision]
        if rest:
            labels = tuple(o.label for o in rest)
            kinds[SuggestionKind.KEEP].append(Suggestion(
                SuggestionKind.KEEP,
                f"{d.path}: keep " + ", ".join(f"{o.label} ({_top(o)})" for o in rest)
                + ": in the top decile more often than chance.", d.path, keep=labels, named=labels))
        if dropped:
            labels = tuple(o.label for o in dropped)
            parts = [f"{o.label} ({_top(o)})" for o in dropped]
            never = all(o.top_count == 0 for o in dropped)
            how = "never reached the top decile" if never else "reached the top decile less often than chance"
            them = "them" if len(dropped) > 1 else "it"
            kinds[SuggestionKind.DROP].append(Suggestion(
                SuggestionKind.DROP,
                f"{d.path}: {', '.join(parts)} {how}: drop candidate; consider dropping {them} from the next search "
                "space.", d.path, drop=labels, named=labels))
        if zero:
            labels = tuple(o.label for o in zero)
            parts = [f"{o.label} (0 of {o.n} trials; an option that does not matter does that "
                     f"{float(st.hypergeom.pmf(0, d.n, _tops(mine), o.n)):.0%} of the time; "
                     f"{_p(o.q_value, adjusted=True)})" for o in zero]
            kinds[SuggestionKind.INCONCLUSIVE_OPTIONS].append(Suggestion(
                SuggestionKind.INCONCLUSIVE_OPTIONS,
                f"{d.path}: {', '.join(parts)} never reached the top decile, which is not significant (p "
                f"{per_option}): inconclusive, too few trials to drop {'them' if len(zero) > 1 else 'it'}.",
                d.path, named=labels))
    if unsure:
        kinds[SuggestionKind.INCONCLUSIVE_DECISIONS].append(Suggestion(
            SuggestionKind.INCONCLUSIVE_DECISIONS,
            f"Inconclusive, too few trials to tell whether these decisions matter (a test with at least {power:.0%} "
            f"power to find an eta squared of {important:g} is needed; {tested_decisions} decisions tested): "
            + "; ".join(unsure) + "."))
    out = notes + [s for kind in SuggestionKind for s in kinds[kind]]
    if len(out) == len(notes):
        out.append(Suggestion(SuggestionKind.NOTHING, "No decision stands out yet: neither a clear winner nor a "
                              "decision that does not matter."))
    return out


def _tops(options: Sequence[OptionAdvice]) -> int:
    return sum(o.top_count for o in options)


def _top(o: OptionAdvice) -> str:
    return (f"{o.top_count} of {o.n} trials in the top decile, {o.expected:.1f} expected by chance, "
            f"{_p(o.q_value, adjusted=True)}")


def _num(value: float) -> str:
    return "n/a" if not math.isfinite(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def best_option(stats: DecisionStats, decision: int, *, min_n: int = 5) -> Any:
    """The ``options`` row of the best option of ``decision`` as :func:`advise` names it (its kept option with the
    highest top-decile rate), or None when no option of it is significantly often in the top decile."""
    found = advise(stats, min_n=min_n).decisions
    for d in found:
        if d.decision == decision and d.best is not None:
            rows = stats.option_rows(decision)
            return rows[rows["option"] == d.best].iloc[0]
    return None


def suggestions(stats: DecisionStats, *, min_n: int = 5, min_importance: float = 0.02, important: float = 0.05,
                max_p: float = ALPHA) -> list[str]:
    """Plain sentences for designing the next search space: :func:`advise`'s suggestions (``max_p`` is its
    ``alpha``)."""
    return advise(stats, min_n=min_n, min_importance=min_importance, important=important, alpha=max_p).sentences


def _g(value: float) -> str:
    return "nan" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.4g}"


def _p(p_value: float, *, adjusted: bool = False) -> str:
    name = "adjusted p" if adjusted else "p"
    if p_value is None or math.isnan(p_value):
        return "no test possible"
    return f"{name} < 0.001" if p_value < 0.001 else f"{name} = {p_value:.3f}"


def importance_plot(stats: DecisionStats, path: str | Path, *, max_decisions: int = 30) -> Path:
    """Horizontal bars of each decision's eta squared (with its chance level), and the permutation importance
    when it was computed; the most important decisions on top."""
    import numpy as np

    plt = _pyplot()
    imp = stats.importance.sort_values("eta_squared", ascending=True, na_position="first").tail(max_decisions)
    has_perm = bool(imp["permutation"].notna().any())
    fig, axes = plt.subplots(1, 2 if has_perm else 1, figsize=(10 if has_perm else 7, 0.35 * len(imp) + 1.6),
                             squeeze=False)
    y = np.arange(len(imp))
    ax = axes[0][0]
    ax.barh(y, imp["eta_squared"].fillna(0), color="#1f77b4", label="eta squared")
    ax.scatter(imp["chance"], y, marker="|", s=120, c="#555555", label="chance level", zorder=3)
    ax.set_yticks(y, [_short(p, 28) for p in imp["path"]], fontsize=8)
    ax.set_xlabel("eta squared (share of reward variance)")
    ax.set_title("Decision importance")
    ax.legend(loc="lower right", fontsize=8)
    if has_perm:
        ax2 = axes[0][1]
        ax2.barh(y, imp["permutation"].fillna(0), color="#9467bd")
        ax2.axvline(0, color="#555555", linewidth=0.8)
        ax2.set_yticks(y, [""] * len(imp))
        ax2.set_xlabel("drop in held-out R² when shuffled")
        ax2.set_title("Random-forest permutation importance")
    return save_figure(fig, path)


def options_plot(stats: DecisionStats, path: str | Path, *, max_decisions: int = 12, ncols: int = 3) -> Path:
    """Mean reward of each option with its confidence interval, one panel per decision (the most important
    first), the overall mean of completed trials as a dashed line."""
    plt = _pyplot()
    order = stats.importance.sort_values("eta_squared", ascending=False, na_position="last")["decision"].tolist()
    order = order[:max_decisions]
    ncols = max(1, min(ncols, len(order)))
    nrows = max(1, math.ceil(len(order) / ncols))
    tallest = max([len(stats.option_rows(d)) for d in order] or [1])
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, (0.3 * tallest + 1.3) * nrows), squeeze=False)
    for ax in axes.flat[len(order):]:
        ax.set_visible(False)
    tried = stats.options[stats.options["n"] > 0]
    overall = float((tried["mean"] * tried["n"]).sum() / tried["n"].sum()) if len(tried) else math.nan
    # one x range for all panels: the observed means, widened by the intervals of options with enough trials
    # (the interval of an option tried twice can be far wider than any reward)
    steady = tried[tried["n"] >= 5]
    lo = min([tried["mean"].min()] + ([steady["ci_low"].min()] if len(steady) else []))
    hi = max([tried["mean"].max()] + ([steady["ci_high"].max()] if len(steady) else []))
    pad = 0.05 * (hi - lo) if len(tried) and hi > lo else 1.0
    for ax, d in zip(axes.flat, order):
        rows = stats.option_rows(d)
        y = list(range(len(rows)))
        means = rows["mean"].to_numpy()
        low = (rows["mean"] - rows["ci_low"]).fillna(0).to_numpy()
        high = (rows["ci_high"] - rows["mean"]).fillna(0).to_numpy()
        ax.errorbar(means, y, xerr=[low, high], fmt="o", color="#1f77b4", ecolor="#9ecae1", capsize=3, markersize=4)
        if not math.isnan(overall):
            ax.axvline(overall, color="#777777", linestyle="--", linewidth=0.8)
        ax.set_yticks(y, [f"{_short(lbl, 20)} (n={n})" for lbl, n in zip(rows["label"], rows["n"])], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(_short(rows["path"].iloc[0], 40), fontsize=9)
        if len(tried) and math.isfinite(lo) and math.isfinite(hi):
            ax.set_xlim(lo - pad, hi + pad)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"Mean reward per option ({stats.confidence:.0%} CI); dashed: mean of all completed trials", fontsize=10)
    return save_figure(fig, path)


def _short(text: Any, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
