"""Crash the primary, see it in Prometheus and /health, promote the replica, write again."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.errors import OperationError

from ..conftest import pg_up, start_env, stop_env, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("failover", replicas=2)
    try:
        yield environment
    finally:
        stop_env(environment)


def test_crash_then_promote_then_rebuild(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    body = {"course_id": 11, "student_email": "failover@example.org"}
    wait_for(lambda: pg_up(env, "postgres-1") == 1.0, 20)
    app_pids = {r.name: r.pid for r in env.deployment_status().replicas}

    env.crash_primary()
    wait_for(lambda: pg_up(env, "postgres-1") == 0.0, 20)
    health = httpx.get(f"{url}/health", timeout=5)
    assert health.status_code == 503
    assert health.json()["checks"]["database"] != "ok"
    assert httpx.post(f"{url}/api/enrollments", json=body, timeout=10).status_code >= 500

    with pytest.raises(OperationError, match="two primaries"):
        env.promote_replica()
        env.start_database("postgres-1")
    assert env.database_status().primary == "postgres-2"

    def write_ok() -> bool:
        return httpx.post(f"{url}/api/enrollments", json=body, timeout=10).status_code == 201

    wait_for(write_ok, 15)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    assert {
        r.name: r.pid for r in env.deployment_status().replicas
    } == app_pids, "the service must find the new primary without a restart"

    rebuilt = env.rebuild_replica()
    assert rebuilt == "postgres-1"
    status = {n.name: n for n in env.database_status().nodes}
    assert status["postgres-1"].in_recovery is True
    assert status["postgres-2"].in_recovery is False
    r = httpx.post(f"{url}/api/enrollments", json=body, timeout=10)
    assert r.status_code == 201
    new_id = r.json()["id"]
    wait_for(
        lambda: env.sql(f"select 1 from enrollments where id = {new_id}", node="postgres-1"), 10
    )
