"""Crash the primary under load and promote the replica: what happened to the writes?"""

from __future__ import annotations

import time

import httpx
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.load import LoadSpec
from chaosdrill.probes.integrity import check_integrity

from ..conftest import start_env, stop_env

pytestmark = pytest.mark.integration


def _failover_under_load(env: LocalEnvironment) -> tuple[object, dict[str, object] | None]:
    url = env.endpoints().service_url
    run = env.start_load(LoadSpec(rate=60, users=10, weights={"enroll": 3, "browse": 1}))
    time.sleep(3)
    env.crash_primary()
    time.sleep(1)
    promoted_at = time.monotonic()
    env.promote_replica()
    deadline = time.monotonic() + 20
    body = {"course_id": 2, "student_email": "probe@example.org"}
    while httpx.post(f"{url}/api/enrollments", json=body, timeout=5).status_code != 201:
        assert time.monotonic() < deadline, "writes did not resume after the promotion"
        time.sleep(0.1)
    time.sleep(2)
    run.stop()
    promotion = env.last_promotion(since_monotonic=promoted_at - 1)
    return check_integrity(env, run, promotion), promotion


def test_synchronous_replication_loses_no_acknowledged_write() -> None:
    env = start_env("sync", replicas=2, synchronous_replication=True)
    try:
        ((sync_state,),) = env.sql("select sync_state from pg_stat_replication")
        assert sync_state == "sync"
        report, promotion = _failover_under_load(env)
    finally:
        stop_env(env)
    assert promotion is not None and promotion["new_primary"] == "postgres-2"
    assert report.counts_add_up  # type: ignore[attr-defined]
    assert report.ok > 50, report  # type: ignore[attr-defined]
    assert report.lost == [], report.summary()  # type: ignore[attr-defined]
    assert report.rpo_seconds == 0.0  # type: ignore[attr-defined]
    assert report.wal_gap_bytes is not None  # type: ignore[attr-defined]


def test_asynchronous_replication_reports_what_it_measured() -> None:
    env = start_env("async", replicas=2)
    try:
        report, promotion = _failover_under_load(env)
    finally:
        stop_env(env)
    assert promotion is not None
    assert report.counts_add_up  # type: ignore[attr-defined]
    assert report.rpo_seconds is not None  # type: ignore[attr-defined]
    print(report.summary())  # type: ignore[attr-defined]
