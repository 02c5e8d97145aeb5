"""No stranger in: what another local user can reach of a running local environment.

Every listener is on 127.0.0.1; PostgreSQL, Redis and Alertmanager refuse a client without
the environment's password; Prometheus has no lifecycle API; the state directory and the
database's directory are private, the secrets in 0600 files and nowhere else.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import psutil
import psycopg
import pytest
import redis
import yaml
from psycopg.conninfo import make_conninfo

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.environments.local.credentials import ALERTMANAGER_USER
from chaosdrill.environments.local.lifecycle import ENV_MARKER
from chaosdrill.environments.local.postgres import DB_REPLICATION_USER, DB_SUPERUSER, DB_USER
from chaosdrill.environments.local.state import EnvSettings
from chaosdrill.load import LoadSpec
from chaosdrill.monitoring.promql import parse_duration
from chaosdrill.probes.alerts import send_test_alert

from ..conftest import pg_up, start_env, stop_env, wait_for

pytestmark = pytest.mark.integration

ROLES = (DB_SUPERUSER, DB_USER, DB_REPLICATION_USER)


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("sec", replicas=1, enrollments=2000)
    try:
        yield environment
    finally:
        stop_env(environment)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _secrets(env: LocalEnvironment) -> dict[str, str]:
    """Every generated secret of the environment, read from its files, by where it is."""
    found: dict[str, str] = {}
    for pgpass in (env.root / "secrets" / "pgpass", env.state.pg_dir / "pgpass"):
        for line in pgpass.read_text().splitlines():
            *_, user, password = line.split(":")
            found[f"postgres {user}"] = password
    found["redis"] = (env.root / "secrets" / "redis.password").read_text().strip()
    found["alertmanager"] = (env.root / "secrets" / "alertmanager.password").read_text().strip()
    return found


def _processes(env: LocalEnvironment) -> list[psutil.Process]:
    """supervisord, its whole tree, and anything else carrying the environment's marker."""
    pid = env.ctx.supervisor.pid()
    assert pid is not None
    top = psutil.Process(pid)
    procs = {p.pid: p for p in [top, *top.children(recursive=True)]}
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(ENV_MARKER) == str(env.root):
                procs.setdefault(proc.pid, proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return list(procs.values())


# listeners ------------------------------------------------------------------------------
def test_every_listening_socket_of_the_environment_is_on_127_0_0_1(env: LocalEnvironment) -> None:
    run = env.start_load(LoadSpec(rate=5, users=2, workers=1, duration_s=60))
    try:
        wait_for(lambda: (run.run_dir / "started.json").exists(), 30)
        listening: dict[tuple[str, int], str] = {}
        for proc in _processes(env):
            try:
                conns = proc.net_connections(kind="inet")
                name = proc.name()
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            for conn in conns:
                unconnected_udp = conn.type == socket.SOCK_DGRAM and not conn.raddr
                if conn.status == psutil.CONN_LISTEN or unconnected_udp:
                    listening[(conn.laddr.ip, conn.laddr.port)] = name
    finally:
        run.stop()
    strangers = {addr: name for addr, name in listening.items() if addr[0] != "127.0.0.1"}
    assert strangers == {}
    ports = {port for _, port in listening}
    expected = {*env.state.ports.values(), *(r.port for r in env.state.replicas)}
    assert expected <= ports, expected - ports  # every part was seen
    assert len(ports) > len(expected)  # and the load's master port too


# PostgreSQL -------------------------------------------------------------------------------
@pytest.mark.parametrize("password", [None, "wrong-password"])
@pytest.mark.parametrize("role", ROLES)
def test_postgres_refuses_a_connection_without_the_password(
    env: LocalEnvironment, role: str, password: str | None
) -> None:
    for node, port in env.state.pg_nodes.items():
        for replication in ("false", "true"):
            dsn = make_conninfo(
                host="127.0.0.1",
                port=port,
                dbname="postgres",
                user=role,
                passfile=os.devnull,  # no ~/.pgpass either
                connect_timeout=2,
                replication=replication,
                **({} if password is None else {"password": password}),
            )
            with pytest.raises(psycopg.OperationalError) as info:
                psycopg.connect(dsn).close()
            message = str(info.value)
            assert "password" in message or "no pg_hba.conf entry" in message, (node, message)


def test_pg_hba_trusts_no_one_and_names_scram_for_every_host_line(env: LocalEnvironment) -> None:
    for node in env.state.pg_nodes:
        lines = [
            line.split()
            for line in (env.state.pg_dir / node / "pg_hba.conf").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        assert lines, node
        assert all(fields[-1] in ("scram-sha-256", "reject") for fields in lines), lines
        host = [f for f in lines if f[0] == "host"]
        assert {f[1] for f in host} == {"all", "replication"}
        assert all(f[3] == "127.0.0.1/32" for f in host), host
    ((encryption,),) = env.sql("show password_encryption")
    assert encryption == "scram-sha-256"
    verifiers = env.sql(
        "select rolname, rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolcanlogin"
    )
    assert dict(verifiers) == dict.fromkeys(ROLES, True)


def test_the_standby_streams_with_a_passfile_of_its_own(env: LocalEnvironment) -> None:
    replica = env.state.pg_replica
    assert replica is not None
    ((conninfo,),) = env.sql("show primary_conninfo", node=replica)
    assert f"user={DB_REPLICATION_USER}" in conninfo
    assert f"passfile={env.state.pg_dir / 'pgpass'}" in conninfo.replace("'", "")
    assert "password" not in conninfo
    rows = env.sql("select usename, state from pg_stat_replication")
    assert rows == [(DB_REPLICATION_USER, "streaming")]


def test_the_exporters_reach_their_servers_with_the_password(env: LocalEnvironment) -> None:
    for node in env.state.pg_nodes:
        wait_for(lambda node=node: pg_up(env, node) == 1.0, 20)  # type: ignore[misc]

    def redis_up() -> bool:
        r = httpx.get(
            f"{env.endpoints().prometheus_url}/api/v1/query",
            params={"query": 'redis_up{job="redis"}'},
            timeout=5,
        ).json()["data"]["result"]
        return bool(r) and r[0]["value"][1] == "1"

    wait_for(redis_up, 20)


# Redis ------------------------------------------------------------------------------------
def test_redis_refuses_a_client_without_the_password(env: LocalEnvironment) -> None:
    port = env.state.ports["redis"]
    for password in (None, "wrong-password"):
        with (
            redis.Redis(port=port, password=password, socket_timeout=2) as client,
            pytest.raises(redis.AuthenticationError),
        ):
            client.ping()


def test_redis_with_the_password_has_no_config_debug_or_module(env: LocalEnvironment) -> None:
    password = _secrets(env)["redis"]
    with redis.Redis(port=env.state.ports["redis"], password=password) as client:
        assert client.ping()
        denied = [("CONFIG", "GET", "dir"), ("CONFIG", "SET", "dir", "/tmp"), ("ACL", "LIST")]
        for command in denied:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
        # off in Redis 7 itself (enable-debug-command, enable-module-command) and in the ACL
        for command in (("DEBUG", "SLEEP", "0"), ("MODULE", "LOAD", "/tmp/x.so")):
            with pytest.raises(redis.exceptions.ResponseError):
                client.execute_command(*command)
    assert env.check_cache().startswith("ok")  # the environment's own client authenticates
    health = httpx.get(f"{env.endpoints().service_url}/health", timeout=5).json()
    assert health["checks"]["cache"] == "ok"  # and so does the service


# Prometheus and Alertmanager --------------------------------------------------------------
def test_prometheus_has_no_lifecycle_api(env: LocalEnvironment) -> None:
    url = env.endpoints().prometheus_url
    pid = env.ctx.supervisor.info("prometheus")["pid"]
    for path in ("/-/quit", "/-/reload"):
        r = httpx.post(f"{url}{path}", timeout=5)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    time.sleep(0.5)  # a quit would have ended it by now
    assert httpx.get(f"{url}/-/ready", timeout=5).status_code == 200
    assert env.ctx.supervisor.info("prometheus")["pid"] == pid


NO_AUTH: list[Any] = [None, ("chaosdrill", "wrong-password"), ("admin", "admin")]


def _forged_alert(name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": "critical"},
        "annotations": {"summary": "forged"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }


def test_alertmanager_refuses_a_forged_alert_without_the_password(env: LocalEnvironment) -> None:
    url = f"{env.endpoints().alertmanager_url}/api/v2/alerts"
    name = f"ForgedAlert{time.time_ns()}"
    statuses = [
        httpx.post(url, json=[_forged_alert(name)], auth=auth, timeout=5).status_code
        for auth in NO_AUTH
    ]
    # a page posted with the credentials afterwards arrives; the forged one never does
    send_test_alert(env, timeout=20)
    time.sleep(1.0)  # ~5 group_waits: a forged alert Alertmanager had taken would be here
    assert env.pages(alertname=name) == []
    assert statuses == [401] * len(NO_AUTH)
    listed = httpx.get(url, auth=env.alertmanager_auth().pair(), timeout=5)
    assert listed.status_code == 200
    assert name not in listed.text


def test_alertmanager_refuses_a_silence_without_the_password(env: LocalEnvironment) -> None:
    url = f"{env.endpoints().alertmanager_url}/api/v2/silences"
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "severity", "value": "critical", "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "a stranger",
        "comment": "hide the page",
    }
    for auth in NO_AUTH:
        r = httpx.post(url, json=silence, auth=auth, timeout=5)
        assert r.status_code == 401, (auth, r.status_code, r.text)
    listed = httpx.get(url, auth=env.alertmanager_auth().pair(), timeout=5)
    assert listed.status_code == 200
    assert [s for s in listed.json() if s["createdBy"] == "a stranger"] == []


def test_every_path_of_alertmanager_asks_for_the_password(env: LocalEnvironment) -> None:
    base = env.endpoints().alertmanager_url
    paths = ("/-/ready", "/-/healthy", "/metrics", "/api/v2/status", "/")
    for path in paths:
        assert httpx.get(f"{base}{path}", timeout=5).status_code == 401, path
    for path in ("/-/reload", "/api/v2/alerts"):
        assert httpx.post(f"{base}{path}", timeout=5).status_code == 401, path
    auth = env.alertmanager_auth()
    assert auth.username == ALERTMANAGER_USER
    for path in paths:
        assert httpx.get(f"{base}{path}", auth=auth.pair(), timeout=5).status_code == 200, path
    # exporter-toolkit holds a bcrypt hash of the password, never the password
    web = yaml.safe_load((env.root / "alertmanager" / "web.yml").read_text())
    hashed = web["basic_auth_users"][ALERTMANAGER_USER]
    assert bcrypt.checkpw(auth.password.encode(), hashed.encode())


def test_env_alerts_test_pages_through_the_protected_api(env: LocalEnvironment) -> None:
    before = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "alerts", "--test", "--name", env.name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pages = [p for p in env.pages(since_monotonic=before) if p.alertname.startswith("Chaosdrill")]
    assert pages and pages[0].status == "firing"
    assert env.alertmanager_auth().password not in done.stdout + done.stderr


def test_prometheus_reaches_alertmanager_with_the_password(env: LocalEnvironment) -> None:
    ep = env.endpoints()
    port = env.state.ports["alertmanager"]

    def discovered() -> dict[str, Any] | None:
        r = httpx.get(f"{ep.prometheus_url}/api/v1/alertmanagers", timeout=5).json()["data"]
        return r if r["activeAlertmanagers"] else None

    data = wait_for(discovered, 20)
    assert [a["url"] for a in data["activeAlertmanagers"]] == [
        f"http://127.0.0.1:{port}/api/v2/alerts"
    ]
    assert data["droppedAlertmanagers"] == []

    def scraped() -> bool:
        r = httpx.get(
            f"{ep.prometheus_url}/api/v1/query",
            params={"query": 'up{job="alertmanager"}'},
            timeout=5,
        ).json()["data"]["result"]
        return bool(r) and r[0]["value"][1] == "1"

    wait_for(scraped, 20)  # its /metrics asks for the password too


def test_apply_time_scale_is_in_effect_when_it_returns(env: LocalEnvironment) -> None:
    ep = env.endpoints()
    am_auth = env.alertmanager_auth().pair()
    try:
        for k in (7.0, 3.0):
            env.apply_time_scale(k)
            want = EnvSettings.for_time_scale(k)
            config = httpx.get(f"{ep.prometheus_url}/api/v1/status/config", timeout=5).json()
            loaded = yaml.safe_load(config["data"]["yaml"])
            scrape_ms = parse_duration(loaded["global"]["scrape_interval"])
            assert scrape_ms == round(want.scrape_interval_s * 1000)
            status = httpx.get(
                f"{ep.alertmanager_url}/api/v2/status", auth=am_auth, timeout=5
            ).json()
            route = yaml.safe_load(status["config"]["original"])["route"]
            assert parse_duration(route["group_wait"]) == round(want.group_wait_s * 1000)
    finally:
        env.apply_time_scale(1.0)


# files ------------------------------------------------------------------------------------
def _tree(top: Path) -> list[Path]:
    return [top, *top.rglob("*")]


def test_the_state_and_database_directories_are_private(env: LocalEnvironment) -> None:
    root, pg_dir = env.root, env.state.pg_dir
    assert _mode(root) == 0o700
    assert _mode(pg_dir) == 0o700
    if env.state.db_user:
        assert pwd.getpwuid(pg_dir.stat().st_uid).pw_name == env.state.db_user
    assert not pg_dir.is_relative_to(root)  # the database's user cannot enter root
    open_to_others = [
        (str(p), oct(_mode(p)))
        for p in _tree(root) + _tree(pg_dir)
        if p.exists() and not p.is_symlink() and _mode(p) & 0o007
    ]
    assert open_to_others == [], "\n".join(map(str, open_to_others))
    for secret in [
        root / "secrets" / "pgpass",
        root / "secrets" / "redis.password",
        root / "secrets" / "alertmanager.password",
        root / "alertmanager" / "web.yml",
        root / "redis" / "redis.conf",
        env.state.admin_token_file,
        env.state.pager_token_file,
        pg_dir / "pgpass",
    ]:
        assert _mode(secret) == 0o600, secret
    assert _mode(root / "secrets") == 0o700
    for log in env.state.logs.iterdir():
        assert _mode(log) in (0o600, 0o640), log


def test_no_secret_is_in_state_program_files_logs_commands_or_status(
    env: LocalEnvironment,
) -> None:
    found = _secrets(env)
    assert set(found) == {*(f"postgres {r}" for r in ROLES), "redis", "alertmanager"}
    assert all(len(s) >= 32 for s in found.values())
    assert len(set(found.values())) == len(found)
    root = env.root
    files = [
        root / "env.json",
        root / "supervisord.conf",
        *(root / "supervisor.d").glob("*.conf"),
        *env.state.logs.iterdir(),
        *(root / "runtime").iterdir(),
        *(root / "revisions").iterdir(),
        root / "prometheus" / "prometheus.yml",
        root / "alertmanager" / "alertmanager.yml",
        root / "alertmanager" / "web.yml",
        root / "haproxy" / "haproxy.cfg",
        root / "redis" / "redis.conf",
        *(env.state.pg_dir / node / name for node in env.state.pg_nodes for name in (
            "postgresql.auto.conf", "postgresql.conf", "pg_hba.conf"
        )),
    ]  # fmt: skip
    assert any("password=" in f.read_text() for f in files) is False
    status = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "status", "--name", env.name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    commands = []
    for proc in _processes(env):
        try:
            commands.append(" ".join(proc.cmdline()))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    texts = {str(f): f.read_text(errors="replace") for f in files}
    texts["env status"] = status.stdout + status.stderr
    texts["command lines"] = "\n".join(commands)
    texts["database_dsn"] = env.database_dsn() + env.database_dsn(user=DB_USER)
    texts["alertmanager_auth"] = repr(env.alertmanager_auth()) + repr(env.endpoints())
    texts["prometheus' loaded config"] = httpx.get(
        f"{env.endpoints().prometheus_url}/api/v1/status/config", timeout=5
    ).text
    leaks = [(at, what) for at, text in texts.items() for what, s in found.items() if s in text]
    assert leaks == []
