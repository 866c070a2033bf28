"""Tabular benchmarks: a table plus a declaration of its space and columns, as a search space with simulated
(look-up) trials. NAS-Bench-201 CIFAR-10 is bundled (``nasbench201``); any other table is declared in a YAML
file (see :mod:`raynas.benchmarks._declaration`), and packages add tables by name (:data:`TABLE_REGISTRY`,
entry-point group ``raynas.benchmarks``)."""

from raynas.benchmarks._declaration import (
    BUNDLED_TABLES,
    TABLE_REGISTRY,
    ArchColumns,
    TableDeclaration,
    load_declaration,
    parse_declaration,
    table_declaration,
)
from raynas.benchmarks._mo_simulator import (
    MultiObjectiveRun,
    MultiObjectiveSummary,
    objective_columns,
    parse_objectives_text,
    resolve_objectives,
    simulate_multiobjective,
)
from raynas.benchmarks._nasbench201 import (
    EDGES,
    OPERATIONS,
    InjectedFailure,
    TableVariant,
    TabularEvaluator,
    TabularTrialSettings,
    arch_to_string,
    edge_key,
    nasbench201_space,
    string_to_arch,
)
from raynas.benchmarks._simulator import simulate
from raynas.benchmarks._table import BenchmarkTable, load_table, read_declared_table

__all__ = ["ArchColumns", "BUNDLED_TABLES", "BenchmarkTable", "EDGES", "InjectedFailure", "MultiObjectiveRun",
           "MultiObjectiveSummary", "OPERATIONS", "TABLE_REGISTRY", "TableDeclaration", "TabularEvaluator",
           "TabularTrialSettings", "TableVariant", "arch_to_string", "edge_key", "load_declaration",
           "load_table", "nasbench201_space", "objective_columns", "parse_declaration", "parse_objectives_text",
           "read_declared_table", "resolve_objectives", "simulate", "simulate_multiobjective", "string_to_arch",
           "table_declaration"]
