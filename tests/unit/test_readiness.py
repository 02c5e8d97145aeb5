import socket
import time
from pathlib import Path

import pytest

from chaosdrill.environments.readiness import (
    AllOf,
    LogLine,
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
