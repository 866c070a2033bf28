"""Error types whose messages are shown to users as-is (the CLI prints them without a traceback)."""

from __future__ import annotations

import difflib
from typing import Any, Iterable


class RaynasError(Exception):
    """Base class for every error raynas reports to a user as one clear message."""


class ConfigError(RaynasError, ValueError):
    """A configuration value is wrong: the message names the field, the value, what was expected and the fix."""

    def __init__(
        self,
        field: str,
        value: Any,
        expected: str,
        fix: str | None = None,
        *,
        source: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.fix = fix
        self.source = source
        where = f"{source}: " if source else ""
        text = f"{where}{field}: got {_short(value)}; expected {expected}."
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class RunStoppingError(ConfigError):
    """A configuration problem found inside a trial that every trial would hit (e.g. pretrained weights that do not
    fit the models): the engine stops the whole run and reports it as one line."""


class SpaceError(RaynasError, ValueError):
    """A search space or an architecture is malformed, or an architecture is not in its space."""


class SpaceTooLargeError(SpaceError):
    """A search space is larger than the configured limit and the user did not opt in."""


class InvalidTrialError(Exception):
    """Raised by an evaluator when an architecture is invalid (cannot be built, NaN loss...).

    The trial ends with status ``invalid`` and this message as its reason; it counts toward the failure budget.
    """


class UnknownNameError(RaynasError, KeyError):
    """A name (search space, controller, experiment...) is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], fix: str | None = None) -> None:
        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        text = f"unknown {kind} {name!r}"
        text += suggest(str(name), known)
        text += f"; known: {', '.join(known) if known else '(none)'}."
        if fix:
            text += f" {fix}"
        super().__init__(text)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def suggest(name: str, known: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest known name, or an empty string."""
    known = [str(k) for k in known]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    if not close and name:
        close = [k for k in known if k.lower().startswith(name.lower())][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


class DamagedFileError(RaynasError, ValueError):
    """A file of an experiment cannot be read (truncated, garbled, wrong content): the message names the file, what
    is wrong with it and ``raynas doctor``, which checks every file of the experiment and rebuilds what it can."""

    def __init__(self, path: Any, problem: str, *, experiment: Any = None) -> None:
        from pathlib import Path

        self.path = Path(path)
        self.problem = problem
        self.experiment = Path(experiment) if experiment is not None else experiment_of(self.path)
        super().__init__(f"{self.path} is damaged ({problem}); check the experiment with "
                         f"`raynas doctor {self.experiment}` (--repair rebuilds what can be rebuilt)")


def experiment_of(path: Any) -> Any:
    """The experiment folder a file belongs to: its parent, or the one above for the files under ``trials/``,
    ``mlflow/`` and ``tune/``."""
    from pathlib import Path

    parent = Path(path).parent
    return parent.parent if parent.name in ("trials", "mlflow", "tune", "damaged") else parent


def problem_of(exc: BaseException, limit: int = 160) -> str:
    """A one-line description of why a file could not be read (the exception's type and first line)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
