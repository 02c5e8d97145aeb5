"""Bringing a local environment up (ordered, with readiness checks) and down (leaving nothing).

If any part fails to start, everything started so far is stopped, the state directory is
removed, and the error names the part with the tail of its log.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psutil

from chaosdrill.environments.local import components, haproxy, monitoring, postgres, redis_server
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.environments.local.credentials import ALERTMANAGER_USER, bcrypt_hash
from chaosdrill.environments.local.state import EnvSettings, EnvState, Replica, pg_home
from chaosdrill.environments.local.supervisor import Program, Supervisor
from chaosdrill.environments.readiness import free_ports, wait_until
from chaosdrill.errors import ComponentStartError, OperationError
from chaosdrill.monitoring import rules
from chaosdrill.paths import write_atomic

__all__ = [
    "ENV_MARKER",
    "bring_down",
    "bring_up",
    "clear_state_dir",
    "listening_ports",
    "new_state",
    "publish_servers",
    "publish_targets",
    "sweep_processes",
    "write_configs",
    "write_monitoring",
    "write_rules",
]

ENV_MARKER = "CHAOSDRILL_ENV_ROOT"
PORT_NAMES = (
    "postgres-1",
    "postgres-2",
    "redis",
    "haproxy",
    "haproxy-stats",
    "prometheus",
    "alertmanager",
    "postgres-exporter-1",
    "postgres-exporter-2",
    "redis-exporter",
    "pager",
)
READY_TIMEOUT = 30.0


def new_state(name: str, root: Path, settings: EnvSettings, db_user: str | None) -> EnvState:
    """A fresh state with free ports and the first revision."""
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES) + settings.replicas), strict=False))
    state = EnvState(
        name=name,
        root=root,
        ports=ports,
        settings=settings,
        db_user=db_user or "",
        pg_nodes={"postgres-1": ports["postgres-1"], "postgres-2": ports["postgres-2"]},
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    state.revisions.append(
        {
            "version": "1.0.0",
            "revision": 1,
            "settings": {"pool_size": settings.pool_size},
            "flags": {},
        }
    )
    state.revision_history.append(1)
    return state


def _layout(ctx: LocalContext) -> None:
    """Make the private directories, the database's directory and every secret."""
    root, st = ctx.root, ctx.state
    os.chmod(root, 0o700)
    for sub in (
        "logs",
        "redis",
        "haproxy",
        "prometheus",
        "prometheus/data",
        "prometheus/rules",
        "alertmanager",
        "alertmanager/data",
        "pager",
        "revisions",
        "runtime",
        "faults",
    ):
        (root / sub).mkdir(mode=0o700, exist_ok=True)
    _make_pg_dir(st.pg_dir, st.db_user or None)
    for token in (st.admin_token_file, st.pager_token_file):
        write_atomic(token, secrets.token_urlsafe(32), mode=0o600)
    credentials = st.credentials
    credentials.generate(
        (postgres.DB_SUPERUSER, postgres.DB_USER),
        postgres.DB_REPLICATION_USER,
        st.ports["redis"],
    )
    redis_server.write_redis_config(
        redis_server.config_path(root),
        st.ports["redis"],
        root / "redis",
        credentials.redis_password(),
    )
    write_atomic(
        monitoring.web_config_path(root),
        monitoring.alertmanager_web_config(
            ALERTMANAGER_USER, bcrypt_hash(credentials.alertmanager_password())
        ),
        mode=0o600,
    )
    for rev in st.revisions:
        write_atomic(st.revision_file(rev["revision"]), json.dumps(rev, indent=2))


def _make_pg_dir(pg_dir: Path, db_user: str | None) -> None:
    """The database's directory: 0700, owned by its user, reachable by it (see pg_home).

    Its parents get the search bit for others (not the read bit) when the database runs as
    another user, who must pass through them; nobody else can list them.
    """
    shutil.rmtree(pg_dir, ignore_errors=True)  # a crashed run's leftovers
    pg_dir.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    if db_user is not None:
        for parent in (pg_dir.parent, pg_dir.parent.parent):
            mode = stat.S_IMODE(parent.stat().st_mode)
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
    pg_dir.mkdir(mode=0o700)
    if db_user is not None:
        pw = pwd.getpwnam(db_user)
        os.chown(pg_dir, pw.pw_uid, pw.pw_gid)


def write_configs(ctx: LocalContext) -> None:
    """Write HAProxy's configuration, an empty replica list, and the monitoring config."""
    root = ctx.root
    publish_servers(ctx)
    monitoring.write_app_targets(root / "prometheus" / "app-targets.json", [])
    write_monitoring(ctx)


def write_monitoring(ctx: LocalContext) -> None:
    """Write prometheus.yml, alertmanager.yml and the (time-scaled) alert rules."""
    st, p, root = ctx.state, ctx.state.ports, ctx.root
    write_rules(ctx)
    write_atomic(
        root / "prometheus" / "prometheus.yml",
        monitoring.prometheus_config(
            scrape_interval_s=st.settings.scrape_interval_s,
            evaluation_interval_s=st.settings.evaluation_interval_s,
            alertmanager_port=p["alertmanager"],
            alertmanager_user=ALERTMANAGER_USER,
            alertmanager_password_file=st.credentials.alertmanager_password_file,
            app_targets_file=root / "prometheus" / "app-targets.json",
            rules_glob=str(root / "prometheus" / "rules" / "*.yml"),
            app_metrics_path=st.target.metrics_path,
            static={
                "haproxy": [(p["haproxy-stats"], {})],
                "postgres": [
                    (p["postgres-exporter-1"], {"node": "postgres-1"}),
                    (p["postgres-exporter-2"], {"node": "postgres-2"}),
                ],
                "redis": [(p["redis-exporter"], {})],
                "prometheus": [(p["prometheus"], {})],
                "alertmanager": [(p["alertmanager"], {})],
            },
        ),
    )
    write_atomic(
        root / "alertmanager" / "alertmanager.yml",
        monitoring.alertmanager_config(p["pager"], st.settings.group_wait_s, st.pager_token_file),
    )


def write_rules(ctx: LocalContext) -> None:
    """Write the alert rules in force, scaled to the environment's time scale.

    The rules in force: the workspace's ``probes/*.rules.yml`` and every built-in rule
    file the workspace does not override by name (:mod:`chaosdrill.workspace`).
    """
    from chaosdrill.workspace import current

    st = ctx.state
    dest = ctx.root / "prometheus" / "rules"
    dest.mkdir(mode=0o700, exist_ok=True)
    k = st.settings.time_scale
    files = rules.load_rule_files(current().paths("rules"))
    if k != 1:
        min_window = 2 * st.settings.scrape_interval_s
        files = [rules.scale_rules(f, k, min_window_s=min_window) for f in files]
    for old in dest.glob("*.yml"):
        old.unlink()
    rules.write_rules(files, dest)


def _wait_all(ctx: LocalContext, names: list[str], pool: ThreadPoolExecutor) -> None:
    def one(name: str) -> None:
        try:
            wait_until(
                components.readiness(ctx, name),
                READY_TIMEOUT,
                abort=lambda: ctx.supervisor.exited_reason(name),
            )
        except TimeoutError as exc:
            raise ComponentStartError(name, str(exc), ctx.tail(name)) from None

    for fut in [pool.submit(one, n) for n in names]:
        fut.result()


def bring_up(ctx: LocalContext, progress: Callable[[str], None] = lambda _: None) -> None:
    """Start every part in order; on any failure stop what was started and re-raise."""
    st, sup = ctx.state, ctx.supervisor
    try:
        _layout(ctx)
        st.save()
        progress("database template")
        template = postgres.ensure_template(
            ctx.root.parent.parent / "cache", ctx.programs, st.db_user or None
        )
        primary = st.pg_dir / "postgres-1"
        postgres.copy_template(template, primary, st.db_user or None)
        postgres.set_role_passwords(
            primary, ctx.programs, st.db_user or None, st.credentials.role_passwords()
        )
        write_configs(ctx)
        sup.write_config()
        for prog in components.static_programs(ctx):
            sup.add(prog)
        sup.add(_pg_program(ctx, "postgres-1"))
        os.environ[ENV_MARKER] = str(ctx.root)
        try:
            sup.start()
        finally:
            os.environ.pop(ENV_MARKER, None)
        progress("starting components")
        early = [
            "postgres-1",
            "redis",
            "haproxy",
            "prometheus",
            "alertmanager",
            "pager",
            "redis-exporter",
            "postgres-exporter-1",
        ]
        for name in early:
            sup.start_program(name)
        with ThreadPoolExecutor(max_workers=12) as pool:
            _wait_all(ctx, ["postgres-1", "redis"], pool)
            replicas = [_new_replica(ctx) for _ in range(st.settings.replicas)]
            st.replicas.extend(replicas)
            for rep in replicas:
                sup.add(components.app_program(ctx, rep))
                sup.start_program(rep.name)
            progress("seeding the database")
            _seed(ctx)
            progress("making the replica")
            _make_standby(ctx, "postgres-2", st.ports["postgres-1"])
            sup.start_program("postgres-2")
            sup.start_program("postgres-exporter-2")
            progress("waiting for readiness")
            _wait_all(
                ctx,
                [*early[2:], "postgres-2", "postgres-exporter-2", *[r.name for r in replicas]],
                pool,
            )
        if st.settings.synchronous_replication:
            postgres.set_synchronous_standby(st.ports["postgres-1"], ctx.passfile, True)
        publish_servers(ctx)
        for rep in replicas:
            ctx.haproxy.add_server(rep.name, rep.port)
        for rep in replicas:
            ctx.haproxy.wait_up(rep.name)
        publish_targets(ctx)
        st.save()
    except BaseException:
        bring_down(ctx)
        raise


def _pg_program(ctx: LocalContext, node: str) -> Program:
    st = ctx.state
    return postgres.postgres_program(
        node,
        ctx.programs,
        st.pg_dir / node,
        st.pg_nodes[node],
        ctx.log_path(node),
        st.db_user or None,
    )


def _make_standby(ctx: LocalContext, node: str, source_port: int) -> None:
    st = ctx.state
    postgres.base_backup(
        ctx.programs,
        source_port,
        st.pg_dir / node,
        st.db_user or None,
        app_name=node,
        passfile=st.credentials.replication_pgpass,
    )
    ctx.supervisor.add(_pg_program(ctx, node))


SETUP_TIMEOUT = 600.0
"""Seconds a workspace target's schema/seed command may take."""


def _seed(ctx: LocalContext) -> None:
    """Create and fill the target's schema: the reference seed, or the target's ``setup``."""
    target = ctx.state.target
    if not target.reference:
        _run_setup(ctx)
        return
    from chaosdrill.targets.revenue_engine.schema import seed

    dsn = ctx.pg_dsn(ctx.state.ports["postgres-1"], user=postgres.DB_USER, dbname=postgres.DB_NAME)
    try:
        seed(dsn, courses=ctx.state.settings.courses, enrollments=ctx.state.settings.enrollments)
    except Exception as exc:
        raise ComponentStartError(
            "postgres-1", f"seeding failed: {exc}", ctx.tail("postgres-1")
        ) from exc


def _run_setup(ctx: LocalContext) -> None:
    """Run a workspace target's ``setup`` command once, as the service would connect.

    Its output goes to the ``setup`` log; a non-zero exit (or more than
    :data:`SETUP_TIMEOUT` seconds) stops the environment's start with that log's tail.
    """
    target = ctx.state.target
    if target.setup is None:
        return
    values = {"python": sys.executable, "workspace": target.directory or ""}
    argv = [arg.format_map(values) for arg in target.setup]
    env = {
        **os.environ,
        **target.environment,
        **components.service_environment(ctx),
        "PYTHONPATH": target.directory or "",
    }
    log = ctx.log_path("setup")
    try:
        with open(log, "ab") as out:
            done = subprocess.run(
                argv,
                cwd=target.directory or None,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=SETUP_TIMEOUT,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ComponentStartError(
            "setup", f"{target.name} setup failed: {exc}", ctx.tail("setup")
        ) from exc
    if done.returncode != 0:
        raise ComponentStartError(
            "setup",
            f"{target.name} setup ({shlex.join(argv)}) exited with {done.returncode}",
            ctx.tail("setup"),
        )


def _new_replica(ctx: LocalContext) -> Replica:
    st = ctx.state
    name = f"app-{st.next_serial}"
    st.next_serial += 1
    used = set(st.ports.values()) | {r.port for r in st.replicas}
    port = free_ports(1, avoid=used)[0]
    return Replica(name=name, port=port, revision=st.current_revision)


def publish_servers(ctx: LocalContext, replicas: list[Replica] | None = None) -> None:
    """Write haproxy.cfg with ``replicas`` (default: the state's) as the backend's servers.

    The runtime API changes what HAProxy serves now; this file is what an HAProxy restarted
    by the supervisor reads, so it is rewritten with every change of the replicas.
    """
    p, root = ctx.state.ports, ctx.root
    servers = [(r.name, r.port) for r in (ctx.state.replicas if replicas is None else replicas)]
    haproxy.write_config(
        root / "haproxy" / "haproxy.cfg",
        root / "haproxy" / "admin.sock",
        p["haproxy"],
        p["haproxy-stats"],
        servers,
    )


def publish_targets(ctx: LocalContext) -> None:
    """Tell Prometheus which replicas to scrape."""
    monitoring.write_app_targets(
        ctx.root / "prometheus" / "app-targets.json", [(r.name, r.port) for r in ctx.state.replicas]
    )


def sweep_processes(root: Path, timeout: float = 3.0) -> list[int]:
    """Kill every process left of this environment; return their pids.

    A process is the environment's when it carries the environment's marker, or when it
    runs inside the state directory or the database's directory without a terminal: Redis
    and PostgreSQL overwrite their environment (their process titles), so once supervisord
    is gone only their working directories tell. The caller and its ancestors (a shell
    cd'ed there) are never touched.
    """
    spared = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    places = (root, pg_home(root))
    mine: list[psutil.Process] = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid not in spared and _belongs(proc, root, places):
                mine.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for proc in mine:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(mine, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return [p.pid for p in mine]


def _belongs(proc: psutil.Process, root: Path, places: tuple[Path, ...]) -> bool:
    if proc.environ().get(ENV_MARKER) == str(root):
        return True
    cwd = Path(proc.cwd())
    inside = any(cwd == place or place in cwd.parents for place in places)
    return inside and proc.terminal() is None


def _remove(root: Path) -> None:
    """Remove the state directory and the database's directory."""
    for path in (root, pg_home(root)):
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            raise OperationError(f"could not remove {path}")


def bring_down(ctx: LocalContext) -> None:
    """Stop everything, sweep stragglers, remove the state directory."""
    ctx.supervisor.shutdown()
    sweep_processes(ctx.root)
    _wait_ports_closed({*ctx.state.ports.values(), *(r.port for r in ctx.state.replicas)})
    _remove(ctx.root)


def clear_state_dir(root: Path) -> None:
    """Take down an environment whose state cannot be read: by its marker, not its state.

    Stops supervisord's programs over its socket when it answers (each its own stop
    signal), kills every process still carrying the environment's marker, and removes the
    state directory and the database's; nothing here reads ``env.json``.
    """
    Supervisor(root).shutdown()
    sweep_processes(root)
    _remove(root)


def listening_ports(ports: set[int]) -> set[int]:
    """Which of ``ports`` something is listening on."""
    return {
        c.laddr.port
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in ports
    }


def _wait_ports_closed(ports: set[int], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while listening_ports(ports) and time.monotonic() < deadline:
        time.sleep(0.05)
