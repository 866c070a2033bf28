"""NAS-Bench-201 (topology space) as a raynas search space, and table look-up trials for any declared table."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from raynas.benchmarks._cell import EDGES, OPERATIONS, arch_to_string, edge_key, string_to_arch  # noqa: F401 - re-exported
from raynas.benchmarks._declaration import (
    BUNDLED_TABLES,
    TableDeclaration,
    expand,
    is_declaration_file,
    load_declaration,
)
from raynas.benchmarks._table import BenchmarkTable, load_table_cached
from raynas.errors import ConfigError
from raynas.space import SearchSpace


def nasbench201_space() -> SearchSpace:
    """The 5^6 = 15,625-cell NAS-Bench-201 space: one operation per cell edge (as the bundled table declares it)."""
    return load_declaration("nasbench201").space()


class TableVariant(str, Enum):
    """Which column a tabular trial reads: the proxy column (NAS-Bench-201: 12 epochs) or the full-training one
    (200 epochs)."""

    PROXY = "proxy"
    FULL = "full"


class InjectedFailure(RuntimeError):
    """Raised by a tabular trial chosen to fail (``failure_rate``)."""


@dataclass(frozen=True)
class TabularTrialSettings:
    """How simulated tabular trials behave (the ``benchmark:`` section of a search config).

    ``table``: None (the bundled NAS-Bench-201 table), a bundled name, a declaration YAML, or a CSV/Parquet file
    with the NAS-Bench-201 columns (or its declaration in its Parquet metadata). Paths become absolute, so that
    trial workers find them whatever their working directory.
    """

    table: str | None = None
    variant: TableVariant = TableVariant.PROXY
    sleep_fraction: float = 0.0
    max_sleep_s: float = 60.0
    failure_rate: float = 0.0
    nan_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.table is not None:
            if not isinstance(self.table, str) or not self.table.strip():
                raise ConfigError("benchmark.table", self.table, "a bundled table name, a declaration YAML or a "
                                  "CSV/Parquet file", f"bundled: {', '.join(BUNDLED_TABLES)}")
            if (self.table not in BUNDLED_TABLES and ":" not in self.table  # module:attr names a table plug-in
                    and (is_declaration_file(self.table) or Path(self.table).suffix)):
                object.__setattr__(self, "table", str(expand(self.table).absolute()))
        object.__setattr__(self, "variant", _variant(self.variant))
        for name in ("sleep_fraction", "failure_rate", "nan_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"benchmark.{name}", value, "a number between 0 and 1")
        if self.failure_rate + self.nan_rate > 1:
            raise ConfigError("benchmark.failure_rate", self.failure_rate,
                              "failure_rate + nan_rate <= 1", "lower one of the two rates")
        if isinstance(self.max_sleep_s, bool) or not isinstance(self.max_sleep_s, (int, float)) or self.max_sleep_s < 0:
            raise ConfigError("benchmark.max_sleep_s", self.max_sleep_s, "a number of seconds >= 0")

    def declaration(self) -> TableDeclaration:
        """The declaration of the table trials read (reads no table)."""
        return load_declaration(self.table)


def _variant(value: Any) -> TableVariant:
    try:
        return TableVariant(value)
    except ValueError:
        raise ConfigError("benchmark.variant", value, "'proxy' (the table's proxy column, NAS-Bench-201: 12 epochs) "
                          "or 'full' (its full-training column, 200 epochs)") from None


@dataclass
class TabularEvaluator:
    """Evaluates an architecture of a declared table by look-up (optionally sleeping and failing on purpose).

    Reports ``val_accuracy`` (the chosen variant's column), ``test_accuracy`` when the table declares a test
    column for it, ``train_seconds`` (its recorded cost), ``reward`` (= ``val_accuracy``) and each declared
    ``metrics`` column under its own name (NAS-Bench-201: ``params``, ``flops``). When the table
    declares its epochs (NAS-Bench-201: 12 and 200), full training given a ``report`` callback first reports the
    proxy column as the proxy's epoch and returns its metrics as the full epoch, so that its validation curve has
    the two points the table knows.
    """

    settings: TabularTrialSettings = field(default_factory=TabularTrialSettings)
    _table: BenchmarkTable | None = field(default=None, repr=False)

    @property
    def table(self) -> BenchmarkTable:
        if self._table is None:
            self._table = load_table_cached(self.settings.table)
        return self._table

    def __getstate__(self) -> dict:
        return {"settings": self.settings, "_table": None}  # workers reload the table themselves

    def evaluate(self, arch: dict[str, Any], *, seed: int, report: Callable[[dict], None] | None = None) -> dict:
        table = self.table
        declared = table.declaration
        row = table.row_of_arch(arch)
        if row is None:
            raise ConfigError("arch", arch, f"an architecture present in the table {table.source}")
        s = self.settings
        full = s.variant is TableVariant.FULL
        cost = float(table.full_cost()[row] if full else table.proxy_cost()[row])
        sleep_s = min(s.max_sleep_s, s.sleep_fraction * cost) if s.sleep_fraction > 0 else 0.0
        epochs = (declared.proxy_epochs, declared.full_epochs) if declared.full_epochs else None
        if full and report is not None and epochs is not None:  # the table's one intermediate point of full training
            proxy_epochs, full_epochs = epochs
            time.sleep(sleep_s * proxy_epochs / full_epochs)
            sleep_s -= sleep_s * proxy_epochs / full_epochs
            early = float(table.proxy()[row])
            report({"epoch": proxy_epochs, "val_accuracy": early, "reward": early})
        if sleep_s > 0:
            time.sleep(sleep_s)
        draw = random.Random(f"{seed}:{row}").random()
        if draw < s.failure_rate:
            raise InjectedFailure(f"injected failure (failure_rate={s.failure_rate})")
        accuracy = float((table.full() if full else table.proxy())[row])
        if draw < s.failure_rate + s.nan_rate:
            accuracy = math.nan
        metrics = {"val_accuracy": accuracy, "train_seconds": cost, "reward": accuracy}
        if full and report is not None and epochs is not None:
            metrics["epoch"] = epochs[1]
        test = table.test("full" if full else "proxy")
        if test is not None:
            metrics["test_accuracy"] = float(test[row])
        for column in declared.metrics:  # e.g. params, flops: objectives a search can name
            metrics[column] = float(table.column(column)[row])
        return metrics
