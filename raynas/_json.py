"""JSON that other tools can read: non-finite floats become null (JSON has no NaN)."""

from __future__ import annotations

import math
from typing import Any, Mapping


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/inf float replaced by None and mapping keys made strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
