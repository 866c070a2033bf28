"""`raynas ui` stopped by SIGTERM (kill, a service manager) or SIGHUP (its terminal closed) takes its MLflow server,
and every process of it, along: the port closes and no child is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

RAYNAS = str(Path(sys.executable).with_name("raynas"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_to_raynas_ui_alone_ends_its_mlflow_server_and_all_its_processes(session_mlflow_store, tmp_path,
                                                                                         sig):
    port = _free_port()  # the UI serves the tests' SQLite store (conftest), created once per session
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    ui = subprocess.Popen([RAYNAS, "ui", "--workdir", str(tmp_path), "--tracking-uri", session_mlflow_store,
                           "--port", str(port)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True, env={**env, "PYTHONUNBUFFERED": "1"})
    output: list[str] = []
    children: list[psutil.Process] = []
    try:
        line = ""
        while "MLflow UI:" not in line:
            line = ui.stdout.readline()
            output.append(line)
            assert line or ui.poll() is None, "raynas ui exited early:\n" + "".join(output)
        # the server logs to the same pipe: keep reading, a full pipe would block it
        threading.Thread(target=lambda: output.extend(ui.stdout), daemon=True).start()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as health:
            assert health.status == 200
        children = psutil.Process(ui.pid).children(recursive=True)
        assert children, "the MLflow server runs as a child of raynas ui"
        ui.send_signal(sig)  # to raynas alone: the server is in a session of its own and gets nothing from us
        ui.wait(timeout=15)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (_port_open(port) or any(_alive(c) for c in children)):
            time.sleep(0.2)
        left = [f"{c.pid} {c.name()}" for c in children if _alive(c)]
        assert not left, f"{sig.name}: processes of raynas ui still running: {left}"
        assert not _port_open(port), f"{sig.name}: the MLflow server still answers on port {port}"
        assert ui.returncode == 0
    finally:
        for child in children:
            if _alive(child):
                child.kill()
        if ui.poll() is None:
            ui.kill()
            ui.wait()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
