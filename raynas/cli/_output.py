"""Printing results as aligned text tables or JSON (``--format json``) for scripts."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence, TextIO

from raynas._json import json_safe
from raynas._text import print_table  # noqa: F401 - the CLI's table printer lives with the other text helpers


def add_format_flag(parser: Any, choices: Sequence[str] = ("text", "json")) -> None:
    parser.add_argument("--format", choices=list(choices), default=choices[0],
                        help=f"output format (default {choices[0]}; json for scripts)")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(json_safe(data), indent=2, sort_keys=False, default=str), file=stream or sys.stdout)


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
