"""Code a config names: ``pkg.module:name`` (importable) or ``./file.py:name`` (relative to the config's folder).

Used for user trainers, data functions and plug-ins. A reference is resolved on the driver into an absolute form
(:func:`absolute_reference`) so that Ray workers, whose working directory differs, import the same code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from raynas.errors import ConfigError


def split_reference(field: str, ref: str) -> tuple[str, str]:
    """``("pkg.module" or "/abs/file.py", "name")``; ConfigError naming the fix when the form is wrong."""
    if not isinstance(ref, str) or ":" not in ref.rstrip(":") or ref.endswith(":"):
        raise ConfigError(field, ref, "'pkg.module:function' or './file.py:function'",
                          "name the module (or a .py file) and the function after a colon")
    where, _, name = ref.rpartition(":")
    if not name.isidentifier():
        raise ConfigError(field, ref, "a Python name after the colon", f"{name!r} is not a valid function name")
    return where, name


def absolute_reference(field: str, ref: str, *, base_dir: str | Path | None) -> str:
    """``ref`` with a file path made absolute against ``base_dir`` (the folder of the config naming it)."""
    where, name = split_reference(field, ref)
    if not where.endswith(".py"):
        return f"{where}:{name}"
    path = Path(where).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        raise ConfigError(field, ref, f"an existing Python file (looked for {path})",
                          "check the path; relative paths start at the folder of the file that names them")
    return f"{path}:{name}"


@functools.lru_cache(maxsize=32)
def load_reference(field: str, ref: str) -> Any:
    """The object an absolute reference names (imported once per process)."""
    where, name = split_reference(field, ref)
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ConfigError(field, ref, f"an existing Python file (looked for {path})", "check the path")
        module_name = f"raynas_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - unreadable file
            raise ConfigError(field, ref, "an importable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
        if str(path.parent) not in sys.path:  # the file may import its neighbours
            sys.path.insert(0, str(path.parent))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise ConfigError(field, ref, "a file that imports cleanly",
                              f"importing it raised {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ConfigError(field, ref, "an importable module",
                              f"{exc}; install the package or give a file path (./file.py:{name})") from None
    if not hasattr(module, name):
        known = sorted(n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise ConfigError(field, ref, f"a name defined in {where}",
                          f"define {name}() there (callables found: {', '.join(known) or 'none'})")
    return getattr(module, name)
