"""Every fault against a real environment: inject, see the effect, revert, revert again.

One environment is shared; the tests run in file order, the destructive ones (a crashed
primary, a failover) last. Each test ends with the service healthy (GET /health 200 and an
enrollment written), so a fault that is not fully reverted fails its own test.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.faults import FaultLedger, applied, default_ledger_path, make_fault
from chaosdrill.faults.base import Fault
from chaosdrill.faults.holder import find_holders
from chaosdrill.faults.ledger import recover_environment
from chaosdrill.faults.memory import leaked_bytes
from chaosdrill.faults.redaction import REDACTED

from ..conftest import pg_up, start_env, stop_env, wait_for

pytestmark = pytest.mark.integration
COURSE_STATS = (
    "explain select count(*), coalesce(sum(price_cents), 0) from enrollments where course_id = 7"
)


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("faults")
    try:
        yield environment
    finally:
        stop_env(environment)


HTTP = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))
"""One client for the module: a new client per request costs more than the request."""


@pytest.fixture(scope="module", autouse=True)
def client() -> Iterator[httpx.Client]:
    yield HTTP
    HTTP.close()


_serial = iter(range(1_000_000))


def enroll(url: str, course_id: int = 7) -> httpx.Response:
    n = next(_serial)
    return HTTP.post(
        f"{url}/api/enrollments",
        json={"course_id": course_id, "student_email": f"fault-{os.getpid()}-{n}@example.org"},
        timeout=30,
    )


def assert_service_healthy(env: LocalEnvironment, timeout: float = 25) -> None:
    """GET /health answers 200 and an enrollment is written (201), within ``timeout``."""
    url = env.endpoints().service_url
    wait_for(lambda: HTTP.get(f"{url}/health", timeout=5).status_code == 200, timeout)
    wait_for(lambda: enroll(url).status_code == 201, 10)


def check_cycle(env: LocalEnvironment, fault: Fault, effect: Callable[[], None]) -> None:
    """Inject, see ``effect``, revert twice, and find the service healthy."""
    assert not fault.is_active(env)
    fault.inject(env)
    try:
        assert fault.is_active(env)
        effect()
        assert fault.is_active(env)
    finally:
        fault.revert(env)
    assert not fault.is_active(env)
    fault.revert(env)  # idempotent
    assert not fault.is_active(env)
    assert_service_healthy(env)


def ops_cli(env: LocalEnvironment, *args: str) -> None:
    """Run ``chaosdrill ops ARGS --name ENV`` and require success."""
    res = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "ops", *args, "--name", env.name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def timed_gets(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.monotonic()
        assert client.get(url).status_code == 200
        out.append(time.monotonic() - started)
    return out


def total_rss(env: LocalEnvironment) -> int:
    return sum(p.rss_bytes for p in env.top())


# high-latency ------------------------------------------------------------------------
def test_missing_index_makes_the_hot_query_scan_the_table(
    env: LocalEnvironment, client: httpx.Client
) -> None:
    url = f"{env.endpoints().service_url}/api/courses/7"
    plan = "\n".join(r[0] for r in env.sql(COURSE_STATS))
    assert "enrollments_course_id_idx" in plan

    def effect() -> None:
        plan = "\n".join(r[0] for r in env.sql(COURSE_STATS))
        assert "Seq Scan on enrollments" in plan, plan
        assert client.get(url).status_code == 200

    check_cycle(env, make_fault("missing-index"), effect)
    plan = "\n".join(r[0] for r in env.sql(COURSE_STATS))
    assert "enrollments_course_id_idx" in plan


def test_missing_index_revert_drops_an_invalid_leftover(env: LocalEnvironment) -> None:
    fault = make_fault("missing-index")
    fault.inject(env)
    env.sql("create index enrollments_course_id_idx on enrollments (course_id)")
    env.sql(  # what an interrupted CREATE INDEX CONCURRENTLY leaves behind
        "update pg_index set indisvalid = false "
        "where indexrelid = 'enrollments_course_id_idx'::regclass"
    )
    assert fault.is_active(env)
    fault.revert(env)
    assert not fault.is_active(env)
    assert "enrollments_course_id_idx" in "\n".join(r[0] for r in env.sql(COURSE_STATS))


def test_frozen_cache_makes_cached_pages_slow(env: LocalEnvironment, client: httpx.Client) -> None:
    url = f"{env.endpoints().service_url}/api/courses"
    baseline = statistics.median(timed_gets(client, url, 10))
    assert baseline < 0.3

    def effect() -> None:
        slow = timed_gets(client, url, 6)
        assert min(slow) >= 0.45, slow  # each waits for the 0.5 s socket timeout
        health = HTTP.get(f"{env.endpoints().service_url}/health", timeout=5)
        assert health.status_code == 503
        assert health.json()["checks"]["cache"].startswith("error")
        assert env.cache_status().up is False

    check_cycle(env, make_fault("cache-outage"), effect)
    assert statistics.median(timed_gets(client, url, 10)) < 0.3


def test_stopped_cache_is_started_again(env: LocalEnvironment, client: httpx.Client) -> None:
    url = f"{env.endpoints().service_url}/api/courses"

    def effect() -> None:
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["x-cache"] == "error"  # served from the database

    check_cycle(env, make_fault("cache-outage", {"mode": "stop"}), effect)
    assert env.check_cache().startswith("ok")


def test_ops_cli_freezes_thaws_and_restarts_the_cache(env: LocalEnvironment) -> None:
    fault = make_fault("cache-outage")
    ops_cli(env, "cache", "freeze")
    assert fault.is_active(env)
    ops_cli(env, "cache", "thaw")
    assert not fault.is_active(env)
    ops_cli(env, "cache", "freeze")
    ops_cli(env, "cache", "restart")  # a frozen Redis restarts too (thawed first)
    assert not fault.is_active(env)
    assert env.check_cache().startswith("ok")


# high-error-rate -----------------------------------------------------------------------
def test_bad_release_fails_a_share_of_enrollments(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    before = env.deployment_status().version

    def effect() -> None:
        assert env.deployment_status().version == "1.1.0-bad"
        with ThreadPoolExecutor(8) as pool:
            codes = Counter(r.status_code for r in pool.map(lambda _: enroll(url), range(100)))
        assert set(codes) <= {201, 500}, codes
        assert 0.4 <= codes[500] / 100 <= 0.8, codes  # failure_rate 0.6

    check_cycle(env, make_fault("bad-release"), effect)
    assert env.deployment_status().version == before


def test_pool_exhaustion_answers_503(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    fault = make_fault("pool-exhaustion")

    def effect() -> None:
        rows = env.sql(
            "select state from pg_stat_activity where application_name = 'nightly-revenue-report'"
        )
        assert rows == [("idle in transaction",)]
        with ThreadPoolExecutor(30) as pool:
            codes = Counter(r.status_code for r in pool.map(lambda _: enroll(url), range(30)))
        assert codes == Counter({503: 30}), codes
        assert len(find_holders(env.root, "pool-exhaustion")) == 1

    check_cycle(env, fault, effect)
    assert find_holders(env.root, "pool-exhaustion") == []


# database-down -----------------------------------------------------------------------
def test_connection_limit_refuses_new_connections(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url

    def refused() -> str | None:
        """A new connection of the application role is refused (its message), else None.

        The holder takes back a freed slot within its 50 ms top-up interval, so one
        attempt can still land in the gap (an exporter's or an evicted backend's slot).
        """
        try:
            conn = psycopg.connect(env.database_dsn(user="revenue"))
        except psycopg.OperationalError as exc:
            return str(exc)
        conn.close()
        return None

    def effect() -> None:
        message = wait_for(refused, 10)
        assert "too many clients" in message or "reserved" in message, message

        def health_fails_on_database() -> bool:
            r = HTTP.get(f"{url}/health", timeout=5)
            return r.status_code == 503 and r.json()["checks"]["database"] != "ok"

        wait_for(health_fails_on_database, 15)
        assert enroll(url).status_code == 503
        ((held,),) = env.sql(
            "select count(*) from pg_stat_activity where application_name = 'reporting-batch'"
        )
        assert held >= 80

    check_cycle(env, make_fault("connection-limit"), effect)


def _recover_cli(env: LocalEnvironment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "recover", "--name", env.name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_connection_limit_password_is_written_nowhere_and_not_needed_to_revert(
    env: LocalEnvironment,
) -> None:
    # a role of the drill's own, which the environment has no credentials for: the fault
    # must be given its password, a unique one to look for in everything the fault writes.
    # A member of the service's role, so it may evict the service's backends.
    secret = f"pw-{uuid.uuid4().hex}"
    role = f"batch_{uuid.uuid4().hex[:8]}"
    env.sql(f"create role {role} login password '{secret}' in role revenue")
    ledger = default_ledger_path(env)
    crashing_drill = textwrap.dedent(
        f"""
        import os
        from chaosdrill.environments.local import LocalEnvironment
        from chaosdrill.faults import FaultLedger, default_ledger_path, make_fault
        env = LocalEnvironment.attach({env.name!r})
        fault = make_fault("connection-limit", {{"user": {role!r}, "password": {secret!r}}})
        FaultLedger(default_ledger_path(env)).open(fault, drill_id="crash")
        fault.inject(env)
        print("injected", flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", crashing_drill], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL and "injected" in proc.stdout, proc.stderr
    assert make_fault("connection-limit").is_active(env)
    ((held,),) = env.sql("select count(*) from pg_stat_activity where usename = %s", None, [role])
    assert held >= 80  # it connected as the role, with the password it was given
    [entry] = [e for e in FaultLedger(ledger).open_entries() if e.drill_id == "crash"]
    assert entry.params["password"] == REDACTED
    assert secret not in ledger.read_text()

    res = _recover_cli(env)  # reverts from the redacted parameters alone
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 fault(s) reverted" in res.stdout
    assert secret not in res.stdout + res.stderr
    assert not make_fault("connection-limit").is_active(env)
    assert find_holders(env.root, "connection-limit") == []
    for path in [ledger, *(env.root / "faults").glob("*"), *env.state.logs.glob("*")]:
        assert secret not in path.read_text(errors="replace"), path
    env.sql(f"drop role {role}")
    assert_service_healthy(env)


def test_recover_prints_no_password_from_an_older_ledger(env: LocalEnvironment) -> None:
    """A ledger line written before passwords were redacted is reverted and not echoed."""
    secret = f"pw-{uuid.uuid4().hex}"
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()  # the drill that wrote the line is gone
    line = {
        "event": "open",
        "id": uuid.uuid4().hex,
        "kind": "connection-limit",
        "params": {**make_fault("connection-limit").params, "password": secret},
        "drill_id": "old",
        "wall": time.time(),
        "pid": exited.pid,
    }
    with default_ledger_path(env).open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    res = _recover_cli(env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "connection-limit" in res.stdout and "1 fault(s) reverted" in res.stdout
    assert secret not in res.stdout + res.stderr
    assert REDACTED in res.stdout


# memory-leak ---------------------------------------------------------------------------
def test_leaky_release_grows_memory_under_requests(
    env: LocalEnvironment, client: httpx.Client
) -> None:
    url = f"{env.endpoints().service_url}/api/courses"

    def effect() -> None:
        before = total_rss(env)
        for _ in range(100):
            client.get(url)
        grown = total_rss(env) - before
        assert grown >= 35 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"  # 100 x 512 KiB
        assert sum(leaked_bytes(env).values()) == 100 * 512 * 1024

    check_cycle(env, make_fault("leaky-release"), effect)
    assert set(leaked_bytes(env).values()) == {0}


def test_leaky_feature_grows_memory_and_revert_restarts(
    env: LocalEnvironment, client: httpx.Client
) -> None:
    url = f"{env.endpoints().service_url}/api/courses"
    fresh = total_rss(env)

    def effect() -> None:
        assert env.get_flags()["recommendations_cache"] is True
        before = total_rss(env)
        for _ in range(200):
            client.get(url)
        grown = total_rss(env) - before
        assert grown >= 35 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"  # 200 x 256 KiB

    check_cycle(env, make_fault("leaky-feature"), effect)
    assert env.get_flags().get("recommendations_cache", False) is False
    assert "recommendations_cache" not in env.state.flag_overrides
    assert total_rss(env) < fresh + 20 * 2**20


def test_leaky_feature_revert_without_leak_does_not_restart(env: LocalEnvironment) -> None:
    fault = make_fault("leaky-feature")
    fault.inject(env)
    pids = {r.name: r.pid for r in env.deployment_status().replicas}
    fault.revert(env)  # no request was served: nothing leaked, nothing to replace
    assert {r.name: r.pid for r in env.deployment_status().replicas} == pids
    assert not fault.is_active(env)


def test_ops_cli_clears_a_flag(env: LocalEnvironment) -> None:
    env.set_flag("new_checkout", True)
    ops_cli(env, "flags", "clear", "new_checkout")
    assert env.get_flags().get("new_checkout", False) is False
    for rep in env.deployment_status().replicas:
        flags = HTTP.get(
            f"http://127.0.0.1:{rep.port}/admin/flags",
            headers={"Authorization": f"Bearer {env.admin_token()}"},
            timeout=5,
        ).json()["flags"]
        assert flags["new_checkout"] is False


# the ledger ----------------------------------------------------------------------------
def run_child(env: LocalEnvironment, body: str) -> subprocess.Popen[str]:
    script = textwrap.dedent(
        """
        import os, sys, time
        from chaosdrill.environments.local import LocalEnvironment
        from chaosdrill.faults import FaultLedger, applied, default_ledger_path, exit_signals
        from chaosdrill.faults import make_fault
        env = LocalEnvironment.attach(sys.argv[1])
        ledger = FaultLedger(default_ledger_path(env))
        """
    ) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", script, env.name], text=True, stdout=subprocess.PIPE
    )


def test_recover_reverts_a_fault_whose_injector_was_killed(env: LocalEnvironment) -> None:
    ledger = FaultLedger(default_ledger_path(env))
    with run_child(
        env,
        """
        fault = make_fault("pool-exhaustion")
        ledger.open(fault, drill_id="kill-9")
        fault.inject(env)
        os._exit(137)  # as if killed with -9: no finally, no revert
        """,
    ) as child:
        assert child.wait(60) == 137
    fault = make_fault("pool-exhaustion")
    assert fault.is_active(env), "the holder outlives the process that injected it"
    (entry,) = ledger.open_entries()
    assert (entry.kind, entry.drill_id, entry.pid) == ("pool-exhaustion", "kill-9", child.pid)

    recovered = recover_environment(env)
    assert [(e.id, e.outcome, e.error) for e in recovered] == [
        (entry.id, "reverted by recovery", None)
    ]
    assert not fault.is_active(env)
    assert ledger.open_entries() == []
    assert recover_environment(env) == []
    assert_service_healthy(env)


def env_recover(env: LocalEnvironment, *args: str) -> subprocess.CompletedProcess[str]:
    """``chaosdrill env recover --name ENV ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "recover", "--name", env.name, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_entry_that_never_reverts_is_named_and_can_be_discarded(env: LocalEnvironment) -> None:
    import pwd

    ledger = FaultLedger(default_ledger_path(env))
    assert env_recover(env).returncode == 0
    poison = {"event": "open", "id": "0badc0de" * 4, "kind": "retired-fault-kind"}
    poison |= {"params": {"x": 1}, "drill_id": "before-upgrade", "wall": 1.0, "pid": 1}
    with open(ledger.path, "a", encoding="utf-8") as fh:  # as an older version wrote it
        fh.write(json.dumps(poison) + "\n")

    for _ in range(2):  # every recovery fails on it, and says which entry it is
        res = env_recover(env)
        assert res.returncode == 1, res.stdout + res.stderr
        assert f"{poison['id']} retired-fault-kind" in res.stdout and "NOT reverted" in res.stdout
    no_reason = env_recover(env, "--discard", str(poison["id"]))
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    assert env_recover(env, "--discard", "feedface", "--reason", "typo").returncode == 2

    reason = "kind removed in this version; its process is long gone"
    res = env_recover(env, "--discard", str(poison["id"]), "--reason", reason)
    user = pwd.getpwuid(os.getuid()).pw_name
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"discarded by {user}" in res.stdout
    (entry,) = [e for e in ledger.entries() if e.id == poison["id"]]
    assert (entry.outcome, entry.closed_by, entry.reason) == ("discarded", user, reason)
    assert entry.closed_at is not None and ledger.open_entries() == []
    res = env_recover(env)
    assert res.returncode == 0 and "0 fault(s) reverted" in res.stdout, res.stdout + res.stderr


def test_applied_reverts_on_an_exception(env: LocalEnvironment) -> None:
    ledger = FaultLedger(default_ledger_path(env))
    fault = make_fault("cache-outage")
    with pytest.raises(RuntimeError, match="drill failed"), applied(ledger, fault, env):
        assert fault.is_active(env)
        raise RuntimeError("drill failed")
    assert not fault.is_active(env)
    assert ledger.open_entries() == []
    assert ledger.entries()[-1].outcome == "reverted after RuntimeError"


def test_applied_reverts_on_keyboard_interrupt(env: LocalEnvironment) -> None:
    ledger = FaultLedger(default_ledger_path(env))
    fault = make_fault("missing-index")
    with pytest.raises(KeyboardInterrupt), applied(ledger, fault, env, drill_id="ctrl-c"):
        assert fault.is_active(env)
        raise KeyboardInterrupt
    assert not fault.is_active(env)
    last = ledger.entries()[-1]
    assert (last.kind, last.drill_id, last.outcome) == (
        "missing-index",
        "ctrl-c",
        "reverted after KeyboardInterrupt",
    )


def test_sigterm_inside_applied_reverts(env: LocalEnvironment) -> None:
    ledger = FaultLedger(default_ledger_path(env))
    fault = make_fault("cache-outage")
    with run_child(
        env,
        """
        with exit_signals(), applied(ledger, make_fault("cache-outage"), env, "sigterm"):
            print("injected", flush=True)
            time.sleep(60)
        """,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "injected"
        assert fault.is_active(env)
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 128 + signal.SIGTERM
    assert not fault.is_active(env)
    last = ledger.entries()[-1]
    assert (last.drill_id, last.outcome) == ("sigterm", "reverted after SystemExit")
    assert ledger.open_entries() == []


# destructive: last ---------------------------------------------------------------------


def test_primary_crash_takes_the_database_down_and_revert_restarts_it(
    env: LocalEnvironment,
) -> None:
    url = env.endpoints().service_url
    wait_for(lambda: pg_up(env, "postgres-1") == 1.0, 20)
    fault = make_fault("primary-crash")

    def effect() -> None:
        assert fault.params["node"] == "postgres-1"
        health = HTTP.get(f"{url}/health", timeout=5)
        assert health.status_code == 503
        assert health.json()["checks"]["database"] != "ok"
        wait_for(lambda: pg_up(env, "postgres-1") == 0.0, 20)

    check_cycle(env, fault, effect)
    assert env.database_status().primary == "postgres-1"
    wait_for(lambda: pg_up(env, "postgres-1") == 1.0, 20)


def test_primary_crash_after_a_failover_rebuilds_the_old_primary(env: LocalEnvironment) -> None:
    recorded = make_fault("primary-crash")  # params as a ledger holds them: node unknown
    make_fault("primary-crash").inject(env)
    assert recorded.is_active(env)
    assert env.promote_replica() == "postgres-2"  # the runbook's failover
    assert not recorded.is_active(env)  # the new primary answers ...
    status = {n.name: n for n in env.database_status().nodes}
    assert status["postgres-1"].up is False  # ... but there is no redundancy

    recorded.revert(env)
    status = {n.name: n for n in env.database_status().nodes}
    assert (status["postgres-1"].up, status["postgres-1"].in_recovery) == (True, True)
    assert env.database_status().primary == "postgres-2"
    recorded.revert(env)
    assert_service_healthy(env)
