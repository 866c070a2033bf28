"""Dataset kinds by name: what a task's ``dataset:`` may say.

``dataset:`` is a bundled name (``digits``, ``cifar10`` with the task's ``data_dir``, ``mnist1d``) or a mapping with
``kind:`` and that kind's options (``{kind: image_folder, path: ./images, image_size: 32}``). A kind is

* a built-in one: a name in :data:`DATASET_KINDS`, mapped to the ``"module:function"`` of its loader and imported only
  when a task uses it (one small module per kind);
* a loader registered in this process (``@DATASET_REGISTRY.register("my_kind")`` on the function);
* a plug-in registered by an installed package under the entry-point group ``raynas.datasets``
  (``[project.entry-points."raynas.datasets"] my_kind = "my_pkg.data:load"``);
* or a loader given directly as ``package.module:function`` or ``./file.py:function``.

A loader is ``load(spec: DatasetSpec) -> DatasetSource`` (the interface in :mod:`raynas.data._source`). Its module may
define ``OPTIONS`` (option name -> description) and ``REQUIRED`` (names) so that unknown or missing options are
reported when the task is loaded, and ``validate(spec)`` for cheaper checks than a load (paths exist, headers).
The ``callable`` kind is the short way for a function returning two torch Datasets.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

from raynas.data._source import DatasetSource, DatasetSpec
from raynas.errors import ConfigError, UnknownNameError, suggest
from raynas.plugins import Registry

ENTRY_POINT_GROUP = "raynas.datasets"


def _check_loader(kind: str, loader: object) -> None:
    if not callable(loader):
        raise ConfigError("dataset.kind", kind, "a loader function load(spec) -> DatasetSource",
                          f"it names a {type(loader).__name__}")


#: Dataset kinds by name -> loader; built-in kinds are "module:function" strings imported on first use.
DATASET_REGISTRY: Registry[Callable[[DatasetSpec], DatasetSource]] = Registry(
    "dataset kind", group=ENTRY_POINT_GROUP, check=_check_loader, builtins={
        "digits": "raynas.data._digits:load",
        "cifar10": "raynas.data._cifar10:load",
        "mnist1d": "raynas.data._mnist1d:load",
        "image_folder": "raynas.data._image_folder:load",
        "arrays": "raynas.data._arrays:load",
        "table": "raynas.data._table:load",
        "callable": "raynas.data._callable:load",
    })
#: Built-in kinds: name -> "module:function" of the loader (imported on first use).
DATASET_KINDS: Mapping[str, str] = DATASET_REGISTRY.builtins
#: Kinds a task may name with a plain string (they need no options).
DATASETS = ("digits", "cifar10", "mnist1d")


def dataset_kinds() -> list[str]:
    """Every known kind: the built-in ones, registered ones and those installed packages declare (entry points)."""
    return DATASET_REGISTRY.names()


def _unknown(field: str, kind: Any) -> ConfigError:
    known = dataset_kinds()
    return ConfigError(field, kind,
                       f"a known dataset kind ({', '.join(known)}) or a loader 'package.module:function'",
                       f"use one of them{suggest(str(kind), known)}; bundled names ({', '.join(DATASETS)}) may be "
                       "given alone, other kinds as a mapping: `dataset: {kind: image_folder, path: ./images}`")


def _loader(spec: DatasetSpec, field: str = "dataset.kind") -> Callable[[DatasetSpec], DatasetSource]:
    """The kind's loader: built-in, then entry points, then a ``module:function`` (``./file.py:function``)."""
    try:
        return DATASET_REGISTRY.get(spec.kind, base_dir=spec.base_dir, field=field)
    except UnknownNameError:
        raise _unknown(field, spec.kind) from None


def _module_of(function: Any) -> ModuleType | None:
    import sys

    return sys.modules.get(getattr(function, "__module__", "") or "")


def dataset_spec(value: Any, *, base_dir: str | Path | None = None, data_dir: str | None = None) -> DatasetSpec:
    """A task's ``dataset:`` value (a name, a loader reference or a mapping with ``kind``) as a DatasetSpec, checked
    without loading any data: the kind is known, its options are known and complete, its paths exist."""
    if isinstance(value, DatasetSpec):
        return value
    base = None if base_dir is None else str(base_dir)
    if isinstance(value, str) and value.strip():
        spec = DatasetSpec(value.strip(), {}, base, data_dir)
    elif isinstance(value, Mapping):
        options = dict(value)
        if "kind" not in options:
            raise ConfigError("dataset", value, "a mapping with `kind:` and that kind's options",
                              f"add `kind:` (one of {', '.join(dataset_kinds())})")
        kind = options.pop("kind")
        if not isinstance(kind, str) or not kind.strip():
            raise _unknown("dataset.kind", kind)
        bad = [k for k in options if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"dataset.{bad[0]}", options[bad[0]], "options named by strings")
        spec = DatasetSpec(kind.strip(), options, base, data_dir)
    else:
        raise ConfigError("dataset", value, f"a dataset name ({', '.join(DATASETS)}) or a mapping with `kind:` "
                          f"(one of {', '.join(dataset_kinds())}) and its options")
    loader = _loader(spec, "dataset" if isinstance(value, str) else "dataset.kind")
    module = _module_of(loader)
    known = getattr(module, "OPTIONS", None)
    if known is not None:
        from raynas._parse import reject_unknown

        reject_unknown(spec.options, list(known), section="dataset")
        for option in getattr(module, "REQUIRED", ()):
            if option not in spec.options:
                raise ConfigError(spec.field(option), None, f"{known[option]} (required by kind {spec.kind})",
                                  f"add `{option}:` to the task's dataset")
    validate = getattr(module, "validate", None)
    if validate is not None:
        validate(spec)
    return spec


def load_dataset(name: Any, *, data_dir: str | Path | None = None, base_dir: str | Path | None = None) -> DatasetSource:
    """Load a dataset: a name (``digits``, ``cifar10`` with ``data_dir``, ``mnist1d``), a mapping with ``kind``, or a
    DatasetSpec. Relative paths resolve against ``base_dir`` (a task file's folder)."""
    spec = dataset_spec(name, base_dir=base_dir, data_dir=None if data_dir is None else str(data_dir))
    data = _loader(spec)(spec)
    if not isinstance(data, DatasetSource):
        raise ConfigError("dataset.kind", spec.kind, "a loader returning a dataset source (raynas.data.DatasetSource)",
                          f"it returned {type(data).__name__}")
    return data

