"""Writing files so that a reader never sees half of one: the one atomic-write helper every layer uses."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from raynas._json import json_safe


def atomic_write(path: str | Path, data: str | bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` all at once: a hidden temporary file beside it, then an atomic rename.

    ``durable`` also flushes the file to disk before the rename (what must survive a power loss, e.g. the trial
    store). A temporary name unique per call lets several processes write the same file at once; the last rename
    wins and every reader sees one whole version.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        with open(tmp, mode) as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False,
               durable: bool = False) -> Path:
    """Write ``data`` as JSON atomically (NaN and infinities written as null, other values via ``str``)."""
    text = json.dumps(json_safe(data), indent=indent, sort_keys=sort_keys, default=str)
    return atomic_write(path, text, durable=durable)
