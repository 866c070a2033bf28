"""Named search spaces and the evaluators that run their trials.

Names map to ``"module:function"`` strings, so looking a name up imports only what that space needs.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from raynas.errors import UnknownNameError
from raynas.space import SearchSpace

#: Built-in spaces: name -> factory returning a SearchSpace.
BUILTIN_SPACES: Mapping[str, str] = {
    "nasbench201": "raynas.benchmarks._nasbench201:nasbench201_space",
}
#: Spaces whose trials are table look-ups (configured by the ``benchmark:`` config section).
TABULAR_SPACES = frozenset({"nasbench201"})


def space_names() -> list[str]:
    """Built-in spaces and the model families found in ``search_spaces/`` folders."""
    from raynas.families import discover_families

    return sorted(set(BUILTIN_SPACES) | set(discover_families()))


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_space(name: str) -> SearchSpace:
    """The registered search space called ``name`` (a built-in space or a model family's space)."""
    if name in BUILTIN_SPACES:
        return _load(BUILTIN_SPACES[name])()
    from raynas.families import discover_families, load_family

    if name in discover_families():
        return load_family(name).space
    raise UnknownNameError("search space", name, space_names(), "List them with `raynas space list`.")
