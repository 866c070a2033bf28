"""Validation of controller options: one ConfigError naming the option, the value and what was expected."""

from __future__ import annotations

import math

from raynas.errors import ConfigError


def check_int(field: str, value: object, low: int) -> None:
    """A ConfigError for ``controller.<field>`` unless ``value`` is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"controller.{field}", value, f"an integer >= {low}")


def check_number(field: str, value: object, low: float, high: float, expected: str, *,
                 strict_low: bool = False) -> None:
    """A ConfigError for ``controller.<field>`` unless ``value`` is a finite number in [low, high] (or (low, high])."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if strict_low else v >= low) and v <= high
    if not ok:
        raise ConfigError(f"controller.{field}", value, expected)
