"""Proxy candidates: cheaper variants of full training (fewer epochs, less data, a scaled-down model or input).

A task lists them under ``proxy_candidates:``, either one by one or as a grid of ranges::

    proxy_candidates:
      - {name: quick, epochs: 2, data_fraction: 0.5, width_mult: 0.5}
      - {epochs: 8}                          # name made from the settings: e8
    # or
    proxy_candidates:
      grid: {epochs: [2, 4, 8], data_fraction: [0.5, 1.0]}

Settings left out take the task's ``proxy`` variant's values. Without the section, the candidates are the task's
proxy variant and the same with half and with twice its epochs (while still below full training).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from raynas._parse import as_mapping, reject_unknown
from raynas.errors import ConfigError
from raynas.tasks._variant import BUILTIN_VARIANT_KEYS, Variant

if TYPE_CHECKING:
    from raynas.tasks._task import TaskConfig

_SHORT = {"epochs": "e", "data_fraction": "d", "width_mult": "w", "depth_mult": "depth", "resolution_mult": "r"}


@dataclass(frozen=True)
class ProxyCandidate:
    """A named proxy variant and its cost relative to full training (estimated from the settings)."""

    name: str
    #: A task Variant; on the tabular benchmark the table column's variant.
    variant: Any
    relative_cost: float

    def to_dict(self) -> dict[str, Any]:
        settings = self.variant.to_dict() if isinstance(self.variant, Variant) else {"column": "val_acc_12ep"}
        return {"name": self.name, **settings, "relative_cost": self.relative_cost}


def relative_cost(variant: Variant, full: Variant) -> float:
    """Compute of ``variant`` over that of ``full``: epochs x data x depth x width^2 x resolution^2."""
    return ((variant.epochs / full.epochs) * (variant.data_fraction / full.data_fraction)
            * (variant.depth_mult / full.depth_mult) * (variant.width_mult / full.width_mult) ** 2
            * (variant.resolution_mult / full.resolution_mult) ** 2)


def candidate_name(variant: Variant, base: Variant) -> str:
    parts = [f"e{variant.epochs}"]
    for name in BUILTIN_VARIANT_KEYS:
        if name != "epochs" and getattr(variant, name) != getattr(base, name):
            parts.append(f"{_SHORT[name]}{getattr(variant, name):g}")
    for key in sorted(variant.settings):  # user-defined keys: named in full
        if variant.settings[key] != base.settings.get(key):
            parts.append(f"{key}{_plain(variant.settings[key])}")
    return "-".join(parts)


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).replace(" ", "")


def make_candidate(name: str | None, variant: Variant, task: TaskConfig) -> ProxyCandidate:
    """A checked candidate: refused when it is larger than, or costs as much as, full training."""
    full = task.variant("full")
    label = name or candidate_name(variant, task.variant("proxy"))
    bigger = variant.larger_than(full)
    if bigger:
        raise ConfigError(f"proxy_candidates.{label}", ", ".join(bigger), "settings no larger than the full variant",
                          "a proxy must be a cheaper version of full training", source=task.source)
    cost = relative_cost(variant, full)
    # user-defined settings may make a candidate cheaper in ways raynas cannot estimate: proxy search measures it
    if cost >= 1.0 and dict(variant.settings) == dict(full.settings):
        raise ConfigError(f"proxy_candidates.{label}", f"{cost:.0%} of full training's compute",
                          "a proxy cheaper than full training",
                          "lower its epochs, data_fraction, width_mult, depth_mult or resolution_mult",
                          source=task.source)
    return ProxyCandidate(label, variant, cost)


def task_candidates(task: TaskConfig, raw: Any = None) -> list[ProxyCandidate]:
    """The candidates of ``task`` (``raw``: a ``proxy_candidates`` value overriding the task's own)."""
    raw = task.proxy_candidates if raw is None else raw
    base = task.variant("proxy")
    if raw is None:
        epochs = sorted({max(1, base.epochs // 2), base.epochs, base.epochs * 2})
        variants = [replace(base, epochs=e) for e in epochs]
        variants = [v for v in variants if relative_cost(v, task.variant("full")) < 1.0 and not
                    v.larger_than(task.variant("full"))]
        return _unique([make_candidate(None, v, task) for v in variants])
    if isinstance(raw, Mapping):
        reject_unknown(raw, ["grid"], section="proxy_candidates")
        grid = as_mapping("proxy_candidates.grid", raw.get("grid"))
        if task.trainer is None:
            reject_unknown(grid, BUILTIN_VARIANT_KEYS, section="proxy_candidates.grid")
        keys = sorted(grid)
        values = [grid[k] if isinstance(grid[k], list) else [grid[k]] for k in keys]
        out = []
        for combo in itertools.product(*values):
            out.append(make_candidate(None, _variant(base, dict(zip(keys, combo)), "proxy_candidates.grid"), task))
        return _unique(out)
    if not isinstance(raw, list) or not raw:
        raise ConfigError("proxy_candidates", raw, "a list of candidates or {grid: {setting: [values]}}",
                          source=task.source)
    out = []
    for index, item in enumerate(raw):
        item = dict(as_mapping(f"proxy_candidates[{index}]", item))
        name = item.pop("name", None)
        if task.trainer is None:
            reject_unknown(item, BUILTIN_VARIANT_KEYS, section=f"proxy_candidates[{index}]")
        out.append(make_candidate(None if name is None else str(name), _variant(base, item, f"proxy_candidates[{index}]"),
                                  task))
    return _unique(out)


def _variant(base: Variant, settings: Mapping[str, Any], where: str) -> Variant:
    builtin = {k: v for k, v in settings.items() if k in BUILTIN_VARIANT_KEYS}
    user = {k: v for k, v in settings.items() if k not in BUILTIN_VARIANT_KEYS}
    try:
        return replace(base, **builtin, settings={**dict(base.settings), **user})
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc.field}", exc.value, exc.expected, exc.fix) from None


def _unique(candidates: list[ProxyCandidate]) -> list[ProxyCandidate]:
    names = [c.name for c in candidates]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError("proxy_candidates", duplicated, "distinct candidate names", "give each candidate a `name`")
    return candidates
