"""Loading a NAS-Bench-201-style table (the bundled one or any file with the same columns)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from raynas.errors import ConfigError

REQUIRED_COLUMNS = ("arch", "val_acc_12ep", "val_acc_200ep", "train_sec_per_epoch", "eval_sec")
OPTIONAL_COLUMNS = ("index", "test_acc_12ep", "test_acc_200ep")
BUNDLED_TABLE = "nasbench201_cifar10.parquet"


@dataclass(frozen=True)
class BenchmarkTable:
    """Columns of a tabular benchmark as numpy arrays, plus a lookup from cell string to row."""

    source: str
    arch: tuple[str, ...]
    columns: dict[str, np.ndarray]
    row_of: dict[str, int]

    def __len__(self) -> int:
        return len(self.arch)

    def column(self, name: str) -> np.ndarray:
        return self.columns[name]

    def proxy_cost(self) -> np.ndarray:
        """Seconds charged for one 12-epoch proxy evaluation of each row."""
        return 12 * self.columns["train_sec_per_epoch"] + self.columns["eval_sec"]

    def full_cost(self) -> np.ndarray:
        """Seconds of one 200-epoch full training of each row."""
        return 200 * self.columns["train_sec_per_epoch"]


@functools.lru_cache(maxsize=4)
def load_table_cached(path: str | None = None) -> BenchmarkTable:
    """:func:`load_table`, memoised per process (trial workers reuse it across trials; treat it as read-only)."""
    return load_table(path)


def load_table(path: str | Path | None = None) -> BenchmarkTable:
    """Load the bundled NAS-Bench-201 CIFAR-10 table, or a CSV/Parquet file with the same columns."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path is None:
        ref = resources.files("raynas.benchmarks") / "data" / BUNDLED_TABLE
        with resources.as_file(ref) as real:
            table = pq.read_table(real)
        source = f"bundled:{BUNDLED_TABLE}"
    else:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError("table", str(path), "an existing .csv or .parquet file",
                              "give the path of a NAS-Bench-201-style table, or omit it to use the bundled one")
        try:
            table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
        except Exception as exc:  # noqa: BLE001 - any reader error becomes a clear message
            raise ConfigError("table", str(path), "a readable CSV or Parquet file", f"reading failed: {exc}") from None
        source = str(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ConfigError("table", source, f"a table with columns {list(REQUIRED_COLUMNS)}",
                          f"missing columns: {missing}")
    arch = tuple(str(a) for a in table.column("arch").to_pylist())
    columns = {}
    for name in REQUIRED_COLUMNS[1:] + OPTIONAL_COLUMNS:
        if name in table.column_names:
            columns[name] = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)
    row_of = {a: i for i, a in enumerate(arch)}
    if len(row_of) != len(arch):
        raise ConfigError("table", source, "one row per architecture", "remove duplicate 'arch' rows")
    return BenchmarkTable(source, arch, columns, row_of)
