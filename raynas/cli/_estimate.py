"""``raynas estimate``: the cost and duration of a search before running it (workflow step 6)."""

from __future__ import annotations

import argparse
from pathlib import Path

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.errors import ConfigError
from raynas.experiment import DEFAULT_WORKDIR, find_experiment

#: EstimateInputs field -> the command-line flag that sets it (errors name the flag the user typed).
_FLAGS = {
    "trials_to_converge": "--trials-to-converge",
    "proxy_hours_per_trial": "--proxy-hours",
    "full_training_hours": "--full-training-hours",
    "max_concurrent": "--max-concurrent",
    "gpus_per_trial": "--gpus-per-trial",
    "max_trials": "--max-trials",
    "timeout_days": "--timeout-days",
    "max_total_days": "--max-total-days",
    "stage2_models": "--stage2-models",
    "cpus_per_trial": "--cpus-per-trial",
    "device": "--device",
}


def register(commands: argparse._SubParsersAction) -> None:
    from raynas.proxy import (
        DEFAULT_CPUS_PER_TRIAL,
        DEFAULT_GPUS_PER_TRIAL,
        DEFAULT_MAX_CONCURRENT,
        DEFAULT_MAX_TOTAL_DAYS,
        DEFAULT_MAX_TRIALS,
        DEFAULT_PROXY_HOURS,
        DEFAULT_STAGE2_MODELS,
        DEFAULT_TIMEOUT_DAYS,
        DEFAULT_TRIALS_TO_CONVERGE,
    )

    parser = commands.add_parser(
        "estimate", help="estimate a search's cost, duration, accelerators and resumes before running it",
        description="Size a search: search_cost = trials_to_converge * proxy_hours * gpus_per_trial, "
                    "days = trials_to_converge / max_concurrent * proxy_hours / 24, accelerators = max_concurrent * "
                    "gpus_per_trial, and the resumes needed at the job timeout (a search without GPUs, "
                    "--gpus-per-trial 0 or --device cpu, is sized in CPU workers instead). The proxy cost per trial "
                    "comes from "
                    f"--proxy-hours, else is measured from --experiment (a search's trials or a proxy search's chosen "
                    f"proxy), else is a "
                    f"{DEFAULT_PROXY_HOURS:g}-hour placeholder.")
    parser.add_argument("--experiment", help="measure the proxy cost per trial from this experiment's completed trials, "
                                             "or from the chosen proxy of a proxy-design workspace (e.g. digits-proxy, "
                                             "after `raynas proxy search`); a name under --workdir, or a directory")
    parser.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    parser.add_argument("--trials-to-converge", type=int, default=DEFAULT_TRIALS_TO_CONVERGE,
                        help=f"trials the search needs to converge (default {DEFAULT_TRIALS_TO_CONVERGE}, a first upper bound)")
    parser.add_argument("--proxy-hours", type=float,
                        help="hours one proxy trial takes (overrides the cost measured from --experiment)")
    parser.add_argument("--full-training-hours", type=float,
                        help="hours one full training of one model takes (for full-training equivalents and stage 2)")
    parser.add_argument("--max-concurrent", type=int, default=DEFAULT_MAX_CONCURRENT,
                        help=f"trials run in parallel (default {DEFAULT_MAX_CONCURRENT})")
    parser.add_argument("--gpus-per-trial", type=float, default=DEFAULT_GPUS_PER_TRIAL,
                        help=f"accelerators per trial (default {DEFAULT_GPUS_PER_TRIAL:g}; 0: a CPU search, sized in "
                             "CPU workers)")
    parser.add_argument("--cpus-per-trial", type=float, default=DEFAULT_CPUS_PER_TRIAL,
                        help=f"CPUs per trial (default {DEFAULT_CPUS_PER_TRIAL:g}; used by CPU searches)")
    parser.add_argument("--device", default="auto",
                        help="where trials run: auto, cpu, cuda or cuda:N (default auto; cpu: sized in CPU workers)")
    parser.add_argument("--max-trials", type=int, default=DEFAULT_MAX_TRIALS,
                        help=f"ceiling on trials (default {DEFAULT_MAX_TRIALS}; at least --trials-to-converge)")
    parser.add_argument("--timeout-days", type=float, default=DEFAULT_TIMEOUT_DAYS,
                        help=f"job timeout in days (default {DEFAULT_TIMEOUT_DAYS:g})")
    parser.add_argument("--max-total-days", type=float, default=DEFAULT_MAX_TOTAL_DAYS,
                        help=f"most days in all, resumes included (default {DEFAULT_MAX_TOTAL_DAYS:g}: one resume)")
    parser.add_argument("--stage2-models", type=int, default=DEFAULT_STAGE2_MODELS,
                        help=f"models full-trained in stage 2 (default {DEFAULT_STAGE2_MODELS})")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.proxy import DEFAULT_PROXY_HOURS, EstimateInputs, estimate, measured_by_proxy_search, measured_proxy_cost

    hours, source = args.proxy_hours, ""
    measured = None
    full_hours = args.full_training_hours
    if args.experiment:
        design = measured_by_proxy_search(Path(args.workdir) / args.experiment)
        if design is None:
            design = measured_by_proxy_search(args.experiment)
        if design is not None:
            measured = design[:3]
            full_hours = full_hours if full_hours is not None else design[3]
        else:
            paths = find_experiment(args.experiment, args.workdir)
            measured = measured_proxy_cost(paths.root)
            if measured is None:
                note = f"experiment {paths.root.name} has no completed trials to measure"
        if measured is not None:
            note = f"{measured[2]}: {measured[0]:.4g} h per trial"
    if hours is not None:
        source = f"flag (--proxy-hours {hours:g})"
        if args.experiment:
            source += f"; {note}, not used"
    elif measured is not None:
        hours, _, source = measured
    elif args.experiment:
        source = f"default (unmeasured: {DEFAULT_PROXY_HOURS:g} h per trial; {note})"
    try:
        inputs = EstimateInputs(
            trials_to_converge=args.trials_to_converge, proxy_hours_per_trial=hours,
            full_training_hours=full_hours, max_concurrent=args.max_concurrent,
            gpus_per_trial=args.gpus_per_trial, max_trials=args.max_trials, timeout_days=args.timeout_days,
            max_total_days=args.max_total_days, stage2_models=args.stage2_models, source=source,
            cpus_per_trial=args.cpus_per_trial, device=args.device,
        )
    except ConfigError as exc:
        raise ConfigError(_FLAGS.get(exc.field, exc.field), exc.value, _flag_words(exc.expected) or exc.expected,
                          _flag_words(exc.fix)) from None
    result = estimate(inputs)
    if args.format == "json":
        print_json(result.to_dict())
        return 0
    print_table(result.rows(), ["quantity", "value", "formula"])
    warnings = result.warnings()
    if warnings:
        print()
        for line in warnings:
            print(f"warning: {line}")
    print()
    print(f"search: {result.summary()}")
    print(f"proxy cost: {inputs.source}")
    return 0


def _flag_words(fix: str | None) -> str | None:
    """A fix text with field names replaced by their flags (longest first, so none is replaced inside another)."""
    if not fix:
        return fix
    for field in sorted(_FLAGS, key=len, reverse=True):
        fix = fix.replace(field, _FLAGS[field])
    return fix
