"""The bookshop HTTP handler, its routes, the database pool, the cache and the metrics.

One :class:`Shop` per process owns a ``psycopg_pool.ConnectionPool`` and a ``redis.Redis``
client (both thread-safe); :class:`Handler` serves each request in its own thread.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis
from prometheus_client import Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger("bookshop")

CACHE_KEY = "bookshop:books"
CACHE_ERRORS = (redis.RedisError, OSError)
INT4_MAX = 2**31 - 1
MAX_QUANTITY = 1000
MAX_BODY = 64 * 1024

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("http_requests_total", "Requests answered.", ["route", "method", "status"])
CACHE_HITS = Counter("cache_hits_total", "Catalogue reads served from Redis.")
CACHE_MISSES = Counter("cache_misses_total", "Catalogue reads Redis did not have.")
CACHE_FAILURES = Counter("cache_errors_total", "Redis calls that failed or timed out.")
POOL_SIZE = Gauge("db_pool_size", "Configured pool capacity (max connections).")
POOL_IN_USE = Gauge("db_pool_connections_in_use", "Connections lent to requests.")
POOL_WAITING = Gauge("db_pool_connections_waiting", "Requests queued for a connection.")
BUILD_INFO = Gauge("bookshop_build_info", "Running version.", ["version", "revision"])


@dataclass(frozen=True)
class Settings:
    """What the revision file says (defaults when absent)."""

    version: str = "0.0.0"
    revision: int = 0
    pool_size: int = 5
    pool_timeout_s: float = 2.0
    cache_ttl_s: int = 30
    statement_timeout_ms: int = 5000
    cache_timeout_s: float = 0.5
    checkout_failure_rate: float = 0.0
    new_checkout: bool = False  # a flag of the revision: the new checkout code path

    @classmethod
    def load(cls, path: str | None) -> Settings:
        """Read ``path`` (``CHAOSDRILL_REVISION_FILE``); a bad file or value keeps defaults."""
        if not path:
            return cls()
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            log.warning("revision file unreadable, using defaults: %s", exc)
            return cls()
        values: dict[str, Any] = {"version": str(doc.get("version", cls.version))}
        values["revision"] = doc.get("revision", 0)
        values.update(doc.get("settings") or {})
        flags = doc.get("flags") or {}
        values["new_checkout"] = flags.get("new_checkout") is True
        out: dict[str, Any] = {}
        for name, default in asdict(cls()).items():
            try:
                value = type(default)(values.get(name, default))
            except (TypeError, ValueError):
                log.warning("revision setting %s=%r ignored", name, values.get(name))
                value = default
            out[name] = value if name == "version" or value >= 0 else default
        return cls(**out)


def _reason(exc: BaseException) -> str:
    """First line of an exception message, short enough for a response or a log line."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:160]


class Shop:
    """The service's state: settings, connection pool and cache client."""

    def __init__(
        self, conninfo: str, redis_url: str, password: str | None, replica: str, settings: Settings
    ) -> None:
        self.replica = replica
        self.settings = settings
        self._counts = {"in_use": 0, "waiting": 0}
        self._lock = threading.Lock()
        options = str(conninfo_to_dict(conninfo).get("options") or "")
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "application_name": f"bookshop {replica}",
            "options": f"{options} -c statement_timeout={settings.statement_timeout_ms}".strip(),
        }
        if "connect_timeout" not in conninfo_to_dict(conninfo):
            kwargs["connect_timeout"] = 2
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min(2, settings.pool_size),
            max_size=max(1, settings.pool_size),
            timeout=settings.pool_timeout_s,
            kwargs=kwargs,
            check=self._check,
            reconnect_timeout=1.0,
            name=f"bookshop-{replica}",
            open=False,
        )
        self.cache = redis.Redis.from_url(
            redis_url,
            **({"password": password} if password else {}),
            socket_timeout=settings.cache_timeout_s,
            socket_connect_timeout=settings.cache_timeout_s,
            retry=Retry(NoBackoff(), 0),  # redis-py 6 retries timeouts 3x by default
        )
        BUILD_INFO.labels(settings.version, str(settings.revision)).set(1)
        POOL_SIZE.set_function(lambda: self.pool.max_size)
        POOL_IN_USE.set_function(lambda: self._counts["in_use"])
        POOL_WAITING.set_function(lambda: self._counts["waiting"])

    def open(self) -> None:
        """Start filling the pool in the background: the service starts without its database."""
        self.pool.open(wait=False)

    def close(self) -> None:
        """Close the pool (waiting at most 1.5 s for its workers) and the cache client."""
        self.pool.close(timeout=1.5)
        self.cache.close()

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """Checkout check; when it fails, sweep the idle connections too.

        After the server terminated every session (or failed over) the pool holds only dead
        connections; checking them one per retry, with the pool's backoff in between, would
        time the request out. ``pool.check()`` drops them all and starts replacements.
        """
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            try:
                self.pool.check()
            except Exception as exc:
                log.warning("pool check failed: %s", _reason(exc))
            raise

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """Borrow a checked autocommit connection from the pool.

        Occupancy is counted here: the pool's ``requests_waiting`` keeps clients that
        already timed out until a connection frees up, so it stays high during an outage.
        """
        self._count("waiting", 1)
        try:
            conn = self.pool.getconn(timeout)
        finally:
            self._count("waiting", -1)
        self._count("in_use", 1)
        try:
            yield conn
        finally:
            self._count("in_use", -1)
            self.pool.putconn(conn)

    def _count(self, name: str, delta: int) -> None:
        with self._lock:
            self._counts[name] += delta

    def health(self) -> tuple[int, dict[str, Any]]:
        """Check the database (``select 1``, bounded by ~1 s) and the cache (PING)."""
        result: list[str] = []

        def check_database() -> None:
            try:
                with self.connection(timeout=1.0) as conn:
                    conn.execute("select 1")
                result.append("ok")
            except psycopg.Error as exc:
                result.append(f"error: {_reason(exc)}")

        # A thread, so a frozen server cannot hold the check (daemon: never blocks exit).
        worker = threading.Thread(target=check_database, daemon=True)
        worker.start()
        deadline = time.monotonic() + 1.2
        try:
            cache = "ok" if self.cache.ping() else "error: no PONG"
        except CACHE_ERRORS as exc:
            CACHE_FAILURES.inc()
            cache = f"error: {type(exc).__name__}"
        worker.join(max(0.0, deadline - time.monotonic()))
        database = result[0] if result else "error: timed out"
        ok = database == "ok"
        body = {
            "status": ("ok" if cache == "ok" else "degraded") if ok else "unavailable",
            "checks": {"database": database, "cache": cache},
            "version": self.settings.version,
            "revision": self.settings.revision,
            "replica": self.replica,
        }
        return (200 if ok else 503), body

    def catalogue(self) -> bytes:
        """All books as a JSON body, read through the Redis cache."""
        cache_ok = True
        try:
            cached: Any = self.cache.get(CACHE_KEY)
        except CACHE_ERRORS:
            CACHE_FAILURES.inc()
            cached, cache_ok = None, False
        if cached is not None:
            CACHE_HITS.inc()
            return bytes(cached)
        with self.connection() as conn:
            rows = conn.execute(
                "select id, title, author, price_cents from books order by id"
            ).fetchall()
        names = ("id", "title", "author", "price_cents")
        body = json.dumps({"books": [dict(zip(names, r, strict=True)) for r in rows]}).encode()
        if cache_ok:  # a cache that just timed out would cost a second timeout
            CACHE_MISSES.inc()
            try:
                self.cache.set(CACHE_KEY, body, ex=self.settings.cache_ttl_s)
            except CACHE_ERRORS:
                CACHE_FAILURES.inc()
        return body

    def book(self, book_id: int) -> dict[str, Any] | None:
        """One book with its live review count and average rating, or None."""
        with self.connection() as conn:
            row = conn.execute(
                "select id, title, author, price_cents from books where id = %s", (book_id,)
            ).fetchone()
            if row is None:
                return None
            count, avg = conn.execute(
                "select count(*), avg(stars) from reviews where book_id = %s", (book_id,)
            ).fetchone() or (0, None)
        book = dict(zip(("id", "title", "author", "price_cents"), row, strict=True))
        return book | {"reviews": count, "rating": None if avg is None else round(float(avg), 2)}

    def order(self, book_id: int, quantity: int) -> dict[str, Any] | None:
        """Insert an order; None when the book does not exist.

        With the revision's flag ``new_checkout`` on, the new checkout code fails a share
        (``checkout_failure_rate``) of orders before anything is written: the faulty
        release a drill ships and rolls back.
        """
        s = self.settings
        if s.new_checkout and random.random() < s.checkout_failure_rate:
            raise HTTPError(500, "the new checkout failed")
        with self.connection() as conn:
            row = conn.execute(
                """
                with b as (select id, price_cents from books where id = %(book)s),
                o as (insert into orders (book_id, quantity)
                      select id, %(qty)s from b returning id, book_id, quantity)
                select o.id, o.book_id, o.quantity, o.quantity * b.price_cents
                from o join b on b.id = o.book_id
                """,
                {"book": book_id, "qty": quantity},
            ).fetchone()
        if row is None:
            return None
        return dict(zip(("id", "book_id", "quantity", "total_cents"), row, strict=True))


class HTTPError(Exception):
    """An error answer with a status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


BOOK_PATH = re.compile(r"/books/[^/]+")


def route_of(method: str, path: str) -> str:
    """The route template a request matches (a bounded metric label), or "unmatched"."""
    if method in ("GET", "HEAD") and path in ("/health", "/metrics", "/books"):
        return path
    if method in ("GET", "HEAD") and BOOK_PATH.fullmatch(path):
        return "/books/{id}"
    return "/orders" if (method, path) == ("POST", "/orders") else "unmatched"


class Handler(BaseHTTPRequestHandler):
    """Routes one request; every answer is JSON except /metrics."""

    server: BookshopServer
    server_version = "bookshop"
    timeout = 10  # seconds a client may take to send its request

    def do_GET(self) -> None:
        """Serve a GET."""
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        route, status = route_of(self.command, path), 500
        try:
            status, ctype, body = self._handle(route, path)
        except HTTPError as exc:
            status, ctype, body = exc.status, "application/json", _json({"error": str(exc)})
        except psycopg.Error as exc:  # includes PoolTimeout, OperationalError
            status, ctype = 503, "application/json"
            body = _json({"error": f"database unavailable: {_reason(exc)}"})
            self.log_message("%s %s -> 503: %s", self.command, route, type(exc).__name__)
        except Exception as exc:
            status, ctype, body = 500, "application/json", _json({"error": "internal error"})
            self.log_message("%s %s -> 500: %r", self.command, route, exc)
        finally:
            REQUEST_DURATION.labels(route, self.command).observe(time.perf_counter() - started)
            REQUESTS.labels(route, self.command, str(status)).inc()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass  # the client went away

    def _handle(self, route: str, path: str) -> tuple[int, str, bytes]:
        """Return (status, content type, body) for a matched route or raise HTTPError."""
        shop = self.server.shop
        if route == "/health":
            status, doc = shop.health()
            return status, "application/json", _json(doc)
        if route == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest()
        if route == "/books":
            return 200, "application/json", shop.catalogue()
        if route == "/books/{id}":
            raw = path.removeprefix("/books/")
            book_id = int(raw) if raw.isdigit() and len(raw) < 11 else 0
            book = shop.book(book_id) if 0 < book_id <= INT4_MAX else None
            if book is None:
                raise HTTPError(404, "no such book")
            return 200, "application/json", _json(book)
        if route == "/orders":
            order = shop.order(*self._order_body())
            if order is None:
                raise HTTPError(404, "no such book")
            return 201, "application/json", _json(order)
        raise HTTPError(404, "not found")

    def _order_body(self) -> tuple[int, int]:
        """Parse ``{"book_id": int, "quantity": int}`` or raise a 400."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HTTPError(400, "a JSON body with Content-Length is required") from None
        if not 0 < length <= MAX_BODY:
            raise HTTPError(400, f"body must be 1 to {MAX_BODY} bytes")
        try:
            doc = json.loads(self.rfile.read(length))
        except (ValueError, OSError):
            raise HTTPError(400, "body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise HTTPError(400, "body must be a JSON object")
        book_id, quantity = doc.get("book_id"), doc.get("quantity")
        if type(book_id) is not int or type(quantity) is not int:  # bool is no int here
            raise HTTPError(400, "book_id and quantity must be integers")
        if not 0 < book_id <= INT4_MAX or not 0 < quantity <= MAX_QUANTITY:
            raise HTTPError(400, f"book_id must be positive, quantity 1 to {MAX_QUANTITY}")
        return book_id, quantity

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log: /metrics has the counts."""

    def log_message(self, format: str, *args: Any) -> None:
        """One line to stderr through the ``bookshop`` logger."""
        log.warning("%s", format % args)


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


class BookshopServer(ThreadingHTTPServer):
    """A threading HTTP server (daemon threads) that carries the :class:`Shop`."""

    request_queue_size = 128  # listen backlog (socketserver's default is 5)

    def __init__(self, address: tuple[str, int], shop: Shop) -> None:
        self.shop = shop
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Count the connection (before its thread starts) so shutdown can let it finish."""
        with self._idle:
            self._active += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection in its thread, then uncount it."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for requests in flight; True when none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)
