"""No silent proxy fallback: when no candidate passed the proxy search, `raynas proxy variance` measures nothing unless
a candidate is named, says which candidates failed and why, and the checklist never passes such a variance."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from raynas.cli import main
from raynas.errors import RaynasError
from raynas.proxy import CheckResult, DesignTarget
from raynas.proxy._variance import _candidate
from tests.proxy.test_check import candidate, make_target, run, write_search, write_variance


def test_variance_refuses_when_no_candidate_passed_and_names_them(tmp_path, capsys):
    target = make_target(tmp_path)
    write_search(target, candidate("12-epoch", tau=0.31, passed=False), chosen=None)
    argv = ["proxy", "variance", "--workdir", str(tmp_path / "work"), "--repeats", "2", "--no-mlflow"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("raynas: error: no proxy candidate passed `raynas proxy search`")
    assert "12-epoch: tau too low" in err and "--candidate NAME" in err
    assert not (target.workspace / "variance").exists()  # nothing measured
    with pytest.raises(RaynasError, match="no proxy candidate passed"):
        _candidate(target, None)


def test_a_named_candidate_is_measured_with_a_warning_that_no_search_chose_it(tmp_path, caplog):
    target = make_target(tmp_path)
    write_search(target, candidate("12-epoch", passed=False), chosen=None)
    with caplog.at_level(logging.WARNING):
        assert _candidate(target, "12-epoch").name == "12-epoch"
    assert "--candidate names it" in caplog.text and "chose no proxy" in caplog.text


def test_the_chosen_or_the_only_candidate_is_the_default(tmp_path, monkeypatch, caplog):
    target = make_target(tmp_path)
    assert _candidate(target, None).name == "12-epoch"  # no search, one candidate: nothing to choose between
    write_search(target, candidate("12-epoch"), chosen="12-epoch")
    with caplog.at_level(logging.WARNING):
        assert _candidate(target, None).name == "12-epoch" and _candidate(target, "12-epoch").name == "12-epoch"
    assert caplog.text == ""
    # several candidates and no search: which one is the user's to say
    other = DesignTarget(workdir=str(tmp_path / "other"))
    only = other.candidates()[0]
    monkeypatch.setattr(DesignTarget, "candidates", lambda self: [only, dataclasses.replace(only, name="e4")])
    with pytest.raises(RaynasError, match="No `raynas proxy search` has chosen one of the 2 candidates"):
        _candidate(other, None)


def test_the_checklist_never_passes_the_variance_of_a_proxy_no_search_chose(tmp_path):
    target = make_target(tmp_path)
    write_variance(target, name="e4")  # a passing verdict, measured with an explicit --candidate e4
    write_search(target, candidate("e4", passed=False), chosen=None)
    row = run(target).row("variance")
    assert row.result is CheckResult.WARN
    assert "pass for proxy e4" in row.detail and "no proxy candidate passed the proxy search" in row.detail
    (target.workspace / "proxy-search" / "proxy_search.json").unlink()  # no search at all
    row = run(target).row("variance")
    assert row.result is CheckResult.WARN and "no proxy search chose it" in row.detail
    write_search(target, candidate("e4"), chosen="e4")  # the chosen proxy: its verdict counts
    assert run(target).row("variance").result is CheckResult.PASS
