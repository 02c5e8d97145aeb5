"""The repository's runbooks against real environments, each effect verified independently.

Every test breaks something the way an incident would (or asks for a change), runs the
runbook through the executor, checks that every step succeeded and was timed, and then
checks the effect by other means than the runbook's own checks.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.errors import OperationError
from chaosdrill.faults.base import make_fault
from chaosdrill.runbooks.executor import run_runbook
from chaosdrill.runbooks.loader import load_runbook, load_runbooks
from chaosdrill.runbooks.model import Runbook
from chaosdrill.runbooks.operation import running
from chaosdrill.runbooks.result import RunbookResult

from ..conftest import start_env, stop_env

pytestmark = pytest.mark.integration

RUNBOOKS: dict[str, Runbook] = load_runbooks(Path(__file__).resolve().parents[2] / "runbooks")
TIME_SCALE = 30.0
ENROLLMENTS_EXPLAIN = (
    "explain select count(*), coalesce(sum(price_cents), 0) from enrollments where course_id = 1"
)


def _run(name: str, env: LocalEnvironment, **params: Any) -> RunbookResult:
    """Run a runbook; assert that every step ran, in order, succeeded and was timed.

    The environments scrape every 0.5 s, as a drill at time scale 30 would, so PromQL
    windows are divided by 30 (a 1-minute window becomes 2 s).
    """
    rb = RUNBOOKS[name]
    wall = time.time()
    result = run_runbook(rb, env, params, time_scale=TIME_SCALE)
    report = "\n".join(f"{s.index}. {s.name}: {s.error or s.output}" for s in result.steps)
    assert result.ok, report
    assert [s.name for s in result.steps] == [s.name for s in rb.steps]
    previous_end = result.started
    for step in result.steps:
        assert previous_end <= step.started <= step.ended <= result.ended
        assert step.duration_s == step.ended - step.started
        assert step.started_wall >= wall - 1
        previous_end = step.ended
    return result


def _enroll(url: str) -> int:
    body = {"course_id": 1, "student_email": f"rb-{uuid.uuid4().hex[:8]}@example.org"}
    return httpx.post(f"{url}/api/enrollments", json=body, timeout=10).status_code


def test_restart_service_replaces_every_replica(env: LocalEnvironment) -> None:
    before = {r.name for r in env.deployment_status().replicas}
    _run("restart-service", env)
    after = env.deployment_status()
    assert {r.name for r in after.replicas}.isdisjoint(before)
    assert after.ready == after.desired == len(before)
    assert httpx.get(f"{env.endpoints().service_url}/health", timeout=5).status_code == 200


def test_a_rollout_that_outlives_its_step_is_waited_for(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    before = {r.name for r in env.deployment_status().replicas}
    path = tmp_path / "hasty-restart.yaml"
    path.write_text(
        "name: hasty-restart\ntitle: T\ndescription: d\nsteps:\n"
        "  - name: Restart\n    action: {op: rollout_restart}\n    timeout_s: 0.5\n"
        "  - name: Check\n    action: {op: check_database}\n    timeout_s: 5\n"
    )
    result = run_runbook(load_runbook(path), env)
    after = env.deployment_status()  # at once: the rollout must be over
    step = result.steps[0]
    assert not step.ok and 0.5 <= step.duration_s < 1.0, step
    assert result.not_run == ("Check",)
    wait = result.operation_wait
    assert wait is not None and wait.ok and result.settled, wait
    assert wait.operation == "rollout_restart" and wait.waited_s > 0
    assert running() == ()
    assert after.desired == after.ready == len(before)
    assert all(r.state == "RUNNING" and r.load_balancer.startswith("UP") for r in after.replicas)
    assert {r.name for r in after.replicas}.isdisjoint(before)
    assert httpx.get(f"{env.endpoints().service_url}/health", timeout=5).status_code == 200


def test_scale_service_up_and_back(env: LocalEnvironment) -> None:
    _run("scale-service", env, replicas=3)
    status = env.deployment_status()
    assert (status.desired, status.ready) == (3, 3)
    assert all(r.load_balancer.startswith("UP") for r in status.replicas)
    _run("scale-service", env, replicas="2")
    status = env.deployment_status()
    assert (status.desired, status.ready) == (2, 2)


def test_rollback_deployment_after_a_bad_release(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    good = next(r for r in env.rollout_history() if r.current)
    env.deploy_revision("1.1.0", {"checkout_failure_rate": 1.0}, {"new_checkout": True})
    assert _enroll(url) == 500
    _run("rollback-deployment", env)
    current = next(r for r in env.rollout_history() if r.current)
    assert (current.revision, current.version) == (good.revision, good.version)
    assert {r.revision for r in env.deployment_status().replicas} == {good.revision}
    assert [_enroll(url) for _ in range(3)] == [201] * 3


def _flag_on_replicas(env: LocalEnvironment, flag: str) -> list[str]:
    """The flag's value as every replica's /metrics reports it."""
    values = []
    for rep in env.deployment_status().replicas:
        text = httpx.get(f"http://127.0.0.1:{rep.port}/metrics", timeout=5).text
        line = next(
            ln for ln in text.splitlines() if f'feature_flag_enabled{{flag="{flag}"}}' in ln
        )
        values.append(line.split()[-1])
    return values


def test_circuit_breaker_turns_the_flag_off_on_every_replica(env: LocalEnvironment) -> None:
    env.set_flag("recommendations_cache", True)
    assert set(_flag_on_replicas(env, "recommendations_cache")) == {"1.0"}
    _run("circuit-breaker", env)
    assert set(_flag_on_replicas(env, "recommendations_cache")) == {"0.0"}
    headers = {"Authorization": f"Bearer {env.admin_token()}"}
    for rep in env.deployment_status().replicas:
        flags = httpx.get(f"http://127.0.0.1:{rep.port}/admin/flags", headers=headers).json()
        assert flags["flags"]["recommendations_cache"] is False


def test_add_index_rebuilds_the_dropped_index(env: LocalEnvironment) -> None:
    env.sql("DROP INDEX enrollments_course_id_idx")
    assert "Seq Scan on enrollments" in str(env.sql(ENROLLMENTS_EXPLAIN))
    _run("add-index", env)
    assert "enrollments_course_id_idx" in str(env.sql(ENROLLMENTS_EXPLAIN))
    valid = env.sql(
        "select indisvalid from pg_index "
        "where indexrelid = to_regclass('enrollments_course_id_idx')"
    )
    assert valid == [(True,)]


def test_terminate_blocking_sessions_ends_the_lock_holder(env: LocalEnvironment) -> None:
    dsn = env.database_dsn()
    holder = psycopg.connect(dsn, application_name="test-lock-holder")
    holder.execute("LOCK TABLE enrollments IN ACCESS EXCLUSIVE MODE")  # opens a transaction
    counted: list[int] = []

    def wait_for_the_lock() -> None:
        with psycopg.connect(dsn, application_name="test-waiter", autocommit=True) as conn:
            row = conn.execute("select count(*) from enrollments").fetchone()
            counted.append(int(row[0]) if row else -1)

    waiter = threading.Thread(target=wait_for_the_lock, daemon=True)
    waiter.start()
    try:
        deadline = time.monotonic() + 10
        blocked = "select count(*) from pg_stat_activity where application_name = 'test-waiter' "
        blocked += "and wait_event_type = 'Lock'"
        while env.sql(blocked) != [(1,)]:
            assert time.monotonic() < deadline, "the waiter never queued for the lock"
            time.sleep(0.05)
        _run("terminate-blocking-sessions", env)
        waiter.join(10)
        assert counted and counted[0] > 0, "the waiter did not get the table"
        with pytest.raises(psycopg.OperationalError):
            holder.execute("select 1")
        locks = env.sql(
            "select count(*) from pg_locks where relation = 'enrollments'::regclass "
            "and mode = 'AccessExclusiveLock'"
        )
        assert locks == [(0,)]
        url = env.endpoints().service_url
        assert httpx.get(f"{url}/api/courses/1", timeout=10).status_code == 200
    finally:
        holder.close()
        waiter.join(10)


def test_warm_cache_restores_a_frozen_cache(env: LocalEnvironment) -> None:
    env.freeze_cache()
    try:
        with pytest.raises(OperationError):
            env.check_cache()
        _run("warm-cache", env)
    finally:
        env.thaw_cache()
    assert env.check_cache().startswith("ok")
    assert (env.cache_status().keys or 0) >= 1
    response = httpx.get(f"{env.endpoints().service_url}/api/courses", timeout=5)
    assert response.headers["X-Cache"] == "hit"


def test_terminate_runaway_connections_stops_the_connection_limit_fault(
    env: LocalEnvironment,
) -> None:
    fault = make_fault("connection-limit")
    fault.inject(env)
    try:
        with pytest.raises(OperationError, match="too many clients|remaining connection slots"):
            env.check_database()
        pids = {c.name: c.pid for c in env.components()}
        result = _run("terminate-runaway-connections", env)
        stop = next(s for s in result.steps if s.name == "Stop the runaway client")
        assert "stopped client processes: [" in stop.output, stop.output
        # only the runaway client is stopped: a process whose own port number happens to
        # equal one of the client's (HAProxy's health checks reuse ports to other hosts)
        # is not touched
        assert {c.name: c.pid for c in env.components()} == pids
        assert not fault.is_active(env)
        assert env.check_database().startswith("ok")
        url = env.endpoints().service_url
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        assert _enroll(url) == 201
    finally:
        fault.revert(env)


def test_database_failover_on_its_own_environment() -> None:
    env = start_env("rbfo")
    try:
        env.crash_primary()
        _run("database-failover", env)
        status = env.database_status()
        roles = {n.name: (n.role, n.up, n.in_recovery) for n in status.nodes}
        assert roles == {
            "postgres-1": ("replica", True, True),
            "postgres-2": ("primary", True, False),
        }
        streaming = "select count(*) from pg_stat_replication where state = 'streaming'"
        assert env.sql(streaming) == [(1,)]
        assert _enroll(env.endpoints().service_url) == 201
    finally:
        stop_env(env)
