"""The search plot, redrawn from the trial store while a search runs (a Ray Tune callback on the driver)."""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

from ray.tune import Callback

log = logging.getLogger(__name__)


class _Point(NamedTuple):
    """What the search plot draws of a trial (see :func:`raynas.tune.search_curve`)."""

    number: int
    reward: float | None
    status: str


class SearchPlotter(Callback):
    """Redraws ``<experiment>/search_plot.png`` at most every ``interval_s`` seconds and when the search ends.

    A redraw reads only the trials stored since the previous one (a :class:`~raynas.tracking.StoreReader`) and
    keeps what the plot needs of every trial; drawing them still grows with the search (matplotlib), so the wait
    between redraws is stretched to ``busy_factor`` times the last redraw's duration when that is longer, which
    keeps the plot below 1 / ``busy_factor`` of the driver's time at any size.
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
        self._reader: Any = None
        self._points: dict[str, _Point] = {}  # by trial id: a trial recorded again replaces its point
        self._dirty = False  # trials read since the last plot that was drawn

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if time.time() - self._last >= self._wait:
            self.draw()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.draw()

    def draw(self) -> None:
        """Redraw from the store (never fails the search: a plot that cannot be drawn is skipped)."""
        started = time.time()
        try:
            from raynas.tracking import TrialStore
            from raynas.tune._search_plot import search_plot

            if getattr(self, "_reader", None) is None:  # (also a plotter pickled before it had one)
                self._reader, self._points, self._dirty = TrialStore(self.store_dir).reader(), {}, False
            for record in self._reader.new_records():
                self._points[record.trial_id] = _Point(record.number, record.reward, record.status)
                self._dirty = True
            if not self._points or not self._dirty:
                return
            points = list(self._points.values())
            search_plot(points, self.path, mode_max=self.mode_max, title=f"{len(points)} trials")
            self._dirty = False
        except Exception as exc:  # noqa: BLE001
            log.warning(f"search plot not drawn: {type(exc).__name__}: {exc}")
        finally:
            self._last = time.time()
            self._wait = max(self.interval_s, self.busy_factor * (self._last - started))
