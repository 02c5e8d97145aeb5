"""HAProxy killed and restarted by the supervisor serves the current replicas at once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from chaosdrill.environments.local import LocalEnvironment

from ..conftest import start_env, stop_env, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("lbrestart", replicas=2)
    try:
        yield environment
    finally:
        stop_env(environment)


def _haproxy_pid(env: LocalEnvironment) -> int | None:
    info = env.ctx.supervisor.info("haproxy")
    return int(info["pid"]) if info.get("statename") == "RUNNING" and info["pid"] else None


def _kill_haproxy(env: LocalEnvironment) -> None:
    """SIGKILL HAProxy's master and wait until the supervisor has started a new one."""
    old = _haproxy_pid(env)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: (_haproxy_pid(env) or old) != old, 10)


def _served_replicas(env: LocalEnvironment) -> set[str]:
    """Replicas answering /health through the load balancer (two rounds of round robin)."""
    url = env.endpoints().service_url
    seen: set[str] = set()
    for _ in range(2 * len(env.state.replicas) + 2):
        try:
            r = httpx.get(f"{url}/health", timeout=2)
        except httpx.HTTPError:
            continue
        if r.status_code in (200, 503) and "replica" in r.text:
            seen.add(r.json()["replica"])
    return seen


def _all_up_and_served(env: LocalEnvironment) -> bool:
    names = {r.name for r in env.state.replicas}
    try:  # the runtime API's socket is missing until the new HAProxy has bound it
        stats = env.ctx.haproxy.stats()
    except OSError:
        return False
    up = {n for n, s in stats.items() if s.status.startswith("UP")}
    return up == names and _served_replicas(env) == names


def test_restarted_haproxy_serves_every_replica(env: LocalEnvironment) -> None:
    assert _all_up_and_served(env)
    _kill_haproxy(env)
    t0 = time.monotonic()
    wait_for(lambda: _all_up_and_served(env), 5)
    assert time.monotonic() - t0 < 5


def test_restarted_haproxy_serves_replicas_added_by_scale(env: LocalEnvironment) -> None:
    env.scale(3)
    assert len(env.state.replicas) == 3
    _kill_haproxy(env)
    wait_for(lambda: _all_up_and_served(env), 5)
    env.scale(2)
    _kill_haproxy(env)
    wait_for(lambda: _all_up_and_served(env), 5)
    assert len(env.ctx.haproxy.stats()) == 2
