"""The PostgreSQL connection pool and how requests borrow from it.

One :class:`Database` per process wraps a ``psycopg_pool.AsyncConnectionPool``. Every
borrowed connection is checked first (``check_connection``), and broken ones are dropped
and replaced in the background; a replacement goes through libpq's multi-host selection
again (``target_session_attrs=read-write`` in the DSN), which is how the service follows
a failover to a promoted replica without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

__all__ = [
    "Database",
    "DatabaseNotReadyError",
    "PoolExhaustedError",
    "PoolStats",
    "build_conninfo",
]

RECONNECT_TIMEOUT_S = 5.0
"""Give up a background reconnect after this long; the next request starts a fresh one.

Kept short so the pool's exponential backoff cannot grow past a few seconds while a
replica is being promoted.
"""


class DatabaseNotReadyError(RuntimeError):
    """The pool has not been opened (the app's lifespan has not run) or is closed."""


class PoolExhaustedError(PoolTimeout):
    """No pooled connection became free in time.

    Attributes:
        detail: Why: every connection lent to requests, or none could be opened (the
            database is unreachable), which call for different remedies.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class PoolStats:
    """Pool occupancy for the ``db_pool_*`` gauges.

    Attributes:
        size: Configured number of connections (the pool's capacity).
        in_use: Connections currently lent to requests.
        waiting: Requests queued for a connection.
    """

    size: int
    in_use: int
    waiting: int


def build_conninfo(dsn: str, *, statement_timeout_ms: int, application_name: str) -> str:
    """Return ``dsn`` with the statement timeout appended to ``options`` and a name set.

    Options already in the DSN are kept: the timeout is appended, not substituted.
    """
    params = conninfo_to_dict(dsn)
    options = str(params.get("options") or "").strip()
    timeout = f"-c statement_timeout={statement_timeout_ms}"
    params["options"] = f"{options} {timeout}".strip()
    params.setdefault("application_name", application_name)
    return make_conninfo("", **params)


class Database:
    """Process-wide connection pool with explicit open/close and occupancy stats."""

    def __init__(self, conninfo: str, *, size: int, timeout_s: float, name: str) -> None:
        self._conninfo = conninfo
        self._size = size
        self._timeout_s = timeout_s
        self._name = name
        self._pool: AsyncConnectionPool[AsyncConnection[TupleRow]] | None = None
        self._in_use = 0

    async def open(self) -> None:
        """Create the pool and start filling it in the background.

        Does not wait for connections: the service must start (and report ``degraded``)
        while the database is down.
        """
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = AsyncConnectionPool(
            self._conninfo,
            min_size=self._size,
            max_size=self._size,
            timeout=self._timeout_s,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True},
            name=self._name,
            open=False,
        )
        await pool.open(wait=False)
        self._pool = pool

    async def close(self, timeout_s: float = 5.0) -> None:
        """Close the pool, waiting at most ``timeout_s`` for borrowed connections."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close(timeout=timeout_s)

    def stats(self) -> PoolStats:
        """Return current occupancy (all zero but the size before ``open``)."""
        waiting = 0
        if self._pool is not None:
            waiting = self._pool.get_stats().get("requests_waiting", 0)
        return PoolStats(size=self._size, in_use=self._in_use, waiting=waiting)

    @asynccontextmanager
    async def connection(
        self, timeout_s: float | None = None
    ) -> AsyncIterator[AsyncConnection[TupleRow]]:
        """Borrow a checked, autocommit connection for the duration of the block.

        Raises:
            DatabaseNotReadyError: if the pool is not open.
            PoolExhaustedError: if none is free within the timeout (the revision's
                ``pool_timeout_s`` unless ``timeout_s`` is given).
        """
        pool = self._pool
        if pool is None:
            raise DatabaseNotReadyError("database pool is not open")
        try:
            conn = await pool.getconn(timeout_s)
        except PoolTimeout as exc:
            raise PoolExhaustedError(self._starvation_detail()) from exc
        self._in_use += 1
        try:
            async with conn:  # the pooled connection is returned, not closed, on exit
                yield conn
        finally:
            self._in_use -= 1
            await pool.putconn(conn)

    def _starvation_detail(self) -> str:
        """Explain a pool timeout from the current occupancy."""
        if self._in_use >= self._size:
            return f"all {self._size} connections in use"
        return "no connection could be opened (database unreachable or refusing)"

    async def ping(self, timeout_s: float) -> None:
        """Run ``SELECT 1`` through the pool, all within ``timeout_s`` seconds.

        Raises:
            TimeoutError: if the round trip (including acquiring) takes too long.
            DatabaseNotReadyError, psycopg.Error: if the database is unusable.
        """
        async with asyncio.timeout(timeout_s), self.connection(timeout_s) as conn:
            await conn.execute("SELECT 1")
