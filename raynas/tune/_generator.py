"""The search algorithm Ray Tune drives: its ``SearchGenerator`` around the raynas searcher, reopened on resume.

When a stopper ends a search (its deadline, an auto-stop rule, the failure budget), Ray Tune marks its search
algorithm finished and saves that flag, so a restored search would start no trial. The raynas searcher decides itself
when the search is over (``max_trials``, an exhausted space), and the restored stoppers still end a search whose budget
or auto-stop rule says so: a restored :class:`ReopeningSearchGenerator` is never finished. When the previous run was
ended by a stopper, the trials it had running were stopped for good, but the saved concurrency limiter still counts
them as live (it would never let a new trial start): its live set is emptied. The saved state itself is never edited.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search import ConcurrencyLimiter, SearchGenerator

#: How a run ends when a Ray Tune stopper ended it (its running trials were stopped, not left to resume).
STOPPED_BY_STOPPER = frozenset({"timed_out", "stopped", "cancelled"})


class ReopeningSearchGenerator(SearchGenerator):
    """Ray Tune's ``SearchGenerator`` over ``ConcurrencyLimiter(searcher, max_concurrent)`` that a resume reopens.

    ``runs_path`` is the experiment's run ledger (:mod:`raynas.tune._runs`): at restore, the run before the current
    one says whether a stopper ended it.
    """

    def __init__(self, searcher: Any, *, max_concurrent: int, runs_path: str) -> None:
        super().__init__(ConcurrencyLimiter(searcher, max_concurrent=max_concurrent))
        self.runs_path = runs_path

    def restore_from_dir(self, dirpath: str) -> None:
        super().restore_from_dir(dirpath)
        self._finished = False
        if _previous_run_ended(self.runs_path) in STOPPED_BY_STOPPER and isinstance(self.searcher, ConcurrencyLimiter):
            limiter = self.searcher
            limiter.set_state({**limiter.get_state(), "live_trials": set(), "num_unfinished_live_trials": 0,
                               "cached_results": {}})


def _previous_run_ended(runs_path: str) -> str | None:
    """How the run before the current one ended (the current one is the ledger's last: it began before restore)."""
    from pathlib import Path

    from raynas.tune._runs import read_runs

    runs = read_runs(Path(runs_path))
    return runs[-2].get("ended") if len(runs) >= 2 else None
