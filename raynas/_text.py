"""Small text formatting shared by progress lines and commands."""

from __future__ import annotations

import math
import sys
from typing import Any, Sequence, TextIO


def hms(seconds: float) -> str:
    """``H:MM:SS`` of a number of seconds."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], stream: TextIO | None = None) -> None:
    """A plain aligned table (no colour codes, so it reads fine in logs)."""
    text = [[_cell(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(headers)]
    out = stream or sys.stdout
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in text:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)
