"""The report's stage 1 vs stage 2 section reads stage 2's noise-aware verdict (``verdict``, ``tau_interval``, ``noise``,
control rows, ``kendall_tau_with_controls``) and falls back to the older keys; it never speaks of search bias when
the verdict is inconclusive. No Ray: a small experiment directory is written directly."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from raynas.analysis import analyze
from raynas.tracking import TrialRecord, TrialStore

NOTE_INCONCLUSIVE = ("inconclusive: the top 4 are within 0.40 points of each other (sd 0.18), less than 2x the run-to-run "
                     "noise (sd 0.30): the ranking among them cannot be judged; not a sign of bias")


def experiment(tmp_path: Path, stage2: object) -> Path:
    """A finished experiment (no config) with 12 completed trials and ``stage2/stage2.json`` holding ``stage2``."""
    root = tmp_path / "exp"
    store = TrialStore(root / "trials")
    store.append_many([TrialRecord(trial_id=f"{i:05d}abc", number=i, arch={"i": i}, genotype=(), reward=80.0 + i,
                                   status="completed", metrics={}) for i in range(12)])
    (root / "stage2").mkdir(parents=True)
    text = stage2 if isinstance(stage2, str) else json.dumps(stage2)
    (root / "stage2" / "stage2.json").write_text(text)
    return root


def rows(*, controls: int = 0) -> list[dict]:
    out = [{"rank": r, "trial_id": f"{11 - (r - 1):05d}abc", "stage1_reward": 91.0 - r, "full_accuracy": 95.0 - 0.1 * r,
            "status": "completed", "control": False} for r in range(1, 5)]
    out += [{"rank": 8 + c, "trial_id": f"{3 - c:05d}abc", "stage1_reward": 83.0 - c, "full_accuracy": 90.0 - c,
             "status": "completed", "control": True} for c in range(controls)]
    return out


def stage2_text(report) -> tuple[str, str]:
    html_text = report.html.read_text()
    section = re.search(r'<h2 id="stage2">.*?(?=<h2 id=)', html_text, re.S).group(0)
    return html_text, section


def test_inconclusive_verdict_never_says_search_bias(tmp_path):
    data = {"rows": rows(controls=2), "kendall_tau": 0.1, "spearman": 0.2, "picked_trial_id": "00011abc",
            "verdict": "inconclusive", "tau_interval": [-0.45, 0.7], "noise": {"sd": 0.3, "source": "declared sd"},
            "kendall_tau_with_controls": 0.62, "search_bias": None, "search_bias_note": NOTE_INCONCLUSIVE}
    report = analyze(experiment(tmp_path, data), permutation=False)
    html_text, section = stage2_text(report)
    md = report.markdown.read_text()
    assert "search bias" not in html_text.lower() and "search bias" not in md.lower()
    assert not report.flags and 'class="flag"' not in section
    assert NOTE_INCONCLUSIVE in section  # stage 2's note, as it wrote it
    assert "Verdict: inconclusive" in section
    assert "interval -0.45 to 0.7" in section and "with the controls: 0.62" in section
    assert "sd 0.3 (declared sd)" in section and "2 controls from lower ranks" in section
    table = re.search(r"<table[^>]*>(.*?)</table>", section, re.S).group(1)
    assert all(f"<th>{h}</th>" in table for h in ("rank", "stage-1 reward", "full accuracy", "control"))
    assert table.count("<td>yes</td>") >= 2 + 1  # two controls and the picked row
    assert report.stage2["verdict"] == "inconclusive" and report.stage2["search_bias"] is None
    assert report.stage2["low_tau"] is True  # tau is low, but the verdict is what counts
    assert report.stage2["tau_interval"] == [-0.45, 0.7] and report.stage2["controls"] == 2
    assert report.stage2["kendall_tau_with_controls"] == 0.62
    assert "| 3 | 8 | 00003abc | 83 | 90 | yes | completed |  |" in md  # a control row of the Markdown table


def test_bias_verdict_flags_with_its_interval(tmp_path):
    data = {"rows": rows(), "kendall_tau": -0.4, "spearman": -0.5, "picked_trial_id": "00011abc", "verdict": "bias",
            "tau_interval": {"low": -0.8, "high": 0.1, "level": 0.9}, "noise": {"sd": 0.2, "source": "binomial"},
            "search_bias": True, "search_bias_note": "possible search bias: ranked differently"}
    report = analyze(experiment(tmp_path, data), permutation=False)
    _, section = stage2_text(report)
    assert len(report.flags) == 1 and report.flags[0].startswith("Possible search bias (Kendall tau -0.4, 90% interval "
                                                                  "-0.8 to 0.1)")
    assert "no noise-aware verdict" not in report.flags[0]
    assert 'class="flag"' in section and report.stage2["search_bias"] is True


def test_agree_verdict_is_not_flagged(tmp_path):
    data = {"rows": rows(), "kendall_tau": 0.67, "spearman": 0.8, "picked_trial_id": "00011abc", "verdict": "agree",
            "tau_interval": [0.2, 1.0], "noise": {"sd": math.nan, "source": "unknown"}}
    report = analyze(experiment(tmp_path, data), permutation=False)
    _, section = stage2_text(report)
    assert not report.flags and "agrees with full training" in section and "noise" in section
    assert "of one full-training accuracy: unknown (unknown)" in section
    assert report.stage2["search_bias"] is False and report.stage2["verdict"] == "agree"


@pytest.mark.parametrize(("bias", "tau", "verdict"), [(True, 0.5, "bias"), (False, 0.1, "agree"),
                                                      (None, 0.1, "inconclusive")])
def test_old_files_are_read_through_search_bias(tmp_path, bias, tau, verdict):
    """A stage2.json without ``verdict``: its ``search_bias`` decides (not a tau bar of the report's own)."""
    data = {"rows": [{k: v for k, v in r.items() if k != "control"} for r in rows()], "kendall_tau": tau,
            "spearman": 0.2, "picked_trial_id": "00011abc", "search_bias": bias, "search_bias_note": "old note"}
    report = analyze(experiment(tmp_path, data), permutation=False)
    html_text, section = stage2_text(report)
    assert report.stage2["verdict"] == verdict and "Stage 2 says: old note" in section
    assert bool(report.flags) is (verdict == "bias")
    if verdict == "bias":
        assert "no noise-aware verdict" in report.flags[0]
    if verdict == "inconclusive":
        assert "search bias" not in html_text.lower()
    assert "<td>no</td>" in section and "<td>yes</td>" in section  # every row 'no' control; the picked one 'yes'


def test_unreadable_stage2_file_is_flagged_in_the_section(tmp_path):
    report = analyze(experiment(tmp_path, "[1, 2"), permutation=False)
    _, section = stage2_text(report)
    assert "could not be read" in section and report.stage2 is None
    listed = analyze(experiment(tmp_path / "other", [1, 2]), permutation=False)
    assert "could not be read" in stage2_text(listed)[1] and listed.stage2 is None
