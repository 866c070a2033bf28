"""Controllers by name, and construction with validated options."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from raynas.controllers._base import Controller
from raynas.controllers._evolution import RegularizedEvolution
from raynas.controllers._grid import GridController
from raynas.controllers._policy_gradient import PolicyGradient
from raynas.controllers._random import RandomController
from raynas.controllers._surrogate import SurrogateSearch
from raynas.errors import ConfigError, UnknownNameError, suggest
from raynas.space import SearchSpace

CONTROLLERS: Mapping[str, type[Controller]] = {
    cls.name: cls
    for cls in (RandomController, GridController, RegularizedEvolution, PolicyGradient, SurrogateSearch)
}
#: The controller used when a config names none.
DEFAULT_CONTROLLER = "surrogate"
_COMMON = {"space", "seed", "max_trials"}


def controller_names() -> list[str]:
    """Built-in controllers and those installed packages declare (``raynas.controllers`` entry points)."""
    from raynas.plugins import plugin_names

    return plugin_names(CONTROLLERS, group="raynas.controllers")


def controller_class(name: str) -> type[Controller]:
    """The controller class ``name`` stands for (see :func:`_lookup`)."""
    return _lookup(name)


def controller_options(name: str) -> dict[str, Any]:
    """The options a controller accepts, with their defaults."""
    cls = _lookup(name)
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = vars(klass).get("__init__")
        if klass is object or init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind is param.KEYWORD_ONLY and param.name not in _COMMON:
                out[param.name] = None if param.default is param.empty else param.default
    return out


def make_controller(name: str, space: SearchSpace, *, seed: int = 0, max_trials: int | None = None,
                    options: Mapping[str, Any] | None = None) -> Controller:
    """Build a registered controller; unknown options are errors naming the closest valid option."""
    cls = _lookup(name)
    options = dict(options or {})
    known = controller_options(name)
    for key in options:
        if key not in known:
            raise ConfigError(f"controller.{key}", options[key], f"an option of controller {name!r}: "
                              f"{', '.join(sorted(known))}", f"remove or rename it{suggest(key, known)}")
    try:
        return cls(space, seed=seed, max_trials=max_trials, **options)
    except TypeError as exc:  # wrong value type deep inside
        raise ConfigError(f"controller ({name})", options, "options of the right types", str(exc)) from None


def _lookup(name: str) -> type[Controller]:
    """A built-in controller, a ``raynas.controllers`` entry point, or ``module:Class`` / ``./file.py:Class``."""
    from raynas.plugins import load_plugin

    if not isinstance(name, str):
        raise UnknownNameError("controller", str(name), CONTROLLERS, "Set `controller: {name: ...}` to one of them.")
    cls = load_plugin("controller", name, CONTROLLERS, group="raynas.controllers")
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise ConfigError("controller", name, "a subclass of raynas.controllers.Controller",
                          "implement propose/observe (see raynas/controllers/_base.py) in a Controller subclass")
    return cls
