"""The ``raynas`` command-line program."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from typing import Sequence

from raynas import __version__
from raynas._log import logger, set_verbosity
from raynas.errors import RaynasError


def build_parser() -> argparse.ArgumentParser:
    from raynas.cli import (
        _analyze,
        _baseline,
        _benchmark,
        _controllers,
        _doctor,
        _estimate,
        _export,
        _latency,
        _mlflow,
        _monitor,
        _proxy,
        _run,
        _search,
        _space,
        _split,
        _train,
        _trials,
    )

    parser = argparse.ArgumentParser(
        prog="raynas",
        description="Neural Architecture Search on Ray Tune: proxy-task search with a controller, then full "
                    "training of the best candidates, every run on disk and in MLflow.",
    )
    parser.add_argument("--version", action="version", version=f"raynas {__version__}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true",
                          help="only warnings and errors on stderr, no progress lines (results still print on stdout)")
    loudness.add_argument("-v", "--verbose", action="store_true", help="debug detail on stderr too")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _search.register(commands)
    _trials.register(commands)
    _space.register(commands)
    _controllers.register(commands)
    _split.register(commands)
    _latency.register(commands)
    _benchmark.register(commands)
    _mlflow.register(commands)
    _monitor.register(commands)
    _baseline.register(commands)
    _proxy.register(commands)
    _run.register(commands)
    _estimate.register(commands)
    _analyze.register(commands)
    _train.register(commands)
    _export.register(commands)
    _doctor.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, and turn raynas errors into one clear line (exit code 2)."""
    # Ray Tune's new console output prints boxes and tables of its own; raynas prints its own progress lines.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logger().level
    set_verbosity(quiet=args.quiet, verbose=args.verbose)
    try:
        return _dispatch(args, argv)
    finally:
        logger().setLevel(level)  # main() called from Python (tests, notebooks) leaves the level as it found it


def _dispatch(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Run the command; every way it can end becomes one line on stderr and an exit code: 2 for a raynas error
    (bad input, with its fix) and for an OSError about a path the user gave, 130 for Ctrl-C, 1 (with a bug report
    line; the traceback with -v) for anything unexpected. KeyboardInterrupt aside, BaseExceptions (SystemExit)
    pass through."""
    from raynas.cli._paths import check_workdir_flag, os_error_line

    try:
        check_workdir_flag(args.command, getattr(args, "workdir", None))
        return int(args.handler(args) or 0)
    except RaynasError as exc:
        print(f"raynas: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        from raynas.cli._output import raynas_step

        words = shlex.join(sys.argv[1:] if argv is None else argv)
        again = (f"run `{raynas_step(words)}` again" if args.command == "run"
                 else f"resume with `{raynas_step('resume', 'NAME')}`")
        print(f"raynas: interrupted; results so far are on disk ({again})", file=sys.stderr)
        return 130
    except OSError as exc:
        line = os_error_line(exc)
        if line is None:
            return _internal_error(exc, args)
        logger().debug("traceback of the error below", exc_info=True)
        print(f"raynas: error: {line}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback unless asked for
        return _internal_error(exc, args)


def _internal_error(exc: BaseException, args: argparse.Namespace) -> int:
    """An exception raynas did not expect: one line asking for a bug report (the traceback first with -v)."""
    if getattr(args, "verbose", False):
        traceback.print_exc(file=sys.stderr)
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > 300:
        first = first[:297] + "..."
    print(f"raynas: internal error: {type(exc).__name__}: {first} (this is a bug in raynas: please report it; "
          "rerun with -v for the traceback)", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["build_parser", "main"]
