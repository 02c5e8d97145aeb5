"""Rollouts cut short (kill -9, SIGTERM) and reverts that race: the deployment converges.

The history records a revision only once every replica runs it; a replica is named in the
state before the supervisor starts it; the next operation (or ``reconcile``) finishes what
a killed process left; a release fault is active while any replica serves its version,
whatever the records say; two reverts at once end on the release of before.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.environments.local.state import EnvState
from chaosdrill.faults import make_fault

from ..conftest import start_env, stop_env, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ADD_SERVER = "!chaosdrill.environments.local.haproxy:HAProxy.add_server"


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("rollout", replicas=2)
    try:
        yield environment
    finally:
        stop_env(environment)


def _cli(env: LocalEnvironment, *args: str) -> list[str]:
    return [sys.executable, "-m", "chaosdrill", *args, "--name", env.name]


def _killed_at(env: LocalEnvironment, point: str, *args: str) -> None:
    cmd = [sys.executable, "-m", "tests.killpoint", point, "--", *args, "--name", env.name]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stdout + proc.stderr


def _served(env: LocalEnvironment) -> dict[str, str]:
    """Replica name -> the version it serves, for every replica HAProxy routes to."""
    headers = {"Authorization": f"Bearer {env.admin_token()}"}
    ports = {r["name"]: r["port"] for r in _all_replicas(env)}
    return {
        name: httpx.get(
            f"http://127.0.0.1:{ports[name]}/admin/revision", headers=headers, timeout=5
        ).json()["version"]
        for name in env.ctx.haproxy.stats()
    }


def _all_replicas(env: LocalEnvironment) -> list[dict[str, object]]:
    st = EnvState.load(env.root)
    new = (st.rollout or {}).get("new", [])
    return [{"name": r.name, "port": r.port} for r in st.replicas] + list(new)


def _programs(env: LocalEnvironment) -> set[str]:
    return {i["name"] for i in env.ctx.supervisor.all_info() if i["name"].startswith("app-")}


def _settled(env: LocalEnvironment, version: str, replicas: int = 2) -> None:
    st = EnvState.load(env.root)
    assert st.rollout is None
    names = {r.name for r in st.replicas}
    assert len(names) == replicas
    assert _programs(env) == names == set(env.ctx.haproxy.stats())
    assert set(_served(env).values()) == {version}
    assert st.revision(st.current_revision)["version"] == version


def test_a_killed_deploy_is_recorded_only_once_finished(env: LocalEnvironment) -> None:
    before = EnvState.load(env.root)
    _settled(env, "1.0.0")
    _killed_at(env, ADD_SERVER, "ops", "deployment", "deploy", "1.4.0")

    st = EnvState.load(env.root)
    # the history still says 1.0.0: no replica was replaced yet
    assert st.revision_history == before.revision_history
    # the replica the killed process started is named in the state, with its target
    assert st.rollout is not None and st.rollout["replicas"] == 2
    started = {r["name"] for r in st.rollout["new"]}
    assert started and started <= _programs(env)
    assert started.isdisjoint({r.name for r in before.replicas})
    # what users get: HAProxy already routes to a replica serving 1.4.0
    assert "1.4.0" in _served(env).values()
    status = env.deployment_status()
    assert {r.version for r in status.replicas} >= {"1.0.0", "1.4.0"}
    bad = make_fault("bad-release", {"version": "1.4.0"})
    assert bad.is_active(env)  # the record says 1.0.0; a replica serves 1.4.0

    out = subprocess.run(
        _cli(env, "ops", "deployment", "reconcile"), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "never finished" in out.stdout and "finished an interrupted rollout" in out.stdout
    _settled(env, "1.4.0")
    assert EnvState.load(env.root).revision_history == [*before.revision_history, 2]


def test_sigterm_during_a_rollback_is_finished_by_the_next_operation(
    env: LocalEnvironment,
) -> None:
    _settled(env, "1.4.0")
    known = _programs(env)
    proc = subprocess.Popen(
        _cli(env, "ops", "deployment", "rollback"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: _programs(env) - known, 30, interval=0.02)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # whatever the signal left, the next operation starts by finishing it
    env.scale(2)
    _settled(env, "1.0.0")
    assert EnvState.load(env.root).revision_history[-1] == 1


def test_two_reverts_at_once_end_on_the_release_of_before(env: LocalEnvironment) -> None:
    _settled(env, "1.0.0")
    fault = make_fault("bad-release", {"failure_rate": 0.1}).bind(env)
    assert fault.params["revert_to_revision"] == 1 and fault.params["revert_to_replicas"] == 2
    fault.inject(env)
    assert fault.is_active(env)
    bad = EnvState.load(env.root).current_revision
    errors: list[BaseException] = []

    def revert() -> None:
        try:
            make_fault("bad-release", fault.params).revert(LocalEnvironment.attach(env.name))
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=revert) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert not fault.is_active(env)
    _settled(env, "1.0.0")
    history = EnvState.load(env.root).revision_history
    # rolled back once: the second revert found 1.0.0 running and did not undo the first
    assert history[-2:] == [bad, 1] and history.count(bad) == 1, history


def test_a_restart_killed_while_retiring_is_finished_by_reconcile(
    env: LocalEnvironment,
) -> None:
    """Killed after the first old replica left: new and old replicas run side by side."""
    _settled(env, "1.0.0")
    _killed_at(
        env,
        "!chaosdrill.environments.local.deployment:DeploymentOps._retire_replica",
        "ops",
        "deployment",
        "restart",
    )
    st = EnvState.load(env.root)
    assert st.rollout is not None  # a restart is a rollout too
    assert len(st.replicas) == 3  # two new, one old left
    assert env.reconcile()
    _settled(env, "1.0.0")


def test_an_unbound_release_fault_undoes_only_its_own_rollout(env: LocalEnvironment) -> None:
    """A fault made without bind() (an older ledger entry) returns to what ran before it."""
    _settled(env, "1.0.0")
    env.deploy_revision("1.5.0-other")  # a newer revision that is not current any more
    env.rollback()
    _settled(env, "1.0.0")
    fault = make_fault("leaky-release")
    assert fault.params["revert_to_revision"] is None
    fault.inject(env)
    fault.revert(env)
    assert not fault.is_active(env)
    _settled(env, "1.0.0")
