"""Paths the command line is given (``--workdir``, ``-o``), checked before a command changes anything: one line
naming the path and the fix (a ConfigError) instead of an OSError from deep inside a command."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from raynas.errors import ConfigError

#: Commands that create or write experiments in their work directory (the others only read it, or read an
#: experiment given as a folder, so an unwritable work directory is not theirs to refuse).
WRITERS = ("search", "resume", "run", "train", "proxy", "estimate")

#: What to do about an OSError, by its errno (see :func:`os_error_line`).
_FIXES = {
    errno.ENAMETOOLONG: "use a shorter name or path (a file or folder name has at most 255 bytes)",
    errno.ENOTDIR: "a part of the path is a file, not a folder: pick another path",
    errno.EISDIR: "it is a folder: give the path of a file",
    errno.EACCES: "no permission: pick a folder you can write to",
    errno.EPERM: "no permission: pick a folder you can write to",
    errno.EROFS: "the file system is read-only: pick another folder",
    errno.ENOSPC: "the disk is full: free some space or pick a folder on another disk",
    errno.EDQUOT: "the disk quota is used up: free some space or pick a folder on another disk",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "it exists already: pick another path",
    errno.ELOOP: "too many symbolic links: check the path",
}


def _shown(path: str | os.PathLike[str], limit: int = 120) -> str:
    text = os.fspath(path)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _existing_part(path: Path) -> Path | None:
    """The path itself or its nearest ancestor that exists (None: none does, e.g. a relative path's start)."""
    for part in (path, *path.parents):
        try:
            if part.exists():
                return part
        except OSError:  # a name too long for the file system: no shorter part of it exists either way
            continue
    return None


def _name_too_long(path: Path) -> bool:
    limit = 255
    return any(len(os.fsencode(part)) > limit for part in path.parts)


def check_folder(path: str | os.PathLike[str] | None, *, flag: str = "--workdir", write: bool = True) -> Path | None:
    """``path`` as a folder a command may create and (``write``) write in: refused with one line when it is
    empty, names a file (or lies under one), has a name longer than the file system allows, or (``write``) lies
    where this user cannot write. None stays None (the command's default)."""
    if path is None:
        return None
    text = os.fspath(path)
    if not text.strip():
        raise ConfigError(flag, text, "a folder path", f"give a folder, e.g. {flag} raynas-work (or leave {flag} out "
                          "for the default)")
    folder = Path(text).expanduser()
    if _name_too_long(folder):
        raise ConfigError(flag, _shown(text), "a path whose names have at most 255 bytes", _FIXES[errno.ENAMETOOLONG])
    existing = _existing_part(folder)
    if existing is not None and not existing.is_dir():
        what = "is a file" if existing == folder else f"lies under {_shown(existing)}, which is a file"
        raise ConfigError(flag, _shown(text), "a folder", f"{_shown(text)} {what}, not a folder: pick another path")
    if write and existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(flag, _shown(text), "a folder this user can write to",
                          f"no permission to write in {_shown(existing)}: pick a folder you can write to")
    return folder


def check_output_file(path: str | os.PathLike[str], *, flag: str = "--output") -> Path:
    """``-o FILE``: refused when empty or a folder, or when a part of its folder is a file; its missing parent
    folders are created (an existing file is replaced, as shell redirection does)."""
    text = os.fspath(path)
    if not text.strip():
        raise ConfigError(flag, text, "a file path", f"e.g. {flag} trials.csv")
    file = Path(text).expanduser()
    if _name_too_long(file):
        raise ConfigError(flag, _shown(text), "a path whose names have at most 255 bytes", _FIXES[errno.ENAMETOOLONG])
    if file.is_dir():
        raise ConfigError(flag, _shown(text), "a file path", f"{_shown(text)} is a folder: give a file in it, e.g. "
                          f"{flag} {_shown(file / 'trials.csv')}")
    existing = _existing_part(file.parent)
    if existing is not None and not existing.is_dir():
        raise ConfigError(flag, _shown(text), "a file path in a folder", f"{_shown(text)} lies under "
                          f"{_shown(existing)}, which is a file, not a folder: pick another path")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(flag, _shown(text), "a file in a folder this user can write to",
                          f"no permission to write in {_shown(existing)}: pick another path")
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


def check_output_folder(path: str | os.PathLike[str] | None, *, flag: str = "--output") -> Path | None:
    """``-o FOLDER`` (created when missing): refused when empty, a file, under a file, or not writable."""
    if path is None:
        return None
    return check_folder(path, flag=flag, write=True)


def check_workdir_flag(command: str | None, workdir: str | None) -> None:
    """The ``--workdir`` of any command (see :func:`check_folder`); writability only for :data:`WRITERS` and a
    work directory given on the command line (with the default one, the experiment may be a folder elsewhere)."""
    from raynas.experiment import DEFAULT_WORKDIR

    if workdir is not None:
        check_folder(workdir, write=command in WRITERS and workdir != DEFAULT_WORKDIR)


def os_error_line(exc: OSError) -> str | None:
    """One line for an OSError about a path the user gave (a name too long, a file where a folder belongs, no
    permission, a full disk...): the path, what is wrong and the fix; None for other OSErrors."""
    if exc.errno not in _FIXES:
        return None
    name = exc.filename if exc.filename is not None else exc.filename2
    if name is None:
        return None
    problem = exc.strerror or os.strerror(exc.errno)
    return f"cannot use {_shown(os.fsdecode(name))}: {problem}; {_FIXES[exc.errno]}"
