"""``raynas monitor EXPERIMENT``: progress and the search plot of a running or finished search, from its store."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from raynas._text import hms
from raynas.cli._output import add_format_flag, experiment_words, print_json, raynas_step
from raynas.errors import DamagedFileError
from raynas.experiment import DEFAULT_WORKDIR, ExperimentPaths, find_experiment, read_json
from raynas.trials import TrialStatus

log = logging.getLogger(__name__)

#: A progress file older than this means the search is not running any more (or its driver died).
STALE_S = 120.0


def register(commands: argparse._SubParsersAction) -> None:
    monitor = commands.add_parser("monitor", help="progress and search plot of a running or finished search",
                                  description="Read a search's trial store (and, while it runs, its progress file): "
                                              "trials done of max, running, failed/invalid, best reward, elapsed "
                                              "and remaining time; redraw its search plot (reward per trial, "
                                              "running best, rolling mean and spread, failures marked).")
    monitor.add_argument("experiment", help="experiment name (under --workdir) or directory")
    monitor.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    monitor.add_argument("--follow", action="store_true", help="keep refreshing until the search ends (Ctrl-C to leave)")
    monitor.add_argument("--interval", type=float, default=10.0, help="seconds between refreshes with --follow (default 10)")
    add_format_flag(monitor)
    monitor.set_defaults(handler=_run)


def snapshot(paths: ExperimentPaths) -> dict[str, Any]:
    """What the store (and the live progress file) say about a search now; redraws its search plot."""
    from raynas.analysis import search_plot
    from raynas.config import Mode, SearchConfig
    from raynas.tracking import TrialStore

    config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config))
    records = TrialStore(paths.trials).records()
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    rewards = [r.reward for r in records if r.status is TrialStatus.COMPLETED and r.reward is not None]
    best = (max if config.mode is Mode.MAX else min)(rewards) if rewards else None
    live = _read_json(paths.live)
    status = _read_json(paths.status)
    if status and (live is None or paths.status.stat().st_mtime >= paths.live.stat().st_mtime):
        state = "finished"
    elif live is not None and time.time() - float(live.get("time", 0)) <= STALE_S:
        state = "running"
    else:
        state = (f"not running (no progress for 2 minutes: interrupted? "
                 f"`{raynas_step('resume', experiment_words(paths.root))}` continues it)")
    plot = None
    if records:
        plot = str(search_plot(records, paths.search_plot, mode_max=config.mode is Mode.MAX,
                               title=f"{config.name}: {len(records)} trials"))
    front: dict[str, Any] = {}
    if config.objectives:  # the Pareto front of the stored trials (the rules of raynas.config.front_summary)
        from raynas.config import records_front

        summary = records_front(config.objectives, records)[0]
        front = {"front_size": summary.size, "hypervolume": summary.hypervolume}
    return {"experiment": config.name, "state": state, "done": len(records), "max_trials": config.max_trials,
            "running": (live or {}).get("running") if state == "running" else 0, "counts": counts, "best": best,
            "elapsed_s": (live or {}).get("elapsed_s"), "remaining_s": (live or {}).get("remaining_s"),
            "status_line": None if not status else _status_line(status), "plot": plot, **front}


def _status_line(status: dict[str, Any]) -> str:
    return f"{status.get('status')}: {status.get('reason')}"


#: What monitor reads from progress.json and status.json, with the types it needs (anything else is left out).
_FIELDS = {"time": (int, float), "running": (int,), "elapsed_s": (int, float), "remaining_s": (int, float),
           "status": (str,), "reason": (str,)}


def _read_json(path: Path) -> dict[str, Any] | None:
    """A progress or status file's fields (None when it is not there); a damaged one is skipped with a warning
    naming it and ``raynas doctor`` (monitor reads the trial store anyway)."""
    try:
        data = read_json(path, expect=dict)
    except DamagedFileError as exc:
        if exc.problem != "missing":
            log.warning("%s", exc)
        return None
    return {k: v for k, v in data.items()
            if k not in _FIELDS or (isinstance(v, _FIELDS[k]) and not isinstance(v, bool))}


def _line(s: dict[str, Any]) -> str:
    c = s["counts"]
    best = "-" if s["best"] is None else f"{s['best']:.4g}"
    running = "-" if s["running"] is None else s["running"]
    elapsed = "-" if s["elapsed_s"] is None else hms(s["elapsed_s"])
    remaining = "-" if s["remaining_s"] is None else hms(s["remaining_s"])
    front = ""
    if "front_size" in s:
        hv = "-" if s.get("hypervolume") is None else f"{s['hypervolume']:.4g}"
        front = f", front {s['front_size']}, hypervolume {hv}"
    return (f"{s['experiment']} ({s['state']}): {s['done']}/{s['max_trials']} trials done ({c.get('failed', 0)} failed, "
            f"{c.get('invalid', 0)} invalid, {c.get('stopped', 0)} stopped), {running} running, best {best}{front}, "
            f"elapsed {elapsed}, remaining ~{remaining}")


def _run(args: argparse.Namespace) -> int:
    paths = find_experiment(args.experiment, args.workdir)
    while True:
        state = snapshot(paths)
        if args.format == "json":
            print_json(state)
        else:
            print(_line(state))
            if state["status_line"] and state["state"] == "finished":
                print(state["status_line"])
            if state["plot"]:
                print(f"search plot: {state['plot']}")
        sys.stdout.flush()
        if not args.follow or state["state"] != "running":
            return 0
        time.sleep(max(1.0, args.interval))
