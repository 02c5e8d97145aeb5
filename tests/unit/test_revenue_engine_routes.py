from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.routing import BaseRoute
from starlette.types import Scope

from chaosdrill.targets.revenue_engine import Revision, create_app
from chaosdrill.targets.revenue_engine.api import parse_id
from chaosdrill.targets.revenue_engine.cache import Cache, CacheOutcome
from chaosdrill.targets.revenue_engine.config import Settings
from chaosdrill.targets.revenue_engine.enrollment import EnrollmentRequest, RequestValidationError
from chaosdrill.targets.revenue_engine.errors import error_response, short_reason
from chaosdrill.targets.revenue_engine.health import HealthChecker
from chaosdrill.targets.revenue_engine.middleware import UNMATCHED_ROUTE, route_template


def _routes() -> list[BaseRoute]:
    app = create_app(
        Settings(dsn="host=x", redis_url="redis://x", revision_file=Path("x"), replica="r"),
        revision=Revision("1", 1),
    )
    return list(app.routes)


def _scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/courses", "/api/courses"),
        ("GET", "/api/courses/17", "/api/courses/{course_id}"),
        ("GET", "/api/courses/not-a-number", "/api/courses/{course_id}"),
        ("POST", "/api/enrollments", "/api/enrollments"),
        ("GET", "/api/enrollments/99", "/api/enrollments/{enrollment_id}"),
        ("PUT", "/admin/flags/new_checkout", "/admin/flags/{name}"),
        ("DELETE", "/api/courses/3", "/api/courses/{course_id}"),
        ("GET", "/health", "/health"),
        ("GET", "/metrics", "/metrics"),
        ("GET", "/wp-login.php", UNMATCHED_ROUTE),
        ("GET", "/api/courses/1/2", UNMATCHED_ROUTE),
    ],
)
def test_route_template(method: str, path: str, template: str) -> None:
    assert route_template(_routes(), _scope(method, path)) == template


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("42", 42),
        ("0", None),
        ("-1", None),
        ("1.5", None),
        ("abc", None),
        ("٣", None),
        ("99999999999999999999", None),
        ("9223372036854775807", 2**63 - 1),
    ],
)
def test_parse_id(raw: str, expected: int | None) -> None:
    assert parse_id(raw) == expected


def test_parse_id_maximum() -> None:
    assert parse_id("2147483648", maximum=2**31 - 1) is None


def test_enrollment_request_parse() -> None:
    req = EnrollmentRequest.parse({"course_id": 3, "student_email": "a@b.co", "client_key": "k"})
    assert req == EnrollmentRequest(3, "a@b.co", "k")
    assert EnrollmentRequest.parse({"course_id": 3, "student_email": "a@b.co"}).client_key is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"course_id": True, "student_email": "a@b.co"}, "course_id"),
        ({"course_id": 2**31, "student_email": "a@b.co"}, "course_id"),
        ({"course_id": 1, "student_email": "a b@c.de"}, "student_email"),
        ({"course_id": 1, "student_email": "a@b\x00.co"}, "student_email"),
        ({"course_id": 1, "student_email": "a@b.co", "client_key": "k" * 65}, "client_key"),
        ({"course_id": 1, "student_email": "a@b.co", "client_key": 5}, "client_key"),
        ("x", "body"),
    ],
)
def test_enrollment_request_rejects(body: object, field: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        EnrollmentRequest.parse(body)
    assert info.value.field == field


def test_error_mapping() -> None:
    import psycopg
    from psycopg_pool import PoolTimeout

    assert error_response(PoolTimeout("x")).status_code == 503
    assert b"pool exhausted" in error_response(PoolTimeout("x")).body
    response = error_response(psycopg.OperationalError("connection refused\nmore detail"))
    assert response.status_code == 503
    assert response.body == b'{"error":"database unavailable: connection refused"}'
    assert error_response(RuntimeError("boom")).status_code == 500
    assert b"boom" not in error_response(RuntimeError("boom")).body
    assert short_reason(TimeoutError()) == "timeout"
    assert len(short_reason(ValueError("x" * 500))) == 160


def test_cache_degrades_to_loader_when_not_open() -> None:
    cache = Cache("redis://127.0.0.1:1/0")

    async def load() -> bytes:
        return b"[]"

    value, outcome = asyncio.run(cache.get_or_load("k", load, 1.0))
    assert (value, outcome) == (b"[]", CacheOutcome.ERROR)
    assert cache.stats().errors == 1


def test_health_checker_budget_and_reuse() -> None:
    started = 0

    async def hang() -> None:
        nonlocal started
        started += 1
        await asyncio.sleep(3600)

    async def ok() -> None:
        return None

    async def fail() -> None:
        raise ConnectionError("refused")

    async def scenario() -> tuple[dict[str, str], dict[str, str]]:
        checker = HealthChecker({"db": hang, "cache": ok, "other": fail}, budget_s=0.05)
        first = await checker.check()
        second = await checker.check()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        return first, second

    first, second = asyncio.run(scenario())
    assert first == {"db": "error: timeout", "cache": "ok", "other": "error: refused"}
    assert second == first
    assert started == 1
