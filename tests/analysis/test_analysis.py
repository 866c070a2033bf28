"""The analysis library and ``raynas analyze``: statistics checked against independent computations, the report's
files and sections, its embedded plots, and the CLI. No Ray: trial stores are written directly."""

from __future__ import annotations

import base64
import json
import math
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from raynas.analysis import (
    analyze,
    decision_stats,
    eta_squared,
    pareto_front,
    pareto_fronts,
    pareto_mask,
    search_curve,
    search_plot,
    suggestions,
)
from raynas.cli import main
from raynas.config import SearchConfig
from raynas.space import SearchSpace, int_range, one_of
from raynas.tracking import TrialRecord, TrialStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = "/usr/bin/chromium"


def rec(number: int, reward: float | None, status: str = "completed", *, genotype=(), arch=None, metrics=None,
        reason: str | None = None) -> TrialRecord:
    return TrialRecord(trial_id=f"t{number:04d}", number=number, arch=arch if arch is not None else {"n": number},
                       genotype=tuple(genotype), reward=reward, status=status, failure_reason=reason,
                       metrics=metrics or {})


# --- a small conditional space with a known effect -------------------------------------------------------------
TOY = SearchSpace({"a": one_of("x", "y", "z"), "b": int_range(1, 4),
                   "c": one_of({"kind": "plain"}, {"kind": "fancy", "k": one_of(3, 5)})}, name="toy")


def toy_records(n: int = 200, seed: int = 0) -> list[TrialRecord]:
    """Option a=z is bad (never near the top), c@1.k=5 is good, b does not matter."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        g = TOY.canonical(TOY.sample_genotype(rng))
        reward = 50.0 + rng.gauss(0, 1.0) - 8.0 * (g[0] == 2) + 1.5 * (g[0] == 1)
        if g[2] == 1:
            reward += 3.0 if g[3] == 1 else 0.5
        out.append(rec(i, reward, genotype=g, arch=TOY.decode(g)))
    out.append(rec(n, None, "failed", genotype=TOY.sample_genotype(1), reason="boom"))
    return out


def independent_long_frame(records) -> pd.DataFrame:
    """(trial, decision path, option, reward) rows computed without raynas.analysis: k is active only when c=1."""
    rows = []
    for r in records:
        if r.status != "completed":
            continue
        g = r.genotype
        active = [0, 1, 2] + ([3] if g[2] == 1 else [])
        for d in active:
            rows.append({"trial": r.number, "path": TOY.decisions[d].path, "option": g[d], "reward": r.reward})
    return pd.DataFrame(rows)


def test_option_statistics_match_an_independent_groupby():
    records = toy_records()
    stats = decision_stats(records, TOY)
    long = independent_long_frame(records)
    expected = long.groupby(["path", "option"])["reward"].agg(["count", "mean", "std"])
    got = stats.options.set_index(["path", "option"])
    assert stats.n_completed == 200
    for (path, option), row in expected.iterrows():
        assert got.loc[(path, option), "n"] == row["count"]
        assert got.loc[(path, option), "mean"] == pytest.approx(row["mean"])
        assert got.loc[(path, option), "std"] == pytest.approx(row["std"])
        low, high = st.t.interval(0.95, row["count"] - 1, loc=row["mean"], scale=row["std"] / math.sqrt(row["count"]))
        assert got.loc[(path, option), "ci_low"] == pytest.approx(low)
        assert got.loc[(path, option), "ci_high"] == pytest.approx(high)
    # the conditional decision counts only the trials where c took its sub-space
    assert got.loc[("c@1.k", 0), "n"] + got.loc[("c@1.k", 1), "n"] == got.loc[("c", 1), "n"]
    assert len(stats.options) == sum(d.num_options for d in TOY.decisions)


def test_top_decile_counts_and_shares():
    records = toy_records()
    stats = decision_stats(records, TOY)
    rewards = np.array([r.reward for r in records if r.status == "completed"])
    k = math.ceil(0.1 * len(rewards))
    threshold = np.sort(rewards)[-k]
    assert stats.top_threshold == pytest.approx(threshold)
    top_numbers = {r.number for r in records if r.status == "completed" and r.reward >= threshold}
    assert stats.top_trials == len(top_numbers) == k
    long = independent_long_frame(records)
    long["top"] = long["trial"].isin(top_numbers)
    counts = long.groupby(["path", "option"])["top"].sum()
    got = stats.options.set_index(["path", "option"])
    for key, count in counts.items():
        assert got.loc[key, "top_count"] == count
    a = stats.option_rows(0)
    assert a["top_share"].sum() == pytest.approx(1.0)
    assert got.loc[("a", 2), "top_count"] == 0  # the bad option


def test_eta_squared_by_hand_and_per_decision():
    assert eta_squared([1, 2, 3, 4, 5, 6], ["a", "a", "b", "b", "c", "c"]) == pytest.approx(16 / 17.5)
    assert math.isnan(eta_squared([3, 3, 3], ["a", "b", "c"]))
    records = toy_records()
    stats = decision_stats(records, TOY)
    long = independent_long_frame(records)
    for row in stats.importance.itertuples():
        part = long[long["path"] == row.path]
        grand = part["reward"].mean()
        between = sum(len(g) * (g.mean() - grand) ** 2 for _, g in part.groupby("option")["reward"])
        total = ((part["reward"] - grand) ** 2).sum()
        assert row.eta_squared == pytest.approx(between / total)
        p = st.f_oneway(*[g.to_numpy() for _, g in part.groupby("option")["reward"]]).pvalue
        assert row.p_value == pytest.approx(p, rel=1e-6, abs=1e-12)
    imp = stats.importance.set_index("path")
    assert imp.loc["a", "eta_squared"] > 0.5 and imp.loc["b", "eta_squared"] < 0.05


def test_suggestions_flag_the_bad_option_the_unimportant_decision_and_the_best_option():
    stats = decision_stats(toy_records(400), TOY)
    text = suggestions(stats)
    bad = [s for s in text if "never reached the top decile" in s]
    assert len(bad) == 1 and bad[0].startswith("a: z (0 of ") and "consider dropping it" in bad[0]
    assert any(s.startswith("b barely matters") and "with 98% probability" in s for s in text)
    best = [s for s in text if s.startswith("a matters")]
    assert best and "keep its best option y " in best[0]
    assert not any(s.startswith("b matters") for s in text)
    # with half the trials the same test could miss an eta squared of 0.05 (power 78% < 80%): inconclusive
    fewer = suggestions(decision_stats(toy_records(200), TOY))
    assert not any(s.startswith("b barely matters") for s in fewer)
    assert any(s.startswith("Inconclusive, too few trials") and "b (power 78%)" in s for s in fewer)


def test_mode_min_reverses_best_and_top_decile():
    records = [rec(r.number, -r.reward if r.reward is not None else None, r.status, genotype=r.genotype, arch=r.arch)
               for r in toy_records()]
    stats = decision_stats(records, TOY, mode_max=False)
    assert stats.option_rows(0).set_index("label").loc["z", "top_count"] == 0
    text = suggestions(stats)
    assert any(s.startswith("a matters") and "keep its best option y " in s and "mean reward -52.22" in s
               for s in text)
    assert any(s.startswith("a: z (0 of ") and "drop candidate" in s for s in text)


def test_permutation_importance_is_seeded_and_ranks_the_real_effect_first():
    records = toy_records(120)
    one = decision_stats(records, TOY, permutation=True, seed=3, n_estimators=40)
    two = decision_stats(records, TOY, permutation=True, seed=3, n_estimators=40)
    assert one.importance["permutation"].tolist() == two.importance["permutation"].tolist()
    imp = one.importance.set_index("path")["permutation"]
    assert imp.idxmax() == "a"
    few = decision_stats(records[:10], TOY, permutation=True)
    assert few.importance["permutation"].isna().all()


# --- Pareto -----------------------------------------------------------------------------------------------------
def test_pareto_front_on_a_hand_example():
    points = {"G": (0.5, 40), "A": (1, 50), "B": (2, 60), "C": (2, 55), "D": (3, 58), "E": (4, 70), "F": (4, 70),
              "H": (5, 65)}
    names = list(points)
    mask = pareto_mask([points[n][0] for n in names], [points[n][1] for n in names])
    assert {n for n, m in zip(names, mask) if m} == {"G", "A", "B", "E", "F"}
    mask_min = pareto_mask([points[n][0] for n in names], [points[n][1] for n in names], mode_max=False)
    assert {n for n, m in zip(names, mask_min) if m} == {"G"}
    records = [rec(i, float(points[n][1]), metrics={"latency_ms": points[n][0]}) for i, n in enumerate(names)]
    records.append(rec(90, 99.0, "stopped", metrics={"latency_ms": 0.1}))  # not completed: left out
    records.append(rec(91, 99.0))  # no latency measured: left out
    front = pareto_front(records, "latency_ms")
    assert len(front.points) == len(names)
    assert front.front["number"].tolist() == [names.index(n) for n in ("G", "A", "B", "E", "F")]
    assert list(pareto_fronts(records)) == ["latency_ms"]
    assert pareto_fronts([rec(0, 1.0, metrics={"train_seconds": 3.0})]) == {}


# --- search curve -----------------------------------------------------------------------------------------------
def test_search_curve_running_best_and_rolling_values(tmp_path):
    records = [rec(3, 5.0), rec(0, 1.0), rec(1, None, "failed"), rec(2, 3.0), rec(4, 2.0, "stopped"), rec(5, 4.0),
               rec(6, None, "invalid"), rec(7, 6.0)]
    curve = search_curve(records, mode_max=True, window=2)
    assert list(curve.columns) == ["number", "reward", "status", "running_best", "rolling_mean", "rolling_std"]
    assert curve["number"].tolist() == list(range(8))
    assert curve["running_best"].tolist() == [1, 1, 3, 5, 5, 5, 5, 6]  # stopped trials do not count
    done = [1.0, 3.0, 5.0, 4.0, 6.0]  # completed rewards in launch order (trials 0, 2, 3, 5, 7)
    means = [1.0, 2.0, 4.0, 4.5, 5.0]
    stds = [math.nan] + [float(np.std(done[i - 1:i + 1], ddof=1)) for i in range(1, 5)]
    at = {0: 0, 1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4}  # the last completed trial at or before each row
    assert curve["rolling_mean"].tolist() == pytest.approx([means[at[i]] for i in range(8)])
    assert curve["rolling_std"].tolist() == pytest.approx([stds[at[i]] for i in range(8)], nan_ok=True)
    low = search_curve(records, mode_max=False, window=2)
    assert low["running_best"].tolist() == [1, 1, 1, 1, 1, 1, 1, 1]
    # a DataFrame with the same columns gives the same curve; the default window is max(10, n // 20)
    frame = pd.DataFrame({"number": [r.number for r in records], "reward": [r.reward for r in records],
                          "status": [r.status for r in records]})
    pd.testing.assert_frame_equal(search_curve(frame, True, 2), curve)
    assert search_curve(records)["rolling_mean"].iloc[-1] == pytest.approx(np.mean(done))
    path = search_plot(records, tmp_path / "curve.png", mode_max=True, title="t")
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert search_plot([], tmp_path / "empty.png").read_bytes().startswith(PNG_MAGIC)


# --- the report ---------------------------------------------------------------------------------------------------
def nasbench_experiment(workdir: Path, name: str, *, n: int = 90, costs: bool = False, seed: int = 0) -> Path:
    """An experiment directory like a NAS-Bench-201 search leaves, rewards from the bundled table."""
    from raynas.benchmarks import arch_to_string, load_table, nasbench201_space

    table = load_table()
    space = nasbench201_space()
    config = SearchConfig(name=name, space="nasbench201", workdir=str(workdir), max_trials=n, gpus_per_trial=0)
    root = workdir / name
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(config.to_dict()))
    rng = random.Random(seed)
    store = TrialStore(root / "trials")
    records = []
    for i in range(n):
        g = space.sample_genotype(rng)
        arch = space.decode(g)
        row = table.row_of[arch_to_string(arch)]
        acc = float(table.column("val_acc_12ep")[row])
        metrics = {"val_accuracy": acc, "train_seconds": float(table.proxy_cost()[row]), "reward": acc}
        if costs:
            convs = sum(op.startswith("nor_conv") for op in arch["cell"].values())
            metrics.update(params=1000 * (1 + convs) + rng.randint(0, 99), latency_ms=1.0 + convs + rng.random())
        status, reward, reason = "completed", acc, None
        if i % 17 == 5:
            status, reward, reason = "failed", None, "InjectedFailure: injected failure (failure_rate=0.05) " + "x" * 90
        elif i % 23 == 7:
            status, reward, reason = "invalid", None, "metric 'reward' is nan"
        records.append(TrialRecord(trial_id=f"{i:05d}abc", number=i, arch=arch, genotype=g, reward=reward,
                                   status=status, failure_reason=reason, metrics=metrics, seed=i))
    store.append_many(records)
    (root / "status.json").write_text(json.dumps({"status": "completed", "reason": f"all {n} trials ran"}))
    return root


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("work")
    plain = nasbench_experiment(workdir, "nb-plain")
    costs = nasbench_experiment(workdir, "nb-costs", costs=True, seed=1)
    return workdir, plain, costs


def images_of(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_report_files_sections_and_embedded_pngs(experiments):
    _, plain, _ = experiments
    report = analyze(plain, top_k=5)
    assert report.html == plain / "report" / "report.html" and report.markdown.is_file()
    text = report.html.read_text()
    assert "http://" not in text and "https://" not in text  # no external assets
    pngs = images_of(text)
    assert len(pngs) == text.count("<img") == 3  # search curve, importance, options
    assert all(p.startswith(PNG_MAGIC) for p in pngs)
    for anchor in ("summary", "progress", "top", "decisions", "pareto", "failures", "stage2", "suggestions"):
        assert f'id="{anchor}"' in text
    assert "no Pareto front" in text and "train_seconds" in text
    assert "has not run yet" in text and "<code>raynas train nb-plain</code>" in text
    assert "InjectedFailure: injected failure" in text and "x" * 90 not in text  # reasons cut to 80 characters
    top = re.search(r'<table[^>]*class="dataframe data topk"[^>]*>(.*?)</table>', text, re.S).group(1)
    assert top.count("<tr") == 1 + 5 and "train_seconds" in top and '{"cell":{"0-&gt;1":' in top
    assert "val_accuracy" not in top  # equal to the reward in every row: not repeated
    md = report.markdown.read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert linked == ["search.png", "importance.png", "options.png"]
    assert all((report.directory / name).read_bytes().startswith(PNG_MAGIC) for name in linked)
    assert "## Suggestions for the next search space" in md and "| cell.0->1 |" in md
    assert report.status_counts["completed"] + report.status_counts["failed"] + report.status_counts["invalid"] == 90
    best = max(r.reward for r in TrialStore(plain / "trials").records() if r.status == "completed")
    assert report.best["reward"] == best and report.suggestions and report.stage2 is None


@pytest.fixture(scope="module")
def costs_report(experiments, tmp_path_factory):
    """The report of the experiment whose trials measured latency and parameters (written to another folder)."""
    out = tmp_path_factory.mktemp("costs-report")
    return analyze(experiments[2], output=out / "out", permutation=False)


def test_report_pareto_fronts_when_costs_were_measured(costs_report):
    report = costs_report
    assert report.directory.name == "out" and report.html.parent == report.directory
    assert report.pareto_metrics == ("latency_ms", "params")
    text = report.html.read_text()
    assert len(images_of(text)) == 5 and "Reward vs" not in text  # titles live in the PNGs
    assert "latency_ms: " in text and "are on the front" in text
    assert {p.name for p in report.plots} >= {"pareto-latency_ms.png", "pareto-params.png"}


def test_stage2_section_and_low_tau_flag(experiments, tmp_path):
    workdir, plain, _ = experiments
    root = tmp_path / "nb-stage2"
    shutil.copytree(plain, root)
    shutil.rmtree(root / "report", ignore_errors=True)
    (root / "stage2").mkdir()
    rows = [{"rank": i + 1, "trial_id": f"{i:05d}abc", "stage1_reward": 80.0 + i, "full_accuracy": 93.0 - 0.1 * i,
             "status": "completed"} for i in (0, 1, 2, 3)]
    stage2 = {"rows": rows, "kendall_tau": 0.1, "spearman": 0.2, "picked_trial_id": "00000abc"}
    (root / "stage2" / "stage2.json").write_text(json.dumps(stage2))
    report = analyze(root, permutation=False)
    text = report.html.read_text()
    assert report.stage2 == {"file": str(root / "stage2" / "stage2.json"), "kendall_tau": 0.1, "spearman": 0.2,
                             "picked_trial_id": "00000abc", "rows": 4, "low_tau": True, "verdict": "bias",
                             "search_bias": True, "tau_interval": None, "kendall_tau_with_controls": None,
                             "controls": 0, "noise": None}
    # a stage2.json without a verdict or search_bias: judged by the tau bar alone, and the report says so
    assert "Possible search bias" in text and any("Possible search bias" in f for f in report.flags)
    assert "no noise-aware verdict" in report.flags[0]
    assert "00003abc" in text and "has not run yet" not in text and "<th>rank</th>" in text
    assert len(images_of(text)) == 4 and (report.directory / "stage2.png").is_file()
    stage2["kendall_tau"] = 0.8
    (root / "stage2" / "stage2.json").write_text(json.dumps(stage2))
    again = analyze(root, permutation=False)
    assert not again.stage2["low_tau"] and "search bias" not in again.html.read_text().lower()
    assert again.stage2["verdict"] == "agree" and not again.flags


def test_cli_text_json_and_unknown_experiment(experiments, capsys, tmp_path):
    workdir, plain, _ = experiments
    assert main(["analyze", "nb-plain", "--workdir", str(workdir), "--top-k", "3", "-o", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'r' / 'report.html'}" in out and f"markdown: {tmp_path / 'r' / 'report.md'}" in out
    assert out.startswith("analysed 90 trials of 'nb-plain'")
    assert main(["analyze", str(plain), "--format", "json", "-o", str(tmp_path / "j")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["html"] == str(tmp_path / "j" / "report.html") and data["n_trials"] == 90
    assert data["stage2"] is None and isinstance(data["suggestions"], list)
    assert main(["analyze", "nope", "--workdir", str(workdir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("raynas: error: unknown experiment 'nope'") and "nb-plain" in err
    assert main(["analyze", "nb-plain", "--workdir", str(workdir), "--top-k", "0"]) == 2
    assert "--top-k" in capsys.readouterr().err


def test_report_images_render_in_headless_chromium(costs_report):
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    report = costs_report
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(report.html.as_uri())
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
        browser.close()
    assert len(widths) == 5 and all(w > 0 for w in widths)
    assert "Pareto fronts: reward vs cost" in headings
