"""Any table that declares its space and columns is a tabular benchmark: `raynas benchmark`, search configs and the
table target read it like the bundled NAS-Bench-201 table (itself one declared table)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from raynas.benchmarks import (
    TabularEvaluator,
    TabularTrialSettings,
    arch_to_string,
    load_declaration,
    load_table,
    simulate,
    string_to_arch,
)
from raynas.cli import main
from raynas.config import SearchConfig, load_search_config
from raynas.controllers import DEFAULT_CONTROLLER
from raynas.errors import ConfigError
from raynas.space import SearchSpace, one_of
from raynas.targets import TABLE_BASELINE, TABLE_CANDIDATE, table_target

README = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"   # the docs page with the example
OPS = {"conv": 8, "pool": 4, "skip": 2, "none": 0}
OPTIMUM = {"depth": 4, "width": 32, "op": "conv"}


def toy_frame() -> pd.DataFrame:
    """24 rows, one per architecture of depth x width x op; the best full accuracy is OPTIMUM's."""
    rows = []
    for depth, width, op in itertools.product([2, 3, 4], [16, 32], list(OPS)):
        score = 10 * depth + width / 4 + OPS[op]
        rows.append({"depth": depth, "width": width, "op": op, "arch": json.dumps({"depth": depth, "width": width,
                                                                                   "op": op}),
                     "proxy_acc": 20 + score, "full_acc": 30 + score, "test_acc": 29 + score,
                     "proxy_s": depth * width / 4, "full_s": 20.0 * depth * width})
    return pd.DataFrame(rows)


TOY_SPACE = {"depth": {"$one_of": [2, 3, 4]}, "width": {"$one_of": [16, 32]},
             "op": {"$one_of": ["conv", "pool", "skip", "none"]}}


def declare(folder: Path, name: str = "toy.yaml", frame: pd.DataFrame | None = None, **changes) -> Path:
    """Write toy.csv and a declaration of it (``changes``: keys to replace; None removes a key)."""
    (toy_frame() if frame is None else frame).to_csv(folder / "toy.csv", index=False)
    declaration = {"name": "toy", "table": "toy.csv", "space": TOY_SPACE, "arch": {"columns": ["depth", "width", "op"]},
                   "proxy": "proxy_acc", "full": "full_acc", "proxy_cost": "proxy_s", "full_cost": "full_s",
                   "test": "test_acc", "baseline": {"depth": 2, "width": 16, "op": "conv"},
                   "provenance": "made up for the tests"}
    for key, value in changes.items():
        if value is None:
            declaration.pop(key)
        else:
            declaration[key] = value
    path = folder / name
    path.write_text(yaml.safe_dump(declaration, sort_keys=False))
    return path


# --- the bundled table is one declared table ----------------------------------------------------------------------
def test_bundled_nasbench201_is_a_declaration_with_its_space_baseline_and_provenance():
    declared = load_declaration("nasbench201")
    assert declared is load_declaration(None)
    edges = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    expected = SearchSpace({"cell": {f"{s}->{t}": one_of(*ops) for t, s in edges}}, name="nasbench201")
    space = declared.space()
    assert space == expected and [d.path for d in space.decisions] == [d.path for d in expected.decisions]
    assert arch_to_string(declared.baseline) == TABLE_BASELINE
    assert declared.candidate_name == TABLE_CANDIDATE and (declared.proxy_epochs, declared.full_epochs) == (12, 200)
    assert "NAS-Bench-201" in declared.provenance and "NATS-Bench" in declared.provenance
    target = table_target()
    assert target.label == "nasbench201" and target.baseline_arch() == string_to_arch(TABLE_BASELINE)
    assert target.space() == expected


# --- a declared table ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", [{"columns": ["depth", "width", "op"]}, "arch", {"column": "arch", "format": "json"},
                                  {"columns": {"depth": "depth", "width": "width", "op": "op"}}])
def test_a_declared_table_loads_with_either_architecture_layout(tmp_path, arch):
    table = load_table(declare(tmp_path, arch=arch))
    assert len(table) == 24 and table.declaration.name == "toy" and table.space.size == 24
    row = table.row_of_arch(OPTIMUM)
    assert table.full()[row] == table.full().max() == 30 + 40 + 8 + 8
    assert table.proxy_cost()[row] == 32 and table.full_cost()[row] == 20 * 4 * 32
    assert table.row_of_arch({"depth": 5, "width": 32, "op": "conv"}) is None
    assert sorted(table.row_of_genotype.values()) == list(range(24))


def test_evaluator_and_target_read_the_declared_columns(tmp_path):
    path = declare(tmp_path)
    settings = TabularTrialSettings(table=str(path))
    target = table_target(settings)
    assert target.label == "toy" and target.space().name == "toy" and target.space().size == 24
    assert target.baseline_arch() == {"depth": 2, "width": 16, "op": "conv"}
    assert [c.name for c in target.candidates()] == ["proxy"]
    proxy = target.evaluator(variant="proxy", stage="search", experiment_dir=tmp_path).evaluate(OPTIMUM, seed=0)
    assert proxy == {"val_accuracy": 76.0, "reward": 76.0, "train_seconds": 32.0}
    reports = []
    full = target.evaluator(variant="full", stage="stage2", experiment_dir=tmp_path).evaluate(
        OPTIMUM, seed=0, report=reports.append)
    assert full == {"val_accuracy": 86.0, "reward": 86.0, "train_seconds": 2560.0, "test_accuracy": 85.0}
    assert reports == []  # no declared epochs: the table knows no point of the full curve but its end
    with pytest.raises(ConfigError, match="present in the table"):
        TabularEvaluator(settings).evaluate({"depth": 9, "width": 16, "op": "conv"}, seed=0)


def test_declared_epochs_give_full_training_its_proxy_point(tmp_path):
    path = declare(tmp_path, epochs={"proxy": 3, "full": 30})
    reports = []
    full = TabularEvaluator(TabularTrialSettings(table=str(path), variant="full")).evaluate(
        OPTIMUM, seed=0, report=reports.append)
    assert reports == [{"epoch": 3, "val_accuracy": 76.0, "reward": 76.0}] and full["epoch"] == 30
    assert table_target(TabularTrialSettings(table=str(path))).candidates()[0].name == "3-epoch"


def test_benchmark_simulation_finds_the_optimum_with_the_default_controller(tmp_path):
    table = load_table(declare(tmp_path))
    total = float(table.proxy_cost().sum())
    summary = simulate(table, controller=DEFAULT_CONTROLLER, budget_seconds=0.6 * total, seeds=10, top_k=3)
    assert summary.optimum_full_accuracy == 86.0
    assert summary.stage2_mean == 86.0 and summary.stage1_mean == 86.0
    assert summary.mean_evaluations < 24  # found before the budget could cover the whole table


def test_raynas_benchmark_command_takes_a_declaration(tmp_path, monkeypatch, capsys):
    declare(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["benchmark", "toy.yaml", "--controller", DEFAULT_CONTROLLER, "--budget-seconds", "260", "--seeds",
                 "5", "--top-k", "3", "--format", "json"]) == 0
    [summary] = json.loads(capsys.readouterr().out)
    assert summary["controller"] == DEFAULT_CONTROLLER and summary["stage2_mean"] == 86.0
    assert summary["table_source"] == str(tmp_path / "toy.csv")
    assert main(["benchmark", "toy.yaml", "--controller", "random", "--seeds", "2", "--budget-seconds", "100"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("toy (") and "table optimum (full-training val acc) 86.0000" in text
    assert main(["benchmark", "nasbench20", "--seeds", "1"]) == 2
    assert "did you mean 'nasbench201'" in capsys.readouterr().err


def test_a_parquet_file_can_carry_its_own_declaration(tmp_path):
    declaration = yaml.safe_load(declare(tmp_path).read_text())
    declaration.pop("table")
    frame = pa.Table.from_pandas(toy_frame(), preserve_index=False)
    frame = frame.replace_schema_metadata({**(frame.schema.metadata or {}), b"raynas.table": json.dumps(declaration)})
    pq.write_table(frame, tmp_path / "toy.parquet")
    table = load_table(tmp_path / "toy.parquet")
    assert table.declaration.name == "toy" and table.source == str(tmp_path / "toy.parquet")
    assert table.full()[table.row_of_arch(OPTIMUM)] == 86.0


# --- search configs -----------------------------------------------------------------------------------------------
def test_search_config_takes_the_space_from_the_declared_table(tmp_path):
    declare(tmp_path)
    (tmp_path / "search.yaml").write_text("name: toy-search\nbenchmark: {table: toy.yaml}\ngpus_per_trial: 0\n"
                                          "fixed: {op: conv}\n")
    config = load_search_config(tmp_path / "search.yaml")  # the table path is relative to the config file
    assert config.space == "toy" and config.tabular
    assert config.build_space().size == 6 and config.build_space().name == "toy"
    config.validate_deep()
    assert SearchConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match=r"space: got 'nasbench201'; expected 'toy'"):
        SearchConfig.from_dict({**config.to_dict(), "space": "nasbench201"})
    # the bundled table by name, and a CSV with the NAS-Bench-201 columns, still give the nasbench201 space
    assert SearchConfig.from_dict({"benchmark": {"table": "nasbench201"}}).space == "nasbench201"


# --- clear errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, frame, field, expected", [
    ({"full": None}, None, "full", "add `full:` to the declaration"),
    ({"proxy_cost": "proxy_seconds"}, None, "proxy_cost", "got 'proxy_seconds'; expected a column of the table"),
    ({"test": "test_accuracy"}, None, "test.full", "did you mean 'test_acc'"),
    ({}, toy_frame().assign(op=lambda f: f["op"].replace("skip", "identity")), "arch",
     "does not decode: op: 'identity' is not one of"),
    ({"arch": "arch"}, toy_frame().assign(arch=lambda f: f["arch"].str.replace('"width"', '"wide"')), "arch",
     "keys do not match the space"),
    ({}, toy_frame().iloc[0:0], "table", "expected a table with at least one row"),
    ({"arch": {"columns": ["depth", "op"]}}, None, "arch.columns", "missing ['width']"),
    ({"baseline": {"depth": 7, "width": 16, "op": "conv"}}, None, "baseline", "7 is not one of"),
    ({"proxy_accuracy": "proxy_acc"}, None, "proxy_accuracy", "remove or rename the key"),
])
def test_each_bad_declaration_gives_one_clear_error(tmp_path, changes, frame, field, expected):
    path = declare(tmp_path, frame=frame, **changes)
    with pytest.raises(ConfigError) as caught:
        load_table(path)
    error = caught.value
    assert error.field == field and expected in str(error), str(error)
    assert str(error).startswith(f"{path.resolve()}: {field}: got ")  # the file, the field, the value...
    assert "expected" in str(error) and error.fix  # ...what was expected and the fix
    with pytest.raises(ConfigError):  # a search config over it fails before any trial, with the same error
        SearchConfig.from_dict({"benchmark": {"table": str(path)}, "gpus_per_trial": 0}).validate_deep()


def test_a_csv_without_the_nasbench201_columns_points_to_a_declaration(tmp_path):
    toy_frame().to_csv(tmp_path / "plain.csv", index=False)
    with pytest.raises(ConfigError, match="needs a declaration YAML"):
        load_table(tmp_path / "plain.csv")


# --- the README example works as printed --------------------------------------------------------------------------
def test_readme_example_runs_as_printed(tmp_path, monkeypatch, capsys):
    section = README.read_text().split("### Your own benchmark table", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    python = [code for lang, code in blocks if lang == "python"]
    files = {code.splitlines()[0].split()[1].rstrip(":"): code for lang, code in blocks if lang == "yaml"}
    assert len(python) == 1 and set(files) == {"toy.yaml", "toy-search.yaml"}
    monkeypatch.chdir(tmp_path)
    exec(compile(python[0], "make_toy.py", "exec"), {})
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    table = load_table("toy.yaml")
    assert len(table) == 24 and table.declaration.provenance
    best = int(table.full().argmax())
    assert table.genotypes[best] == table.space.encode(OPTIMUM)
    command = next(line for lang, code in blocks if lang == "bash" for line in code.splitlines()
                   if "raynas benchmark" in line)
    assert main(command.split("raynas ", 1)[1].split() + ["--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["optimum_full_accuracy"] == table.full().max()
    config = load_search_config("toy-search.yaml")
    assert config.space == "toy" and config.gpus_per_trial == 0
    config.validate_deep()


# --- on Ray -------------------------------------------------------------------------------------------------------
@pytest.mark.ray
def test_run_search_on_ray_over_a_declared_table(ray_cluster, tmp_path):
    from raynas.tracking import TrialStore
    from raynas.tune import run_search

    path = declare(tmp_path)
    config = SearchConfig.from_dict({"name": "toy-search", "workdir": str(tmp_path / "work"),
                                     "benchmark": {"table": str(path)}, "max_trials": 8, "max_concurrent": 2,
                                     "gpus_per_trial": 0, "cpus_per_trial": 0.5, "seed": 0, "mlflow": False})
    result = run_search(config)
    assert result.status == "completed" and result.trials == 8
    table = load_table(path)
    records = TrialStore(result.store_dir).records()
    assert len(records) == 8 and len({r.genotype for r in records}) == 8
    for record in records:
        assert record.status == "completed" and record.arch == config.build_space().decode(record.genotype)
        row = table.row_of_arch(record.arch)
        assert record.reward == table.proxy()[row] and record.metrics["train_seconds"] == table.proxy_cost()[row]
    assert result.best_reward == max(r.reward for r in records)
