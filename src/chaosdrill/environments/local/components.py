"""The supervised programs of the local environment and their readiness checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chaosdrill.environments.local import monitoring, postgres, redis_server
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.environments.local.state import Replica, pager_db, pager_token_file
from chaosdrill.environments.local.supervisor import Program
from chaosdrill.environments.readiness import AllOf, HttpStatus, PortOpen, SqlReady, Strategy
from chaosdrill.paths import write_atomic

__all__ = [
    "app_program",
    "readiness",
    "service_environment",
    "static_programs",
    "write_runtime_revision",
]


def static_programs(ctx: LocalContext) -> list[Program]:
    """Every program except the PostgreSQL nodes and the service replicas."""
    st, pr, root = ctx.state, ctx.programs, ctx.root
    p, credentials = st.ports, st.credentials
    return [
        Program(
            "redis",
            [str(pr.redis_server), str(redis_server.config_path(root))],  # all set in the file
            ctx.log_path("redis"),
        ),
        Program(
            "haproxy",
            [str(pr.haproxy), "-W", "-db", "-f", str(root / "haproxy" / "haproxy.cfg")],
            ctx.log_path("haproxy"),
        ),
        Program(
            "prometheus",
            [
                str(pr.prometheus),
                f"--config.file={root / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'prometheus' / 'data'}",
                f"--web.listen-address=127.0.0.1:{p['prometheus']}",
                # no --web.enable-lifecycle: /-/quit and /-/reload stay off; reloads are
                # SIGHUP through the supervisor
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            ctx.log_path("prometheus"),
        ),
        Program(
            "alertmanager",
            [
                str(pr.alertmanager),
                f"--config.file={root / 'alertmanager' / 'alertmanager.yml'}",
                f"--storage.path={root / 'alertmanager' / 'data'}",
                f"--web.listen-address=127.0.0.1:{p['alertmanager']}",
                # basic auth on every path: only Prometheus and chaosdrill send alerts
                f"--web.config.file={monitoring.web_config_path(root)}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            ctx.log_path("alertmanager"),
        ),
        *[
            Program(
                f"postgres-exporter-{i}",
                [
                    str(pr.postgres_exporter),
                    f"--web.listen-address=127.0.0.1:{p[f'postgres-exporter-{i}']}",
                    "--log.level=warn",
                ],
                ctx.log_path(f"postgres-exporter-{i}"),
                env={
                    "DATA_SOURCE_NAME": (
                        f"postgresql://{postgres.DB_SUPERUSER}@127.0.0.1:{p[f'postgres-{i}']}"
                        "/postgres?sslmode=disable&connect_timeout=2"
                    ),
                    # lib/pq reads the password from the environment's password file
                    "PGPASSFILE": str(credentials.pgpass),
                },
            )
            for i in (1, 2)
        ],
        Program(
            "redis-exporter",
            [
                str(pr.redis_exporter),
                "-redis.addr",
                f"redis://127.0.0.1:{p['redis']}",
                "-redis.password-file",
                str(credentials.redis_exporter_file),
                "-web.listen-address",
                f"127.0.0.1:{p['redis-exporter']}",
            ],
            ctx.log_path("redis-exporter"),
        ),
        Program(
            "pager",
            [
                sys.executable,
                "-m",
                "chaosdrill.pager.server",
                "--port",
                str(p["pager"]),
                "--db",
                str(pager_db(root)),
                "--token-file",
                str(pager_token_file(root)),
            ],
            ctx.log_path("pager"),
        ),
    ]


def write_runtime_revision(ctx: LocalContext, replica: Replica) -> Path:
    """The revision file a replica reads: its revision with the flag overrides applied."""
    rev = dict(ctx.state.revision(replica.revision))
    rev["flags"] = {**rev.get("flags", {}), **ctx.state.flag_overrides}
    path = ctx.root / "runtime" / f"{replica.name}.json"
    return write_atomic(path, json.dumps(rev, indent=2))


def service_environment(ctx: LocalContext) -> dict[str, str]:
    """What a workspace's target is told of the environment (docs/workspaces.md).

    The database as a libpq connection string naming every node (libpq picks the writable
    one) and the 0600 password file, the cache's URL and its password file: no secret is
    in a variable.
    """
    st = ctx.state
    return {
        "DATABASE_URL": postgres.app_dsn(
            [st.pg_nodes[n] for n in sorted(st.pg_nodes)], ctx.passfile
        ),
        "REDIS_URL": f"redis://127.0.0.1:{st.ports['redis']}/0",
        "REDIS_PASSWORD_FILE": str(st.credentials.redis_password_file),
    }


def _substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with its ``{placeholders}`` (checked when chaosdrill.yaml was read) filled."""
    return text.format_map(values)


def app_program(ctx: LocalContext, replica: Replica) -> Program:
    """Supervisor program of one service replica (the reference target, or the workspace's)."""
    st = ctx.state
    revision_file = write_runtime_revision(ctx, replica)
    target = st.target
    rev = st.revision(replica.revision)
    values = {
        "python": sys.executable,
        "port": str(replica.port),
        "replica": replica.name,
        "workspace": target.directory or "",
        "version": str(rev.get("version", "")),
        "revision": str(rev.get("revision", replica.revision)),
    }
    command = [_substitute(arg, values) for arg in target.command_for(values["version"])]
    service = service_environment(ctx)
    if target.reference:
        env = {
            "RE_DSN": service["DATABASE_URL"],
            "RE_REDIS_URL": service["REDIS_URL"],
            "RE_REDIS_PASSWORD_FILE": service["REDIS_PASSWORD_FILE"],
            "RE_REVISION_FILE": str(revision_file),
            "RE_ADMIN_TOKEN_FILE": str(st.admin_token_file),
            "RE_REPLICA": replica.name,
        }
        directory = None
    else:
        env = {
            **target.environment,
            **service,
            "PORT": str(replica.port),
            "HOST": "127.0.0.1",
            "CHAOSDRILL_REPLICA": replica.name,
            "CHAOSDRILL_REVISION_FILE": str(revision_file),
            "CHAOSDRILL_VERSION": values["version"],
            "CHAOSDRILL_REVISION": values["revision"],
            "PYTHONPATH": target.directory or "",
            **{k: _substitute(v, values) for k, v in target.revision_environment.items()},
        }
        directory = Path(target.directory) if target.directory else None
    return Program(
        replica.name,
        command,
        ctx.log_path(replica.name),
        directory=directory,
        env=env,
        autorestart=True,
        stopwaitsecs=10,
    )


def readiness(ctx: LocalContext, name: str) -> Strategy:
    """How to tell that a component is ready."""
    p = ctx.state.ports
    if name.startswith("postgres-exporter-") or name == "redis-exporter":
        return HttpStatus(f"http://127.0.0.1:{p[name]}/metrics")
    if name in ctx.state.pg_nodes:
        standby = name != ctx.state.pg_primary
        return SqlReady(ctx.pg_dsn(ctx.state.pg_nodes[name]), in_recovery=standby)
    replica = next((r for r in ctx.state.replicas if r.name == name), None)
    if replica is not None:
        return HttpStatus(f"http://127.0.0.1:{replica.port}{ctx.state.target.health_path}")
    if name == "alertmanager":  # every path of its server asks for the password
        url = f"http://127.0.0.1:{p['alertmanager']}/-/ready"
        return HttpStatus(url, auth=ctx.alertmanager_auth().pair())
    checks: dict[str, Strategy] = {
        "redis": PortOpen(p["redis"]),
        "haproxy": AllOf(
            [PortOpen(p["haproxy"]), HttpStatus(f"http://127.0.0.1:{p['haproxy-stats']}/metrics")]
        ),
        "prometheus": HttpStatus(f"http://127.0.0.1:{p['prometheus']}/-/ready"),
        "pager": HttpStatus(f"http://127.0.0.1:{p['pager']}/health"),
    }
    return checks[name]
