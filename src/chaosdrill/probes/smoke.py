"""A short smoke drive of the service: every route once, a write seen on the replica, a page.

This is what the README's first command runs until full drills land; it proves the
environment is wired end to end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from chaosdrill.environments import Environment
from chaosdrill.errors import OperationError
from chaosdrill.probes.alerts import send_test_alert
from chaosdrill.targets.spec import Flow, TargetSpec

__all__ = ["SmokeStep", "smoke_drive"]


@dataclass
class SmokeStep:
    """One checked step of the smoke drive."""

    name: str
    ok: bool
    detail: str
    seconds: float


def _step(steps: list[SmokeStep], name: str, fn: Callable[[], str]) -> None:
    t0 = time.monotonic()
    try:
        detail, ok = fn(), True
    except (httpx.HTTPError, OperationError, AssertionError, KeyError, ValueError) as exc:
        detail, ok = f"{type(exc).__name__}: {exc}", False
    steps.append(SmokeStep(name, ok, detail, time.monotonic() - t0))


def smoke_drive(env: Environment, include_page: bool = True) -> list[SmokeStep]:
    """Drive the service through the load balancer and check each answer.

    Args:
        env: the environment.
        include_page: also send a test alert through Alertmanager to the pager.
    """
    target = env.target()
    if not target.reference:
        return _target_drive(env, target, include_page)
    ep = env.endpoints()
    steps: list[SmokeStep] = []
    made: dict[str, int] = {}
    with httpx.Client(base_url=ep.service_url, timeout=5) as http:

        def health() -> str:
            r = http.get("/health")
            assert r.status_code == 200, f"/health answered {r.status_code}: {r.text[:200]}"
            return f"200 {r.json()['checks']}"

        def courses() -> str:
            r = http.get("/api/courses")
            r.raise_for_status()
            body = r.json()
            items = body["courses"] if isinstance(body, dict) else body
            made["course"] = int(items[0]["id"])
            return f"{len(items)} courses"

        def course() -> str:
            r = http.get(f"/api/courses/{made['course']}")
            r.raise_for_status()
            return f"course {made['course']}: {r.json()['stats']['enrollments']} enrollments"

        def enroll() -> str:
            key = f"smoke-{secrets.token_hex(6)}"
            r = http.post(
                "/api/enrollments",
                json={
                    "course_id": made["course"],
                    "student_email": "smoke@example.org",
                    "client_key": key,
                },
            )
            assert r.status_code == 201, f"answered {r.status_code}: {r.text[:200]}"
            made["enrollment"] = int(r.json()["id"])
            return f"enrollment {made['enrollment']} at {r.json()['price_cents']} cents"

        def read_back() -> str:
            r = http.get(f"/api/enrollments/{made['enrollment']}")
            r.raise_for_status()
            return "read back through the service"

        def on_replica() -> str:
            status = env.database_status()
            replica = next((n.name for n in status.nodes if n.name != status.primary), None)
            assert replica, "no replica"
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                rows = env.sql(
                    f"select id from enrollments where id = {made['enrollment']}",
                    node=replica,
                    timeout_s=5,
                )
                if rows:
                    return f"present on {replica}"
                time.sleep(0.05)
            raise AssertionError(f"enrollment not replicated to {replica} within 5 s")

        def page() -> str:
            p = send_test_alert(env)
            return f"{p.alertname} paged at {p.received_wall}"

        for name, fn in [
            ("GET /health", health),
            ("GET /api/courses", courses),
            ("GET /api/courses/{id}", course),
            ("POST /api/enrollments", enroll),
            ("GET /api/enrollments/{id}", read_back),
            ("replicated to standby", on_replica),
        ]:
            _step(steps, name, fn)
        if include_page:
            _step(steps, "test alert reaches pager", page)
    return steps


def _target_drive(env: Environment, target: TargetSpec, include_page: bool) -> list[SmokeStep]:
    """A workspace target's smoke drive: its health check, then each of its flows once.

    A flow's ``{id}`` is 1 (the first of its ids); any answer below 400 passes.
    """
    steps: list[SmokeStep] = []
    with httpx.Client(base_url=env.endpoints().service_url, timeout=5) as http:

        def health() -> str:
            r = http.get(target.health_path)
            assert (
                r.status_code == 200
            ), f"{target.health_path} answered {r.status_code}: {r.text[:200]}"
            return str(r.status_code)

        _step(steps, f"GET {target.health_path}", health)
        for flow in target.flows:

            def request(flow: Flow = flow) -> str:
                r = http.request(flow.method, flow.path_for(1), json=flow.body_for(1))
                assert r.status_code < 400, f"answered {r.status_code}: {r.text[:200]}"
                return str(r.status_code)

            _step(steps, f"{flow.method} {flow.path} ({flow.name})", request)
        if include_page:
            _step(steps, "test alert reaches pager", lambda: _page(env))
    return steps


def _page(env: Environment) -> str:
    p = send_test_alert(env)
    return f"{p.alertname} paged at {p.received_wall}"
