"""revenue_engine against a real PostgreSQL 15 and Redis, served by uvicorn.

Starts a throwaway PostgreSQL (as the ``postgres`` OS user when run as root) and a
redis-server on free ports, seeds 200k enrollments through the CLI, runs
``python -m revenue_engine serve`` in a subprocess and drives it over HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from chaosdrill.targets.revenue_engine.api import COURSES_CACHE_KEY
from chaosdrill.targets.revenue_engine.schema import COURSE_STATS_INDEX
from chaosdrill.targets.revenue_engine.store import COURSE_STATS_SQL

pytestmark = pytest.mark.integration

PG_BIN = Path(os.environ.get("RE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOKEN = "integration-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _db_user() -> str | None:
    """OS user to run PostgreSQL as: ``postgres`` when root, else the current user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root but there is no 'postgres' OS user to run PostgreSQL")
    return "postgres"


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster that can be stopped and started again."""

    data_dir: Path
    port: int
    user: str | None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    @property
    def dsn(self) -> str:
        return (
            f"host=127.0.0.1 port={self.port} dbname=revenue user=revenue password=x "
            "connect_timeout=2"
        )

    def _run_as(self) -> dict[str, Any]:
        return {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}

    def initdb(self) -> None:
        result = subprocess.run(
            [PG_BIN / "initdb", "-D", self.data_dir, "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, **self._run_as(),
        )  # fmt: skip
        assert result.returncode == 0, f"initdb failed: {result.stderr}"

    def start(self) -> None:
        log = (self.data_dir.parent / "postgres.log").open("ab")
        with log:
            self.proc = subprocess.Popen(
                [PG_BIN / "postgres", "-D", self.data_dir, "-p", str(self.port),
                 "-k", self.data_dir.parent, "-c", "listen_addresses=127.0.0.1",
                 "-c", "fsync=off", "-c", "full_page_writes=off"],
                stdout=log, stderr=subprocess.STDOUT, **self._run_as(),
            )  # fmt: skip
        _wait_until(self.ready, 30, "PostgreSQL to accept connections")

    def ready(self) -> bool:
        with psycopg.connect(self.admin_dsn, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
        return True

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, signal.SIGINT)  # fast shutdown
            self.proc = None


@dataclass
class RedisServer:
    """A redis-server without persistence, with a password, that can be stopped and started."""

    port: int
    log_path: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "-", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        assert self.proc.stdin is not None
        with self.proc.stdin:  # the password through stdin, not on the command line
            self.proc.stdin.write(f"requirepass {self.password}\n".encode())
        _wait_until(self.client().ping, 10, "redis-server")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=1)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are private to root, and PostgreSQL runs
    # as another user.
    path = Path(tempfile.mkdtemp(prefix="revenue-engine-it-"))
    path.chmod(0o711)  # traversable by the database user, not listable
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres(workdir: Path) -> Iterator[Postgres]:
    if not (PG_BIN / "postgres").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    user = _db_user()
    pg_root = workdir / "pg"
    pg_root.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(pg_root, entry.pw_uid, entry.pw_gid)
    server = Postgres(data_dir=pg_root / "data", port=_free_port(), user=user)
    server.initdb()
    try:
        server.start()
        with psycopg.connect(server.admin_dsn, autocommit=True) as conn:
            conn.execute("CREATE ROLE revenue LOGIN PASSWORD 'x'")
            conn.execute("CREATE DATABASE revenue OWNER revenue")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not on PATH")
    server = RedisServer(port=_free_port(), log_path=workdir / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeded(postgres: Postgres) -> str:
    command = [sys.executable, "-m", "chaosdrill.targets.revenue_engine", "seed",
               "--dsn", postgres.dsn, "--courses", "500", "--enrollments", "200000"]  # fmt: skip
    result = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    assert "seeded 500 courses and 200000 enrollments in" in result.stdout
    again = subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
    assert "nothing done" in again.stdout
    return result.stdout.strip()


@pytest.fixture(scope="module")
def base_url(
    workdir: Path, postgres: Postgres, redis_server: RedisServer, seeded: str
) -> Iterator[str]:
    revision = workdir / "revision.json"
    revision.write_text(
        json.dumps(
            {
                "version": "1.4.0",
                "revision": 3,
                "settings": {"checkout_failure_rate": 1.0, "cache_ttl_s": 300, "pool_size": 4},
                "flags": {"new_checkout": False},
            }
        ),
        encoding="utf-8",
    )
    token = workdir / "token"
    token.write_text(TOKEN, encoding="utf-8")
    token.chmod(0o600)
    redis_password = workdir / "redis.password"
    redis_password.write_text(redis_server.password + "\n", encoding="utf-8")
    redis_password.chmod(0o600)
    port = _free_port()
    env = {
        **os.environ,
        "RE_DSN": postgres.dsn,
        "RE_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",  # no password in it
        "RE_REDIS_PASSWORD_FILE": str(redis_password),
        "RE_REVISION_FILE": str(revision),
        "RE_ADMIN_TOKEN_FILE": str(token),
    }
    env.pop("RE_REPLICA", None)
    log_path = workdir / "app.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosdrill.targets.revenue_engine", "serve",
             "--port", str(port), "--replica", "it-1"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, 30, "the app")
        yield url
    except AssertionError:
        print(log_path.read_text(errors="replace"))
        raise
    finally:
        _stop(proc)


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def _metric(client: httpx.Client, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@contextlib.contextmanager
def _flag(client: httpx.Client, name: str) -> Iterator[None]:
    response = client.put(f"/admin/flags/{name}", json={"enabled": True}, headers=AUTH)
    assert response.status_code == 200
    try:
        yield
    finally:
        client.put(f"/admin/flags/{name}", json={"enabled": False}, headers=AUTH)


def test_seed_reports_time(seeded: str) -> None:
    seconds = float(seeded.rsplit(" in ", 1)[1].removesuffix(" s"))
    print(f"\nseed: {seeded}")
    assert seconds < 10  # ~1 s on 2 cores; generous for slow CI machines


def test_health_ok(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok"},
        "version": "1.4.0",
        "revision": 3,
        "replica": "it-1",
    }


def test_enrollment_round_trip_books_course_price(http: httpx.Client) -> None:
    course = http.get("/api/courses/7").json()
    before = course["stats"]
    created = http.post(
        "/api/enrollments", json={"course_id": 7, "student_email": "ada@example.org"}
    )
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["course_id"] == 7
    assert row["price_cents"] == course["price_cents"]
    assert row["client_key"] is None
    fetched = http.get(f"/api/enrollments/{row['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == row
    after = http.get("/api/courses/7").json()["stats"]
    assert after["enrollments"] == before["enrollments"] + 1
    assert after["revenue_cents"] == before["revenue_cents"] + course["price_cents"]
    assert http.get("/api/enrollments/999999999").status_code == 404


def test_client_key_is_idempotent(http: httpx.Client) -> None:
    body = {"course_id": 11, "student_email": "bob@example.org", "client_key": "order-123"}
    first = http.post("/api/enrollments", json=body)
    assert first.status_code == 201
    replay = http.post("/api/enrollments", json={**body, "student_email": "x@example.org"})
    assert replay.status_code == 200
    assert replay.json() == first.json()


def test_unknown_course_is_404(http: httpx.Client) -> None:
    assert http.get("/api/courses/100000").status_code == 404
    response = http.post(
        "/api/enrollments",
        json={"course_id": 100000, "student_email": "c@example.org", "client_key": "nope-1"},
    )
    assert response.status_code == 404


def test_courses_cache_miss_then_hit(http: httpx.Client, redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        client.delete(COURSES_CACHE_KEY)
    misses, hits = _metric(http, "cache_misses_total"), _metric(http, "cache_hits_total")
    first = http.get("/api/courses")
    assert first.status_code == 200
    assert first.headers["x-cache"] == "miss"
    courses = first.json()["courses"]
    assert len(courses) == 500
    assert set(courses[0]) == {"id", "title", "price_cents", "category"}
    second = http.get("/api/courses")
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()
    assert _metric(http, "cache_misses_total") == misses + 1
    assert _metric(http, "cache_hits_total") == hits + 1
    labels = {"route": "/api/courses", "method": "GET", "status": "200"}
    assert _metric(http, "http_requests_total", **labels) >= 2


def test_circuit_breaker_via_admin(http: httpx.Client) -> None:
    denied = http.put("/admin/flags/circuit_breaker", json={"enabled": True})
    assert denied.status_code == 401
    body = {"course_id": 3, "student_email": "d@example.org"}
    with _flag(http, "circuit_breaker"):
        assert _metric(http, "feature_flag_enabled", flag="circuit_breaker") == 1
        response = http.post("/api/enrollments", json=body)
        assert response.status_code == 503
        assert response.json() == {"error": "circuit open"}
        assert http.get("/api/courses/3").status_code == 200
    assert http.post("/api/enrollments", json=body).status_code == 201


def test_new_checkout_bad_release_fails(http: httpx.Client) -> None:
    body = {"course_id": 5, "student_email": "e@example.org"}
    labels = {"route": "/api/enrollments", "method": "POST", "status": "500"}
    errors = _metric(http, "http_requests_total", **labels)
    with _flag(http, "new_checkout"):
        statuses = [http.post("/api/enrollments", json=body).status_code for _ in range(5)]
    assert statuses == [500] * 5
    assert _metric(http, "http_requests_total", **labels) == errors + 5
    assert http.post("/api/enrollments", json=body).status_code == 201


def test_redis_down_degrades(http: httpx.Client, redis_server: RedisServer) -> None:
    errors = _metric(http, "cache_errors_total")
    redis_server.stop()
    try:
        response = http.get("/api/courses")
        assert response.status_code == 200
        assert response.headers["x-cache"] == "error"
        assert len(response.json()["courses"]) == 500
        started = time.monotonic()
        health = http.get("/health")
        assert time.monotonic() - started < 2.5
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "degraded"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["cache"].startswith("error: ")
        assert _metric(http, "cache_errors_total") >= errors + 1
    finally:
        redis_server.start()
    _wait_until(lambda: http.get("/health").status_code == 200, 10, "health after redis")


def _plan(postgres: Postgres, course_id: int) -> str:
    with psycopg.connect(postgres.dsn) as conn:
        rows = conn.execute(f"EXPLAIN {COURSE_STATS_SQL}", (course_id,)).fetchall()
    return "\n".join(row[0] for row in rows)


def test_dropped_index_forces_seq_scan(http: httpx.Client, postgres: Postgres) -> None:
    indexed = _plan(postgres, 9)
    assert "Seq Scan" not in indexed
    assert COURSE_STATS_INDEX in indexed  # Index, Index Only or Bitmap Index Scan
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {COURSE_STATS_INDEX}")
    try:
        plan = _plan(postgres, 9)
        assert "Seq Scan on enrollments" in plan
        assert COURSE_STATS_INDEX not in plan
        assert http.get("/api/courses/9").status_code == 200
    finally:
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE INDEX {COURSE_STATS_INDEX} ON enrollments (course_id)")
            conn.execute("ANALYZE enrollments")
    assert COURSE_STATS_INDEX in _plan(postgres, 9)


def test_recovers_after_database_restart(http: httpx.Client, postgres: Postgres) -> None:
    assert http.get("/api/courses/2").status_code == 200
    postgres.stop()
    try:
        response = http.get("/api/courses/2")
        assert response.status_code == 503
        assert response.json()["error"].startswith("database")
        assert http.get("/health").json()["checks"]["database"].startswith("error: ")
    finally:
        postgres.start()
    # Same process, no restart: broken pooled connections are dropped and replaced.
    _wait_until(lambda: http.get("/api/courses/2").status_code == 200, 20, "recovery")
    assert http.get("/health").status_code == 200
