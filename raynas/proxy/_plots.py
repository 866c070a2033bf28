"""PNG plots of the proxy-design tools (matplotlib, headless)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_selection(selection: Any, path: Path) -> Path:
    """Round-1 accuracy vs latency of every sampled model; the reference models marked with full accuracy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    first = f"{selection.settings['fractions'][0]:g}"
    xs = [m.latency for m in selection.models]
    ys = [m.rounds.get(first, math.nan) for m in selection.models]
    ax.scatter(xs, ys, c="#bbbbbb", label="sampled (round 1)")
    refs = selection.references
    ax.scatter([m.latency for m in refs], [m.rounds.get(first, math.nan) for m in refs], c="#d62728",
               label="reference models")
    for m in refs:
        ax.annotate(f"{m.model} ({m.full_accuracy:.3g})", (m.latency, m.rounds.get(first, math.nan)), fontsize=7)
    ax.set_xlabel(selection.latency_key)
    ax.set_ylabel(f"accuracy after {first} of full training")
    ax.set_title("Reference models chosen for spread (full-training accuracy in brackets)")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_tau_vs_time(progress: Mapping[str, Sequence[tuple[float, float]]], bar: float, path: Path) -> Path:
    """Kendall tau over the models finished so far against the candidate's training time spent, per candidate."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in progress.items():
        points = [(t, v) for t, v in points if math.isfinite(v)]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.axhline(bar, color="#555555", linestyle="--", linewidth=1, label=f"bar {bar:g}")
    ax.set_xlabel("training time spent on the candidate (s)")
    ax.set_ylabel("Kendall tau vs full training (models so far)")
    ax.set_title("Proxy candidates: rank correlation as training proceeds")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_proxy_vs_full(name: str, proxy: Sequence[float], full: Sequence[float], labels: Sequence[str],
                       path: Path) -> Path:
    """Proxy score against full-training accuracy of each reference model, for one candidate."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.scatter(proxy, full)
    for x, y, label in zip(proxy, full, labels):
        ax.annotate(label, (x, y), fontsize=7)
    ax.set_xlabel(f"proxy {name}: accuracy")
    ax.set_ylabel("full training: accuracy")
    ax.set_title(f"Reference models under proxy {name}")
    return _save(fig, path)


def plot_curves(curves: Mapping[str, Sequence[tuple[float, float]]], path: Path, *, ylabel: str = "val_accuracy",
                title: str = "") -> Path:
    """Validation curves (epoch, value), one line per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 40 else None, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if 1 < len(curves) <= 12:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
