"""Run a raynas command on the head node of a Ray cluster started with ``ray up cluster.yaml``.

``ray submit cluster.yaml raynas/cluster/launcher.py -- search --config /mnt/raynas/my_search.yaml`` copies this
file alone to ``~/launcher.py`` on the head node and runs ``python ~/launcher.py search --config ...`` there
(inside the head's container, where ``ray up`` installed raynas). It is also importable as
``raynas.cluster.launcher`` (``python -m raynas.cluster.launcher ARGS``, e.g. as a Ray Jobs entrypoint).

Before running ``raynas ARGS`` it sets, only where the user has not:

- ``RAY_ADDRESS=auto``: raynas connects to the running cluster instead of starting a local Ray instance;
- ``MLFLOW_TRACKING_URI=http://127.0.0.1:5000``: the MLflow server that ``cluster.yaml`` starts on the head;
- ``--workdir /mnt/raynas/work`` (the shared file system every node mounts) for subcommands that take
  ``--workdir``, when that directory exists and no ``--workdir`` was given. ``search`` and ``run`` keep an
  absolute ``workdir`` set in their YAML file; a relative one (such as the default ``raynas-work``) would be on
  the head's local disk, where the workers cannot read the experiment directory, so it is replaced.

Standalone on purpose: no relative imports, and raynas is imported only from the installed package.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

#: The raynas work directory on the cluster's shared file system (cluster.yaml mounts the share at /mnt/raynas).
SHARED_WORKDIR = "/mnt/raynas/work"
#: Connect to the Ray instance running on this node (the cluster's head) instead of starting one.
DEFAULT_RAY_ADDRESS = "auto"
#: The MLflow tracking server that cluster.yaml starts on the head node (localhost only).
DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
#: Subcommands whose ``--workdir`` overrides the workdir of a YAML file they read, and the argument naming it.
FILE_WITH_WORKDIR = {"search": "config", "run": "workflow"}


def prepare(argv: Sequence[str], environ: Mapping[str, str], *,
            shared_workdir: str | Path = SHARED_WORKDIR) -> tuple[list[str], dict[str, str]]:
    """The raynas command line to run and the environment variables to set (only those not set yet).

    Pure apart from looking at files: whether ``shared_workdir`` is a directory and, for ``search`` and
    ``run``, the ``workdir`` key of their YAML file. Starts nothing and changes nothing.
    """
    env: dict[str, str] = {}
    if not environ.get("RAY_ADDRESS"):
        env["RAY_ADDRESS"] = DEFAULT_RAY_ADDRESS
    if not environ.get("MLFLOW_TRACKING_URI"):
        env["MLFLOW_TRACKING_URI"] = DEFAULT_TRACKING_URI
    return _with_workdir(list(argv), Path(shared_workdir)), env


def describe(argv: Sequence[str], environ: Mapping[str, str], *,
             shared_workdir: str | Path = SHARED_WORKDIR) -> str:
    """One line: where the command will find Ray, MLflow and its work directory (warns when the shared work
    directory is missing: a multi-node cluster needs the experiment directory on shared storage)."""
    workdir = _option_value(argv, "--workdir")
    where = f"workdir {workdir}" if workdir else "workdir as configured"
    if not Path(shared_workdir).is_dir():
        where += f" (warning: no {shared_workdir} here; every node must see the work directory)"
    return (f"[raynas] cluster launcher: Ray at {environ.get('RAY_ADDRESS') or 'a new local instance'}, "
            f"MLflow at {environ.get('MLFLOW_TRACKING_URI') or 'the default store'}, {where}; "
            f"running: raynas {' '.join(argv)}")


def main(argv: list[str] | None = None) -> int:
    """Set the cluster defaults, print what the command connects to, run ``raynas ARGV``; its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        import raynas.cli  # noqa: F401  (installed on every node by cluster.yaml's setup_commands)
    except ImportError as exc:
        print(f"[raynas] cluster launcher: raynas is not installed here ({exc}); `ray up cluster.yaml` from the "
              "repository root installs it on every node", file=sys.stderr)
        return 2
    new_argv, env = prepare(argv, os.environ, shared_workdir=SHARED_WORKDIR)
    os.environ.update(env)
    print(describe(new_argv, os.environ, shared_workdir=SHARED_WORKDIR), file=sys.stderr, flush=True)
    from raynas.cli import main as raynas_main

    try:
        return int(raynas_main(new_argv) or 0)
    except SystemExit as exc:  # argparse: bad arguments (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


# --- helpers ---------------------------------------------------------------------------------------------------
def _with_workdir(argv: list[str], shared: Path) -> list[str]:
    """``argv`` with ``--workdir SHARED`` added where the subcommand takes it and nothing else sets it."""
    if not shared.is_dir() or _gives_option(argv, "--workdir"):
        return argv
    args = _parse(argv)
    if args is None or not hasattr(args, "workdir"):
        return argv
    file_arg = FILE_WITH_WORKDIR.get(getattr(args, "command", ""))
    path = getattr(args, file_arg, None) if file_arg else None
    if path is not None and _keeps_own_workdir(path):
        return argv
    return _insert(argv, ["--workdir", str(shared)])


def _parse(argv: list[str]) -> Any:
    """raynas's own parse of ``argv``; None when it would not parse (or asks for help): raynas reports that."""
    from raynas.cli import build_parser

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return build_parser().parse_args(argv)
    except SystemExit:
        return None


def _keeps_own_workdir(path: str) -> bool:
    """Whether a search config or workflow file sets an absolute ``workdir`` (unreadable files: leave them to
    raynas, which reports them)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).expanduser().read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True
    workdir = data.get("workdir") if isinstance(data, dict) else None
    return isinstance(workdir, str) and os.path.isabs(os.path.expanduser(workdir))


def _options(argv: Sequence[str]) -> list[str]:
    """The tokens before ``--`` (after it nothing is an option)."""
    argv = list(argv)
    return argv[:argv.index("--")] if "--" in argv else argv


def _gives_option(argv: Sequence[str], option: str) -> bool:
    """Whether ``option`` is given, also as ``--opt=value`` or abbreviated (argparse accepts unique prefixes)."""
    for token in _options(argv):
        name = token.split("=", 1)[0]
        if name.startswith("--") and len(name) > 2 and option.startswith(name):
            return True
    return False


def _option_value(argv: Sequence[str], option: str) -> str | None:
    """The value of the last ``option VALUE`` / ``option=VALUE`` in ``argv``."""
    value = None
    tokens = _options(argv)
    for i, token in enumerate(tokens):
        if token == option and i + 1 < len(tokens):
            value = tokens[i + 1]
        elif token.startswith(option + "="):
            value = token.split("=", 1)[1]
    return value


def _insert(argv: list[str], extra: list[str]) -> list[str]:
    """``extra`` after the last option token (before ``--`` if there is one)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i] + extra + argv[i:]
    return argv + extra


if __name__ == "__main__":
    sys.exit(main())
