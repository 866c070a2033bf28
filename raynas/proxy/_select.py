"""``raynas proxy select-models``: pick ~10 diverse reference models and full-train them.

Start from ``initial`` randomly sampled architectures; train them in rounds to growing fractions of full
training; after each round drop models one at a time from the closest pair in normalised (accuracy, latency)
space until the round's size is reached (a spread is kept, not the best); full-train the survivors. A failed
trial removes its model. Every round is a set of Ray Tune jobs in the trial store, so running the command
again resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from raynas._files import write_json
from raynas._log import log_to
from raynas._parse import as_float, as_int
from raynas.errors import ConfigError, RaynasError
from raynas.proxy._common import finish_tool, ray_session, run_tool_jobs
from raynas.proxy._spread import prune_for_spread
from raynas.trials import TrialStatus, cost_seconds, metric
from raynas.tune import Job

if TYPE_CHECKING:
    from raynas.proxy._target import DesignTarget

log = logging.getLogger(__name__)

TOOL = "select-models"
#: A proxy's rank correlation needs at least this many valid reference models.
MIN_REFERENCES = 5
FULL_JOB_BASE = 90_000


@dataclass(frozen=True)
class SelectionSettings:
    """Counts and fractions of reference-model selection."""

    initial: int = 30
    keep: int = 10
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5)
    seed: int = 0

    def __post_init__(self) -> None:
        as_int("initial", self.initial, minimum=1)
        as_int("keep", self.keep, minimum=1)
        as_int("seed", self.seed, minimum=0)
        if self.keep < MIN_REFERENCES:
            raise ConfigError("keep", self.keep, f"at least {MIN_REFERENCES} reference models",
                              f"a rank correlation on fewer than {MIN_REFERENCES} models says little: use --keep "
                              f"{MIN_REFERENCES} or more (10 is usual)")
        if self.initial < self.keep:
            raise ConfigError("initial", self.initial, f"at least keep ({self.keep}) sampled models",
                              "raise --initial (about 3x keep is usual) or lower --keep")
        fractions = tuple(as_float("fractions", f) for f in self.fractions)
        if not fractions or any(not 0 < f < 1 for f in fractions) or list(fractions) != sorted(set(fractions)):
            raise ConfigError("fractions", list(self.fractions), "increasing fractions of full training in (0, 1)",
                              "e.g. --fractions 0.1,0.25,0.5")
        object.__setattr__(self, "fractions", fractions)

    def round_sizes(self) -> list[int]:
        """Models kept after each round: geometric steps from ``initial`` down to ``keep``."""
        rounds = len(self.fractions)
        ratio = self.keep / self.initial
        sizes = [max(self.keep, round(self.initial * ratio ** ((r + 1) / rounds))) for r in range(rounds)]
        sizes[-1] = self.keep
        return sizes


@dataclass(frozen=True)
class ReferenceModel:
    """A sampled model: its measurements per round, and full training for the survivors."""

    model: str
    arch: Any
    rounds: dict[str, float] = field(default_factory=dict)
    latency: float = math.nan
    dropped_in_round: int | None = None
    full_accuracy: float = math.nan
    full_latency: float = math.nan
    full_cost_s: float = math.nan
    full_status: str | None = None


@dataclass(frozen=True)
class ReferenceSet:
    """Everything select-models found: all sampled models (the population) and the full-trained survivors."""

    target: str
    latency_key: str
    settings: dict[str, Any]
    models: tuple[ReferenceModel, ...]

    @property
    def references(self) -> list[ReferenceModel]:
        """Survivors whose full training completed."""
        return [m for m in self.models if m.full_status == TrialStatus.COMPLETED and math.isfinite(m.full_accuracy)]

    def covariates(self) -> tuple[np.ndarray, list[str]]:
        """First-round accuracy and latency of every sampled model with both (the selection covariates)."""
        first = f"{self.settings['fractions'][0]:g}"
        rows = [[m.rounds.get(first, math.nan), m.latency] for m in self.models]
        return np.asarray(rows, dtype=float), ["round-1 accuracy", "latency"]

    def population_rows(self) -> tuple[np.ndarray, list[int]]:
        """Covariates of the models measured in round 1, and the rows of the references among them."""
        covariates, _ = self.covariates()
        measured = [i for i, row in enumerate(covariates) if np.all(np.isfinite(row))]
        index = {i: k for k, i in enumerate(measured)}
        refs = [index[self.models.index(m)] for m in self.references if self.models.index(m) in index]
        return covariates[measured], refs

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "latency_key": self.latency_key, "settings": self.settings,
                "models": [asdict(m) for m in self.models]}

    @classmethod
    def load(cls, path: str | Path) -> "ReferenceSet":
        path = Path(path)
        if not path.is_file():
            raise ConfigError("references", str(path), "the reference models of `raynas proxy select-models`",
                              "run `raynas proxy select-models` first (with the same --task/--name and --workdir)")
        data = json.loads(path.read_text())
        models = tuple(ReferenceModel(**{k: (math.nan if v is None and k in ("latency", "full_accuracy", "full_latency",
                                                                             "full_cost_s") else v)
                                         for k, v in m.items()}) for m in data["models"])
        return cls(data["target"], data["latency_key"], data["settings"], models)


def references_path(target: DesignTarget) -> Path:
    return target.workspace / TOOL / "references.json"


def select_models(target: DesignTarget, settings: SelectionSettings, *, overwrite: bool = False,
                  stream: TextIO | None = None, progress_interval_s: float = 5.0) -> ReferenceSet:
    """Run (or resume) reference-model selection; writes ``references.json``, ``models.parquet`` and a plot.
    Progress lines are logged (``"raynas"`` logger), or written to ``stream`` when given."""
    with ray_session(target), log_to(stream):
        return _select_models(target, settings, overwrite=overwrite, progress_interval_s=progress_interval_s)


def _select_models(target: DesignTarget, settings: SelectionSettings, *, overwrite: bool,
                   progress_interval_s: float) -> ReferenceSet:
    params = {"target": target.task or "nasbench201", **asdict(settings), "fractions": list(settings.fractions)}
    root = target.stage_dir(TOOL, settings=params, overwrite=overwrite)
    tracking = target.tracking(TOOL, root, params=params, variant="rounds+full")
    archs = target.sample(settings.initial, settings.seed)
    if len(archs) < settings.keep:
        raise ConfigError("keep", settings.keep, f"at most the {len(archs)} distinct architectures sampled",
                          "lower --keep (the space is small)")
    names = [f"m{i:02d}" for i in range(len(archs))]
    seeds = [settings.seed * 1000 + i for i in range(len(archs))]
    rounds: dict[int, dict[str, float]] = {i: {} for i in range(len(archs))}
    latency = {i: math.nan for i in range(len(archs))}
    dropped: dict[int, int] = {}
    alive = list(range(len(archs)))
    key = target.latency_key
    for r, (fraction, size) in enumerate(zip(settings.fractions, settings.round_sizes()), start=1):
        group = f"round{r}"
        jobs = [Job(r * 1000 + i + 1, archs[i], seeds[i], group, {"model": names[i], "round": str(r),
                                                                   "fraction": f"{fraction:g}"}) for i in alive]
        result = run_tool_jobs(target, root, jobs, {group: target.fraction_evaluator(fraction, root)},
                               tracking=tracking, what=f"{TOOL} round {r} ({fraction:g} of full training)",
                               progress_interval_s=progress_interval_s)
        points = []
        for i, job in zip(alive, jobs):
            record = result.records.get(job.number)
            rounds[i][f"{fraction:g}"] = metric(record, target.accuracy_key)
            if r == 1:
                latency[i] = metric(record, key)
            points.append([rounds[i][f"{fraction:g}"], latency[i]])
        kept = [alive[k] for k in prune_for_spread(points, size)]
        for i in alive:
            if i not in kept:
                dropped[i] = r
        failed = sum(1 for p in points if not math.isfinite(p[0]))
        log.info(f"{TOOL} round {r}: {len(alive)} trained ({failed} failed), {len(kept)} kept for spread")
        alive = kept
    if len(alive) < MIN_REFERENCES:
        _fail(tracking, f"only {len(alive)} models survived the rounds")
    full_jobs = [Job(FULL_JOB_BASE + i + 1, archs[i], seeds[i], "full", {"model": names[i], "round": "full"})
                 for i in alive]
    result = run_tool_jobs(target, root, full_jobs, {"full": target.full_evaluator(root)}, tracking=tracking,
                           what=f"{TOOL} full training of {len(alive)} reference models",
                           progress_interval_s=progress_interval_s)
    models = []
    for i in range(len(archs)):
        record = result.records.get(FULL_JOB_BASE + i + 1) if i in alive else None
        models.append(ReferenceModel(
            model=names[i], arch=archs[i], rounds=rounds[i], latency=latency[i], dropped_in_round=dropped.get(i),
            full_accuracy=metric(record, target.accuracy_key), full_latency=metric(record, key),
            full_cost_s=cost_seconds(record) if record is not None else math.nan,
            full_status=None if record is None else record.status))
    selection = ReferenceSet(target.task or "nasbench201", key, params, tuple(models))
    write_json(root / "references.json", selection.to_dict())
    artifacts = [_write_table(root, selection), _plot(root, selection)]
    valid = len(selection.references)
    status, reason = "completed", f"{valid} reference models full-trained out of {len(archs)} sampled"
    if valid < MIN_REFERENCES:
        status, reason = "failed", (f"only {valid} reference models completed full training (at least "
                                    f"{MIN_REFERENCES} are needed); see the failure reasons with `raynas trials "
                                    f"{root}` and run again with more --initial/--keep")
    finish_tool(tracking, status=status, reason=reason, metrics={"references": valid}, artifacts=artifacts)
    log.info(f"{TOOL}: {reason}; results in {root}")
    if valid < MIN_REFERENCES:
        raise RaynasError(reason)
    return selection


def _fail(tracking: Any, reason: str) -> None:
    text = (f"{reason}: at least {MIN_REFERENCES} are needed; too many trials failed (see `raynas trials` on the "
            "tool's directory), or raise --initial")
    finish_tool(tracking, status="failed", reason=text)
    raise RaynasError(text)


def _write_table(root: Path, selection: ReferenceSet) -> Path:
    import pandas as pd

    rows = []
    for m in selection.models:
        row = {"model": m.model, "arch": json.dumps(m.arch, sort_keys=True), "latency": m.latency,
               "dropped_in_round": m.dropped_in_round, "full_accuracy": m.full_accuracy,
               "full_latency": m.full_latency, "full_cost_s": m.full_cost_s, "full_status": m.full_status}
        row.update({f"accuracy@{k}": v for k, v in m.rounds.items()})
        rows.append(row)
    path = root / "models.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def _plot(root: Path, selection: ReferenceSet) -> Path:
    from raynas.proxy._plots import plot_selection

    return plot_selection(selection, root / "selection.png")
