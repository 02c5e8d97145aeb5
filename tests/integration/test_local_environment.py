"""The local environment, with every part real: PostgreSQL, Redis, HAProxy, Prometheus, ..."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from chaosdrill.environments.base import LogQuery
from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.errors import EnvironmentExistsError, InvalidInputError, UnknownComponentError
from chaosdrill.probes.alerts import send_test_alert

from ..conftest import wait_for

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "chaosdrill"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def test_health_is_200_through_haproxy(env: LocalEnvironment) -> None:
    r = httpx.get(f"{env.endpoints().service_url}/health", timeout=5)
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_enrollment_written_through_service_is_readable_on_replica(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    r = httpx.post(
        f"{url}/api/enrollments",
        json={"course_id": 7, "student_email": "replica@example.org", "client_key": "it-replica-1"},
        timeout=5,
    )
    assert r.status_code == 201, r.text
    enrollment = r.json()
    replica = env.state.pg_replica
    assert replica == "postgres-2"
    rows = wait_for(
        lambda: env.sql(
            f"select course_id, price_cents from enrollments where id = {enrollment['id']}",
            node=replica,
        ),
        timeout=5,
    )
    assert rows == [(7, enrollment["price_cents"])]
    in_recovery = env.sql("select pg_is_in_recovery()", node=replica)
    assert in_recovery == [(True,)]


def test_database_is_seeded_with_200k_enrollments(env: LocalEnvironment) -> None:
    ((count,),) = env.sql("select count(*) from enrollments")
    assert count >= 200_000


def test_prometheus_has_every_target_up(env: LocalEnvironment) -> None:
    url = f"{env.endpoints().prometheus_url}/api/v1/targets"

    expected = {
        "app": 2,
        "haproxy": 1,
        "postgres": 2,
        "redis": 1,
        "prometheus": 1,
        "alertmanager": 1,
    }
    seen: list[tuple[str, str]] = []

    def all_up() -> list[tuple[str, str]] | None:
        # every expected target discovered (the replicas come through file discovery) and up
        targets = httpx.get(url, timeout=5).json()["data"]["activeTargets"]
        seen[:] = [(t["labels"]["job"], t["health"]) for t in targets]
        jobs = Counter(job for job, _ in seen)
        return seen if jobs == expected and all(h == "up" for _, h in seen) else None

    try:
        wait_for(all_up, timeout=60, interval=0.25)
    except AssertionError:
        pytest.fail(f"not every expected target was discovered and up in 60 s: {seen}")


def test_a_test_alert_reaches_the_pager(env: LocalEnvironment) -> None:
    before = time.monotonic()
    page = send_test_alert(env, timeout=20)
    assert page.status == "firing"
    assert page.alertname.startswith("ChaosdrillTestAlert")
    assert page.received_monotonic >= before
    assert page.labels["source"] == "chaosdrill"


def test_only_alertmanager_can_page(env: LocalEnvironment) -> None:
    token_file = env.state.pager_token_file
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 32
    name = f"ForgedPage{time.time_ns()}"
    forged = {
        "version": "4",
        "status": "firing",
        "receiver": "pager",
        "alerts": [{"status": "firing", "labels": {"alertname": name, "severity": "critical"}}],
    }
    url = f"{env.endpoints().pager_url}/webhook"
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": token}):
        r = httpx.post(url, json=forged, headers=headers, timeout=5)
        assert r.status_code == 401, (headers.keys(), r.status_code)
    assert env.pages(alertname=name) == []
    too_big = httpx.post(
        url, content=b" " * (2 << 20), headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert too_big.status_code == 413
    # a page Alertmanager sends (with the token from its credentials_file) still arrives
    page = send_test_alert(env, timeout=20)
    assert page.alertname.startswith("ChaosdrillTestAlert")
    # the token is in no configuration, state file or log: only its file names it
    am_config = (env.root / "alertmanager" / "alertmanager.yml").read_text()
    assert str(token_file) in am_config
    for path in [env.root / "env.json", *env.root.rglob("*.yml"), *env.state.logs.glob("*")]:
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path


def test_status_json_reports_every_part_healthy(env: LocalEnvironment) -> None:
    res = cli("env", "status", "--name", env.name, "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {
        "postgres-1",
        "postgres-2",
        "redis",
        "haproxy",
        "prometheus",
        "alertmanager",
        "pager",
        "redis-exporter",
        "postgres-exporter-1",
        "supervisord",
    } <= set(rows)
    assert all(r["health"] == "ok" for r in rows.values()), rows
    assert all(r["state"] == "RUNNING" for r in rows.values()), rows


@dataclass
class Traffic:
    """Steady light traffic (reads and writes) through the load balancer, bounded in time."""

    url: str
    results: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, max_seconds: float = 120.0, rate_hz: float = 40.0) -> None:
        deadline = time.monotonic() + max_seconds
        i = 0
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.stop.is_set() and time.monotonic() < deadline:
                i += 1
                try:
                    if i % 4 == 0:
                        r = http.post(
                            "/api/enrollments",
                            json={
                                "course_id": 1 + i % 50,
                                "student_email": f"t{i}@example.org",
                                "client_key": f"traffic-{os.getpid()}-{time.time_ns()}",
                            },
                        )
                    else:
                        r = http.get(f"/api/courses/{1 + i % 50}" if i % 2 else "/api/courses")
                    key = str(r.status_code)
                    if r.status_code >= 400:
                        self.errors.append(f"{r.request.method} {r.request.url}: {r.status_code}")
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                    self.errors.append(repr(exc))
                self.results[key] += 1
                time.sleep(1 / rate_hz)


def test_rollout_restart_and_scaling_under_traffic_lose_no_request(env: LocalEnvironment) -> None:
    traffic = Traffic(env.endpoints().service_url)
    worker = threading.Thread(target=traffic.run, daemon=True)
    worker.start()
    try:
        time.sleep(0.5)
        before = {r.name for r in env.deployment_status().replicas}
        env.rollout_restart()
        after_restart = {r.name for r in env.deployment_status().replicas}
        env.scale(4)
        assert env.deployment_status().ready == 4
        env.scale(2)
        time.sleep(0.5)
    finally:
        traffic.stop.set()
        worker.join(timeout=15)
    status = env.deployment_status()
    assert status.desired == status.ready == 2
    assert before.isdisjoint(after_restart), "rollout restart must replace every replica"
    assert traffic.errors == []
    assert sum(traffic.results.values()) > 100, traffic.results
    assert set(traffic.results) <= {"200", "201"}, traffic.results


def test_killed_replica_is_restarted_by_the_supervisor(env: LocalEnvironment) -> None:
    replica = env.deployment_status().replicas[0]
    assert replica.pid is not None
    os.kill(replica.pid, signal.SIGKILL)

    def restarted() -> bool:
        now = next(r for r in env.deployment_status().replicas if r.name == replica.name)
        if now.pid in (None, replica.pid) or now.state != "RUNNING":
            return False
        try:
            return httpx.get(f"http://127.0.0.1:{now.port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(restarted, timeout=20, interval=0.1)


def test_flags_reach_every_replica_and_need_the_admin_token(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    body = {"course_id": 3, "student_email": "flag@example.org"}
    assert (
        httpx.put(
            f"{url}/admin/flags/circuit_breaker", json={"enabled": True}, timeout=5
        ).status_code
        == 401
    )
    env.set_flag("circuit_breaker", True)
    try:
        codes = {
            httpx.post(f"{url}/api/enrollments", json=body, timeout=5).status_code for _ in range(6)
        }
        assert codes == {503}
        assert env.get_flags()["circuit_breaker"] is True
    finally:
        env.set_flag("circuit_breaker", False)
    assert httpx.post(f"{url}/api/enrollments", json=body, timeout=5).status_code == 201


def test_deploy_a_faulty_revision_then_roll_back(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    body = {"course_id": 4, "student_email": "release@example.org"}
    number = env.deploy_revision("1.1.0", {"checkout_failure_rate": 1.0}, {"new_checkout": True})
    assert env.deployment_status().version == "1.1.0"
    codes = Counter(
        httpx.post(f"{url}/api/enrollments", json=body, timeout=5).status_code for _ in range(6)
    )
    assert codes == {500: 6}
    back = env.rollback()
    assert back == 1 and back != number
    assert env.deployment_status().version == "1.0.0"
    assert httpx.post(f"{url}/api/enrollments", json=body, timeout=5).status_code == 201
    history = env.rollout_history()
    assert [h.version for h in history] == ["1.0.0", "1.1.0"]
    assert [h.current for h in history] == [True, False]
    metrics = httpx.get(
        f"http://127.0.0.1:{env.deployment_status().replicas[0].port}/metrics", timeout=5
    ).text
    assert 'build_info{revision="1",version="1.0.0"} 1.0' in metrics


def test_database_and_cache_checks(env: LocalEnvironment) -> None:
    assert env.check_database().startswith("ok: primary postgres-1")
    assert env.check_cache().startswith("ok")
    assert env.cache_status().up


def test_logs_tail_and_grep(env: LocalEnvironment) -> None:
    lines = env.logs(LogQuery("postgres-1", tail=500, grep="ready to accept"))
    assert lines and all("ready to accept" in ln for ln in lines)


def test_bad_input_is_refused_and_changes_nothing(env: LocalEnvironment) -> None:
    supervisor_pid = env.ctx.supervisor.pid()
    replicas = [r.name for r in env.deployment_status().replicas]
    with pytest.raises(UnknownComponentError, match="unknown component 'nope'"):
        env.logs(LogQuery("nope"))
    for bad in (-1, 17, "2"):
        with pytest.raises(InvalidInputError, match="replicas"):
            env.scale(bad)  # type: ignore[arg-type]
    with pytest.raises(EnvironmentExistsError, match="already up"):
        LocalEnvironment.up(env.name, EnvSettings(replicas=1))
    res = cli("env", "logs", "nope", "--name", env.name)
    assert res.returncode == 2 and "unknown component 'nope'" in res.stderr
    res = cli("env", "up", "--name", env.name)
    assert res.returncode == 2 and "already up" in res.stderr
    res = cli("ops", "deployment", "scale", "99", "--name", env.name)
    assert res.returncode == 2 and "replicas" in res.stderr
    assert env.ctx.supervisor.pid() == supervisor_pid
    assert [r.name for r in env.deployment_status().replicas] == replicas
    assert httpx.get(f"{env.endpoints().service_url}/health", timeout=5).status_code == 200
