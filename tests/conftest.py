"""Shared test configuration: integration tests start real environments."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from tests.packaging_helpers import InstalledWheel, build_wheel, install_wheel

_ENVS: list[LocalEnvironment] = []


def unique_name(prefix: str) -> str:
    """An environment name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout} s (last value {last!r})")


def pg_up(env: LocalEnvironment, node: str) -> float | None:
    """Prometheus' current ``pg_up`` for a database node (None when it has no sample)."""
    r = httpx.get(
        f"{env.endpoints().prometheus_url}/api/v1/query",
        params={"query": f'pg_up{{node="{node}"}}'},
        timeout=5,
    ).json()
    result = r["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def start_env(prefix: str, **settings: Any) -> LocalEnvironment:
    """Bring a real local environment up with fast monitoring (for tests)."""
    defaults: dict[str, Any] = {
        "replicas": 2,
        "scrape_interval_s": 0.5,
        "evaluation_interval_s": 0.5,
        "group_wait_s": 0.2,
    }
    env = LocalEnvironment.up(unique_name(prefix), EnvSettings(**{**defaults, **settings}))
    _ENVS.append(env)
    return env


def stop_env(env: LocalEnvironment) -> None:
    """Take an environment down (idempotent)."""
    env.down()
    if env in _ENVS:
        _ENVS.remove(env)


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    """A local environment shared by the tests of one module."""
    environment = start_env("it")
    try:
        yield environment
    finally:
        stop_env(environment)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the log tails of every running environment's components to a failing test."""
    report = yield
    if report.failed and call.when == "call":
        for environment in _ENVS:
            if not environment.root.exists():
                continue
            for name in environment.ctx.component_names():
                tail = environment.ctx.tail(name, lines=15)
                if tail:
                    report.sections.append((f"{environment.name} {name} log", tail))
    return report


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """The working tree's wheel, built once per session and installed into a new venv.

    Building takes a few seconds; installing the dependencies from pip's index takes tens of
    seconds, which the first test that uses this fixture pays for.
    """
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    return install_wheel(wheel, tmp_path_factory.mktemp("venv") / "venv")
