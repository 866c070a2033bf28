"""Small validators that turn raw config values into typed ones, raising ConfigError that names the field."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping

from raynas.errors import ConfigError, suggest

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def reject_unknown(data: Mapping[str, Any], known: Iterable[str], *, section: str = "", source: str | None = None) -> None:
    known = list(known)
    for key in data:
        if key not in known:
            field = f"{section}.{key}" if section else str(key)
            raise ConfigError(field, data[key], f"one of the known keys: {', '.join(known)}",
                              f"remove or rename the key{suggest(str(key), known)}", source=source)


def as_int(field: str, value: Any, *, minimum: int | None = None, source: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(field, value, "an integer", source=source)
    value = int(value)
    if minimum is not None and value < minimum:
        raise ConfigError(field, value, f"an integer >= {minimum}", source=source)
    return value


def as_float(field: str, value: Any, *, minimum: float | None = None, source: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(field, value, "a finite number", source=source)
    if minimum is not None and value < minimum:
        raise ConfigError(field, value, f"a number >= {minimum}", source=source)
    return float(value)


def as_str(field: str, value: Any, *, source: str | None = None, pattern: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(field, value, "a non-empty string", source=source)
    if pattern and not re.fullmatch(pattern, value):
        raise ConfigError(field, value, f"a string matching {pattern}", "use letters, digits, '.', '_' and '-'",
                          source=source)
    return value


def as_bool(field: str, value: Any, *, source: str | None = None) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, value, "true or false", source=source)
    return value


def as_mapping(field: str, value: Any, *, source: str | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(field, value, "a mapping with string keys", source=source)
    return dict(value)


def as_duration(field: str, value: Any, *, source: str | None = None) -> float:
    """Seconds from a number or a string like '90s', '30m', '2h', '14d', '1w'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ConfigError(field, value, "a duration: seconds, or a string like '30m', '2h', '14d'", source=source)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(field, value, "a positive duration", source=source)
    return seconds


def parse_yaml_text(text: str, source: str, what: str = "valid YAML") -> Any:
    """``yaml.safe_load(text)``; malformed or too deeply nested YAML is a ConfigError naming ``source`` (``what``: what
    the error says was expected)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("YAML", f"malformed{where}", what, f"{problem}", source=source) from None
    except RecursionError:
        raise ConfigError("YAML", "nested too deeply for the YAML reader", "settings nested a few levels deep",
                          "a config nests a few levels (fixed: parts of a space, sections): flatten the file",
                          source=source) from None
