"""Per-decision statistics of a search: which options win, which decisions matter (workflow step 9).

Everything is computed over completed trials, from each trial's genotype. A conditional decision that is
inactive in a genotype (its parent decision took another option) is left out for that trial, so its options
are compared only among the trials where the decision existed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from raynas.analysis._search_plot import COMPLETED, _pyplot, save_figure

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
        if record.status != COMPLETED or reward is None or not math.isfinite(float(reward)):
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
    """p-value of the one-way ANOVA F test of reward between the options (NaN when undefined)."""
    from scipy import stats as st

    n = len(part)
    if tried < 2 or n <= tried:
        return math.nan
    grand = part["reward"].mean()
    g = part.groupby("option")["reward"].agg(["count", "mean"])
    between = float((g["count"] * (g["mean"] - grand) ** 2).sum())
    within = float(((part["reward"] - part.groupby("option")["reward"].transform("mean")) ** 2).sum())
    if within <= 0:
        return 0.0 if between > 0 else math.nan
    f = (between / (tried - 1)) / (within / (n - tried))
    return float(st.f.sf(f, tried - 1, n - tried))


def forest_importance(genotypes: Sequence[Sequence[int]], rewards: Sequence[float], space: Any, *, seed: int = 0,
                      n_estimators: int = 100, n_repeats: int = 5) -> list[float]:
    """Random-forest permutation importance of each decision (scikit-learn forest, seeded).

    The forest is trained on the one-hot genotype (an inactive conditional decision is its own category) of 75%
    of the trials; each decision's genotype column is then shuffled as a whole on the other 25% (``n_repeats``
    times) and the mean drop in R^2 is its importance (the copies of one decision are predicted in one batch).
    """
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
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
    model = make_pipeline(OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False),
                          RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2, random_state=seed,
                                                n_jobs=1))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed)
    model.fit(x_train, y_train)
    rng = np.random.default_rng(seed)
    baseline = r2_score(y_test, model.predict(x_test))
    out = []
    for d in range(len(decisions)):
        copies = []
        for _ in range(n_repeats):
            shuffled = x_test.copy()
            shuffled[:, d] = rng.permutation(shuffled[:, d])
            copies.append(shuffled)
        predicted = model.predict(np.vstack(copies)).reshape(n_repeats, len(x_test))
        out.append(float(np.mean([baseline - r2_score(y_test, p) for p in predicted])))
    return out


def best_option(stats: DecisionStats, decision: int, *, min_n: int = 5) -> Any:
    """The row of the best option of ``decision`` by mean reward among options with at least ``min_n`` trials
    (else at least 2, else 1), or None when no option was tried."""
    rows = stats.option_rows(decision)
    for need in (min_n, 2, 1):
        eligible = rows[rows["n"] >= need]
        if len(eligible):
            index = eligible["mean"].idxmax() if stats.mode_max else eligible["mean"].idxmin()
            return eligible.loc[index]
    return None


def suggestions(stats: DecisionStats, *, min_n: int = 5, min_importance: float = 0.02, important: float = 0.05,
                max_p: float = 0.05) -> list[str]:
    """Plain sentences for designing the next search space.

    * the best option of each decision that matters (eta squared at least ``important`` and, where a test is
      possible, ANOVA p below ``max_p``);
    * options with at least ``min_n`` trials that never reached the top decile (candidates to drop), with the
      chance of that happening to an option that does not matter;
    * decisions that barely change the reward (fix them or drop them to shrink the space): eta squared below
      ``min_importance``, or below ``important`` with an ANOVA p of at least ``max_p`` (no clear difference from
      chance).
    """
    from scipy import stats as st

    out: list[str] = []
    if stats.n_completed == 0:
        return ["No trial completed yet: nothing to suggest."]
    if stats.n_completed < 30:
        out.append(f"Only {stats.n_completed} trials completed: the statistics below are rough; "
                   "treat these suggestions as hints until more trials finish.")
    better = "highest" if stats.mode_max else "lowest"
    imp = stats.importance.sort_values("eta_squared", ascending=False, na_position="last")
    for row in imp.itertuples():
        if not (row.eta_squared >= important) or (not math.isnan(row.p_value) and row.p_value >= max_p):
            continue
        best = best_option(stats, row.decision, min_n=min_n)
        if best is None:
            continue
        ci = (f", {stats.confidence:.0%} CI {_g(best['ci_low'])}..{_g(best['ci_high'])}"
              if not math.isnan(best["ci_low"]) else "")
        share = f", {best['top_share']:.0%} of the top decile" if not math.isnan(best["top_share"]) else ""
        out.append(f"{row.path} matters (eta squared {row.eta_squared:.2f}, {_p(row.p_value)}): keep its best "
                   f"option {best['label']} ({better} mean reward {_g(best['mean'])}{ci}, n={int(best['n'])}{share}).")
    for row in stats.importance.itertuples():
        rows = stats.option_rows(row.decision)
        never = rows[(rows["n"] >= min_n) & (rows["top_count"] == 0)]
        tops_here = int(rows["top_count"].sum())
        if not len(never) or tops_here == 0:
            continue
        parts, chances = [], []
        for option in never.itertuples():
            parts.append(f"{option.label} (0 of {int(option.n)} trials)")
            # chance of no top-decile trial among n when the option does not matter (hypergeometric)
            chances.append(f"{float(st.hypergeom.pmf(0, row.n, tops_here, int(option.n))):.0%}")
        them = "them" if len(parts) > 1 else "it"
        out.append(f"{row.path}: {', '.join(parts)} never reached the top decile (chance of that for an option "
                   f"that does not matter: {', '.join(chances)}): consider dropping {them} from the next search space.")
    for row in imp.itertuples():
        if row.options_tried < 2 or math.isnan(row.eta_squared):
            continue
        tiny = row.eta_squared < min_importance
        chance_like = row.eta_squared < important and not math.isnan(row.p_value) and row.p_value >= max_p
        if tiny or chance_like:
            why = "" if tiny else ", no clear difference from chance"
            out.append(f"{row.path} barely matters (eta squared {row.eta_squared:.3f} over {row.n} trials, "
                       f"{_p(row.p_value)}{why}): fix it to one option or drop it to shrink the space.")
    if len(out) == (1 if stats.n_completed < 30 else 0):
        out.append("No decision stands out yet: neither a clear winner nor a decision that does not matter.")
    return out


def _g(value: float) -> str:
    return "nan" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.4g}"


def _p(p_value: float) -> str:
    if p_value is None or math.isnan(p_value):
        return "no test possible"
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


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
