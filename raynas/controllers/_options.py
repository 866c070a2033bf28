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


def check_surrogate_options(*, warmup_trials: object, parent_pool: object, num_candidates: object,
                            max_mutations: object, exploration: object, ridge: object, random_fraction: object,
                            reward_transform: object, derived_exploration: bool = False) -> None:
    """The options ``surrogate`` and ``mo-surrogate`` share; ``derived_exploration``: ``exploration`` may be None
    (the controller derives it)."""
    check_int("warmup_trials", warmup_trials, 1)
    check_int("parent_pool", parent_pool, 1)
    check_int("num_candidates", num_candidates, 1)
    check_int("max_mutations", max_mutations, 1)
    if not (derived_exploration and exploration is None):
        check_number("exploration", exploration, 0.0, math.inf, "a finite number >= 0")
    check_number("ridge", ridge, 0.0, math.inf, "a finite number > 0", strict_low=True)
    check_number("random_fraction", random_fraction, 0.0, 1.0, "a number between 0 and 1")
    if reward_transform not in ("rank", "none"):
        raise ConfigError("controller.reward_transform", reward_transform, "'rank' or 'none'",
                          "use 'rank' (robust to outliers and to the reward's scale) or 'none' (raw rewards)")
