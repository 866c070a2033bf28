"""Tabular benchmarks: NAS-Bench-201 CIFAR-10 as a search space with simulated (look-up) trials."""

from raynas.benchmarks._nasbench201 import (
    EDGES,
    OPERATIONS,
    InjectedFailure,
    TabularEvaluator,
    TabularTrialSettings,
    Variant,
    arch_to_string,
    edge_key,
    nasbench201_space,
    string_to_arch,
)
from raynas.benchmarks._table import BenchmarkTable, load_table

__all__ = [
    "EDGES",
    "OPERATIONS",
    "BenchmarkTable",
    "InjectedFailure",
    "TabularEvaluator",
    "TabularTrialSettings",
    "Variant",
    "arch_to_string",
    "edge_key",
    "load_table",
    "nasbench201_space",
    "string_to_arch",
]
