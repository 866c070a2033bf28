"""Plug-ins by name: one :class:`Registry` type for controllers, schedulers, dataset kinds, benchmark tables and
target kinds, so users add their own without editing raynas.

A registry resolves a name, in this order, to

1. a built-in: a name -> ``"module:attr"`` table, imported on first use (or the object itself);
2. a plug-in registered in this process with the :meth:`Registry.register` decorator;
3. an entry point an installed package declares in the registry's group
   (``[project.entry-points."raynas.controllers"] mine = "my_pkg.ctl:Mine"``);
4. a ``module:attr`` (or ``./file.py:attr``, relative to the folder of the config naming it) reference.

An unknown name is an :class:`~raynas.errors.UnknownNameError` naming the closest known name and the fix.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Generic, Mapping, TypeVar, overload

from raynas.errors import ConfigError, UnknownNameError

T = TypeVar("T")
_DEFAULT_FIX = "Or give `module:Name` (or `./file.py:Name`), or install a package declaring a {group!r} entry point."


class Registry(Generic[T]):
    """Names -> plug-ins of one kind (see the module docstring for the order names are looked up in).

    ``kind`` is the word errors use ("controller"); ``group`` the entry-point group ("raynas.controllers");
    ``builtins`` maps a name to ``"module:attr"`` (imported by :meth:`get`, never before) or to the object;
    ``check(name, obj)`` raises when a resolved object is not of the right sort (e.g. not a Controller subclass);
    ``fix`` ends the unknown-name error (``{group}`` is replaced by the group).
    """

    def __init__(self, kind: str, *, group: str, builtins: Mapping[str, Any] | None = None,
                 check: Callable[[str, Any], None] | None = None, fix: str = _DEFAULT_FIX) -> None:
        self.kind, self.group = kind, group
        self._builtins: dict[str, Any] = dict(builtins or {})
        self._registered: dict[str, Any] = {}
        self._check = check
        self.fix = fix.replace("{group!r}", repr(group)).replace("{group}", group)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, builtins={sorted(self._builtins)})"

    @property
    def builtins(self) -> Mapping[str, Any]:
        """The built-in table as given (read-only): name -> ``"module:attr"`` or the object."""
        return MappingProxyType(self._builtins)

    @property
    def registered(self) -> Mapping[str, Any]:
        """What :meth:`register` added in this process (read-only)."""
        return MappingProxyType(self._registered)

    # --- adding -------------------------------------------------------------------------------------------
    @overload
    def register(self, name: str | None = None) -> Callable[[Any], Any]: ...

    @overload
    def register(self, name: str | None, obj: Any, *, replace: bool = False) -> Any: ...

    def register(self, name: str | None = None, obj: Any = None, *, replace: bool = False) -> Any:
        """Add a plug-in under ``name``: as a decorator (``@registry.register("mine")``; without a name, the
        object's ``name`` attribute or ``__name__``) or called with the object (or a ``"module:attr"`` string).
        Returns the object. A built-in name, or a registered one without ``replace=True``, is refused."""
        if obj is None:
            return lambda target: self.register(name, target, replace=replace)
        if name is None:
            name = getattr(obj, "name", None) if isinstance(getattr(obj, "name", None), str) else None
            name = name or getattr(obj, "__name__", None)
        if not isinstance(name, str) or not name.strip() or ":" in name:
            raise ConfigError(f"{self.kind} name", name, "a non-empty name without ':'",
                              "pass the name: @register('my_name')")
        if name in self._builtins or (name in self._registered and not replace):
            what = "a built-in" if name in self._builtins else "already registered"
            raise ConfigError(f"{self.kind} name", name, f"a name not taken ({name!r} is {what})",
                              "pick another name" + ("" if name in self._builtins else ", or pass replace=True"))
        if self._check is not None and not isinstance(obj, str):
            self._check(name, obj)
        self._registered[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove a name :meth:`register` added (built-ins and entry points stay)."""
        if name not in self._registered:
            raise UnknownNameError(f"registered {self.kind}", name, self._registered)
        del self._registered[name]

    # --- finding ------------------------------------------------------------------------------------------
    def _entry_points(self) -> list[EntryPoint]:
        return list(entry_points(group=self.group))

    def names(self) -> list[str]:
        """Built-in, registered and installed (entry point) names, sorted."""
        return sorted(set(self._builtins) | set(self._registered) | {ep.name for ep in self._entry_points()})

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is a built-in, registered or entry-point name (imports nothing)."""
        if not isinstance(name, str):
            return False
        return name in self._builtins or name in self._registered or any(
            ep.name == name for ep in self._entry_points())

    def unknown(self, name: Any, fix: str | None = None) -> UnknownNameError:
        """The error for a name that stands for nothing (the closest known name, and ``fix`` or the default)."""
        return UnknownNameError(self.kind, str(name), self.names(), self.fix if fix is None else fix)

    def get(self, name: str, *, base_dir: str | Path | None = None, field: str | None = None) -> T:
        """The plug-in ``name`` stands for, checked. ``base_dir``: where ``./file.py:attr`` starts (the folder of
        the config naming it); ``field``: the config field named in errors (default: the kind)."""
        obj = self._find(name, base_dir=base_dir, field=field or self.kind)
        if self._check is not None:
            self._check(name, obj)
        return obj

    def _find(self, name: Any, *, base_dir: str | Path | None, field: str) -> Any:
        if not isinstance(name, str) or not name:
            raise self.unknown(name)
        for table in (self._builtins, self._registered):
            if name in table:
                return _resolve(table[name], name, field)
        for point in self._entry_points():
            if point.name == name:
                try:
                    return point.load()
                except Exception as exc:  # noqa: BLE001 - any failure of the plug-in's import is reported
                    raise ConfigError(field, name, f"an importable {self.group!r} entry point ({point.value})",
                                      f"loading it raised {type(exc).__name__}: {exc}") from None
        if ":" in name:
            from raynas.references import absolute_reference, load_reference

            return load_reference(field, absolute_reference(field, name, base_dir=base_dir))
        raise self.unknown(name)


def _resolve(value: Any, name: str, field: str) -> Any:
    """A table value: ``"module:attr"`` imported now, anything else as it is."""
    if not isinstance(value, str):
        return value
    module, _, attr = value.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(field, name, f"an importable {value}",
                          f"{type(exc).__name__}: {exc}; install what it needs") from None


def plugin_names(builtin: Mapping[str, Any], *, group: str) -> list[str]:
    """Built-in names and those of installed entry points of ``group`` (see :meth:`Registry.names`)."""
    return Registry("plug-in", group=group, builtins=builtin).names()


def load_plugin(kind: str, name: str, builtin: Mapping[str, Any], *, group: str,
                base_dir: str | Path | None = None) -> Any:
    """The object ``name`` stands for, with no registry at hand (see :meth:`Registry.get`)."""
    return Registry(kind, group=group, builtins=builtin).get(name, base_dir=base_dir)


__all__ = ["Registry", "load_plugin", "plugin_names"]
