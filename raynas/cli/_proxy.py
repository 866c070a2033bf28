"""``raynas proxy select-models | search | variance | check``: designing the proxy task before a search."""

from __future__ import annotations

import argparse
import math

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.cli._proxy_target import add_target_args, target_from_args, workspace_lock


def register(commands: argparse._SubParsersAction) -> None:
    proxy = commands.add_parser("proxy", help="design the proxy task: reference models, proxy search, variance, checks",
                                description="Proxy-task design before a search. Typical order: `raynas baseline`, "
                                            "`raynas proxy select-models`, `raynas proxy search`, `raynas proxy "
                                            "variance`, `raynas proxy check`, then `raynas estimate`.")
    tools = proxy.add_subparsers(dest="tool", metavar="TOOL", required=True)

    select = tools.add_parser("select-models", help="pick ~10 diverse reference models and full-train them",
                              description="Sample --initial architectures, train them in rounds to growing "
                                          "fractions of full training, each round keep a spread in normalised "
                                          "(accuracy, latency) space, then full-train the --keep survivors. "
                                          "Running it again resumes.")
    add_target_args(select)
    select.add_argument("--initial", type=int, default=30, help="architectures sampled (default 30)")
    select.add_argument("--keep", type=int, default=10, help="reference models kept and full-trained (default 10)")
    select.add_argument("--fractions", default="0.1,0.25,0.5",
                        help="fractions of full training per round, comma-separated (default 0.1,0.25,0.5)")
    select.add_argument("--seed", type=int, default=0, help="sampling and training seed (default 0)")
    add_format_flag(select)
    select.set_defaults(handler=_run_select)

    search = tools.add_parser("search", help="find the cheapest proxy that ranks the reference models like full training",
                              description="Train the reference models with every proxy candidate (all candidates "
                                          "in parallel) and compare rankings with full training: Kendall tau, "
                                          "Spearman, top-k overlap, and an estimate of tau over the whole space.")
    add_target_args(search)
    search.add_argument("--min-tau", type=float, default=0.65, help="success bar for Kendall tau (default 0.65)")
    search.add_argument("--min-valid", type=int, default=5, help="valid reference models needed (default 5)")
    search.add_argument("--min-valid-fraction", type=float, default=0.7,
                        help="share of reference models that must be valid (default 0.7)")
    search.add_argument("--time-limit", type=float, help="stop a candidate after this many seconds of training")
    search.add_argument("--top-k", type=int, help="top-k overlap size (default: a third of the models)")
    search.add_argument("--candidates", help="comma-separated candidate names to try (default: all)")
    search.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    add_format_flag(search)
    search.set_defaults(handler=_run_search)

    from raynas.cli import _proxy_check, _proxy_variance

    _proxy_variance.add_parser(tools)
    _proxy_check.add_parser(tools)


def _run_select(args: argparse.Namespace) -> int:
    from raynas.errors import ConfigError
    from raynas.proxy import SelectionSettings, select_models

    try:
        fractions = tuple(float(f) for f in args.fractions.split(",") if f.strip())
    except ValueError:
        raise ConfigError("--fractions", args.fractions, "comma-separated numbers", "e.g. --fractions 0.1,0.25,0.5") from None
    settings = SelectionSettings(initial=args.initial, keep=args.keep, fractions=fractions, seed=args.seed)
    with workspace_lock(target_from_args(args)) as target:
        selection = select_models(target, settings, overwrite=args.overwrite)
    if args.format == "json":
        print_json(selection.to_dict())
        return 0
    rows = [[m.model, m.full_accuracy, m.full_latency, m.full_cost_s, m.full_status] for m in selection.models
            if m.full_status is not None]
    print_table(rows, ["model", "full accuracy", selection.latency_key, "cost (s)", "status"])
    return 0


def _run_search(args: argparse.Namespace) -> int:
    from raynas.proxy import ProxySearchSettings, proxy_search

    names = tuple(n.strip() for n in args.candidates.split(",") if n.strip()) if args.candidates else None
    settings = ProxySearchSettings(min_tau=args.min_tau, min_valid=args.min_valid,
                                   min_valid_fraction=args.min_valid_fraction, time_limit_s=args.time_limit,
                                   top_k=args.top_k, candidates=names, seed=args.seed)
    with workspace_lock(target_from_args(args)) as target:
        result = proxy_search(target, settings, overwrite=args.overwrite)
    if args.format == "json":
        print_json(result.to_dict())
        return 0 if result.chosen else 1
    rows = []
    for c in result.candidates:
        space = "-" if not math.isfinite(c.space_tau) else f"{c.space_tau:.3f} [{c.space_tau_low:.2f}, {c.space_tau_high:.2f}]"
        if getattr(c, "space_note", None):
            space = "inconclusive: too few reference models"
        rows.append([c.name, _fmt(c.cost_per_model_s, "{:.3g}"), _fmt(c.cost_vs_full, "{:.1%}"), f"{c.valid}/{c.models}",
                     _fmt(c.kendall_tau, "{:.3f}"), _fmt(c.spearman, "{:.3f}"), _fmt(c.top_k_overlap, "{:.2f}"),
                     _fmt(c.latency_tau, "{:.3f}"), space, c.outcome])
    print_table(rows, ["candidate", "s/model", "vs full", "valid", "kendall tau", "spearman", "top-k", "latency tau",
                       "whole-space tau [90%]", "result"])
    print()
    print(result.note)
    for note in sorted({c.space_note for c in result.candidates if getattr(c, "space_note", None)}):
        print(f"whole-space estimate: inconclusive: {note}")
    print()
    print(result.summary())
    print(f"table and plots: {result.directory}")
    return 0 if result.chosen else 1


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None or not math.isfinite(value) else pattern.format(value)
