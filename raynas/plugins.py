"""Plug-ins by name: a built-in name -> "module:Name" table, then entry points, then a ``module:Name`` string.

Controllers, datasets and target kinds are found this way, so users add their own without editing raynas:
declare an entry point in their package (``[project.entry-points."raynas.controllers"] mine = "my_pkg.ctl:Mine"``)
or write ``my_pkg.ctl:Mine`` (or ``./ctl.py:Mine``) where the config names one.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Mapping

from raynas.errors import UnknownNameError


def plugin_names(builtin: Mapping[str, Any], *, group: str) -> list[str]:
    """Built-in names and those of installed entry points of ``group``."""
    return sorted(set(builtin) | {ep.name for ep in entry_points(group=group)})


def load_plugin(kind: str, name: str, builtin: Mapping[str, Any], *, group: str,
                base_dir: str | Path | None = None) -> Any:
    """The object ``name`` stands for (UnknownNameError listing the known names when there is none)."""
    if name in builtin:
        value = builtin[name]
        if not isinstance(value, str):
            return value
        module, _, attr = value.partition(":")
        return getattr(importlib.import_module(module), attr)
    for point in entry_points(group=group):
        if point.name == name:
            return point.load()
    if isinstance(name, str) and ":" in name:
        from raynas.references import absolute_reference, load_reference

        return load_reference(kind, absolute_reference(kind, name, base_dir=base_dir))
    raise UnknownNameError(kind, str(name), plugin_names(builtin, group=group),
                           "Or give `module:Name` (or `./file.py:Name`), or install a package declaring a "
                           f"{group!r} entry point.")
