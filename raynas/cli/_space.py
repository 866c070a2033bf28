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
    """Every space name; sizes of the built-in spaces and bundled families only. A family found in a folder of the
    user's (``./search_spaces`` of the current directory...) is listed by its file name and not imported: listing
    what a folder holds never runs code from it (``raynas space info NAME`` loads that one family)."""
    from raynas.families import discover_families, is_bundled
    from raynas.registry import BUILTIN_SPACES, get_space, space_names

    files = discover_families()
    rows: list[dict[str, object]] = []
    for name in space_names():
        path = None if name in BUILTIN_SPACES else files[name]
        if path is not None and not is_bundled(path):
            rows.append({"name": name, "size": None, "log10_size": None, "num_decisions": None, "source": str(path)})
            continue
        space = get_space(name)
        rows.append({"name": name, "size": str(space.size), "log10_size": round(space.log10_size, 3),
                     "num_decisions": space.num_decisions, "source": "built-in" if path is None else "bundled"})
    if args.format == "json":
        print_json(rows)
        return 0
    print_table([[r["name"], "-" if r["size"] is None else r["num_decisions"],
                  "-" if r["size"] is None else f"{int(str(r['size'])):,}",
                  "-" if r["size"] is None else f"{r['log10_size']:.2f}", r["source"]] for r in rows],
                ["space", "decisions", "size", "log10(size)", "source"])
    if any(r["size"] is None for r in rows):
        print("(-: a family file of yours, not imported by listing; `raynas space info NAME` loads it)")
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
