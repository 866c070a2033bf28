"""A real multi-node Ray cluster on one machine, started the way users start one: `ray start` per node.

One head node (1 CPU, no GPU: it only drives, as in cluster.yaml) and two worker nodes that each declare 2 GPUs
(Ray hands them out as CUDA_VISIBLE_DEVICES; the simulated tabular trials never touch a GPU). Token
authentication is on, with one token shared by every node and driver through the environment.

Each node runs ``ray start --block`` in its own process group, so the fixture can stop exactly its own nodes
(``ray stop`` would also stop the Ray instance other tests of the session use) and a test can kill one node's
raylet to simulate a node that dies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).with_name("ray"))


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (the sockets stay bound until all are chosen, so none is picked twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Node:
    """One `ray start --block` process (its Ray processes are its children)."""

    kind: str
    process: subprocess.Popen
    log: Path

    def raylet_pid(self) -> int:
        """The node's raylet: the process named raylet in the session of its `ray start` (from /proc)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            name = text[text.index("(") + 1:text.rindex(")")]
            session = int(text[text.rindex(")") + 2:].split()[3])
            if name == "raylet" and session == self.process.pid:
                return int(stat.parent.name)
        raise AssertionError(f"no raylet under the {self.kind} node's `ray start` (log: {self.log.read_text()[-2000:]})")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:  # whatever the node left behind in its process group
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class MultiNodeCluster:
    """The running cluster: its address, the environment a driver needs, and its nodes."""

    address: str
    env: dict[str, str]
    root: Path
    nodes: list[Node] = field(default_factory=list)

    def start_node(self, kind: str, *args: str) -> Node:
        """``ray start --block ARGS`` with ports of its own: nodes started close together on one machine would
        otherwise race for the same random ports (a raylet then dies with "bind: Address already in use")."""
        index = len(self.nodes)
        log = self.root / f"{kind}-{index}.log"
        handle = open(log, "w")
        first_worker_port = 20000 + 1000 * index
        names = ["node-manager", "object-manager", "metrics-export", "dashboard-agent-listen", "dashboard-agent-grpc",
                 "runtime-env-agent"]
        ports = [f"--{name}-port={port}" for name, port in zip(names, _free_ports(len(names)))]
        ports += [f"--min-worker-port={first_worker_port}", f"--max-worker-port={first_worker_port + 999}"]
        process = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *ports, *args], env=self.env,
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        node = Node(kind, process, log)
        self.nodes.append(node)
        return node

    def add_worker(self) -> Node:
        """A worker node with 2 CPUs and 2 GPUs (the cluster.yaml worker type, scaled down); returns once it joined."""
        before = len(self.worker_ids())
        node = self.start_node("worker", f"--address={self.address}", "--num-cpus=2", "--num-gpus=2")
        self.wait_for_workers(before + 1)
        return node

    def node_table(self) -> list[dict]:
        """Alive nodes as Ray reports them (id, resources), read by a separate driver process."""
        code = ("import json, ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
                "print(json.dumps([{'id': n['NodeID'], 'resources': n['Resources'], 'alive': n['Alive']} "
                "for n in ray.nodes()]))" % self.address)
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        return [n for n in json.loads(out.stdout.strip().splitlines()[-1]) if n["alive"]]

    def wait_for_workers(self, count: int, timeout_s: float = 120.0) -> list[dict]:
        deadline = time.time() + timeout_s
        while True:
            if any(node.process.poll() is not None for node in self.nodes if node.kind != "lost"):
                dead = next(node for node in self.nodes if node.process.poll() is not None)
                raise AssertionError(f"`ray start` of a {dead.kind} node exited: {dead.log.read_text()[-3000:]}")
            table = self.node_table()
            workers = [n for n in table if n["resources"].get("GPU", 0) == 2]
            if len(workers) >= count:
                return table
            if time.time() > deadline:
                raise AssertionError(f"{len(workers)} of {count} worker nodes joined: {table}")
            time.sleep(1.0)

    def worker_ids(self) -> set[str]:
        return {n["id"] for n in self.node_table() if n["resources"].get("GPU", 0) == 2}

    def head_id(self) -> str:
        return next(n["id"] for n in self.node_table() if n["resources"].get("GPU", 0) == 0)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


@pytest.fixture(scope="module")
def multinode(tmp_path_factory) -> MultiNodeCluster:
    """Head (1 CPU, 0 GPU) plus 2 worker nodes with 2 GPUs each, token auth on, torn down after the module."""
    root = tmp_path_factory.mktemp("multinode")
    (port,) = _free_ports(1)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex + uuid.uuid4().hex,
           "RAY_ADDRESS": f"127.0.0.1:{port}",
           # a lost node is noticed within seconds, not the default ~30 s
           "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
           "RAY_health_check_initial_delay_ms": "1000", "RAY_DEDUP_LOGS": "0"}
    cluster = MultiNodeCluster(address=f"127.0.0.1:{port}", env=env, root=root)
    # Ray's own temp dir for this cluster: `ray start --head` records its address in <temp dir>/ray_current_cluster,
    # and a plain `ray.init()` anywhere on the machine (other tests) would join a cluster recorded in the default
    # /tmp/ray. A short path: Ray's socket paths under it must fit in 107 characters.
    temp_dir = tempfile.mkdtemp(prefix="raynas-mn-", dir="/tmp")
    try:
        cluster.start_node("head", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                           "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={temp_dir}")
        cluster.add_worker()
        cluster.add_worker()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
        recorded = Path("/tmp/ray/ray_current_cluster")  # in case a node wrote it there anyway
        if recorded.is_file() and recorded.read_text().strip().endswith(f":{port}"):
            recorded.unlink()
