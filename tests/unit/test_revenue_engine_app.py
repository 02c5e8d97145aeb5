"""App behaviour that needs no database or cache (the lifespan never runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient

from chaosdrill.targets.revenue_engine import Revision, create_app
from chaosdrill.targets.revenue_engine.config import Settings
from chaosdrill.targets.revenue_engine.service import Service

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app(**settings: object) -> Starlette:
    revision = Revision.from_dict(
        {"version": "9.9.9", "revision": 42, "settings": settings, "flags": {"beta": True}}
    )
    return create_app(
        Settings(
            dsn="host=127.0.0.1 port=1 dbname=none connect_timeout=1",
            redis_url="redis://127.0.0.1:1/0",
            revision_file=Path("unused.json"),
            replica="unit-1",
        ),
        revision=revision,
        admin_token=TOKEN,
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield TestClient(_app(checkout_failure_rate=1.0), raise_server_exceptions=False)


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_exposition(client: TestClient) -> None:
    client.get("/api/courses/abc")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(client)
    assert samples[("build_info", frozenset({("version", "9.9.9"), ("revision", "42")}))] == 1
    assert samples[("feature_flag_enabled", frozenset({("flag", "beta")}))] == 1
    assert samples[("feature_flag_enabled", frozenset({("flag", "new_checkout")}))] == 0
    assert samples[("db_pool_size", frozenset())] == 10
    assert samples[("db_pool_connections_in_use", frozenset())] == 0
    assert samples[("db_pool_connections_waiting", frozenset())] == 0
    for name in ("cache_hits_total", "cache_misses_total", "cache_errors_total"):
        assert samples[(name, frozenset())] == 0
    assert ("process_resident_memory_bytes", frozenset()) in samples
    assert ("process_cpu_seconds_total", frozenset()) in samples
    labels = frozenset(
        {("route", "/api/courses/{course_id}"), ("method", "GET"), ("status", "404")}
    )
    assert samples[("http_requests_total", labels)] == 1
    bucket = frozenset({("route", "/metrics"), ("method", "GET"), ("le", "0.005")})
    assert ("http_request_duration_seconds_bucket", bucket) in samples


def test_apps_have_separate_registries() -> None:
    first, second = TestClient(_app()), TestClient(_app())
    first.get("/nowhere")
    key = (
        "http_requests_total",
        frozenset({("route", "unmatched"), ("method", "GET"), ("status", "404")}),
    )
    assert _samples(first)[key] == 1
    assert key not in _samples(second)


def test_health_reports_unopened_dependencies(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"].startswith("error: ")
    assert body["checks"]["cache"].startswith("error: ")
    assert (body["version"], body["revision"], body["replica"]) == ("9.9.9", 42, "unit-1")


def test_unknown_path_and_method_are_json(client: TestClient) -> None:
    assert client.get("/nowhere").json() == {"error": "not found"}
    response = client.delete("/api/courses")
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ("[1, 2]", "body"),
        ('{"student_email": "a@b.co"}', "course_id"),
        ('{"course_id": "1", "student_email": "a@b.co"}', "course_id"),
        ('{"course_id": 1}', "student_email"),
        ('{"course_id": 1, "student_email": "nobody"}', "student_email"),
        ('{"course_id": 1, "student_email": "a@b.co", "client_key": ""}', "client_key"),
    ],
)
def test_enrollment_validation_422(client: TestClient, body: str, field: str) -> None:
    response = client.post("/api/enrollments", content=body)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_enrollment_body_too_large(client: TestClient) -> None:
    response = client.post("/api/enrollments", content=b"x" * 20_000)
    assert response.status_code == 413


def test_circuit_breaker_short_circuits_writes(client: TestClient) -> None:
    assert client.put("/admin/flags/circuit_breaker", json={"enabled": True}).status_code == 401
    response = client.put("/admin/flags/circuit_breaker", json={"enabled": True}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["flags"]["circuit_breaker"] is True
    response = client.post("/api/enrollments", json={"course_id": 1, "student_email": "a@b.co"})
    assert response.status_code == 503
    assert response.json() == {"error": "circuit open"}


def test_new_checkout_fails_at_configured_rate(client: TestClient) -> None:
    client.put("/admin/flags/new_checkout", json={"enabled": True}, headers=AUTH)
    payload = {"course_id": 1, "student_email": "a@b.co"}
    for _ in range(3):
        response = client.post("/api/enrollments", json=payload)
        assert response.status_code == 500
        assert response.json() == {"error": "internal server error"}
    samples = _samples(client)
    key = frozenset({("route", "/api/enrollments"), ("method", "POST"), ("status", "500")})
    assert samples[("http_requests_total", key)] == 3


def test_database_unavailable_maps_to_503(client: TestClient) -> None:
    response = client.get("/api/enrollments/5")
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable: pool is not open"}


def test_recommendations_cache_leaks_while_on() -> None:
    app = _app(leak_kib_per_request=4)
    client = TestClient(app, raise_server_exceptions=False)
    service: Service = app.state.service
    client.get("/api/courses/x")
    assert service.recommendations.retained_bytes == 0
    client.put("/admin/flags/recommendations_cache", json={"enabled": True}, headers=AUTH)
    for _ in range(3):
        client.get("/api/courses/x")
    assert service.recommendations.retained_bytes == 3 * 4096
    client.put("/admin/flags/recommendations_cache", json={"enabled": False}, headers=AUTH)
    client.get("/api/courses/x")
    assert service.recommendations.retained_bytes == 3 * 4096
    samples = _samples(client)
    assert samples[("recommendations_cache_bytes", frozenset())] == 3 * 4096
