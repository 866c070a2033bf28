"""Variants: how much of full training a task variant (proxy, full, a proxy candidate) runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from raynas._parse import as_float, as_int, as_mapping, reject_unknown
from raynas.errors import ConfigError

VARIANTS = ("proxy", "full")


@dataclass(frozen=True)
class Variant:
    """How much of the full training a variant runs: epochs, data share and model/input scale."""

    epochs: int
    data_fraction: float = 1.0
    width_mult: float = 1.0
    depth_mult: float = 1.0
    resolution_mult: float = 1.0
    #: Keys the user defines for a user trainer (e.g. ``steps``, ``image_size``, ``freeze_backbone``): passed to the
    #: trainer in its context, varied by proxy candidates, never interpreted by raynas.
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        as_int("epochs", self.epochs, minimum=1)
        object.__setattr__(self, "settings", check_user_settings("variant", self.settings))
        for name in ("data_fraction", "width_mult", "depth_mult", "resolution_mult"):
            value = as_float(name, getattr(self, name))
            if not 0 < value <= (1.0 if name == "data_fraction" else 8.0):
                raise ConfigError(name, value, "a positive scale (data_fraction at most 1)")

    def larger_than(self, other: "Variant") -> list[str]:
        """The built-in settings above ``other``'s (user-defined settings mean nothing to raynas: not compared)."""
        return [name for name in BUILTIN_VARIANT_KEYS if getattr(self, name) > getattr(other, name)]

    def to_dict(self) -> dict[str, Any]:
        """The built-in settings and the user's, as one flat mapping (what a user trainer sees)."""
        return {**{name: getattr(self, name) for name in BUILTIN_VARIANT_KEYS}, **dict(self.settings)}


#: The variant settings raynas itself interprets (the built-in trainer's knobs).
BUILTIN_VARIANT_KEYS = ("epochs", "data_fraction", "width_mult", "depth_mult", "resolution_mult")


def check_user_settings(where: str, settings: Any) -> dict[str, Any]:
    """User-defined variant settings: a mapping of names to JSON-like values (numbers, strings, booleans, lists)."""
    settings = dict(as_mapping(f"{where}.settings", settings))
    for key, value in settings.items():
        if key in BUILTIN_VARIANT_KEYS:
            raise ConfigError(f"{where}.{key}", value, "a user-defined key (not a built-in variant setting)",
                              f"set {key} directly, not under settings")
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{where}.{key}", value, "a key that is a plain name (letters, digits, _)")
        if not isinstance(value, (int, float, str, bool, list, type(None))):
            raise ConfigError(f"{where}.{key}", value, "a number, string, boolean or list",
                              "variant settings are passed to your trainer as they are; keep them plain values")
    return settings


def variant_from_dict(where: str, value: Any, *, user_keys: bool) -> Variant:
    """A variant from its YAML mapping: built-in settings, plus user-defined keys when a user trainer runs it."""
    value = dict(as_mapping(where, value))
    if "epochs" not in value:
        raise ConfigError(f"{where}.epochs", None, "the number of training epochs", f"add `epochs:` to {where}")
    builtin = {k: v for k, v in value.items() if k in BUILTIN_VARIANT_KEYS}
    extra = {k: v for k, v in value.items() if k not in BUILTIN_VARIANT_KEYS}
    if extra and not user_keys:
        reject_unknown(extra, list(BUILTIN_VARIANT_KEYS), section=where)
    if "settings" in extra:
        raise ConfigError(f"{where}.settings", extra["settings"], "user-defined keys directly in the variant",
                          f"write them beside epochs, e.g. {where}: {{epochs: 2, steps: 100}}")
    try:
        return Variant(**builtin, settings=extra)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc.field}".replace(f"{where}.variant.", f"{where}."), exc.value, exc.expected,
                          exc.fix) from None
