"""``raynas space list`` and ``raynas space info NAME``."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json, print_table


def register(commands: argparse._SubParsersAction) -> None:
    space = commands.add_parser("space", help="list search spaces or describe one (size, decisions, options)")
    sub = space.add_subparsers(dest="space_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="registered search spaces with their sizes")
    add_format_flag(listing)
    listing.set_defaults(handler=_list)
    info = sub.add_parser("info", help="decisions, options per decision and total size of a space")
    info.add_argument("name", help="search space name")
    add_format_flag(info)
    info.set_defaults(handler=_info)


def _list(args: argparse.Namespace) -> int:
    from raynas.registry import get_space, space_names

    spaces = [get_space(name) for name in space_names()]
    if args.format == "json":
        print_json([{"name": s.name, "size": str(s.size), "log10_size": round(s.log10_size, 3),
                     "num_decisions": s.num_decisions} for s in spaces])
    else:
        print_table([[s.name, s.num_decisions, f"{s.size:,}", f"{s.log10_size:.2f}"] for s in spaces],
                    ["space", "decisions", "size", "log10(size)"])
    return 0


def _info(args: argparse.Namespace) -> int:
    from raynas.registry import get_space

    summary = get_space(args.name).summary()
    if args.format == "json":
        print_json(summary.to_dict())
        return 0
    print(f"search space {summary.name!r}: {summary.num_decisions} decisions, "
          f"{summary.size:,} architectures (10^{summary.log10_size:.2f})")
    rows = [[i, path, kind, n, ", ".join(labels), cond or ""]
            for i, (path, kind, n, labels, cond) in enumerate(summary.decisions)]
    print_table(rows, ["#", "decision", "kind", "options", "values", "active when"])
    return 0
