"""Printing results as aligned text tables or JSON (``--format json``) for scripts."""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
from pathlib import Path
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


def raynas_step(*words: str) -> str:
    """A raynas command line that works as printed in a fresh shell: how raynas is called there
    (:func:`raynas._command.raynas_command`: ``raynas``, ``.venv/bin/raynas``, ...) and ``words``, which are shell text
    already (quote file names with :func:`experiment_words` or :func:`raynas._command.shell_path`)."""
    from raynas._command import raynas_command

    return " ".join([raynas_command(), *words])


def experiment_words(root: str | os.PathLike[str]) -> str:
    """How a printed command names the experiment in ``root``: its name when it lies in the default work directory
    under the current one, else its name and ``--workdir`` (shell-quoted)."""
    from raynas._command import shell_path
    from raynas.experiment import DEFAULT_WORKDIR

    path = Path(root).expanduser().resolve()
    name = shlex.quote(path.name)
    if path.parent == Path(DEFAULT_WORKDIR).resolve():
        return name
    return f"{name} --workdir {shell_path(path.parent)}"


def print_next(steps: Sequence[tuple[str, str]], stream: TextIO | None = None) -> None:
    """Print the next steps, one ``next: COMMAND  (what it does)`` line each (commands from :func:`raynas_step`)."""
    for command, what in steps:
        print(f"next: {command}  ({what})", file=stream or sys.stdout)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)
