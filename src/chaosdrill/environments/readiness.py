"""Readiness strategies: wait until a component answers, with a timeout and a poll interval.

Modelled on testcontainers' ``WaitStrategy``: each strategy is one check (port open, HTTP
status, SQL ``select 1``, log line); :class:`AllOf` composes them. Retrying is done by
tenacity rather than a home-made loop.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from chaosdrill.errors import OperationError

__all__ = [
    "AllOf",
    "ConfigReloaded",
    "HttpStatus",
    "LogLine",
    "NotReady",
    "PortOpen",
    "SqlReady",
    "Strategy",
    "port_is_free",
    "wait_until",
]


class NotReady(Exception):
    """Raised by a check that has not passed yet."""


class Strategy:
    """One readiness check; ``check()`` raises :class:`NotReady` until it passes."""

    def check(self) -> None:
        """Raise NotReady while the component is not ready."""
        raise NotImplementedError

    def describe(self) -> str:
        """One phrase for error messages."""
        return type(self).__name__


@dataclass
class PortOpen(Strategy):
    """A TCP port accepts connections."""

    port: int
    host: str = "127.0.0.1"

    def check(self) -> None:
        """Connect once."""
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return
        except OSError as exc:
            raise NotReady(f"{self.host}:{self.port} refused: {exc}") from exc

    def describe(self) -> str:
        """Phrase for errors."""
        return f"port {self.host}:{self.port} open"


@dataclass
class HttpStatus(Strategy):
    """An HTTP GET answers with one of the expected status codes."""

    url: str
    statuses: tuple[int, ...] = (200,)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    """Basic auth (user, password) for a server that asks for it; never shown."""

    def check(self) -> None:
        """GET once."""
        try:
            status = httpx.get(self.url, timeout=1.0, auth=self.auth).status_code
        except httpx.HTTPError as exc:
            raise NotReady(f"GET {self.url}: {exc!r}") from exc
        if status not in self.statuses:
            raise NotReady(f"GET {self.url} answered {status}")

    def describe(self) -> str:
        """Phrase for errors."""
        return f"GET {self.url} -> {'/'.join(map(str, self.statuses))}"


@dataclass
class SqlReady(Strategy):
    """A PostgreSQL server answers ``select 1`` (optionally: is or is not in recovery)."""

    dsn: str
    in_recovery: bool | None = None

    def check(self) -> None:
        """Connect and query once."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=1, autocommit=True) as conn:
                row = conn.execute("select pg_is_in_recovery()").fetchone()
        except psycopg.Error as exc:
            raise NotReady(f"select 1 failed: {exc}".strip()) from exc
        if self.in_recovery is not None and row is not None and row[0] != self.in_recovery:
            raise NotReady(f"pg_is_in_recovery() is {row[0]}, waiting for {self.in_recovery}")

    def describe(self) -> str:
        """Phrase for errors."""
        return "SQL select 1"


@dataclass
class ConfigReloaded(Strategy):
    """Prometheus or Alertmanager has loaded its configuration again since :meth:`before`.

    Both report ``<prefix>_config_last_reload_success_timestamp_seconds`` and
    ``<prefix>_config_last_reload_successful`` on their own ``/metrics``: the reload is in
    effect once the timestamp has moved. A reload that fails (the flag drops to 0) ends
    the wait with an OperationError rather than a timeout.
    """

    metrics_url: str
    prefix: str
    since: float
    failed_before: bool = False
    auth: tuple[str, str] | None = field(default=None, repr=False)
    """Basic auth (user, password) for a server that asks for it; never shown."""

    @classmethod
    def before(
        cls, metrics_url: str, prefix: str, auth: tuple[str, str] | None = None
    ) -> ConfigReloaded:
        """The check for a reload about to be asked for (reads the current figures)."""
        since, ok = _reload_figures(metrics_url, prefix, auth)
        return cls(metrics_url, prefix, since, failed_before=not ok, auth=auth)

    def check(self) -> None:
        """Read the figures once."""
        try:
            at, ok = _reload_figures(self.metrics_url, self.prefix, self.auth)
        except OperationError as exc:
            raise NotReady(str(exc)) from exc
        if at > self.since:
            return
        if not ok and not self.failed_before:
            raise OperationError(f"{self.prefix} rejected its new configuration (see its log)")
        raise NotReady(f"{self.prefix} has not reloaded its configuration yet")

    def describe(self) -> str:
        """Phrase for errors."""
        return f"{self.prefix} configuration reloaded"


def _reload_figures(
    metrics_url: str, prefix: str, auth: tuple[str, str] | None
) -> tuple[float, bool]:
    """(last successful reload's timestamp, last reload succeeded) from ``/metrics``."""
    names = {
        f"{prefix}_config_last_reload_success_timestamp_seconds": "at",
        f"{prefix}_config_last_reload_successful": "ok",
    }
    try:
        text = httpx.get(metrics_url, timeout=2.0, auth=auth).raise_for_status().text
    except httpx.HTTPError as exc:
        raise OperationError(f"GET {metrics_url}: {exc}") from exc
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            found[names[name]] = float(value)
    if len(found) != 2:
        raise OperationError(f"{metrics_url} reports no {prefix}_config_last_reload_* metrics")
    return found["at"], found["ok"] == 1


@dataclass
class LogLine(Strategy):
    """A log file contains a line with the given text."""

    path: Path
    text: str

    def check(self) -> None:
        """Scan the file once."""
        try:
            content = self.path.read_text(errors="replace")
        except OSError as exc:
            raise NotReady(str(exc)) from exc
        if self.text not in content:
            raise NotReady(f"{self.text!r} not yet in {self.path}")

    def describe(self) -> str:
        """Phrase for errors."""
        return f"log line {self.text!r}"


@dataclass
class AllOf(Strategy):
    """Every strategy passes (checked in order)."""

    parts: list[Strategy] = field(default_factory=list)

    def check(self) -> None:
        """Check each part."""
        for part in self.parts:
            part.check()

    def describe(self) -> str:
        """Phrase for errors."""
        return " and ".join(p.describe() for p in self.parts)


def wait_until(
    strategy: Strategy,
    timeout: float,
    interval: float = 0.05,
    abort: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``strategy`` until it passes.

    Args:
        strategy: the check.
        timeout: seconds before giving up.
        interval: seconds between polls.
        abort: called between polls; a non-empty string stops waiting (e.g. "process exited").

    Raises:
        TimeoutError: with the last reason the check gave.
    """

    def attempt() -> None:
        if abort is not None:
            reason = abort()
            if reason:
                raise _Aborted(reason)
        strategy.check()

    try:
        for att in Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(interval),
            retry=retry_if_exception_type(NotReady),
            reraise=False,
        ):
            with att:
                attempt()
    except _Aborted as exc:
        raise TimeoutError(f"{strategy.describe()}: {exc}") from None
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise TimeoutError(
            f"{strategy.describe()} not reached in {timeout:.0f} s: {last}"
        ) from None


class _Aborted(Exception):
    pass


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1", avoid: Iterable[int] = ()) -> list[int]:
    """Ask the kernel for ``count`` distinct free ports.

    The sockets are held open until all are chosen, so the ports are distinct.
    """
    socks: list[socket.socket] = []
    ports: list[int] = []
    avoid_set = set(avoid)
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in avoid_set:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports
