"""Tables are checked when they load: enough rows, costs that are finite seconds >= 0, accuracy columns that are
numbers and not all NaN, every row an architecture of the space; errors say how many rows are bad and which. The
simulator says how many picks had no accuracy instead of averaging NaN silently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raynas.benchmarks import load_table, simulate
from raynas.benchmarks._table import MIN_ROWS
from raynas.cli import main
from raynas.errors import ConfigError
from tests.benchmarks.test_declared_table import declare, toy_frame


def refused(tmp_path, frame, *words: str) -> str:
    path = declare(tmp_path, frame=frame)
    with pytest.raises(ConfigError) as caught:
        load_table(path)
    text = str(caught.value)
    for word in words:
        assert word in text, text
    return text


def test_the_toy_table_loads(tmp_path):
    assert len(load_table(declare(tmp_path))) == 24


def test_too_few_rows_are_refused(tmp_path):
    refused(tmp_path, toy_frame().head(3), f"at least {MIN_ROWS} rows", "this one has 3")
    refused(tmp_path, toy_frame().iloc[0:0], "at least one row")
    assert len(load_table(declare(tmp_path, frame=toy_frame().head(MIN_ROWS)))) == MIN_ROWS


def test_negative_costs_are_refused_with_their_count_and_rows(tmp_path):
    frame = toy_frame()
    frame.loc[[2, 5, 7], "proxy_s"] = -1.0
    refused(tmp_path, frame, "proxy_cost: got 'proxy_s'", "3 of 24 rows", "negative values", "rows 2, 5, 7")


def test_nan_and_infinite_costs_are_refused(tmp_path):
    frame = toy_frame()
    frame.loc[list(range(8)), "full_s"] = np.nan
    refused(tmp_path, frame, "full_cost", "8 of 24 rows", "NaN or infinite", "rows 0, 1, 2, 3, 4, ...")
    frame = toy_frame()
    frame.loc[4, "proxy_s"] = math.inf
    refused(tmp_path, frame, "proxy_cost", "1 of 24 rows", "row 4")


def test_an_all_nan_accuracy_column_is_refused_and_some_nan_is_allowed(tmp_path):
    frame = toy_frame()
    frame["full_acc"] = np.nan
    refused(tmp_path, frame, "full: got 'full_acc'", "every one of its 24 values", "NaN")
    frame = toy_frame()
    frame.loc[[1, 3], "proxy_acc"] = np.nan  # two diverged trainings: allowed, their trials are invalid
    table = load_table(declare(tmp_path, frame=frame))
    assert int(np.isnan(table.proxy()).sum()) == 2


def test_infinite_accuracies_are_refused(tmp_path):
    frame = toy_frame()
    frame.loc[6, "test_acc"] = -math.inf
    refused(tmp_path, frame, "test.full", "1 of 24 rows", "infinite", "row 6")


def test_text_in_a_numeric_column_and_a_row_outside_the_space_are_refused(tmp_path):
    frame = toy_frame()
    frame["proxy_acc"] = frame["proxy_acc"].astype(object)
    frame.loc[3, "proxy_acc"] = "about 40"
    refused(tmp_path, frame, "a numeric column")
    frame = toy_frame()
    frame.loc[5, "op"] = "teleport"
    refused(tmp_path, frame, "row 5", "does not decode")


def test_the_simulator_counts_picks_without_accuracy(tmp_path):
    frame = toy_frame()
    frame["full_acc"] = frame["full_acc"].where(frame["depth"] != 4)  # the best architectures: no full accuracy
    table = load_table(declare(tmp_path, frame=frame))
    summary = simulate(table, controller="random", budget_seconds=1e6, seeds=4)
    assert summary.stage1_nan == 4  # every run evaluates everything; its best proxy pick has depth 4
    assert math.isnan(summary.stage1_mean)
    assert summary.stage2_nan == 0 and math.isfinite(summary.stage2_mean)  # the top 10 hold rows with an accuracy
    assert "4 of 4 stage-1 picks have no full accuracy" in summary.nan_note()
    assert simulate(load_table(declare(tmp_path)), controller="random", budget_seconds=1e6, seeds=2).nan_note() is None


def test_benchmark_output_says_how_many_values_were_nan(tmp_path, capsys):
    frame = toy_frame()
    frame["full_acc"] = frame["full_acc"].where(frame["depth"] != 4)
    path = declare(tmp_path, frame=frame)
    assert main(["benchmark", str(path), "--controller", "random", "--seeds", "3", "--budget-seconds", "1e6"]) == 0
    out = capsys.readouterr().out
    assert "nan +- nan" not in out
    assert "n/a (3 NaN)" in out and "note: random: 3 of 3 stage-1 picks have no full accuracy" in out
