"""A tabular benchmark as data: a table plus a declaration of its space and of the columns trials read.

A declaration is a small YAML file (or the same mapping, as JSON, in a Parquet file's key-value metadata under
the key ``raynas.table``)::

    name: toy                     # the space's name (a search config's `space:`)
    table: toy.csv                # CSV or Parquet, relative to this file
    space:                        # the search space in raynas's JSON form (SearchSpace.to_json()["space"])
      depth: {$one_of: [2, 3, 4]}
      op: {$one_of: [conv, pool]}
    arch: arch                    # the column holding each row's architecture as JSON; or
                                  # {column: NAME, format: json | nasbench201}, or one column per decision:
                                  # {columns: [depth, op]} / {columns: {DECISION PATH: COLUMN}}
    proxy: proxy_acc              # stage-1 (proxy) accuracy
    full: full_acc                # full-training accuracy
    proxy_cost: proxy_seconds     # seconds of one proxy evaluation: a column, or a weighted sum
    full_cost: full_seconds       #   of columns, e.g. {train_sec_per_epoch: 12, eval_sec: 1}
    test: test_acc                # optional: full training's test accuracy, or {proxy: COL, full: COL}
    baseline: {depth: 2, op: conv}  # optional: the architecture `raynas baseline` full-trains
    epochs: {proxy: 12, full: 200}  # optional: epochs the two columns stand for (curves, candidate name)
    validation_examples: 25000    # optional: examples the full column's accuracy was measured on (its noise)
    metrics: [params, flops]      # optional: more numeric columns of each architecture (e.g. a cost), which
                                  #   trials report and a search's `objectives:` can name
    provenance: where the numbers come from

Reading a declaration reads no table; :func:`raynas.benchmarks.load_table` reads the table and checks it
against the declaration.

Tables are also found by name (:data:`TABLE_REGISTRY`): the bundled ones, declarations registered with
``@TABLE_REGISTRY.register("my-bench")``, and ``raynas.benchmarks`` entry points of installed packages. A name
stands for a :class:`TableDeclaration`, the path of a declaration YAML (or of a CSV/Parquet file), or a function
returning either.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from raynas._parse import parse_yaml_text
from raynas.errors import ConfigError, SpaceError, suggest
from raynas.plugins import Registry

#: Bundled tables: name -> declaration file in raynas/benchmarks/data.
BUNDLED_TABLES: Mapping[str, str] = {"nasbench201": "nasbench201.yaml"}
#: The declaration a CSV/Parquet file without one gets: the NAS-Bench-201 columns.
DEFAULT_TABLE = "nasbench201"
#: Key of a declaration (JSON) in a Parquet file's key-value metadata.
PARQUET_KEY = b"raynas.table"
#: Formats of a single architecture column.
ARCH_FORMATS = ("json", "nasbench201")
REQUIRED_KEYS = ("name", "table", "space", "arch", "proxy", "full", "proxy_cost", "full_cost")
OPTIONAL_KEYS = ("title", "test", "baseline", "epochs", "validation_examples", "metrics", "provenance")
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_HELP = "see docs/benchmarks.md, section 'Your own benchmark table'"
_WHAT = {
    "name": "the space's name (letters, digits, '.', '_', '-'), e.g. name: my-bench",
    "table": "the CSV or Parquet file holding the rows (relative to the declaration), e.g. table: results.csv",
    "space": "the search space in raynas's JSON form, e.g. space: {op: {$one_of: [conv, pool]}}",
    "arch": "the column holding each architecture (arch: COLUMN, as JSON) or {columns: [one per decision]}",
    "proxy": "the column of stage-1 (proxy) accuracy",
    "full": "the column of full-training accuracy",
    "proxy_cost": "the column of seconds one proxy evaluation costs (or {COLUMN: factor, ...}, summed)",
    "full_cost": "the column of seconds one full training costs (or {COLUMN: factor, ...}, summed)",
}


@dataclass(frozen=True)
class ArchColumns:
    """Where a row's architecture is: one ``column`` in ``format``, or one column per decision (``columns``:
    (decision path, column) pairs)."""

    column: str | None = None
    format: str = "json"
    columns: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.column,) if self.column is not None else tuple(c for _, c in self.columns)


@dataclass(frozen=True)
class TableDeclaration:
    """A checked declaration (see the module docstring); ``table`` is the data file's path (absolute, or as
    given), ``source`` where the declaration was read."""

    name: str
    table: str
    space_json: Any
    arch: ArchColumns
    proxy: str
    full: str
    proxy_cost: tuple[tuple[str, float], ...]
    full_cost: tuple[tuple[str, float], ...]
    test: tuple[tuple[str, str], ...] = ()
    baseline: Any = None
    proxy_epochs: int | None = None
    full_epochs: int | None = None
    #: Validation examples the full column's accuracy was measured on (stage 2's noise estimate); None: unknown.
    validation_examples: int | None = None
    #: More numeric columns of each architecture (``metrics:``), e.g. parameter count or FLOPs: objectives.
    metrics: tuple[str, ...] = ()
    provenance: str = ""
    title: str = ""
    source: str = ""
    bundled: bool = False
    #: True for the NAS-Bench-201 declaration assumed for a CSV/Parquet file that has none of its own.
    implied: bool = False

    def space(self) -> Any:
        """The declared :class:`raynas.space.SearchSpace` (named ``name``)."""
        return _build_space(json.dumps(self.space_json), self.name)

    @property
    def label(self) -> str:
        return self.title or self.name

    @property
    def candidate_name(self) -> str:
        """The name of the table's one proxy candidate (its proxy column)."""
        return f"{self.proxy_epochs}-epoch" if self.proxy_epochs else "proxy"

    def full_label(self, short: bool = False) -> str:
        if self.full_epochs:
            return f"{self.full_epochs}ep val" if short else f"{self.full_epochs}-epoch val acc"
        return "full val" if short else "full-training val acc"

    def test_column(self, variant: str) -> str | None:
        return dict(self.test).get(variant)

    def metric_columns(self) -> list[tuple[str, str]]:
        """(declaration field, column) of every numeric column trials read."""
        out = [("proxy", self.proxy), ("full", self.full)]
        out += [("proxy_cost", c) for c, _ in self.proxy_cost] + [("full_cost", c) for c, _ in self.full_cost]
        out += [(f"test.{v}", c) for v, c in self.test]
        out += [("metrics", c) for c in self.metrics]
        return out

    def with_table(self, path: str | Path) -> "TableDeclaration":
        """The same declaration over another data file (with the same columns)."""
        return replace(self, table=str(expand(path)), bundled=False)

    def error(self, field: str, value: Any, expected: str, fix: str | None = None) -> ConfigError:
        return ConfigError(field, value, expected, fix, source=None if self.implied else (self.source or None))


def _build_space(space_json: str, name: str) -> Any:
    from raynas.space import SearchSpace

    return SearchSpace.from_json({"name": name, "space": json.loads(space_json)})


def expand(path: str | Path) -> Path:
    """``path`` with ``~`` expanded (left as it is when there is no such home directory)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def is_declaration_file(ref: str | Path) -> bool:
    return str(ref).lower().endswith((".yaml", ".yml"))


def load_declaration(ref: str | Path | None = None) -> TableDeclaration:
    """The declaration of a table: None (the bundled NAS-Bench-201 one), a bundled name, a declaration YAML,
    or a CSV/Parquet file (its declaration from the Parquet metadata, else the NAS-Bench-201 columns)."""
    if ref is None:
        return bundled_declaration(DEFAULT_TABLE)
    if not isinstance(ref, (str, Path)) or not str(ref).strip():
        raise ConfigError("table", ref, "a bundled table name, a declaration YAML or a CSV/Parquet file",
                          f"bundled: {', '.join(BUNDLED_TABLES)}")
    text = str(ref)
    if text in BUNDLED_TABLES or text in TABLE_REGISTRY.registered:
        return table_declaration(text)
    path = expand(text)
    if is_declaration_file(path):
        if not path.is_file():
            raise ConfigError("table", text, "an existing declaration YAML file", "check the path")
        stat = path.stat()
        return _cached_file_declaration(str(path.resolve()), (stat.st_mtime_ns, stat.st_size))
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        declared = _parquet_declaration(path)
        if declared is not None:
            return declared
    if path.suffix.lower() not in (".csv", ".parquet", ".pq") and not path.exists() and "/" not in text:
        return table_declaration(text)
    return replace(bundled_declaration(DEFAULT_TABLE).with_table(path), implied=True)


@functools.lru_cache(maxsize=len(BUNDLED_TABLES))
def bundled_declaration(name: str) -> TableDeclaration:
    ref = resources.files("raynas.benchmarks") / "data" / BUNDLED_TABLES[name]
    data = _read_yaml(ref.read_text(encoding="utf-8"), f"bundled:{BUNDLED_TABLES[name]}")
    return parse_declaration(data, source=f"bundled:{BUNDLED_TABLES[name]}", base_dir=None)


def _check_table(name: str, value: object) -> None:
    if not (isinstance(value, (TableDeclaration, str, os.PathLike)) or callable(value)):
        raise ConfigError("table", name, "a benchmark table plug-in: a TableDeclaration, the path of its declaration "
                          "YAML (or of a CSV/Parquet file), or a function returning one",
                          f"it names a {type(value).__name__}")


#: Benchmark tables by name: the bundled ones (:data:`BUNDLED_TABLES`), registered ones and ``raynas.benchmarks``
#: entry points; each stands for a declaration (see the module docstring).
TABLE_REGISTRY: Registry[Any] = Registry(
    "benchmark table", group="raynas.benchmarks", check=_check_table,
    fix="Give a bundled name, a declaration YAML (.yaml) or a CSV/Parquet file, or install a package declaring a "
        "'raynas.benchmarks' entry point.",
    builtins={name: functools.partial(bundled_declaration, name) for name in BUNDLED_TABLES})


def table_declaration(name: str) -> TableDeclaration:
    """The declaration of the table :data:`TABLE_REGISTRY` knows as ``name`` (UnknownNameError naming the close
    names otherwise)."""
    if name in BUNDLED_TABLES:
        return bundled_declaration(name)
    value = TABLE_REGISTRY.get(name)
    if callable(value) and not isinstance(value, TableDeclaration):
        value = value()
    if isinstance(value, TableDeclaration):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = expand(value)
        if path.is_file():
            return load_declaration(path.resolve())
        raise ConfigError("table", name, f"an existing declaration or table file (looked for {path})",
                          "fix the path the plug-in gives")
    raise ConfigError("table", name, "a plug-in returning a TableDeclaration or the path of a declaration YAML",
                      f"it returned a {type(value).__name__}")


@functools.lru_cache(maxsize=16)
def _cached_file_declaration(path: str, stamp: tuple[int, int]) -> TableDeclaration:
    """A declaration file, read again when it changes (``stamp``: its modification time and size)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("table", path, "a readable UTF-8 YAML file", str(exc)) from None
    return parse_declaration(_read_yaml(text, path), source=path, base_dir=file.parent)


def _read_yaml(text: str, source: str) -> Any:
    return parse_yaml_text(text, source, "a valid YAML declaration")


def _parquet_declaration(path: Path) -> TableDeclaration | None:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - an unreadable file is reported when the table is read
        return None
    raw = metadata.get(PARQUET_KEY)
    if raw is None:
        return None
    source = f"{path} (Parquet metadata {PARQUET_KEY.decode()})"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(PARQUET_KEY.decode(), raw[:80], "a JSON declaration", _HELP, source=source) from None
    if isinstance(data, dict):
        data.setdefault("table", path.name)
    declared = parse_declaration(data, source=source, base_dir=path.parent)
    return replace(declared, table=str(path))


def parse_declaration(data: Any, *, source: str, base_dir: Path | None) -> TableDeclaration:
    """Check a declaration mapping (ConfigError naming the field, the value, what was expected and the fix);
    ``base_dir``: the folder relative table paths start from (None: a bundled declaration, its table bundled)."""
    def err(field: str, value: Any, expected: str, fix: str | None = None) -> ConfigError:
        return ConfigError(field, value, expected, fix, source=source)

    if not isinstance(data, Mapping):
        raise err("declaration", data, "a mapping of name, table, space, arch, proxy, full, proxy_cost, full_cost",
                  _HELP)
    known = REQUIRED_KEYS + OPTIONAL_KEYS
    for key in data:
        if key not in known:
            raise err(str(key), data[key], f"one of the declaration keys: {', '.join(known)}",
                      f"remove or rename the key{suggest(str(key), known)}")
    for key in REQUIRED_KEYS:
        if data.get(key) is None:
            raise err(key, None, _WHAT[key], f"add `{key}:` to the declaration ({_HELP})")
    name = _text(err, "name", data["name"])
    if not re.fullmatch(_NAME, name):
        raise err("name", name, "a name of letters, digits, '.', '_' and '-'", "e.g. name: my-bench")
    table = _text(err, "table", data["table"])
    bundled = base_dir is None
    if not bundled:
        path = expand(table)
        table = str(path if path.is_absolute() else (base_dir / path))
    if not isinstance(data["space"], Mapping):
        raise err("space", data["space"], _WHAT["space"], _HELP)
    try:
        space = _build_space(json.dumps(data["space"]), name)
    except (SpaceError, TypeError, ValueError) as exc:
        raise err("space", data["space"], "a search space in raynas's JSON form (SearchSpace.to_json()['space'])",
                  str(exc)) from None
    arch = _arch(err, data["arch"], space)
    declared = TableDeclaration(
        name=name, table=table, space_json=json.loads(json.dumps(data["space"])), arch=arch,
        proxy=_text(err, "proxy", data["proxy"]), full=_text(err, "full", data["full"]),
        proxy_cost=_cost(err, "proxy_cost", data["proxy_cost"]), full_cost=_cost(err, "full_cost", data["full_cost"]),
        test=_test(err, data.get("test")), baseline=data.get("baseline"),
        proxy_epochs=None, full_epochs=None,
        provenance=_text(err, "provenance", data["provenance"]) if data.get("provenance") is not None else "",
        title=_text(err, "title", data["title"]) if data.get("title") is not None else "",
        source=source, bundled=bundled)
    if data.get("epochs") is not None:
        proxy_epochs, full_epochs = _epochs(err, data["epochs"])
        declared = replace(declared, proxy_epochs=proxy_epochs, full_epochs=full_epochs)
    if data.get("validation_examples") is not None:
        examples = data["validation_examples"]
        if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
            raise err("validation_examples", examples, "a positive integer: the examples the full column's accuracy "
                      "was measured on", "e.g. validation_examples: 10000, or leave it out when unknown")
        declared = replace(declared, validation_examples=examples)
    if data.get("metrics") is not None:
        declared = replace(declared, metrics=_metrics(err, data["metrics"], declared))
    if declared.baseline is not None:
        try:
            space.encode(declared.baseline)
        except SpaceError as exc:
            raise err("baseline", declared.baseline, f"an architecture of the declared space {name!r}",
                      str(exc)) from None
    return declared


def _text(err: Any, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise err(field, value, _WHAT.get(field, "a non-empty string"), _HELP)
    return value


def _arch(err: Any, value: Any, space: Any) -> ArchColumns:
    if isinstance(value, str):
        return ArchColumns(column=_text(err, "arch", value))
    if not isinstance(value, Mapping):
        raise err("arch", value, _WHAT["arch"], _HELP)
    keys = ("column", "format", "columns")
    for key in value:
        if key not in keys:
            raise err(f"arch.{key}", value[key], "arch keys: column and format, or columns",
                      f"remove or rename the key{suggest(str(key), keys)}")
    if ("column" in value) == ("columns" in value):
        raise err("arch", dict(value), "either column (one column, with its format) or columns (one per decision)",
                  "e.g. arch: {column: arch, format: json} or arch: {columns: [depth, op]}")
    if "column" in value:
        fmt = value.get("format", "json")
        if fmt not in ARCH_FORMATS:
            raise err("arch.format", fmt, f"one of {', '.join(ARCH_FORMATS)}",
                      "json: the column holds each architecture as JSON; nasbench201: NAS-Bench-201 cell strings")
        return ArchColumns(column=_text(err, "arch.column", value["column"]), format=fmt)
    raw = value["columns"]
    paths = [d.path for d in space.decisions]
    if isinstance(raw, list) and all(isinstance(c, str) for c in raw):
        pairs = [(c, c) for c in raw]
    elif isinstance(raw, Mapping) and all(isinstance(k, str) and isinstance(c, str) for k, c in raw.items()):
        pairs = list(raw.items())
    else:
        raise err("arch.columns", raw, "a list of columns named as the decisions, or {DECISION PATH: COLUMN}",
                  f"the space's decisions: {', '.join(paths)}")
    if space.is_conditional:
        raise err("arch.columns", raw, "one architecture column for a space with conditional decisions",
                  "store each architecture as JSON in one column: arch: {column: NAME, format: json}")
    given = [p for p, _ in pairs]
    missing = [p for p in paths if p not in given]
    extra = [p for p in given if p not in paths]
    if missing or extra:
        detail = f"missing {missing}" if missing else ""
        if extra:
            detail += ("; " if detail else "") + f"not decisions of the space: {extra}{suggest(extra[0], paths)}"
        raise err("arch.columns", raw, f"one column per decision of the space: {', '.join(paths)}", detail)
    return ArchColumns(column=None, columns=tuple(pairs))


def _cost(err: Any, field: str, value: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(value, str):
        return ((_text(err, field, value), 1.0),)
    if isinstance(value, Mapping) and value:
        out = []
        for column, factor in value.items():
            if (not isinstance(column, str) or isinstance(factor, bool) or not isinstance(factor, (int, float))
                    or not math.isfinite(factor)):
                raise err(field, dict(value), "{COLUMN: factor, ...} with numeric factors (the columns are summed)",
                          "e.g. {train_sec_per_epoch: 12, eval_sec: 1}")
            out.append((column, float(factor)))
        return tuple(out)
    raise err(field, value, _WHAT[field], _HELP)


def _metrics(err: Any, value: Any, declared: TableDeclaration) -> tuple[str, ...]:
    example = "e.g. metrics: [params, flops]"
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and c.strip() for c in value):
        raise err("metrics", value, "a list of numeric columns (besides the accuracies and costs)", example)
    taken = {c: f for f, c in declared.metric_columns()} | {c: "arch" for c in declared.arch.names}
    for column in value:
        if column in taken:
            raise err("metrics", column, f"a column not declared elsewhere (it is the {taken[column]} column)",
                      "list only the table's other numeric columns")
    if len(set(value)) < len(value):
        raise err("metrics", value, "each column once", "remove the repeated names")
    return tuple(value)


def _test(err: Any, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (("full", _text(err, "test", value)),)
    if isinstance(value, Mapping) and value and all(k in ("proxy", "full") for k in value):
        return tuple((k, _text(err, f"test.{k}", c)) for k, c in value.items())
    raise err("test", value, "a column of full training's test accuracy, or {proxy: COLUMN, full: COLUMN}", _HELP)


def _epochs(err: Any, value: Any) -> tuple[int, int]:
    if not isinstance(value, Mapping) or set(value) != {"proxy", "full"}:
        raise err("epochs", value, "{proxy: N, full: M}: the epochs the proxy and full columns stand for",
                  "e.g. epochs: {proxy: 12, full: 200}, or leave it out")
    proxy, full = value["proxy"], value["full"]
    for field, number in (("epochs.proxy", proxy), ("epochs.full", full)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise err(field, number, "an integer >= 1")
    if proxy >= full:
        raise err("epochs.proxy", proxy, f"fewer epochs than full training ({full})")
    return proxy, full
