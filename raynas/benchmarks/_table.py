"""Loading a declared benchmark table (the bundled NAS-Bench-201 one, or any table with a declaration).

The declaration (:mod:`raynas.benchmarks._declaration`) says which columns hold the architecture, the proxy and
full accuracies and their costs; loading reads the table, checks every declared column and decodes every row's
architecture into the declared space.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from raynas.benchmarks._declaration import TableDeclaration, load_declaration
from raynas.errors import SpaceError, suggest

#: The NAS-Bench-201 columns a CSV/Parquet file without a declaration needs.
REQUIRED_COLUMNS = ("arch", "val_acc_12ep", "val_acc_200ep", "train_sec_per_epoch", "eval_sec")
OPTIONAL_COLUMNS = ("index", "test_acc_12ep", "test_acc_200ep")
BUNDLED_TABLE = "nasbench201_cifar10.parquet"
#: The fewest rows a table may have: a search chooses among architectures, and a handful leaves nothing to search.
MIN_ROWS = 10
#: How many bad rows an error names (then "..." and the count).
SHOWN_ROWS = 5


@dataclass(frozen=True)
class BenchmarkTable:
    """Columns of a tabular benchmark as numpy arrays, with look-ups from architecture to row.

    ``arch`` is each row's architecture as the table writes it (NAS-Bench-201: the cell string; JSON for tables
    with one column per decision), ``row_of`` maps that text to the row, ``row_of_genotype`` a genotype of the
    declared space to the row.
    """

    source: str
    arch: tuple[str, ...]
    columns: dict[str, np.ndarray]
    row_of: dict[str, int]
    declaration: TableDeclaration = field(repr=False, default=None)  # type: ignore[assignment]
    genotypes: tuple[tuple[int, ...], ...] = field(repr=False, default=())
    row_of_genotype: dict[tuple[int, ...], int] = field(repr=False, default_factory=dict)

    def __len__(self) -> int:
        return len(self.arch)

    @functools.cached_property
    def space(self) -> Any:
        """The declared search space."""
        return self.declaration.space()

    def column(self, name: str) -> np.ndarray:
        return self.columns[name]

    def proxy(self) -> np.ndarray:
        """Stage-1 (proxy) accuracy of each row."""
        return self.columns[self.declaration.proxy]

    def full(self) -> np.ndarray:
        """Full-training accuracy of each row."""
        return self.columns[self.declaration.full]

    def proxy_cost(self) -> np.ndarray:
        """Seconds charged for one proxy evaluation of each row (NAS-Bench-201: ``12 * train_sec_per_epoch +
        eval_sec``)."""
        return self._weighted(self.declaration.proxy_cost)

    def full_cost(self) -> np.ndarray:
        """Seconds of one full training of each row (NAS-Bench-201: ``200 * train_sec_per_epoch``)."""
        return self._weighted(self.declaration.full_cost)

    def test(self, variant: str) -> np.ndarray | None:
        """Test accuracy of the ``variant`` ("proxy" or "full") column, None when the table has none."""
        column = self.declaration.test_column(variant)
        return None if column is None else self.columns[column]

    def _weighted(self, terms: tuple[tuple[str, float], ...]) -> np.ndarray:
        total = None
        for column, factor in terms:
            term = self.columns[column] if factor == 1.0 else factor * self.columns[column]
            total = term if total is None else total + term
        return total

    def row_of_arch(self, arch: Any) -> int | None:
        """The row of an architecture (None when it is not in the declared space or not in the table)."""
        try:
            genotype = self.space.encode(arch)
        except SpaceError:
            return None
        return self.row_of_genotype.get(genotype)


@functools.lru_cache(maxsize=4)
def load_table_cached(path: str | None = None) -> BenchmarkTable:
    """:func:`load_table`, memoised per process (trial workers reuse it across trials; treat it as read-only)."""
    return load_table(path)


def load_table(path: str | Path | None = None, *, data: str | Path | None = None) -> BenchmarkTable:
    """Load a declared table: None (the bundled NAS-Bench-201 CIFAR-10 table), a bundled name, a declaration
    YAML, or a CSV/Parquet file (declared in its Parquet metadata, else with the NAS-Bench-201 columns).
    ``data`` reads the declared columns from another file instead of the declaration's."""
    declaration = load_declaration(path)
    if data is not None:
        declaration = declaration.with_table(data)
    return read_declared_table(declaration)


def read_declared_table(declaration: TableDeclaration) -> BenchmarkTable:
    """Read the table a declaration names and check it against the declaration (ConfigError on any mismatch)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if declaration.bundled:
        ref = resources.files("raynas.benchmarks") / "data" / declaration.table
        with resources.as_file(ref) as real:
            table = pq.read_table(real)
        source = f"bundled:{declaration.table}"
    else:
        path = Path(declaration.table)
        if not path.is_file():
            raise declaration.error("table", str(path), "an existing .csv or .parquet file",
                                    "give the path of a declared table (or of a table with the NAS-Bench-201 "
                                    "columns), or omit it to use the bundled one")
        try:
            table = pq.read_table(path) if path.suffix.lower() in (".parquet", ".pq") else pacsv.read_csv(path)
        except Exception as exc:  # noqa: BLE001 - any reader error becomes a clear message
            raise declaration.error("table", str(path), "a readable CSV or Parquet file",
                                    f"reading failed: {exc}") from None
        source = str(path)
    names = list(table.column_names)
    if declaration.implied:  # the NAS-Bench-201 columns, test and metrics (params, flops) columns optional
        declaration = replace(declaration, test=tuple((v, c) for v, c in declaration.test if c in names),
                              metrics=tuple(c for c in declaration.metrics if c in names))
    for field_name, column in [("arch", c) for c in declaration.arch.names] + declaration.metric_columns():
        if column not in names:
            fix = f"the table's columns are {names}{suggest(column, names)}"
            if declaration.implied:
                fix += ("; a table with other columns needs a declaration YAML naming them (see docs/benchmarks.md, "
                        "section 'Your own benchmark table')")
            raise declaration.error(field_name, column, f"a column of the table {source}", fix)
    if table.num_rows == 0:
        raise declaration.error("table", source, "a table with at least one row",
                                "fill the table with one row per architecture")
    columns = {}
    extra = [c for c in OPTIONAL_COLUMNS if c in names]
    for field_name, column in declaration.metric_columns() + [("", c) for c in extra]:
        if column in columns:
            continue
        try:
            columns[column] = np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=float)
        except (TypeError, ValueError):
            if not field_name:
                continue
            raise declaration.error(field_name, column, "a numeric column", f"the column of {source} holds "
                                    f"{table.column(column).type} values") from None
    _check_values(declaration, columns, source, table.num_rows)
    arch, genotypes = _decode_rows(declaration, table, source)
    row_of_genotype: dict[tuple[int, ...], int] = {}
    for row, genotype in enumerate(genotypes):
        first = row_of_genotype.setdefault(genotype, row)
        if first != row:
            raise declaration.error("arch", arch[row], "one row per architecture",
                                    f"rows {first} and {row} of {source} hold the same architecture: remove one")
    row_of = {text: i for i, text in enumerate(arch)}
    return BenchmarkTable(source, arch, columns, row_of, declaration, genotypes, row_of_genotype)


def _rows_text(bad: np.ndarray) -> str:
    """``rows 2, 7, 9`` (the first :data:`SHOWN_ROWS`, counted from 0 as the table's rows are, then ``...``)."""
    rows = [str(int(r)) for r in np.flatnonzero(bad)[:SHOWN_ROWS]]
    more = ", ..." if int(bad.sum()) > SHOWN_ROWS else ""
    return f"row{'s' if len(rows) > 1 else ''} {', '.join(rows)}{more}"


def _check_values(declaration: TableDeclaration, columns: dict[str, np.ndarray], source: str, rows: int) -> None:
    """The rules every table meets (ConfigError naming the column, how many rows break it and the first ones):

    - at least :data:`MIN_ROWS` rows;
    - cost columns (``proxy_cost``, ``full_cost``): finite seconds >= 0 in every row;
    - accuracy columns (``proxy``, ``full``, ``test``) and ``metrics`` columns: not NaN in every row, never infinite.
      A NaN in some rows is allowed: it is an architecture whose training diverged (its trials are invalid, as a
      real NaN loss is).
    """
    if rows < MIN_ROWS:
        raise declaration.error("table", source, f"a table with at least {MIN_ROWS} rows (one per architecture); "
                                f"this one has {rows}", "a search chooses among architectures: add rows")
    costs = {c for c, _ in declaration.proxy_cost} | {c for c, _ in declaration.full_cost}
    for field_name, column in declaration.metric_columns():
        values = columns[column]
        if column in costs:
            for bad, what in ((~np.isfinite(values), "NaN or infinite values"), (values < 0, "negative values")):
                if bad.any():
                    raise declaration.error(field_name, column, "a column of costs: finite seconds >= 0 in every row",
                                            f"{int(bad.sum())} of {rows} rows of {source} hold {what} "
                                            f"({_rows_text(bad)}): fix or remove them")
            continue
        kind = "values" if field_name == "metrics" else "accuracies"
        nan = np.isnan(values)
        if nan.all():
            raise declaration.error(field_name, column, f"a column of {kind} (numbers)",
                                    f"every one of its {rows} values in {source} is NaN (empty): fill it in")
        infinite = np.isinf(values)
        if infinite.any():
            raise declaration.error(field_name, column, f"a column of finite {kind} (NaN for a diverged run)",
                                    f"{int(infinite.sum())} of {rows} rows of {source} hold infinite values "
                                    f"({_rows_text(infinite)}): fix them")


def _decode_rows(declaration: TableDeclaration, table: Any, source: str) -> tuple[tuple[str, ...], list]:
    """Each row's architecture text and genotype in the declared space (ConfigError naming the first bad row)."""
    space = declaration.space()
    spec = declaration.arch
    if spec.column is not None:
        texts = tuple(str(a) for a in table.column(spec.column).to_pylist())
        decode = _cell_decoder() if spec.format == "nasbench201" else json.loads
        archs = ((text, decode, text) for text in texts)
    else:
        values = {path: table.column(column).to_pylist() for path, column in spec.columns}
        archs_list = [_fill(space.root, "", {p: v[i] for p, v in values.items()}) for i in range(table.num_rows)]
        texts = tuple(json.dumps(a) for a in archs_list)
        archs = ((text, None, a) for text, a in zip(texts, archs_list))
    genotypes = []
    for row, (text, decode, raw) in enumerate(archs):
        try:
            arch = decode(raw) if decode is not None else raw
            genotypes.append(space.encode(arch))
        except (SpaceError, ValueError, TypeError, KeyError, AttributeError) as exc:
            where = spec.column if spec.column is not None else ", ".join(c for _, c in spec.columns)
            raise declaration.error("arch", text, f"an architecture of the declared space {declaration.name!r} "
                                    f"({spec.format if spec.column is not None else 'one column per decision'})",
                                    f"row {row} of {source} (column {where}) does not decode: {exc}; fix the row "
                                    "or the declared space") from None
    return texts, genotypes


def _cell_decoder() -> Any:
    from raynas.benchmarks._cell import string_to_arch

    return string_to_arch


def _fill(node: Any, path: str, values: dict[str, Any]) -> Any:
    """The architecture whose decisions (at their paths) take ``values``."""
    from raynas.space import FloatRange, IntRange, OneOf, SublistOf

    if isinstance(node, (OneOf, SublistOf, IntRange, FloatRange)):
        return values[path or "value"]
    if isinstance(node, dict):
        return {k: _fill(v, f"{path}.{k}" if path else k, values) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_fill(v, f"{path}[{i}]", values) for i, v in enumerate(node)]
    return node
