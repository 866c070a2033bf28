"""``raynas latency``: latency, memory, parameters and FLOPs of one architecture of a task."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.errors import ConfigError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("latency", help="measure latency, memory, parameters and FLOPs of an architecture")
    parser.add_argument("--task", required=True, help="task file (or name in proxy_tasks/)")
    parser.add_argument("--arch", help="architecture as JSON, or @FILE (default: a random sample with --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random architecture (default 0)")
    parser.add_argument("--variant", choices=["proxy", "full"], default="full", help="model scale (default full)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--batch-size", type=int, default=1, help="inference batch size (default 1)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed passes first (default 10)")
    parser.add_argument("--repeats", type=int, default=50, help="timed passes; the median is reported (default 50)")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _arch(text: str | None, space, seed: int):
    if text is None:
        return space.sample(seed)
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        arch = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("--arch", text[:80], "a JSON architecture or @FILE", str(exc)) from None
    space.encode(arch)  # SpaceError naming the offending path if it is not in the space
    return arch


def _run(args: argparse.Namespace) -> int:
    from raynas.targets import task_target
    from raynas.tasks import load_task
    from raynas.training import measure_model

    if args.batch_size < 1 or args.repeats < 1 or args.warmup < 0:
        raise ConfigError("--batch-size/--repeats/--warmup", (args.batch_size, args.repeats, args.warmup),
                          "batch size and repeats >= 1, warmup >= 0")
    task = load_task(args.task)
    target = task_target(task)
    space = target.space()
    arch = _arch(args.arch, space, args.seed)
    model, shape = target.model_for(arch, args.variant)
    cost = measure_model(model, input_shape=shape, batch_size=args.batch_size, device=args.device,
                         warmup=args.warmup, repeats=args.repeats)
    if args.format == "json":
        print_json({"task": task.name, "variant": args.variant, "arch": arch, **cost.to_dict()})
        return 0
    print(f"{task.name} ({args.variant}), space {space.name}, arch {json.dumps(arch)}")
    print_table([["latency (median)", f"{cost.latency_ms:.3f} ms"], ["latency (p90)", f"{cost.latency_p90_ms:.3f} ms"],
                 ["memory", f"{cost.memory_mb:.2f} MB ({cost.memory_source})"], ["parameters", f"{cost.params:,}"],
                 ["FLOPs per sample", f"{cost.flops:,}"], ["batch / device", f"{cost.batch_size} / {cost.device}"]],
                ["measure", "value"])
    return 0
