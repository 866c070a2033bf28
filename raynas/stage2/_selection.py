"""Which stage-1 trials stage 2 full-trains: :func:`raynas.selection.choose_for_full_training` fed with every model of
the experiment that is already fully trained and has a proxy score.

References (fully trained models with a proxy score and a proxy cost), found in the work folder:

* the **reference models of proxy design** (``<workdir>/<name>-proxy``, where ``raynas run`` keeps it): their full
  accuracy from ``select-models/references.json``, their proxy score and proxy training time from the chosen
  proxy's jobs in ``proxy-search/trials``;
* **earlier ``raynas train`` results** of the experiment (``<experiment>/<subdir>/stage2.json``, other than the one
  being written) and **inline stage-2 snapshots** (``<experiment>/stage2-inline/after-*.json``): their stage-1
  reward, full accuracy and the stage-1 trial's training time from the trial store.

A model found several times counts once (the mean of its full accuracies). The candidates' cost is each stage-1
trial's measured training time (:func:`raynas.trials.cost_seconds`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from raynas.selection import References, Selection, choose_for_full_training
from raynas.trials import TrialStatus, cost_seconds, metric

if TYPE_CHECKING:
    from raynas.tracking import TrialRecord

#: Where the reference models came from (keys of :attr:`Stage2References.sources`).
PROXY_DESIGN = "proxy-design reference models"
EARLIER_STAGE2 = "earlier raynas train results"
INLINE_STAGE2 = "inline stage-2 results"


@dataclass
class Stage2References:
    """Fully trained models with a proxy score: proxy (higher is better), full accuracy, proxy cost (s); per source."""

    proxy: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    def add(self, source: str, proxy: float, full: float, cost: float) -> None:
        if not (math.isfinite(proxy) and math.isfinite(full)):
            return
        self.proxy.append(proxy)
        self.full.append(full)
        self.cost.append(cost if math.isfinite(cost) and cost > 0 else math.nan)
        self.sources[source] = self.sources.get(source, 0) + 1

    def text(self) -> str:
        if not self.sources:
            return "no fully trained models with a proxy score found"
        return ", ".join(f"{n} {what}" for what, n in self.sources.items())


def choose_stage2_set(ranked: Sequence[TrialRecord], top_k: int, *, experiment_dir: Path, name: str, mode: str,
                      metric_name: str, exclude: Path | None = None,
                      extra: Sequence[Mapping[str, Any]] = ()) -> tuple[list[TrialRecord], dict[str, Any]]:
    """``ranked`` (distinct completed stage-1 trials, best first) reordered for stage 2: the ``top_k`` chosen by the
    selection rule first (in stage-1 rank order), then the others in stage-1 rank order; and the explanation (the
    :class:`raynas.selection.Selection` as a dict plus ``sources``, where the references came from).

    ``exclude``: a stage-2 folder whose own results are not references (the one being written); ``extra``: rows of
    the caller's own earlier full trainings (``trial_id``, ``stage1_reward``, ``full_accuracy``, ``status``)."""
    sign = 1.0 if mode == "max" else -1.0
    by_id = {r.trial_id: r for r in ranked}
    references = gather_references(Path(experiment_dir), name, by_id, sign=sign, metric_name=metric_name,
                                   exclude=exclude, extra=extra)
    ids = [r.trial_id for r in ranked]
    selection: Selection = choose_for_full_training(
        ids, [sign * float(r.reward) for r in ranked], top_k, cost=[cost_seconds(r) or math.nan for r in ranked],
        references=References(references.proxy, references.full, references.cost))
    chosen = set(selection.chosen)
    first = [r for r in ranked if r.trial_id in chosen]
    explanation = selection.to_dict()
    explanation["sources"] = dict(references.sources)
    explanation["summary"] = f"{selection.summary()}; references: {references.text()}"
    return first + [r for r in ranked if r.trial_id not in chosen], explanation


def gather_references(experiment_dir: Path, name: str, stage1: Mapping[str, TrialRecord], *, sign: float,
                      metric_name: str, exclude: Path | None = None,
                      extra: Sequence[Mapping[str, Any]] = ()) -> Stage2References:
    """The fully trained models of the experiment with a proxy score (see the module docstring)."""
    out = Stage2References()
    _proxy_design(out, experiment_dir.parent / f"{name}-proxy", sign=sign, metric_name=metric_name)
    full: dict[str, list[float]] = {}
    proxy: dict[str, float] = {}
    source: dict[str, str] = {}
    rows: list[tuple[str, Mapping[str, Any]]] = [(INLINE_STAGE2, row) for row in extra]
    excluded = exclude.resolve() if exclude is not None else None
    for path in sorted(experiment_dir.glob("*/stage2.json")):
        if excluded is not None and path.parent.resolve() == excluded:
            continue
        rows += [(EARLIER_STAGE2, row) for row in _rows(path)]
    for path in sorted((experiment_dir / "stage2-inline").glob("after-*.json")):
        rows += [(INLINE_STAGE2, row) for row in _rows(path)]
    for where, row in rows:
        trial_id, accuracy, reward = row.get("trial_id"), _number(row.get("full_accuracy")), _number(row.get("stage1_reward"))
        if row.get("status") != TrialStatus.COMPLETED.value or not isinstance(trial_id, str):
            continue
        if math.isfinite(accuracy) and math.isfinite(reward):
            full.setdefault(trial_id, []).append(accuracy)
            proxy[trial_id] = sign * reward
            source.setdefault(trial_id, where)
    for trial_id, values in full.items():
        record = stage1.get(trial_id)
        out.add(source[trial_id], proxy[trial_id], sum(values) / len(values),
                cost_seconds(record) if record is not None else math.nan)
    return out


def _proxy_design(out: Stage2References, workspace: Path, *, sign: float, metric_name: str) -> None:
    """The proxy design's reference models, scored by the chosen proxy (nothing when any part is missing)."""
    try:
        models = json.loads((workspace / "select-models" / "references.json").read_text())["models"]
        chosen = json.loads((workspace / "proxy-search" / "proxy_search.json").read_text()).get("chosen")
    except (OSError, ValueError, TypeError, KeyError):
        return
    store = workspace / "proxy-search" / "trials"
    if not isinstance(chosen, str) or not store.is_dir():
        return
    from raynas.tracking import TrialStore

    full = {m.get("model"): _number(m.get("full_accuracy")) for m in models if isinstance(m, dict)}
    for record in TrialStore(store).records():
        model = record.labels.get("model")
        if record.labels.get("candidate") != chosen or model not in full or record.status is not TrialStatus.COMPLETED:
            continue
        score = metric(record, metric_name)
        if not math.isfinite(score) and record.reward is not None:
            score = float(record.reward)
        out.add(PROXY_DESIGN, sign * score, full[model], cost_seconds(record))


def _rows(path: Path) -> list[Mapping[str, Any]]:
    try:
        rows = json.loads(path.read_text()).get("rows", [])
    except (OSError, ValueError, AttributeError):
        return []  # a damaged or half-written result teaches nothing
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)
