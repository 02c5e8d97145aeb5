"""HAProxy, the load balancer in front of the service replicas.

Its runtime API (a unix socket, admin level) adds, drains and removes servers while traffic
flows; its built-in Prometheus exporter gives the error rate and latency users see. Every
change of the replicas is also written into haproxy.cfg (``render_config`` with the current
servers), so an HAProxy restarted by the supervisor serves them at once.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chaosdrill.errors import OperationError
from chaosdrill.paths import write_atomic

__all__ = ["BACKEND", "HAProxy", "render_config", "write_config"]

BACKEND = "be_app"
# the same for servers of the configuration file and servers added at runtime
SERVER_OPTIONS = "check inter 500 fall 2 rise 1"


def render_config(
    sock: Path, port: int, stats_port: int, servers: Sequence[tuple[str, int]] = ()
) -> str:
    """haproxy.cfg: one frontend for users, one for stats and /metrics, one backend.

    ``servers`` (name, port) are the replicas of the moment; more are added and removed
    through the runtime API, and the file is rewritten with every change.
    """
    lines = "".join(f"    server {name} 127.0.0.1:{p} {SERVER_OPTIONS}\n" for name, p in servers)
    return _TEMPLATE.format(sock=sock, port=port, stats_port=stats_port, backend=BACKEND) + lines


def write_config(
    path: Path, sock: Path, port: int, stats_port: int, servers: Sequence[tuple[str, int]]
) -> None:
    """Write haproxy.cfg atomically (a restarting HAProxy never reads half a file)."""
    write_atomic(path, render_config(sock, port, stats_port, servers), mode=0o600)


_TEMPLATE = """\
global
    stats socket {sock} mode 600 level admin
    maxconn 4096
    log stderr format short local0 notice

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout check 3s
    retries 2
    option redispatch
    option http-buffer-request
    retry-on conn-failure empty-response

frontend fe_app
    bind 127.0.0.1:{port}
    default_backend {backend}

frontend fe_stats
    bind 127.0.0.1:{stats_port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats
    stats refresh 5s

backend {backend}
    balance roundrobin
    option httpchk GET /health
    # any HTTP answer means the process is alive; /health's 503 (a dependency down) is
    # the service's problem to report, not a reason to take every replica out
    http-check expect rstatus ^[2-5][0-9][0-9]$
"""


@dataclass
class ServerStat:
    """Live figures of one backend server."""

    name: str
    status: str
    current_sessions: int


class HAProxy:
    """Client of HAProxy's runtime API."""

    def __init__(self, sock: Path) -> None:
        self.sock = sock

    def command(self, cmd: str, timeout: float = 2.0) -> str:
        """Send one runtime API command and return the answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.sock))
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()

    def _ok(self, cmd: str) -> None:
        answer = self.command(cmd).strip()
        if (
            answer
            and not answer.startswith("New server registered")
            and answer != "Server deleted."
        ):
            raise OperationError(f"haproxy {cmd!r}: {answer}")

    def add_server(self, name: str, port: int) -> None:
        """Register a server, enable its health check and put it in service.

        A server already there (read from haproxy.cfg by a restarted HAProxy) is kept.
        """
        if name not in self.stats():
            self._ok(f"add server {BACKEND}/{name} 127.0.0.1:{port} {SERVER_OPTIONS}")
        self._ok(f"enable health {BACKEND}/{name}")
        self._ok(f"set server {BACKEND}/{name} state ready")

    def stats(self) -> dict[str, ServerStat]:
        """Status and current sessions of each backend server."""
        out = self.command("show stat")
        lines = [ln for ln in out.splitlines() if ln and not ln.startswith("#")]
        header = out.splitlines()[0].lstrip("# ").split(",")
        result: dict[str, ServerStat] = {}
        for ln in lines:
            row = dict(zip(header, ln.split(","), strict=False))
            if row.get("pxname") == BACKEND and row.get("svname") not in ("BACKEND", "FRONTEND"):
                result[row["svname"]] = ServerStat(
                    row["svname"], row.get("status", "?"), int(row.get("scur") or 0)
                )
        return result

    def wait_up(self, name: str, timeout: float = 10.0) -> None:
        """Wait until HAProxy's health check marks the server UP."""
        deadline = time.monotonic() + timeout
        status = "?"
        while time.monotonic() < deadline:
            stat = self.stats().get(name)
            status = stat.status if stat else "absent"
            if status.startswith("UP"):
                return
            time.sleep(0.05)
        raise OperationError(f"haproxy: server {name} not UP after {timeout} s (status {status})")

    def remove_server(self, name: str, drain_timeout: float = 10.0) -> None:
        """Drain a server (no new requests, in-flight ones finish), then delete it."""
        if name not in self.stats():
            return
        self._ok(f"set server {BACKEND}/{name} state drain")
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline:
            stat = self.stats().get(name)
            if stat is None or stat.current_sessions == 0:
                break
            time.sleep(0.05)
        self._ok(f"set server {BACKEND}/{name} state maint")
        self.command(f"shutdown sessions server {BACKEND}/{name}")
        # idle keep-alive connections may still be attached for a moment
        last = ""
        for _ in range(40):
            last = self.command(f"del server {BACKEND}/{name}").strip()
            if last.startswith("Server deleted") or "No such server" in last:
                return
            time.sleep(0.05)
        raise OperationError(f"haproxy: could not delete server {name}: {last}")
