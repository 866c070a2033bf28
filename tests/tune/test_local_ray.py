"""Which Ray a run uses: its own instance unless an address is given (never a cluster merely recorded on the
machine), and an address where no cluster answers is one line with the fix, soon, not Ray's minutes of retries."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from raynas.errors import RaynasError
from raynas.tune._ray_address import check_reachable, on_cluster, resolve_address

RAYNAS = str(Path(sys.executable).with_name("raynas"))
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@pytest.fixture(scope="module")
def recorded_head():
    """A real `ray start --head` (1 CPU) recorded in the machine's Ray temp dir as the current cluster, exactly as
    a user's would be. The temp dir is one of the test's own (RAY_TMPDIR, for the head and for every process of the
    test), so other processes on this machine never see it; the head is stopped by its process group, never by
    `ray stop` (which would stop every Ray on the machine)."""
    tmp = tempfile.mkdtemp(prefix="rnl-", dir="/tmp")  # short: Ray's socket paths under it must fit 107 characters
    # token authentication as `ray start --head` turns it on by default, with a token of the test's own
    env = _env(RAY_TMPDIR=tmp, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=uuid.uuid4().hex + uuid.uuid4().hex)
    port, dashboard = _free_port(), _free_port()
    log = open(Path(tmp) / "head.log", "w")
    head = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", f"--dashboard-port={dashboard}",
                             "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats"],
                            env={**env, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},  # stops at once on SIGTERM
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    recorded = Path(tmp) / "ray" / "ray_current_cluster"
    try:
        deadline = time.monotonic() + 180
        while not recorded.is_file() or not recorded.read_text().strip():
            assert head.poll() is None, (Path(tmp) / "head.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "ray start --head did not record its address"
            time.sleep(0.5)
        yield {"env": env, "port": port, "recorded": recorded.read_text().strip(), "tmp": Path(tmp)}
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(head.pid, sig)
                head.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        log.close()
        subprocess.run(["rm", "-rf", tmp], check=False)


def _jobs_on(address: str, env: dict[str, str]) -> dict:
    """The drivers the cluster at ``address`` has seen, read by a driver that joins it through ensure_ray."""
    code = ("import json, ray\nfrom raynas.tune import ensure_ray\nassert ensure_ray(%r)\n"
            "me = ray.get_runtime_context().get_job_id()\n"
            "jobs = [j['JobID'].hex() if hasattr(j['JobID'], 'hex') else str(j['JobID']) for j in ray.state.jobs()]\n"
            "print(json.dumps({'me': me, 'jobs': jobs, 'cpus': ray.cluster_resources().get('CPU'),\n"
            "                  'gcs': ray.get_runtime_context().gcs_address}))" % address)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.ray
def test_a_search_without_an_address_starts_its_own_ray_not_the_cluster_recorded_on_the_machine(recorded_head,
                                                                                                  tmp_path):
    env, port = recorded_head["env"], recorded_head["port"]
    assert recorded_head["recorded"].endswith(f":{port}")  # what a plain ray.init() would join
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({"name": "own", "workdir": str(tmp_path / "work"), "max_trials": 2,
                                      "max_concurrent": 2, "gpus_per_trial": 0, "cpus_per_trial": 0.5}))
    out = subprocess.run([RAYNAS, "search", "--config", str(config), "--no-mlflow", "--format", "json"], env=env,
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout[out.stdout.index("{"):])["trials"] == 2
    # the head saw no driver but the one that reads its job table: the search ran on a Ray of its own
    seen = _jobs_on(f"127.0.0.1:{port}", env)
    assert seen["gcs"].endswith(f":{port}") and seen["cpus"] == 1.0
    assert seen["jobs"] == [seen["me"]], seen


@pytest.mark.ray
def test_with_an_address_ray_joins_that_cluster(recorded_head):
    """The other half of the rule, and a real cluster passing the reachability check: RAY_ADDRESS joins."""
    env, port = recorded_head["env"], recorded_head["port"]
    code = ("import json, ray\nfrom raynas.tune import ensure_ray\nensure_ray()\n"
            "print(json.dumps({'gcs': ray.get_runtime_context().gcs_address}))")
    joined = subprocess.run([sys.executable, "-c", code], env={**env, "RAY_ADDRESS": f"127.0.0.1:{port}"},
                            capture_output=True, text=True, timeout=180)
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert json.loads(joined.stdout.strip().splitlines()[-1])["gcs"].endswith(f":{port}")


@pytest.mark.ray
def test_auto_is_checked_at_the_cluster_recorded_on_the_machine(recorded_head, monkeypatch):
    monkeypatch.setenv("RAY_TMPDIR", recorded_head["env"]["RAY_TMPDIR"])
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    check_reachable("auto", timeout_s=10)  # the recorded head answers
    check_reachable(f"127.0.0.1:{recorded_head['port']}", timeout_s=10)


@pytest.mark.parametrize("config, env, expected", [
    (None, None, "local"), (None, "", "local"), (None, "local", "local"), (None, "auto", "auto"),
    ("10.0.0.1:6379", None, "10.0.0.1:6379"), ("10.0.0.1:6379", "auto", "10.0.0.1:6379"),
])
def test_the_address_rule_and_what_counts_as_a_cluster(monkeypatch, config, env, expected):
    if env is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", env)
    assert resolve_address(config) == expected
    assert on_cluster(config) is (expected != "local")


def _listening() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server, server.getsockname()[1]


def test_a_port_with_nothing_listening_is_one_line_with_the_fix():
    port = _free_port()
    with pytest.raises(RaynasError) as err:
        check_reachable(f"127.0.0.1:{port}", timeout_s=5)
    text = str(err.value)
    assert "\n" not in text and f"'127.0.0.1:{port}'" in text and "no Ray cluster answered there" in text
    assert "ray start --head" in text and "remove ray_address" in text


def test_a_port_where_something_else_listens_is_not_taken_for_a_cluster():
    """E.g. the dashboard's port given instead of the GCS port: it accepts the connection but speaks no gRPC."""
    server, port = _listening()

    def answer_like_a_web_server() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    web = threading.Thread(target=answer_like_a_web_server, daemon=True)
    web.start()
    try:
        with pytest.raises(RaynasError, match="something listens there but it is not a Ray cluster"):
            check_reachable(f"127.0.0.1:{port}", timeout_s=5)
        web.join(timeout=5)
        with pytest.raises(RaynasError, match="no Ray cluster answered there .no answer within 1 s"):
            check_reachable(f"127.0.0.1:{port}", timeout_s=1)  # accepted by the backlog, never answered
        with pytest.raises(RaynasError, match="no port in the address"):
            check_reachable("127.0.0.1", timeout_s=1)
    finally:
        server.close()


def test_search_with_an_unreachable_ray_address_exits_2_with_one_line_and_no_traceback(tmp_path):
    port = _free_port()
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({"name": "far", "workdir": str(tmp_path / "work"), "max_trials": 2,
                                      "gpus_per_trial": 0, "cpus_per_trial": 0.5,
                                      "ray_address": f"127.0.0.1:{port}"}))
    out = subprocess.run([RAYNAS, "search", "--config", str(config), "--no-mlflow"], env=_env(), capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    assert errors[-1].startswith("raynas: error: ray_address") and f"127.0.0.1:{port}" in errors[-1]
    assert "no Ray cluster answered there" in errors[-1] and "ray start --head" in errors[-1]
    assert not any("raynas: error" in line for line in errors[:-1])

