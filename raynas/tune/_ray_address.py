"""Which Ray a run uses, and a bounded check that a cluster answers at a given address before Ray tries to join it.

A run without an address (neither a config's ``ray_address`` nor ``RAY_ADDRESS``) starts a Ray instance of its own
(``"local"``): Ray's own default would join any cluster recorded on the machine (``ray start --head`` writes its
address to ``/tmp/ray/ray_current_cluster``). With an address, Ray would retry an unreachable one for many minutes
(20 attempts of about 40 s each in Ray 2.x); :func:`check_reachable` answers in at most :data:`CONNECT_TIMEOUT_S`
with one line saying what to do.
"""

from __future__ import annotations

import os
import socket
import time

from raynas.errors import RaynasError

LOCAL = "local"
CONNECT_TIMEOUT_S = 10.0
"""How long a cluster has to accept a connection and answer the gRPC handshake (both steps together)."""

# HTTP/2 client connection preface and an empty SETTINGS frame: every gRPC server (Ray's GCS, the Ray Client server)
# answers with a SETTINGS frame of its own; anything else (nothing listening, a web server, a dashboard port) does not.
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 0x04


def resolve_address(address: str | None = None) -> str:
    """The Ray address a run uses: ``address`` (a config's ``ray_address``), else ``RAY_ADDRESS``, else
    ``"local"`` (a new Ray instance of the run's own, never a cluster recorded on the machine)."""
    return address or os.environ.get("RAY_ADDRESS") or LOCAL


def on_cluster(address: str | None = None) -> bool:
    """True when the run joins an existing Ray cluster rather than starting its own instance."""
    return resolve_address(address) != LOCAL


def unreachable(address: str, reason: str, *, source: str = "ray_address") -> RaynasError:
    """The one-line error for a Ray address where no cluster answered (``source``: where the address came from,
    ``ray_address`` or ``RAY_ADDRESS``), with the fix."""
    return RaynasError(f"{source} {address!r}: no Ray cluster answered there ({reason}). Fix: start the cluster "
                       "first (`ray start --head` on that machine, or `ray up cluster.yaml`) and check host and "
                       "port (the GCS port, 6379 by default, not the dashboard's 8265), or remove ray_address "
                       "(and unset RAY_ADDRESS) for a local run")


def check_reachable(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S, source: str = "ray_address") -> None:
    """Raise :func:`unreachable`'s error unless a gRPC server answers at ``address`` within ``timeout_s``.

    ``address`` is what :func:`resolve_address` returned (``"local"`` is not checked): ``host:port``,
    ``ray://host:port`` (Ray Client) or ``auto`` (the cluster recorded on this machine).
    """
    if address == LOCAL:
        return
    target = _recorded_cluster(source) if address == "auto" else address
    if target is None:
        return  # Ray finds the cluster some way of its own; let it
    host, port = _host_port(target)
    if port is None:
        raise unreachable(address, "no port in the address; expected host:port, e.g. 10.0.0.1:6379", source=source)
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return  # a TLS handshake would come first; the connection is proof enough
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            sock.sendall(_PREFACE)
            head = _read(sock, 9)
    except socket.timeout:
        raise unreachable(address, f"no answer within {timeout_s:g} s", source=source) from None
    except OSError as exc:
        raise unreachable(address, exc.strerror or str(exc) or type(exc).__name__, source=source) from None
    if len(head) < 9 or head[3] != _SETTINGS:
        raise unreachable(address, "something listens there but it is not a Ray cluster (no gRPC answer)",
                          source=source)


def _recorded_cluster(source: str) -> str | None:
    """The address ``ray_address: auto`` stands for (``RAY_ADDRESS``, else the cluster recorded on this machine)."""
    env = os.environ.get("RAY_ADDRESS")
    if env and env != "auto":
        return env
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # another Ray version: leave it to Ray
        return None
    try:
        return canonicalize_bootstrap_address("auto")
    except ConnectionError:
        raise unreachable("auto", "no Ray cluster is running on this machine", source=source) from None
    except Exception:  # noqa: BLE001 - an address Ray would refuse itself; let ray.init say why
        return None


def _host_port(address: str) -> tuple[str, int | None]:
    rest = address.split("://", 1)[1] if "://" in address else address
    rest = rest.split("/", 1)[0]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return rest.strip("[]"), None
    return host.strip("[]"), int(port)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data

