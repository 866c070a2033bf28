"""Where an experiment lives on disk, and finding one by name or path."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raynas._files import atomic_write
from raynas.errors import DamagedFileError, UnknownNameError, problem_of

DEFAULT_WORKDIR = "raynas-work"


@dataclass(frozen=True)
class ExperimentPaths:
    """Files of one experiment directory."""

    root: Path

    @property
    def tune(self) -> Path:
        """Ray Tune's experiment state (restore point)."""
        return self.root / "tune"

    @property
    def trials(self) -> Path:
        """The trial store (Parquet)."""
        return self.root / "trials"

    @property
    def config(self) -> Path:
        """The resolved search config (JSON)."""
        return self.root / "config.json"

    @property
    def status(self) -> Path:
        """How the last run of the search ended (JSON)."""
        return self.root / "status.json"

    @property
    def budget(self) -> Path:
        """The failure-budget ledger: failed count and max_failed (JSON)."""
        return self.root / "failure_budget.json"

    @property
    def runs(self) -> Path:
        """Each run's start, deadline and end: the timeout and resume policy (JSON)."""
        return self.root / "runs.json"

    @property
    def auto_stop(self) -> Path:
        """The auto-stop rule that ended the search, when one fired (JSON)."""
        return self.root / "auto_stop.json"

    @property
    def live(self) -> Path:
        """The latest progress line of a running search (JSON, rewritten every few seconds)."""
        return self.root / "progress.json"

    @property
    def search_plot(self) -> Path:
        """Reward per trial, running best, rolling mean and spread (PNG, redrawn while the search runs)."""
        return self.root / "search_plot.png"

    @property
    def uid_file(self) -> Path:
        """A random id given to the experiment when its directory was created (tells apart an experiment
        from an earlier one overwritten in the same directory)."""
        return self.root / "uid"

    def uid(self) -> str:
        """The experiment's id, created on first use."""
        if not self.uid_file.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write(self.uid_file, uuid.uuid4().hex)
        return self.uid_file.read_text().strip()

    @property
    def mlflow(self) -> Path:
        """MLflow run ledgers (one per tracking URI)."""
        return self.root / "mlflow"

    def read_config(self) -> dict[str, Any]:
        """The resolved search config; :class:`DamagedFileError` (one line naming the file and ``raynas doctor``)
        when it is missing or unreadable."""
        return read_json(self.config, expect=dict)


def read_json(path: Path, *, expect: type = dict) -> Any:
    """A JSON file of an experiment, which must hold an ``expect`` (dict or list); :class:`DamagedFileError` naming
    the file and ``raynas doctor`` when it is missing, unreadable, not JSON or of another type."""
    try:
        data = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise DamagedFileError(path, "missing") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise DamagedFileError(path, problem_of(exc)) from None
    if not isinstance(data, expect):
        raise DamagedFileError(path, f"holds a JSON {type(data).__name__}, expected a JSON "
                                     f"{'object' if expect is dict else 'list'}")
    return data


def find_experiment(name_or_path: str, workdir: str | Path = DEFAULT_WORKDIR) -> ExperimentPaths:
    """An experiment given by directory path or by name under ``workdir``."""
    direct = Path(name_or_path).expanduser()
    for candidate in (direct, Path(workdir).expanduser() / name_or_path):
        if (candidate / "config.json").is_file() or (candidate / "trials").is_dir():
            return ExperimentPaths(candidate.resolve())
    root = Path(workdir).expanduser()
    known = sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []
    raise UnknownNameError("experiment", name_or_path, known,
                           f"Experiments are looked up under --workdir ({root.resolve()}) or given as a path.")
