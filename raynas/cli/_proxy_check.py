"""``raynas proxy check``: the final checklist before a search (registered by :mod:`raynas.cli._proxy`)."""

from __future__ import annotations

import argparse

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.errors import ConfigError

#: CheckSettings field -> the flag that sets it (errors name the flag the user typed).
_FLAGS = {
    "max_trials": "--max-trials",
    "trials_to_converge": "--trials-to-converge",
    "max_concurrent": "--max-concurrent-search",
    "gpus_per_trial": "--gpus-per-trial-search",
    "timeout_days": "--timeout-days",
    "max_total_days": "--max-total-days",
    "memory_headroom": "--memory-headroom",
    "max_failure_rate": "--max-failure-rate",
    "warn_failure_rate": "--warn-failure-rate",
    "max_space_size": "--max-space-size",
}


def add_parser(tools: argparse._SubParsersAction) -> None:
    """Add ``check`` to the ``raynas proxy`` tools."""
    from raynas.cli._proxy_target import add_target_args
    from raynas.proxy import CheckSettings

    d = CheckSettings()
    parser = tools.add_parser(
        "check", help="final checklist before a search: correlation, variance, cost, failures, memory, data, space",
        description="Check the proxy before a search, from what `raynas baseline`, `raynas proxy search` and "
                    "`raynas proxy variance` saved: each row is pass, warn or fail with the fix. The search flags "
                    "(--max-concurrent-search, ...) describe the planned search (the --max-concurrent and "
                    "--gpus-per-trial flags are the resources of the probe jobs). Exit code 1 when a check fails.")
    add_target_args(parser)
    search = parser.add_argument_group("planned search")
    search.add_argument("--max-trials", type=int, default=d.max_trials,
                        help=f"ceiling on trials (default {d.max_trials})")
    search.add_argument("--trials-to-converge", type=int, default=d.trials_to_converge,
                        help=f"trials the search needs to converge (default {d.trials_to_converge})")
    search.add_argument("--max-concurrent-search", type=int, default=d.max_concurrent,
                        help=f"trials of the search run in parallel (default {d.max_concurrent})")
    search.add_argument("--gpus-per-trial-search", type=float, default=d.gpus_per_trial,
                        help=f"accelerators per search trial (default {d.gpus_per_trial:g})")
    search.add_argument("--timeout-days", type=float, default=d.timeout_days,
                        help=f"job timeout in days (default {d.timeout_days:g})")
    search.add_argument("--max-total-days", type=float, default=d.max_total_days,
                        help=f"most days in all, resumes included (default {d.max_total_days:g})")
    limits = parser.add_argument_group("check thresholds")
    limits.add_argument("--memory-headroom", type=float, default=d.memory_headroom,
                        help=f"share of GPU memory probe runs must leave free (default {d.memory_headroom:g})")
    limits.add_argument("--max-failure-rate", type=float, default=d.max_failure_rate,
                        help=f"probe failure rate that fails the check (default {d.max_failure_rate:g})")
    limits.add_argument("--warn-failure-rate", type=float, default=d.warn_failure_rate,
                        help=f"probe failure rate that warns (default {d.warn_failure_rate:g})")
    limits.add_argument("--max-space-size", type=float, default=d.max_space_size,
                        help=f"largest space searched in one go (default {d.max_space_size:g})")
    add_format_flag(parser)
    parser.set_defaults(handler=_run_check)


def settings_from_args(args: argparse.Namespace):
    """The CheckSettings the flags describe (errors name the flag)."""
    from raynas.proxy import CheckSettings

    try:
        return CheckSettings(max_trials=args.max_trials, trials_to_converge=args.trials_to_converge,
                             max_concurrent=args.max_concurrent_search, gpus_per_trial=args.gpus_per_trial_search,
                             timeout_days=args.timeout_days, max_total_days=args.max_total_days,
                             memory_headroom=args.memory_headroom, max_failure_rate=args.max_failure_rate,
                             warn_failure_rate=args.warn_failure_rate, max_space_size=args.max_space_size)
    except ConfigError as exc:
        raise ConfigError(_FLAGS.get(exc.field, exc.field), exc.value, _flag_words(exc.expected) or exc.expected,
                          _flag_words(exc.fix)) from None


def _flag_words(text: str | None) -> str | None:
    """Field names in a message replaced by their flags (longest first, so none is replaced inside another)."""
    if not text:
        return text
    for field in sorted(_FLAGS, key=len, reverse=True):
        text = text.replace(field, _FLAGS[field])
    return text


def _run_check(args: argparse.Namespace) -> int:
    from raynas.cli._proxy_target import target_from_args, workspace_lock
    from raynas.proxy import proxy_check

    settings = settings_from_args(args)
    with workspace_lock(target_from_args(args)) as target:  # it writes check.json into the workspace
        report = proxy_check(target, settings)
    if args.format == "json":
        print_json(report.to_dict())
    else:
        print_table([[r.name, r.result.value, r.value, r.detail] for r in report.rows],
                    ["check", "result", "value", "detail"])
        print()
        print(report.summary())
    return 0 if report.passed else 1
