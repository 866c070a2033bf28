"""Writing files so that a reader never sees half of one: the one atomic-write helper every layer uses."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

from raynas._json import json_safe


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (with any writer: ``torch.save``, ``pq.write_table``,
    ``np.savez``...); renamed onto ``path`` in one step when the block ends, removed when it raises.

    The temporary name is hidden, unique per call (several processes may write the same file at once: the last
    rename wins, every reader sees one whole version) and keeps ``path``'s suffix (writers that look at it).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: str | bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` all at once: a hidden temporary file beside it, then an atomic rename.

    ``durable`` also flushes the file to disk before the rename (what must survive a power loss, e.g. the trial
    store). A temporary name unique per call lets several processes write the same file at once; the last rename
    wins and every reader sees one whole version.
    """
    mode = "wb" if isinstance(data, bytes) else "w"
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def write_json(path: str | Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False,
               durable: bool = False) -> Path:
    """Write ``data`` as JSON atomically (NaN and infinities written as null, other values via ``str``)."""
    text = json.dumps(json_safe(data), indent=indent, sort_keys=sort_keys, default=str)
    return atomic_write(path, text, durable=durable)
