"""``raynas benchmark TABLE --objectives COLUMN:MODE,...``: hypervolume of the front each controller finds, and
bad values refused in one `raynas: error:` line naming the value and the fix."""

from __future__ import annotations

import json

import pytest

from raynas.cli import main
from tests.benchmarks.test_declared_table import declare, toy_frame
from tests.cli.test_bad_inputs import refused


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A declared toy table (24 rows) with a `size` metrics column, in the working directory; returns its rows."""
    frame = toy_frame()
    frame["size"] = frame["depth"] * frame["width"] + 10.0 * (frame["op"] == "conv")
    declare(tmp_path, frame=frame, metrics=["size"])
    monkeypatch.chdir(tmp_path)
    return frame


def test_objectives_print_the_hypervolume_table(toy, capsys):
    assert main(["benchmark", "toy.yaml", "--objectives", "accuracy:max,size:min", "--seeds", "2",
                 "--budget-seconds", "10000"]) == 0
    text = capsys.readouterr().out
    assert "objectives proxy_acc (max; scored by full_acc), size (min)" in text
    worst = f"full_acc {toy['full_acc'].min():g}, size {toy['size'].max():g}"
    assert f"reference point (the table's worst values): {worst};" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()}
    for name in ("random", "nsga2", "mo-surrogate"):  # the budget covers the table: every controller finds it all
        assert lines[name].split()[1:4] == ["1.0000", "+-", "0.0000"]


def test_objectives_as_json(toy, capsys):
    assert main(["benchmark", "toy.yaml", "--objectives", "accuracy:max,size:min", "--controller", "nsga2",
                 "--seeds", "3", "--budget-seconds", "40", "--format", "json"]) == 0
    [summary] = json.loads(capsys.readouterr().out)
    assert summary["controller"] == "nsga2" and summary["objectives"] == [["proxy_acc", "max"], ["size", "min"]]
    assert summary["reference"] == [toy["full_acc"].min(), toy["size"].max()] and summary["seeds"] == 3
    assert 0 < summary["hypervolume_mean"] < 1 and summary["mean_evaluations"] < 24


@pytest.mark.parametrize("argv, says", [
    (["--objectives", "accuracy:max,sise:min"], "--objectives: got 'sise'; expected a column of toy a search "
                                                "observes: accuracy, proxy_acc, size, proxy_s, full_s. Fix: check the "
                                                "name (did you mean 'size'?)"),
    (["--objectives", "accuracy:max,size:lowest"], "--objectives: got 'size:lowest'; expected a mode of max or min"),
    (["--objectives", "accuracy:max"], "--objectives: got 'accuracy:max'; expected at least 2 objectives"),
    (["--objectives", "accuracy:max,size:"], "--objectives: got 'accuracy:max,size:'; expected COLUMN:MODE"),
    (["--objectives", "full_acc:max,size:min"], "not known during a search"),
    (["--objectives", "accuracy:max,size:min", "--controller", "evolution"],
     "got 'evolution'; expected a multi-objective controller"),
    (["--objectives", "accuracy:max,size:min", "--option", "populaton_size=8"], "--option: got 'populaton_size'"),
])
def test_bad_objectives_are_one_error_line(toy, capsys, argv, says):
    line = refused(capsys, "benchmark", "toy.yaml", "--seeds", "1", "--budget-seconds", "50", *argv)
    assert says in line
