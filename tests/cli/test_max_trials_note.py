"""A search whose file leaves max_trials at its default says that a real search needs thousands of trials."""

from __future__ import annotations

import pytest

import raynas.tune
from raynas.cli import main
from raynas.cli._search import max_trials_note
from raynas.errors import RaynasError

BASE = "name: note-check\nspace: nasbench201\nbenchmark: {table: nasbench201}\ngpus_per_trial: 0\ncpus_per_trial: 1\n"


def test_the_note_is_given_only_when_the_file_leaves_max_trials_out(tmp_path):
    left_out = tmp_path / "a.yaml"
    left_out.write_text(BASE)
    set_to_default = tmp_path / "b.yaml"
    set_to_default.write_text(BASE + "max_trials: 100\n")
    note = max_trials_note(str(left_out), 100)
    assert note is not None and "5,000-10,000" in note and "raynas estimate" in note and "(100)" in note
    assert max_trials_note(str(set_to_default), 100) is None
    assert max_trials_note(None, 200) is None  # the embedded dry run sets its own


@pytest.mark.parametrize("extra, noted", [("", True), ("max_trials: 100\n", False)])
def test_raynas_search_prints_the_note_before_it_starts(tmp_path, monkeypatch, capsys, extra, noted):
    config = tmp_path / "search.yaml"
    config.write_text(BASE + extra + f"workdir: {tmp_path / 'work'}\n")

    def refuse(*args, **kwargs):  # stop before any Ray work: the note comes first
        raise RaynasError("stopped by the test")

    monkeypatch.setattr(raynas.tune, "run_search", refuse)
    assert main(["search", "--config", str(config), "--no-mlflow"]) == 2
    err = capsys.readouterr().err
    assert "stopped by the test" in err
    assert ("a real search needs thousands of trials" in err) is noted
