"""Where model families (``search_spaces/``) and tasks (``proxy_tasks/``) are found, checked out or installed.

A reference is either a path or a name. Paths (``./my_space.py``, ``tasks/t.yaml``, ``/abs/t.yaml``) are taken
as given; a relative one is resolved against the folder of the config file that names it (the current
directory when it comes from the command line or has no file). Names are looked up, first match wins, in:

1. ``./search_spaces`` or ``./proxy_tasks`` in the current directory;
2. the same folder beside the config file that names it (for a family named by a task file that sits in a
   ``proxy_tasks/`` folder, also the ``search_spaces/`` beside that folder: the usual project layout);
3. the families and tasks bundled with raynas (package data ``raynas.search_spaces`` and
   ``raynas.proxy_tasks``, which a source checkout maps to its top-level folders).

Everything found is returned as an absolute path, so that Ray workers (whose current directory differs) get
what the driver found.
"""

from __future__ import annotations

import os
from pathlib import Path

FAMILY_FOLDER = "search_spaces"
TASK_FOLDER = "proxy_tasks"


def is_path(ref: str, suffixes: tuple[str, ...]) -> bool:
    """Whether ``ref`` is a path (it has one of ``suffixes``, a folder part, or starts with ``~``)."""
    return ref.endswith(suffixes) or "/" in ref or os.sep in ref or ref.startswith("~")


def base_dir(relative_to: str | os.PathLike | None) -> Path | None:
    """The folder relative references are resolved against: the folder of the config file ``relative_to``
    (or ``relative_to`` itself when it is a folder); None when there is no file."""
    if relative_to is None or str(relative_to).startswith("bundled:"):
        return None
    path = Path(relative_to).expanduser()
    return (path if path.is_dir() else path.parent).resolve()


def explicit_path(ref: str, relative_to: str | os.PathLike | None) -> Path:
    """``ref`` as an absolute path: relative to the folder of ``relative_to`` (the current directory if None)."""
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = (base_dir(relative_to) or Path.cwd()) / path
    return path.resolve()


def not_found_fix(ref: str, relative_to: str | os.PathLike | None) -> str:
    """The fix for a missing explicit path: where it was looked for (and a copy in the current directory)."""
    base = base_dir(relative_to)
    if base is None or Path(ref).expanduser().is_absolute():
        return "check the path"
    fix = f"a relative path is resolved against the folder of {relative_to} ({base}), not the current directory"
    if (Path.cwd() / ref).exists() and Path.cwd().resolve() != base:
        fix += f"; {(Path.cwd() / ref).resolve()} exists: give that absolute path"
    return fix


def bundled_dir(folder: str) -> Path | None:
    """The folder of families or tasks installed with raynas (None when raynas is neither installed with it nor
    run from a source checkout)."""
    import importlib.util
    from importlib import resources

    try:
        found = importlib.util.find_spec(f"raynas.{folder}") is not None
    except ImportError:  # pragma: no cover - only when raynas itself is broken
        found = False
    if found:
        ref = resources.files(f"raynas.{folder}")
        if isinstance(ref, os.PathLike) and Path(ref).is_dir():
            return Path(ref).resolve()
    # a source checkout on sys.path without an install (or installed before the folders became package data)
    beside = Path(__file__).resolve().parents[1] / folder
    return beside if (beside / "__init__.py").is_file() else None


def lookup_dirs(folder: str, relative_to: str | os.PathLike | None = None) -> list[Path]:
    """The existing folders names are looked up in, in order (see the module docstring)."""
    candidates = [Path.cwd() / folder]
    base = base_dir(relative_to)
    if base is not None:
        candidates.append(base / folder)
        if folder == FAMILY_FOLDER and base.name == TASK_FOLDER:
            candidates.append(base.parent / folder)
    bundled = bundled_dir(folder)
    if bundled is not None:
        candidates.append(bundled)
    return list(dict.fromkeys(p.resolve() for p in candidates if p.is_dir()))


def describe(dirs: list[Path]) -> str:
    """The folders looked in, for error messages."""
    return ", ".join(str(d) for d in dirs) if dirs else "(no such folder)"
