"""``raynas ui`` (the MLflow UI on the embedded store) and ``raynas mlflow sync`` (replay a trial store)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from raynas.cli._output import add_format_flag, print_json
from raynas.errors import ConfigError, RaynasError
from raynas.experiment import DEFAULT_WORKDIR, find_experiment

DEFAULT_UI_PORT = 5000


def register(commands: argparse._SubParsersAction) -> None:
    ui = commands.add_parser("ui", help="start the MLflow UI on the work directory's tracking store",
                             description="Start the MLflow UI (localhost only) on the embedded SQLite store of a "
                                         "work directory and print its URL; Ctrl-C stops it.")
    ui.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"work directory (default {DEFAULT_WORKDIR})")
    ui.add_argument("--tracking-uri", help="a sqlite:/// store to show instead of the work directory's")
    ui.add_argument("--port", type=int, default=DEFAULT_UI_PORT, help=f"port (default {DEFAULT_UI_PORT})")
    ui.add_argument("--host", default="127.0.0.1",
                    help="interface to listen on (default 127.0.0.1: this machine only; reach it from elsewhere "
                         "with an SSH tunnel)")
    ui.set_defaults(handler=_run_ui)

    mlflow = commands.add_parser("mlflow", help="MLflow tracking tools")
    tools = mlflow.add_subparsers(dest="mlflow_command", metavar="TOOL", required=True)
    sync = tools.add_parser("sync", help="send an experiment's trials that MLflow has not received yet",
                            description="Replay an experiment's trial store to MLflow: every trial not yet sent "
                                        "(e.g. while the tracking server was down) gets its run; trials already "
                                        "there are left as they are. Safe to run any number of times.")
    sync.add_argument("experiment", help="experiment name (under --workdir) or directory")
    sync.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    sync.add_argument("--tracking-uri", help="send to this tracking URI instead of the experiment's own")
    add_format_flag(sync)
    sync.set_defaults(handler=_run_sync)


def _run_sync(args: argparse.Namespace) -> int:
    from raynas.config import SearchConfig
    from raynas.tracking import sync_search

    _check_tracking_uri(args.tracking_uri)
    paths = find_experiment(args.experiment, args.workdir)
    config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config)).located_at(paths.root)
    status = _status(paths)
    report = sync_search(config, status=status, tracking_uri=args.tracking_uri)
    if args.format == "json":
        print_json(report.to_dict())
    else:
        print(f"sent {report.sent} trial records to {report.tracking_uri} ({report.already} were there already)")
        for line in report.lines(args.experiment if args.workdir == DEFAULT_WORKDIR else str(paths.root)):
            print(line)
    return 1 if report.pending or report.refused else 0


def _status(paths: Any) -> dict[str, Any] | None:
    """How the search ended (None while it runs; a damaged status.json is skipped with a warning naming it)."""
    from raynas.errors import DamagedFileError
    from raynas.experiment import read_json

    try:
        return read_json(paths.status, expect=dict) if paths.status.exists() else None
    except DamagedFileError as exc:
        logging.getLogger(__name__).warning("%s; sent as a search that has not ended", exc)
        return None


def _check_tracking_uri(uri: str | None) -> None:
    """``--tracking-uri`` of ``mlflow sync``: one of the forms a search config accepts (one line listing them)."""
    if uri is None:
        return
    from raynas.config import TrackingConfig

    if not uri.strip():
        raise ConfigError("--tracking-uri", uri, "a tracking URI", "e.g. --tracking-uri http://head-node:5000 or "
                          "sqlite:////abs/path/mlflow.db (or leave it out: the experiment's own)")
    try:
        TrackingConfig(tracking_uri=uri)
    except ConfigError as exc:
        raise ConfigError("--tracking-uri", uri, exc.expected, exc.fix) from None


def ui_command(store_uri: str, artifacts: Path, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line that serves the UI on ``store_uri``."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
            "--artifacts-destination", str(artifacts), "--host", host, "--port", str(port), "--workers", "1"]


class _StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP received by ``raynas ui``: stop the server as Ctrl-C does."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _StopSignal(signal.Signals(signum).name)


_STOP_HANDLERS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _raise_stop, signal.SIGHUP: _raise_stop}
UI_STOP_GRACE_S = 5.0
"""How long the MLflow server (and its workers) get to exit after SIGTERM before SIGKILL."""


def _stop_group(process: subprocess.Popen) -> None:
    """End the server's whole process group (its gunicorn/uvicorn workers too): SIGTERM, then SIGKILL after
    :data:`UI_STOP_GRACE_S` for whatever is left, the server's own process or its workers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the group is gone
    deadline = time.monotonic() + UI_STOP_GRACE_S
    while time.monotonic() < deadline and _group_alive(process):
        time.sleep(0.1)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the server itself, or the group would look alive
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _run_ui(args: argparse.Namespace) -> int:
    from raynas.tracking import embedded_target, reachable, resolve_target

    if not 0 < args.port < 65536:
        raise ConfigError("--port", args.port, "a TCP port between 1 and 65535")
    if args.tracking_uri:
        if args.tracking_uri.startswith(("http://", "https://")):
            print(f"{args.tracking_uri} is a tracking server: open it in a browser, it serves the UI itself")
            return 0
        target = resolve_target(args.tracking_uri, args.workdir)
        if not target.uri.startswith("sqlite:///"):
            raise ConfigError("--tracking-uri", args.tracking_uri, "a sqlite:/// store or an http:// server")
    else:
        target = embedded_target(args.workdir)
    database = Path(target.uri[len("sqlite:///"):])
    if not database.is_file():
        raise RaynasError(f"no MLflow store at {database}: run a search in this work directory first "
                          f"(or pass --workdir / --tracking-uri)")
    command = ui_command(target.uri, Path(target.artifact_root or database.parent / "mlartifacts"),
                         args.host, args.port)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    # Ctrl-C stops the UI even when it was started from a process that ignores SIGINT (Python keeps an inherited
    # SIG_IGN; in a CI run the UI then never stopped); SIGTERM (kill, a service manager) and SIGHUP (the terminal
    # closed) stop it the same way: the server runs in a session of its own, so no signal reaches it but ours
    previous = {sig: signal.signal(sig, handler) for sig, handler in _STOP_HANDLERS.items()}
    process: subprocess.Popen | None = None
    try:
        # MLflow's job runners (GenAI evaluation jobs; raynas uses none) would start half a dozen more processes
        process = subprocess.Popen(command, start_new_session=True,
                                   env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        print(f"starting the MLflow UI on {target.uri} ...", flush=True)
        probe = type(target)(url)
        while not reachable(probe, timeout_s=1.0):
            if process.poll() is not None:
                raise RaynasError(f"the MLflow UI exited with code {process.returncode} (is port {args.port} in "
                                  "use? pick another with --port)")
            time.sleep(0.5)
        print(f"MLflow UI: {url}  (Ctrl-C to stop)", flush=True)
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C, or _StopSignal (SIGTERM, SIGHUP)
        return 0
    finally:
        for sig in previous:  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        if process is not None:
            _stop_group(process)
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: not set from Python
