"""Controllers by name (:data:`CONTROLLER_REGISTRY`), and construction with validated options."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from raynas.controllers._base import Controller, check_num_objectives
from raynas.controllers._evolution import RegularizedEvolution
from raynas.controllers._grid import GridController
from raynas.controllers._mo_surrogate import MultiObjectiveSurrogate
from raynas.controllers._nsga2 import NSGA2
from raynas.controllers._policy_gradient import PolicyGradient
from raynas.controllers._random import RandomController
from raynas.controllers._surrogate import SurrogateSearch
from raynas.errors import ConfigError, UnknownNameError, suggest
from raynas.plugins import Registry
from raynas.space import SearchSpace


def _check_controller(name: str, cls: object) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise ConfigError("controller", name, "a subclass of raynas.controllers.Controller",
                          "implement propose/observe (see raynas/controllers/_base.py) in a Controller subclass")


#: Controllers by name: the built-in ones, ``@CONTROLLER_REGISTRY.register("mine")`` classes, ``raynas.controllers``
#: entry points, and ``module:Class`` / ``./file.py:Class``.
CONTROLLER_REGISTRY: Registry[type[Controller]] = Registry(
    "controller", group="raynas.controllers", check=_check_controller,
    builtins={cls.name: cls
              for cls in (RandomController, GridController, RegularizedEvolution, PolicyGradient, SurrogateSearch,
                          NSGA2, MultiObjectiveSurrogate)})
#: The built-in controllers (name -> class).
CONTROLLERS: Mapping[str, type[Controller]] = CONTROLLER_REGISTRY.builtins
#: The controller used when a config names none.
DEFAULT_CONTROLLER = "surrogate"
_COMMON = {"space", "seed", "max_trials", "num_objectives"}


def controller_names() -> list[str]:
    """Built-in controllers, registered ones and those installed packages declare (``raynas.controllers`` entry
    points)."""
    return CONTROLLER_REGISTRY.names()


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
                    options: Mapping[str, Any] | None = None, num_objectives: int = 1) -> Controller:
    """Build a registered controller; unknown options are errors naming the closest valid option.

    ``num_objectives > 1`` needs a multi-objective controller (``nsga2``, ``mo-surrogate``): its rewards are then
    tuples of that many floats, all maximised; a single-objective controller is a ConfigError naming them.
    """
    cls = _lookup(name)
    check_num_objectives(cls, num_objectives)
    options = dict(options or {})
    known = controller_options(name)
    for key in options:
        if key not in known:
            raise ConfigError(f"controller.{key}", options[key], f"an option of controller {name!r}: "
                              f"{', '.join(sorted(known))}", f"remove or rename it{suggest(key, known)}")
    try:
        if cls.multi_objective and (num_objectives != 1 or _accepts(cls, "num_objectives")):
            return cls(space, seed=seed, max_trials=max_trials, num_objectives=num_objectives, **options)
        return cls(space, seed=seed, max_trials=max_trials, **options)
    except TypeError as exc:  # wrong value type deep inside
        raise ConfigError(f"controller ({name})", options, "options of the right types", str(exc)) from None


def _accepts(cls: type, keyword: str) -> bool:
    """Whether ``cls(...)`` takes ``keyword`` (a user's subclass may narrow its parent's signature)."""
    params = inspect.signature(cls).parameters.values()
    return any(p.name == keyword or p.kind is p.VAR_KEYWORD for p in params)


def _lookup(name: str) -> type[Controller]:
    """A controller class by name (see :data:`CONTROLLER_REGISTRY`)."""
    if not isinstance(name, str):
        raise UnknownNameError("controller", str(name), CONTROLLERS, "Set `controller: {name: ...}` to one of them.")
    return CONTROLLER_REGISTRY.get(name)
