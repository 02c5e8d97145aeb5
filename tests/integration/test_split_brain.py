"""A promotion the state never recorded: roles come from the servers, never two primaries."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.environments.local.state import EnvState
from chaosdrill.errors import OperationError
from chaosdrill.faults import make_fault

from ..conftest import start_env, stop_env, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("splitbrain", replicas=1)
    try:
        yield environment
    finally:
        stop_env(environment)


def _in_recovery(env: LocalEnvironment, port: int) -> bool | None:
    """``pg_is_in_recovery()`` of the server on ``port``, None when it does not answer."""
    try:
        with psycopg.connect(env.ctx.pg_dsn(port), connect_timeout=1, autocommit=True) as conn:
            row = conn.execute("select pg_is_in_recovery()").fetchone()
            return bool(row[0]) if row else None
    except psycopg.OperationalError:
        return None


def _recovery(env: LocalEnvironment) -> dict[str, bool | None]:
    return {name: _in_recovery(env, port) for name, port in env.state.pg_nodes.items()}


def test_unrecorded_promotion_never_makes_two_primaries(env: LocalEnvironment) -> None:
    wait_for(lambda: _recovery(env) == {"postgres-1": False, "postgres-2": True}, 20)
    assert env.state.pg_primary == "postgres-1"
    # an operator promotes the standby behind the environment's back, then the old one dies
    assert env.sql("select pg_promote(true, 30)", node="postgres-2") == [(True,)]
    env.ctx.supervisor.api.supervisor.signalProcess("postgres-1", "KILL")
    wait_for(lambda: _recovery(env) == {"postgres-1": None, "postgres-2": False}, 10)

    try:
        env.start_database("postgres-1")
    except OperationError as exc:
        assert "two primaries" in str(exc)
    recovery = _recovery(env)
    assert list(recovery.values()).count(False) <= 1, f"two writable nodes: {recovery}"
    assert recovery == {"postgres-1": None, "postgres-2": False}

    status = env.database_status()
    assert status.primary == "postgres-2"
    roles = {n.name: (n.role, n.up, n.in_recovery) for n in status.nodes}
    assert roles == {"postgres-1": ("replica", False, None), "postgres-2": ("primary", True, False)}
    assert EnvState.load(env.root).pg_primary == "postgres-2"

    fault = make_fault("primary-crash", {"node": "postgres-1"})
    fault.revert(env)
    recovery = _recovery(env)
    assert recovery == {"postgres-1": True, "postgres-2": False}, recovery
    assert not fault.is_active(env)


def test_start_is_refused_while_another_node_is_writable(env: LocalEnvironment) -> None:
    """The state says postgres-2 is the primary; postgres-1, stopped, is promoted on disk."""
    wait_for(lambda: _recovery(env) == {"postgres-1": True, "postgres-2": False}, 20)
    env.sql("select pg_promote(true, 30)", node="postgres-1")
    # two writable nodes now (the operator's doing): status shows both as primaries
    wait_for(lambda: _recovery(env) == {"postgres-1": False, "postgres-2": False}, 10)
    roles = {n.name: n.role for n in env.database_status().nodes}
    assert roles == {"postgres-1": "primary", "postgres-2": "primary"}
    env.stop_database("postgres-1")
    with pytest.raises(OperationError, match="two primaries"):
        env.start_database("postgres-1")
    assert _recovery(env) == {"postgres-1": None, "postgres-2": False}
    assert env.rebuild_replica() == "postgres-1"
    assert _recovery(env) == {"postgres-1": True, "postgres-2": False}
