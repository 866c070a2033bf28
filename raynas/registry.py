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
    return sorted(BUILTIN_SPACES)


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_space(name: str) -> SearchSpace:
    """The registered search space called ``name``."""
    if name not in BUILTIN_SPACES:
        raise UnknownNameError("search space", name, BUILTIN_SPACES, "List them with `raynas space list`.")
    return _load(BUILTIN_SPACES[name])()
