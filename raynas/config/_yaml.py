"""Reading a YAML settings file (search config, workflow): every way it can be unreadable is one ConfigError naming
the file and the fix: not UTF-8 (a binary file), malformed, nested deeper than the YAML reader can follow, or
empty (no settings at all: blank, only comments, or ``null``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raynas._parse import parse_yaml_text
from raynas.errors import ConfigError

#: The complete files a user starts from, in the installed package's ``examples`` folder.
EXAMPLES = "nasbench201_dryrun.yaml: a search config; mnist1d_workflow.yaml: a workflow"


def examples_dir() -> Path:
    """The bundled examples folder of this installation (a checkout's ``raynas/examples`` or site-packages')."""
    return Path(__file__).resolve().parent.parent / "examples"


def empty_file_error(source: str, what: str = "a search config") -> ConfigError:
    """The error for a settings file with no settings in it (``raynas validate`` and the loaders use it)."""
    return ConfigError("FILE", "empty", f"{what} with settings; the file is empty (nothing but blank lines, comments "
                       "or null), so every setting would be a default",
                       f"start from an example in {examples_dir()} ({EXAMPLES}) and check the file with `raynas validate FILE`",
                       source=source)


def read_yaml_file(path: str | Path, *, what: str = "a search config", allow_empty: bool = False) -> Any:
    """The parsed content of a YAML settings file (see the module docstring); ``allow_empty``: None for an empty
    file instead of the error."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("YAML", "not UTF-8 text", f"a UTF-8 YAML file ({what})",
                          "is it a binary file? give the YAML file", source=source) from None
    data = parse_yaml_text(text, source)
    if data is None and not allow_empty:
        raise empty_file_error(source, what)
    return data
