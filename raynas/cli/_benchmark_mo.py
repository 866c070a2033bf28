"""``raynas benchmark TABLE --objectives accuracy:max,params:min``: multi-objective controllers against a declared
table, offline, scored by the hypervolume of the front each finds against the table's own front."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from raynas.cli._output import print_json, print_table
from raynas.errors import ConfigError, suggest

log = logging.getLogger(__name__)
#: Controllers compared when none is named: random sampling (the baseline) and the two multi-objective ones.
DEFAULT_MO_CONTROLLERS = ("random", "nsga2", "mo-surrogate")


def _number(value: float) -> str:
    """A reference value as its column holds it: ``1,531,546`` for a count, ``9.712`` for an accuracy."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4f}".rstrip("0").rstrip(".")


def _text(mean: float, std: float) -> str:
    return "n/a" if mean != mean else f"{mean:.4f} +- {std:.4f}"


def check_options(names: list[str], options: dict[str, Any]) -> dict[str, Any]:
    """Each controller of ``names`` with its options; every ``--option`` key must be one of at least one of them (else
    one error line)."""
    from raynas.controllers import controller_options

    accepted = {name: controller_options(name) for name in names}
    for key in options:
        if not any(key in known for known in accepted.values()):
            every = sorted({k for known in accepted.values() for k in known})
            raise ConfigError("--option", key, f"an option of {', '.join(names)}: {', '.join(every)}",
                              f"check the name{suggest(key, every)}")
    return accepted


def run_multiobjective(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """The ``--objectives`` form of ``raynas benchmark`` (``args`` already checked: seeds, budget, top-k)."""
    from raynas.benchmarks import load_table, parse_objectives_text, resolve_objectives, simulate_multiobjective

    pairs = parse_objectives_text(args.objectives)
    names = args.controller or list(DEFAULT_MO_CONTROLLERS)
    accepted = check_options(names, options)
    table = load_table(args.benchmark, data=args.table)
    objectives = resolve_objectives(table, pairs, field="--objectives")
    summaries = []
    for name in names:
        own = {k: v for k, v in options.items() if k in accepted[name]}
        if args.format == "text":
            log.info(f"simulating {name} x {args.seeds} seeds ...")
        summaries.append(simulate_multiobjective(table, controller=name, objectives=objectives,
                                                 budget_seconds=args.budget_seconds, seeds=args.seeds, options=own,
                                                 top_k=args.top_k, first_seed=args.first_seed))
    if args.format == "json":
        print_json([s.to_dict() for s in summaries])
        return 0
    first = summaries[0]
    declared = table.declaration
    scored = [f"{column} ({mode}" + (f"; scored by {declared.full}" if column == declared.proxy else "") + ")"
              for column, mode in objectives]
    print(f"{declared.label} ({first.table_source}), budget {args.budget_seconds:g} simulated s, {args.seeds} seeds; "
          f"objectives {', '.join(scored)}")
    true_columns = [declared.full if column == declared.proxy else column for column, _ in objectives]
    print(f"reference point (the table's worst values): "
          f"{', '.join(f'{c} {_number(v)}' for c, v in zip(true_columns, first.reference))}; the table's true front: "
          f"{first.true_front_size} architectures; hypervolumes below are fractions of its hypervolume (1 = found)")
    rows = [[s.controller, _text(s.hypervolume_mean, s.hypervolume_std),
             _text(s.proxy_hypervolume_mean, s.proxy_hypervolume_std),
             _text(s.stage2_hypervolume_mean, s.stage2_hypervolume_std),
             f"{s.mean_front_size:.1f}", f"{s.mean_evaluations:.1f}"] for s in summaries]
    print_table(rows, ["controller", "hypervolume (true values)", "by proxy values",
                       f"stage 2 ({args.top_k} spread, true)", "front size", "evaluations"])
    return 0
