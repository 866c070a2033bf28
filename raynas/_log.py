"""raynas's progress and diagnostic lines, through Python's :mod:`logging`.

Library modules log through ``logging.getLogger(__name__)``: children of the ``"raynas"`` logger. When raynas is
first imported, and only if that logger has no handler yet, it gets one handler that writes each record as
``[raynas] <message>`` to the *current* ``sys.stderr`` (looked up at each record, so ``contextlib.redirect_stderr``
and pytest's output capture see it), at level INFO, and stops records there (``propagate = False``). The command
line sets the level with ``--quiet`` (warnings only) and ``--verbose`` (debug detail too): :func:`set_verbosity`.

What a command prints as its result (tables, JSON, ``next:`` lines) is no log record: it stays on stdout.

Users of the Python API configure it as any library's logging::

    import logging
    logging.getLogger("raynas").setLevel(logging.WARNING)        # quieter
    logging.getLogger("raynas").handlers.clear()                 # no raynas lines at all ...
    logging.getLogger("raynas").propagate = True                 # ... or hand them to the root logger's handlers

:func:`log_to` sends the records of one block to another stream (or ``None``: leaves them as they are).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, Iterator, TextIO

LOGGER_NAME = "raynas"
FORMAT = "[raynas] %(message)s"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A :class:`logging.StreamHandler` whose stream is whatever ``sys.stderr`` is when a record is written."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ sets it; the current sys.stderr always wins
        pass


def logger() -> logging.Logger:
    """The ``"raynas"`` logger, its handler attached when it has none (once, at ``import raynas``)."""
    root = logging.getLogger(LOGGER_NAME)
    if not root.handlers:
        root.addHandler(StderrHandler())
        root.setLevel(logging.INFO)
        root.propagate = False
    return root


def set_verbosity(*, quiet: bool = False, verbose: bool = False) -> None:
    """The ``"raynas"`` logger's level: WARNING when ``quiet``, DEBUG when ``verbose``, else INFO."""
    logger().setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)


@contextlib.contextmanager
def log_to(stream: TextIO | None) -> Iterator[None]:
    """While the block runs, raynas's records go to ``stream`` (as ``[raynas] <message>`` lines) instead of the
    ``"raynas"`` logger's handlers; ``None`` changes nothing. For API calls that take a ``stream`` argument."""
    if stream is None:
        yield
        return
    root = logger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    saved = list(root.handlers)
    root.handlers = [handler]
    try:
        yield
    finally:
        root.handlers = saved


logger()

__all__ = ["FORMAT", "LOGGER_NAME", "StderrHandler", "log_to", "logger", "set_verbosity"]
