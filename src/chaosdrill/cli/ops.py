"""``chaosdrill ops``: the Environment operations for people (the kubectl of a local env)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click
from rich.table import Table

from chaosdrill.cli.application import app, env_option
from chaosdrill.errors import InvalidInputError

__all__ = ["ops"]


def _table(title: str, rows: list[Any]) -> None:
    if not rows:
        app.console.print(f"{title}: none")
        return
    table = Table(title=title)
    fields = [f.name for f in dataclasses.fields(rows[0])]
    for f in fields:
        table.add_column(f)
    for row in rows:
        table.add_row(*[str(getattr(row, f)) for f in fields])
    app.console.print(table)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"expected KEY=VALUE, got {item!r}", field=option)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@click.group()
def ops() -> None:
    """Operate a running environment as an on-call engineer would."""


@ops.command("endpoints")
@env_option
def endpoints(name: str | None) -> None:
    """Service, Prometheus, Alertmanager and pager URLs."""
    click.echo(json.dumps(dataclasses.asdict(app.environment(name).endpoints()), indent=2))


# deployment ----------------------------------------------------------------------------
@ops.group()
def deployment() -> None:
    """The service deployment: status, restart, scale, deploy, rollback, history."""


@deployment.command("status")
@env_option
def deployment_status(name: str | None) -> None:
    """Replicas, readiness and revision."""
    st = app.environment(name).deployment_status()
    app.console.print(
        f"ready {st.ready}/{st.desired}  revision {st.revision}  version {st.version}"
    )
    _table("replicas", st.replicas)


@deployment.command("restart")
@env_option
def deployment_restart(name: str | None) -> None:
    """Rolling restart (``kubectl rollout restart``)."""
    app.environment(name).rollout_restart()
    app.console.print("rollout restart complete")


@deployment.command("scale")
@click.argument("replicas", type=int)
@env_option
def deployment_scale(replicas: int, name: str | None) -> None:
    """Scale to REPLICAS (``kubectl scale``)."""
    app.environment(name).scale(replicas)
    app.console.print(f"scaled to {replicas}")


@deployment.command("deploy")
@click.argument("version")
@click.option("--setting", "settings", multiple=True, help="KEY=VALUE (JSON value).")
@click.option("--flag", "flags", multiple=True, help="NAME=true|false.")
@env_option
def deployment_deploy(
    version: str, settings: tuple[str, ...], flags: tuple[str, ...], name: str | None
) -> None:
    """Roll out a new revision with VERSION, settings and flags."""
    number = app.environment(name).deploy_revision(
        version, _pairs(settings, "--setting"), _pairs(flags, "--flag")
    )
    app.console.print(f"revision {number} rolled out")


@deployment.command("rollback")
@click.option(
    "--to-revision",
    type=click.IntRange(min=1),
    default=None,
    help="Roll back to this revision (see `ops deployment history`) instead of the previous.",
)
@env_option
def deployment_rollback(to_revision: int | None, name: str | None) -> None:
    """Roll back to the previous revision (``kubectl rollout undo [--to-revision N]``)."""
    number = app.environment(name).rollback(to_revision)
    app.console.print(f"rolled back to revision {number}")


@deployment.command("reconcile")
@env_option
def deployment_reconcile(name: str | None) -> None:
    """Make the records agree with what runs; finish a rollout a killed process left."""
    changes = app.environment(name).reconcile()
    for line in changes:
        app.console.print(line, markup=False)
    app.console.print(f"{len(changes)} change(s)" if changes else "all in order")


@deployment.command("history")
@env_option
def deployment_history(name: str | None) -> None:
    """Every revision, the current one marked."""
    _table("rollout history", app.environment(name).rollout_history())


@ops.command("top")
@env_option
def top(name: str | None) -> None:
    """CPU and memory per replica (``kubectl top pods``)."""
    _table("replicas", app.environment(name).top())


# database ------------------------------------------------------------------------------
@ops.group()
def db() -> None:
    """The database: status, crash, stop/start, promote, rebuild, SQL, check."""


@db.command("status")
@env_option
def db_status(name: str | None) -> None:
    """Role, liveness and replication lag of each node."""
    st = app.environment(name).database_status()
    app.console.print(f"primary: {st.primary}")
    _table("nodes", st.nodes)


@db.command("crash-primary")
@env_option
def db_crash(name: str | None) -> None:
    """SIGKILL the primary."""
    app.environment(name).crash_primary()
    app.console.print("primary killed")


@db.command("stop")
@click.argument("node")
@env_option
def db_stop(node: str, name: str | None) -> None:
    """Stop NODE."""
    app.environment(name).stop_database(node)


@db.command("start")
@click.argument("node")
@env_option
def db_start(node: str, name: str | None) -> None:
    """Start NODE."""
    app.environment(name).start_database(node)


@db.command("promote")
@env_option
def db_promote(name: str | None) -> None:
    """Promote the replica to primary."""
    app.console.print(f"promoted {app.environment(name).promote_replica()}")


@db.command("rebuild-replica")
@env_option
def db_rebuild(name: str | None) -> None:
    """Rebuild the non-primary node as a fresh standby."""
    app.console.print(f"rebuilt {app.environment(name).rebuild_replica()} as a replica")


@db.command("sql")
@click.argument("statement")
@click.option("--node", default=None, help="Node (default: the primary).")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True, max=86400),
    default=None,
    help="Seconds after which the server cancels the statement (default: no limit).",
)
@env_option
def db_sql(statement: str, node: str | None, timeout_s: float | None, name: str | None) -> None:
    """Run STATEMENT and print the rows."""
    for row in app.environment(name).sql(statement, node, timeout_s=timeout_s):
        click.echo("\t".join(str(v) for v in row))


@db.command("check")
@env_option
def db_check(name: str | None) -> None:
    """The seed's ``npm run test:db``."""
    app.console.print(app.environment(name).check_database())


# cache ---------------------------------------------------------------------------------
@ops.group()
def cache() -> None:
    """The cache: status, flush, stop/start, freeze/thaw/restart, check."""


@cache.command("status")
@env_option
def cache_status(name: str | None) -> None:
    """Whether Redis answers, keys and memory."""
    app.console.print(dataclasses.asdict(app.environment(name).cache_status()))


@cache.command("flush")
@env_option
def cache_flush(name: str | None) -> None:
    """Drop every key."""
    app.environment(name).flush_cache()


@cache.command("stop")
@env_option
def cache_stop(name: str | None) -> None:
    """Stop Redis."""
    app.environment(name).stop_cache()


@cache.command("start")
@env_option
def cache_start(name: str | None) -> None:
    """Start Redis."""
    app.environment(name).start_cache()


@cache.command("freeze")
@env_option
def cache_freeze(name: str | None) -> None:
    """Make Redis unresponsive (SIGSTOP): connections hang until thawed."""
    app.environment(name).freeze_cache()
    app.console.print("redis frozen")


@cache.command("thaw")
@env_option
def cache_thaw(name: str | None) -> None:
    """Let a frozen Redis answer again (SIGCONT)."""
    app.environment(name).thaw_cache()
    app.console.print("redis thawed")


@cache.command("restart")
@env_option
def cache_restart(name: str | None) -> None:
    """Thaw, stop and start Redis (its keys are lost)."""
    app.environment(name).restart_cache()
    app.console.print("redis restarted")


@cache.command("check")
@env_option
def cache_check(name: str | None) -> None:
    """The seed's ``npm run test:redis``."""
    app.console.print(app.environment(name).check_cache())


# flags ---------------------------------------------------------------------------------
@ops.group()
def flags() -> None:
    """Feature flags (the circuit breaker among them)."""


@flags.command("get")
@env_option
def flags_get(name: str | None) -> None:
    """Effective flags."""
    click.echo(json.dumps(app.environment(name).get_flags(), indent=2))


@flags.command("set")
@click.argument("flag")
@click.argument("state", type=click.Choice(["on", "off"]))
@env_option
def flags_set(flag: str, state: str, name: str | None) -> None:
    """Turn FLAG on or off on every replica."""
    click.echo(json.dumps(app.environment(name).set_flag(flag, state == "on"), indent=2))


@flags.command("clear")
@click.argument("flag")
@env_option
def flags_clear(flag: str, name: str | None) -> None:
    """Remove FLAG's runtime override: every replica goes back to its revision's value."""
    click.echo(json.dumps(app.environment(name).clear_flag(flag), indent=2))
