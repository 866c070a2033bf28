"""The search curve: reward per trial in launch order, running best, rolling mean and spread (workflow step 7).

Used by the analysis report and by search monitoring; both read it from the trial store, so it takes
:class:`~raynas.tracking.TrialRecord` objects (or anything with ``number``, ``reward`` and ``status``, or a
DataFrame with those columns) and stays fast for a few thousand trials.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

from raynas._plotting import pyplot as _pyplot
from raynas._plotting import save_figure
from raynas.trials import TrialStatus

#: Statuses drawn as failures (red x at the bottom of the plot); they count toward the failure budget.
FAILURE_STATUSES = (TrialStatus.FAILED.value, TrialStatus.INVALID.value)
COMPLETED = TrialStatus.COMPLETED.value  # the frame's status column holds the plain values
STOPPED = TrialStatus.STOPPED.value
CURVE_COLUMNS = ("number", "reward", "status", "running_best", "rolling_mean", "rolling_std")


def default_window(n_completed: int) -> int:
    """The rolling window used when none is given: ``max(10, n // 20)`` completed trials."""
    return max(10, int(n_completed) // 20)


def _frame(records: Any):
    """``number, reward, status`` of the records as a DataFrame sorted by launch number."""
    import pandas as pd

    if isinstance(records, pd.DataFrame):
        missing = [c for c in ("number", "reward", "status") if c not in records.columns]
        if missing:
            raise ValueError(f"search_curve: the DataFrame lacks the columns {missing}")
        frame = records.loc[:, ["number", "reward", "status"]].copy()
    else:
        rows = [(int(r.number), r.reward, str(r.status)) for r in records]
        frame = pd.DataFrame(rows, columns=["number", "reward", "status"])
    frame["number"] = frame["number"].astype("int64")
    frame["reward"] = pd.to_numeric(frame["reward"], errors="coerce").astype("float64")
    frame["status"] = frame["status"].astype(str)
    frame.loc[frame["reward"].abs().eq(math.inf), "reward"] = math.nan
    return frame.sort_values("number", kind="stable").reset_index(drop=True)


def search_curve(records: Iterable[Any] | Any, mode_max: bool = True, window: int | None = None):
    """The search curve as a DataFrame with columns ``number, reward, status, running_best, rolling_mean,
    rolling_std``, one row per trial in launch order.

    ``reward`` is the trial's stored reward (NaN when it has none). The other columns describe the search
    after each trial and use completed trials only (stopped trials report partial-training rewards that do not
    compare): ``running_best`` is the best completed reward so far (the highest, or the lowest when
    ``mode_max`` is false); ``rolling_mean`` / ``rolling_std`` are the mean and standard deviation of the last
    ``window`` completed rewards (default :func:`default_window` of the number of completed trials; the
    standard deviation needs two of them). Rows before the first completed trial hold NaN.
    """
    import numpy as np

    frame = _frame(records)
    completed = frame["status"].eq(COMPLETED) & frame["reward"].notna()
    values = frame["reward"].where(completed)
    n_completed = int(completed.sum())
    if window is None:
        window = default_window(n_completed)
    if int(window) < 1:
        raise ValueError(f"search_curve: window must be >= 1, got {window!r}")
    window = int(window)
    best = values.cummax() if mode_max else values.cummin()
    frame["running_best"] = best.ffill()
    done = values[completed]
    rolling = done.rolling(window, min_periods=1)
    frame["rolling_mean"] = rolling.mean().reindex(frame.index).ffill()
    frame["rolling_std"] = done.rolling(window, min_periods=2).std().reindex(frame.index)
    # a row after the first completed one but before the second keeps NaN std; later rows carry the last value
    has_two = np.cumsum(completed.to_numpy()) >= 2
    frame["rolling_std"] = frame["rolling_std"].ffill().where(has_two)
    return frame.loc[:, list(CURVE_COLUMNS)]


def search_plot(records: Iterable[Any] | Any, path: str | Path, *, mode_max: bool = True, window: int | None = None,
                title: str = "") -> Path:
    """Write the search curve as a PNG at ``path`` and return the path.

    Completed trials are dots at their reward; the running best is a step line; the rolling mean is a line with
    a band of plus/minus one rolling standard deviation around it (see :func:`search_curve`). Failed and invalid
    trials are red crosses along the bottom edge, stopped trials orange triangles (at their partial reward when
    they reported one, else along the bottom edge).
    """
    curve = search_curve(records, mode_max=mode_max, window=window)
    n_done = int((curve["status"] == COMPLETED).sum())
    used_window = window if window is not None else default_window(n_done)
    plt = _pyplot()
    import matplotlib.transforms as mtransforms

    fig, ax = plt.subplots(figsize=(10, 4.8))
    done = curve[curve["status"].eq(COMPLETED) & curve["reward"].notna()]
    failed = curve[curve["status"].isin(FAILURE_STATUSES)]
    stopped = curve[curve["status"].eq(STOPPED)]
    if len(done):
        ax.scatter(done["number"], done["reward"], s=10 if len(done) < 500 else 4, c="#1f77b4", alpha=0.45,
                   linewidths=0, label=f"completed ({len(done)})", zorder=2)
        band = curve[curve["rolling_std"].notna()]
        ax.fill_between(band["number"], band["rolling_mean"] - band["rolling_std"],
                        band["rolling_mean"] + band["rolling_std"], color="#2ca02c", alpha=0.15, linewidth=0,
                        label="rolling mean ± std", zorder=1)
        ax.plot(curve["number"], curve["rolling_mean"], color="#2ca02c", linewidth=1.6,
                label=f"rolling mean ({used_window} trials)", zorder=3)
        ax.step(curve["number"], curve["running_best"], where="post", color="#d62728", linewidth=1.8,
                label="running best", zorder=4)
    bottom = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    if len(failed):
        ax.scatter(failed["number"], [0.02] * len(failed), transform=bottom, marker="x", c="#d62728", s=22,
                   linewidths=1.0, label=f"failed/invalid ({len(failed)})", zorder=5, clip_on=False)
    if len(stopped):
        with_reward = stopped[stopped["reward"].notna()]
        without = stopped[stopped["reward"].isna()]
        label = f"stopped ({len(stopped)})"
        if len(with_reward):
            ax.scatter(with_reward["number"], with_reward["reward"], marker="v", facecolors="none",
                       edgecolors="#ff7f0e", s=22, linewidths=1.0, label=label, zorder=5)
            label = None
        if len(without):
            ax.scatter(without["number"], [0.05] * len(without), transform=bottom, marker="v", c="#ff7f0e", s=18,
                       label=label, zorder=5, clip_on=False)
    if not len(curve):
        ax.text(0.5, 0.5, "no trials yet", transform=ax.transAxes, ha="center", va="center", color="#777777")
    elif not len(done):
        ax.text(0.5, 0.5, "no completed trial yet", transform=ax.transAxes, ha="center", va="center", color="#777777")
    ax.set_xlabel("trial (launch order)")
    ax.set_ylabel("reward" + ("" if mode_max else " (lower is better)"))
    ax.set_title(title or "Search progress")
    ax.grid(True, alpha=0.25)
    if ax.get_legend_handles_labels()[0]:  # outside the axes: it never hides a trial
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save_figure(fig, path)
