import base64
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.environments.readiness import (
    AllOf,
    HttpStatus,
    LogLine,
    NotReady,
    PortOpen,
    free_ports,
    port_is_free,
    wait_until,
)


def test_wait_until_reports_the_last_reason(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("starting\n")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="'ready' not yet in"):
        wait_until(LogLine(log, "ready"), timeout=0.3, interval=0.05)
    assert time.monotonic() - t0 < 2


def test_wait_until_passes_once_the_check_passes(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_is_free(port)
        wait_until(AllOf([PortOpen(port)]), timeout=2)


def test_abort_stops_waiting_with_its_reason() -> None:
    (port,) = free_ports(1)
    with pytest.raises(TimeoutError, match="process exited"):
        wait_until(PortOpen(port), timeout=30, abort=lambda: "process exited")


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(port_is_free(p) for p in ports)


PASSWORD = "not-a-real-password"


@pytest.fixture
def basic_auth_server() -> Iterator[str]:
    """A local HTTP server that answers 200 with the basic auth chaosdrill:PASSWORD, else 401."""
    wanted = "Basic " + base64.b64encode(f"chaosdrill:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.headers.get("Authorization") == wanted else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/-/ready"
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_check_sends_basic_auth_and_never_shows_it(basic_auth_server: str) -> None:
    with pytest.raises(NotReady, match="answered 401"):
        HttpStatus(basic_auth_server).check()
    check = HttpStatus(basic_auth_server, auth=("chaosdrill", PASSWORD))
    check.check()
    wait_until(check, timeout=2)
    with pytest.raises(NotReady) as info:
        HttpStatus(basic_auth_server, auth=("chaosdrill", "wrong")).check()
    assert all(PASSWORD not in text for text in (repr(check), check.describe(), str(info.value)))
