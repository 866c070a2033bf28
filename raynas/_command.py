"""How to spell the ``raynas`` command so that a printed next step works as printed in a fresh shell.

``make demo`` runs ``.venv/bin/raynas`` without activating the virtualenv, so a next step printed as
``raynas ui ...`` fails in a new terminal (``raynas: command not found``). :func:`raynas_command` returns
``raynas`` only when the ``raynas`` found on PATH is this installation's console script; otherwise the path of
the running console script (relative to the current directory when it lies inside it, e.g. ``.venv/bin/raynas``),
or ``<python> -m raynas`` with the running interpreter.

Pure standard library; no global state (every input can be passed in, which the tests do).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path

#: File names of the console script (pip writes ``raynas.exe`` on Windows).
_SCRIPT_NAMES = ("raynas", "raynas.exe")


def raynas_command(*, argv0: str | None = None, executable: str | None = None, scripts_dir: str | None = None,
                   path: str | None = None, cwd: str | None = None) -> str:
    """The command a user types in a fresh shell to run this raynas installation (shell-quoted).

    - ``raynas`` when ``shutil.which("raynas")`` (on ``path``, default ``$PATH``) is the running console script or
      this installation's one (in ``scripts_dir``, default the interpreter's scripts directory);
    - else the running console script's path: relative to ``cwd`` (default the current directory) when inside it
      (``.venv/bin/raynas``), absolute otherwise;
    - else, when raynas runs imported (a notebook, a test), this installation's console script the same way;
    - else (run as ``python -m raynas``, or no console script) ``<executable> -m raynas``.

    ``argv0`` defaults to ``sys.argv[0]`` and ``executable`` to ``sys.executable``. Paths are compared resolved
    (symlinks followed) but printed as given: a virtualenv's ``bin/python`` is a symlink whose target is another
    installation.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    scripts_dir = sysconfig.get_path("scripts") if scripts_dir is None else scripts_dir
    here = Path(os.getcwd() if cwd is None else cwd)
    running = _running_script(argv0, here)
    installed = _installed_script(scripts_dir, here)
    found = shutil.which("raynas", path=os.environ.get("PATH", os.defpath) if path is None else path)
    if found is not None and any(s is not None and _same_file(_absolute(found, here), s) for s in (running, installed)):
        return "raynas"
    if running is not None:
        return shlex.quote(_shown(running, here))
    if installed is not None and not _is_module_run(argv0):  # imported (a notebook, a test): the script is there
        return shlex.quote(_shown(installed, here))
    if not executable:  # an embedded interpreter that does not know its own path
        return "python -m raynas"
    return f"{shlex.quote(_shown(_absolute(executable, here), here))} -m raynas"


def shell_path(path: str | os.PathLike[str], *, cwd: str | None = None) -> str:
    """``path`` as a shell argument for a printed command: relative to ``cwd`` (default the current directory) when
    inside it, absolute otherwise, shell-quoted (``raynas-work``, ``/data/runs``, ``'my runs'``)."""
    here = Path(os.getcwd() if cwd is None else cwd)
    absolute = _absolute(os.fspath(path), here)
    try:
        text = str(absolute.relative_to(here)) or "."
    except ValueError:
        text = str(absolute)
    return shlex.quote(text)


def _running_script(argv0: str, cwd: Path) -> Path | None:
    """The console script this process was started as (argv[0] named raynas), else None."""
    if argv0 and Path(argv0).name in _SCRIPT_NAMES:
        script = _absolute(argv0, cwd)
        if script.is_file():
            return script
    return None


def _installed_script(scripts_dir: str | None, cwd: Path) -> Path | None:
    """This installation's console script (in the interpreter's scripts directory), else None."""
    for name in _SCRIPT_NAMES if scripts_dir else ():
        candidate = _absolute(str(Path(scripts_dir) / name), cwd)
        if candidate.is_file():
            return candidate
    return None


def _is_module_run(argv0: str) -> bool:
    """Whether the process was started as ``python -m raynas`` (argv[0] is raynas/__main__.py)."""
    path = Path(argv0) if argv0 else None
    return path is not None and path.name == "__main__.py" and path.parent.name == "raynas"


def _absolute(value: str, cwd: Path) -> Path:
    """``value`` made absolute against ``cwd`` and normalised, without following symlinks."""
    return Path(os.path.normpath(Path(cwd) / value))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def _shown(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` when inside it (with a ``./`` when it has no folder), else absolute."""
    try:
        relative = path.relative_to(cwd)
    except ValueError:
        return str(path)
    text = str(relative)
    return text if os.sep in text else f".{os.sep}{text}"


__all__ = ["raynas_command", "shell_path"]
