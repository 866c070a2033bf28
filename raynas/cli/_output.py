"""Printing results as aligned text tables or JSON (``--format json``) for scripts."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Sequence, TextIO

from raynas._json import json_safe


def add_format_flag(parser: Any, choices: Sequence[str] = ("text", "json")) -> None:
    parser.add_argument("--format", choices=list(choices), default=choices[0],
                        help=f"output format (default {choices[0]}; json for scripts)")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(json_safe(data), indent=2, sort_keys=False, default=str), file=stream or sys.stdout)


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
