"""``raynas controllers``: the registered controllers and their options."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json, print_table


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("controllers", help="list controllers (search strategies) and their options")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.controllers import DEFAULT_CONTROLLER, controller_class, controller_names, controller_options

    rows = []
    for name in controller_names():
        doc = (controller_class(name).__doc__ or "").strip().splitlines()[0]
        rows.append({"name": name, "default": name == DEFAULT_CONTROLLER, "summary": doc,
                     "options": controller_options(name)})
    if args.format == "json":
        print_json(rows)
    else:
        print_table([[r["name"] + (" (default)" if r["default"] else ""), r["summary"],
                      ", ".join(f"{k}={v}" for k, v in r["options"].items())] for r in rows],
                    ["controller", "what it does", "options (defaults)"])
    return 0
