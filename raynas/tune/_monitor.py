"""The search plot, redrawn from the trial store while a search runs (a Ray Tune callback on the driver)."""

from __future__ import annotations

import sys
import time
from typing import Any

from ray.tune import Callback


class SearchPlotter(Callback):
    """Redraws ``<experiment>/search_plot.png`` at most every ``interval_s`` seconds and when the search ends.

    A redraw reads the whole trial store inside Tune's loop, so its cost grows with the search (0.75 s at 2,000
    trials here): the wait between redraws is stretched to ``busy_factor`` times the last redraw's duration
    when that is longer, which keeps the plot below 1 / ``busy_factor`` of the driver's time at any size.
    """

    def __init__(self, store_dir: str, path: str, *, mode_max: bool = True, interval_s: float = 30.0,
                 busy_factor: float = 50.0) -> None:
        self.store_dir = store_dir
        self.path = path
        self.mode_max = mode_max
        self.interval_s = interval_s
        self.busy_factor = busy_factor
        self._last = 0.0
        self._wait = interval_s
        self._seen = -1

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if time.time() - self._last >= self._wait:
            self.draw()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.draw()

    def draw(self) -> None:
        """Redraw from the store (never fails the search: a plot that cannot be drawn is skipped)."""
        started = time.time()
        try:
            from raynas.analysis import search_plot
            from raynas.tracking import TrialStore

            records = TrialStore(self.store_dir).records()
            if not records or len(records) == self._seen:
                return
            self._seen = len(records)
            search_plot(records, self.path, mode_max=self.mode_max, title=f"{len(records)} trials")
        except Exception as exc:  # noqa: BLE001
            print(f"[raynas] search plot not drawn: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            self._last = time.time()
            self._wait = max(self.interval_s, self.busy_factor * (self._last - started))
