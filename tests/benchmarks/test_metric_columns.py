"""A table's ``metrics:`` columns (NAS-Bench-201: ``params``, ``flops``): declared, checked, loaded and reported by
tabular trials; the bundled values are NAS-Bench-201's network counted in PyTorch."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raynas.benchmarks import TabularEvaluator, TabularTrialSettings, load_declaration, load_table, string_to_arch
from raynas.errors import ConfigError
from tests.benchmarks.test_declared_table import OPTIMUM, declare, toy_frame

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "nasbench201_params_flops.py"


def counting_script():
    spec = importlib.util.spec_from_file_location("nasbench201_params_flops", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sized_frame():
    frame = toy_frame()
    frame["size"] = frame["depth"] * frame["width"] * 1000.0
    return frame


# --- the bundled NAS-Bench-201 columns ----------------------------------------------------------------------------
def test_bundled_table_declares_params_and_flops_as_metrics():
    declared = load_declaration("nasbench201")
    assert declared.metrics == ("params", "flops")
    assert ("metrics", "params") in declared.metric_columns() and ("metrics", "flops") in declared.metric_columns()
    table = load_table()
    params, flops = table.column("params"), table.column("flops")
    assert np.isfinite(params).all() and np.isfinite(flops).all()
    # NAS-Bench-201's published ranges on CIFAR-10: 0.073 - 1.531 M parameters, up to about 220 M FLOPs
    assert params.min() / 1e6 == pytest.approx(0.073, abs=1e-3) and params.max() / 1e6 == pytest.approx(1.531, abs=1e-3)
    assert flops.min() / 1e6 == pytest.approx(7.78, abs=0.01) and flops.max() / 1e6 == pytest.approx(220, abs=0.5)


def test_bundled_params_and_flops_are_the_torch_count_of_the_cells_network():
    script = counting_script()
    table = load_table()
    cells = ["|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",  # the ResNet cell
             "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"]
    for text in cells:
        row = table.row_of[text]
        assert script.torch_counts(string_to_arch(text)["cell"]) == (table.column("params")[row],
                                                                     table.column("flops")[row])


def test_the_closed_form_counts_every_op_as_torch_does():
    script = counting_script()
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    keys = ("0->1", "0->2", "1->2", "0->3", "1->3", "2->3")
    for op, other in itertools.islice(itertools.permutations(ops, 2), 0, 20, 4):
        cell = dict(zip(keys, [op, other, op, other, op, other]))
        assert script.closed_form(cell) == script.torch_counts(cell)


def test_tabular_trials_report_the_metric_columns():
    arch = string_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                          "nor_conv_3x3~2|")
    table = load_table()
    for variant in ("proxy", "full"):
        metrics = TabularEvaluator(TabularTrialSettings(variant=variant)).evaluate(arch, seed=0)
        assert metrics["params"] == table.column("params").max() and metrics["flops"] == table.column("flops").max()


# --- any declared table --------------------------------------------------------------------------------------------
def test_a_declared_metrics_column_is_loaded_and_reported(tmp_path):
    path = declare(tmp_path, frame=sized_frame(), metrics=["size"])
    table = load_table(path)
    assert table.declaration.metrics == ("size",)
    assert table.column("size")[table.row_of_arch(OPTIMUM)] == 4 * 32 * 1000.0
    metrics = TabularEvaluator(TabularTrialSettings(table=str(path))).evaluate(OPTIMUM, seed=0)
    assert metrics["size"] == 128000.0


@pytest.mark.parametrize("metrics, match", [
    ("size", "metrics: got 'size'; expected a list of numeric columns"),
    ([], "a list of numeric columns"),
    (["proxy_acc"], "metrics: got 'proxy_acc'.*it is the proxy column"),
    (["depth"], "metrics: got 'depth'.*it is the arch column"),
    (["size", "size"], "each column once"),
])
def test_bad_metrics_declarations_name_the_value(tmp_path, metrics, match):
    with pytest.raises(ConfigError, match=match):
        load_declaration(declare(tmp_path, frame=sized_frame(), metrics=metrics))


def test_a_missing_or_bad_metrics_column_names_the_column(tmp_path):
    with pytest.raises(ConfigError, match="metrics: got 'weight'.*a column of the table"):
        load_table(declare(tmp_path, frame=sized_frame(), metrics=["weight"]))
    frame = sized_frame()
    frame.loc[3, "size"] = np.inf
    with pytest.raises(ConfigError, match="metrics: got 'size'.*finite values.*row 3"):
        load_table(declare(tmp_path, frame=frame, metrics=["size"]))
    frame["size"] = "big"
    with pytest.raises(ConfigError, match="metrics: got 'size'.*a numeric column"):
        load_table(declare(tmp_path, frame=frame, metrics=["size"]))


def test_a_table_without_a_declaration_reads_params_and_flops_when_it_has_them(tmp_path):
    bundled = load_table()
    columns = {"arch": list(bundled.arch), "val_acc_12ep": 1.0, "val_acc_200ep": 2.0, "train_sec_per_epoch": 1.0,
               "eval_sec": 0.5}


    pd.DataFrame(columns).to_csv(tmp_path / "plain.csv", index=False)
    plain = load_table(tmp_path / "plain.csv")
    assert plain.declaration.metrics == () and "params" not in plain.columns
    pd.DataFrame({**columns, "params": 3.0}).to_csv(tmp_path / "sized.csv", index=False)
    sized = load_table(tmp_path / "sized.csv")
    assert sized.declaration.metrics == ("params",) and (sized.column("params") == 3.0).all()
