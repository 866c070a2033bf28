"""Declarative search-space nodes: what a user writes to describe a space.

A space is any nesting of dicts and lists whose leaves are plain JSON values (fixed) or decisions:
``one_of`` (categorical; options may themselves be spaces, which makes a conditional sub-space),
``sublist_of`` (choose k of n distinct options, kept in option order), ``int_range`` and ``float_range``
(quantized to a finite grid so that every space has an exact, integer size).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from raynas.errors import SpaceError


class Node:
    """Base class of every decision node."""


@dataclass(frozen=True)
class OneOf(Node):
    """Pick one of ``options``. An option that contains decisions is a conditional sub-space."""

    options: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.options) == 0:
            raise SpaceError("one_of() needs at least one option")
        constants = [_canonical_json(o) for o in self.options if not contains_decision(o)]
        if len(set(constants)) != len(constants):
            raise SpaceError(f"one_of() options must be distinct, got {list(self.options)!r}")


@dataclass(frozen=True)
class SublistOf(Node):
    """Choose between ``min_k`` and ``max_k`` distinct options; the chosen list keeps the options' order."""

    options: tuple[Any, ...]
    min_k: int
    max_k: int

    def __post_init__(self) -> None:
        n = len(self.options)
        if n == 0:
            raise SpaceError("sublist_of() needs at least one option")
        if any(contains_decision(o) for o in self.options):
            raise SpaceError("sublist_of() options must be plain values, not spaces")
        keys = [_canonical_json(o) for o in self.options]
        if len(set(keys)) != n:
            raise SpaceError(f"sublist_of() options must be distinct, got {list(self.options)!r}")
        if not (0 <= self.min_k <= self.max_k <= n):
            raise SpaceError(
                f"sublist_of(): need 0 <= min_k <= max_k <= {n} (number of options), "
                f"got min_k={self.min_k}, max_k={self.max_k}"
            )


@dataclass(frozen=True)
class IntRange(Node):
    """Integers ``low, low+step, ..., <= high`` (both ends inclusive)."""

    low: int
    high: int
    step: int = 1

    def __post_init__(self) -> None:
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpaceError(f"int_range(): {name} must be an int, got {value!r}")
        if self.step < 1 or self.high < self.low:
            raise SpaceError(
                f"int_range(): need low <= high and step >= 1, got low={self.low}, high={self.high}, step={self.step}"
            )


@dataclass(frozen=True)
class FloatRange(Node):
    """``num`` floats from ``low`` to ``high`` inclusive, evenly spaced (or geometrically with ``log=True``)."""

    low: float
    high: float
    num: int
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high < self.low:
            raise SpaceError(f"float_range(): need finite low <= high, got low={self.low}, high={self.high}")
        if isinstance(self.num, bool) or not isinstance(self.num, int) or self.num < 1:
            raise SpaceError(f"float_range(): num must be an int >= 1, got {self.num!r}")
        if self.num == 1 and self.high != self.low:
            raise SpaceError("float_range(): num=1 needs low == high")
        if self.log and self.low <= 0:
            raise SpaceError(f"float_range(log=True): low must be > 0, got {self.low}")

    def values(self) -> list[float]:
        """The grid of values, rounded to 12 significant digits so they survive a JSON round trip."""
        if self.num == 1:
            return [float(self.low)]
        out = []
        for i in range(self.num):
            t = i / (self.num - 1)
            if self.log:
                v = math.exp(math.log(self.low) + t * (math.log(self.high) - math.log(self.low)))
            else:
                v = self.low + t * (self.high - self.low)
            out.append(float(f"{v:.12g}"))
        return out


def one_of(*options: Any) -> OneOf:
    """Categorical decision. ``one_of(1, 2, 3)`` or ``one_of([1, 2, 3])``; options may be sub-spaces."""
    if len(options) == 1 and isinstance(options[0], (list, tuple)):
        options = tuple(options[0])
    return OneOf(tuple(options))


def sublist_of(options: Sequence[Any], k: int | None = None, *, min_k: int | None = None,
               max_k: int | None = None) -> SublistOf:
    """Choose ``k`` distinct options (or between ``min_k`` and ``max_k``), returned in option order."""
    if k is not None:
        if min_k is not None or max_k is not None:
            raise SpaceError("sublist_of(): give either k or min_k/max_k, not both")
        min_k = max_k = k
    n = len(options)
    return SublistOf(tuple(options), 1 if min_k is None else min_k, n if max_k is None else max_k)


def int_range(low: int, high: int, step: int = 1) -> IntRange:
    """Integer decision from ``low`` to ``high`` inclusive in steps of ``step``."""
    return IntRange(low, high, step)


_FLOAT_RANGE_POINTS = ("float_range() needs exactly one of num= or step= (floats are quantized so the space has an "
                       "exact size), e.g. float_range(0.0, 1.0, num=11)")


def float_range(low: float, high: float, *, num: int | None = None, step: float | None = None,
                log: bool = False) -> FloatRange:
    """Float decision quantized to ``num`` points (or every ``step``) from ``low`` to ``high`` inclusive."""
    if num is None:
        if step is None:
            raise SpaceError(_FLOAT_RANGE_POINTS)
        num = _points_of_step(low, high, step, log=log)
    elif step is not None:
        raise SpaceError(_FLOAT_RANGE_POINTS)
    return FloatRange(float(low), float(high), int(num), log)


def _points_of_step(low: float, high: float, step: float, *, log: bool) -> int:
    """How many points ``float_range(low, high, step=step)`` has (an error unless step divides the range)."""
    if log:
        raise SpaceError("float_range(): step= cannot be combined with log=True; use num=")
    if step <= 0:
        raise SpaceError(f"float_range(): step must be > 0, got {step}")
    num = int(round((high - low) / step)) + 1
    if abs(low + (num - 1) * step - high) > 1e-9 * max(1.0, abs(high)):
        raise SpaceError(f"float_range(): (high - low) = {high - low} is not a multiple of step={step}")
    return num


#: The deepest nesting of dicts and lists the space language accepts (a space, a fixed part, an architecture): far
#: more than any real space needs, and far less than Python's recursion limit, which deeper values would hit.
MAX_DEPTH = 100


def nesting_depth(value: Any, *, limit: int = MAX_DEPTH) -> int:
    """How many levels of dicts, lists and tuples ``value`` nests (a leaf: 0), counted without recursion and
    stopping once past ``limit`` (then ``limit + 1``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def check_depth(value: Any, what: str) -> None:
    """SpaceError when ``value`` nests deeper than :data:`MAX_DEPTH` (see :func:`nesting_depth`)."""
    if nesting_depth(value) > MAX_DEPTH:
        raise SpaceError(f"{what} is nested more than {MAX_DEPTH} levels deep (dicts and lists): flatten it")


def contains_decision(value: Any) -> bool:
    """True when ``value`` is a decision node or a dict/list containing one."""
    if isinstance(value, Node):
        return True
    if isinstance(value, dict):
        return any(contains_decision(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_decision(v) for v in value)
    return False


def _canonical_json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise SpaceError(f"space values must be JSON-serialisable, got {value!r} ({exc})") from None
