"""``chaosdrill ops``: the Environment operations for people (the kubectl of a local env)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.errors import InvalidInputError

__all__ = ["ops"]

console = Console(highlight=False)
NAME = click.option("--name", default="default", show_default=True, help="Environment name.")


def _table(title: str, rows: list[Any]) -> None:
    if not rows:
        console.print(f"{title}: none")
        return
    table = Table(title=title)
    fields = [f.name for f in dataclasses.fields(rows[0])]
    for f in fields:
        table.add_column(f)
    for row in rows:
        table.add_row(*[str(getattr(row, f)) for f in fields])
    console.print(table)


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
@NAME
def endpoints(name: str) -> None:
    """Service, Prometheus, Alertmanager and pager URLs."""
    click.echo(json.dumps(dataclasses.asdict(LocalEnvironment.attach(name).endpoints()), indent=2))


# deployment ----------------------------------------------------------------------------
@ops.group()
def deployment() -> None:
    """The service deployment: status, restart, scale, deploy, rollback, history."""


@deployment.command("status")
@NAME
def deployment_status(name: str) -> None:
    """Replicas, readiness and revision."""
    st = LocalEnvironment.attach(name).deployment_status()
    console.print(f"ready {st.ready}/{st.desired}  revision {st.revision}  version {st.version}")
    _table("replicas", st.replicas)


@deployment.command("restart")
@NAME
def deployment_restart(name: str) -> None:
    """Rolling restart (``kubectl rollout restart``)."""
    LocalEnvironment.attach(name).rollout_restart()
    console.print("rollout restart complete")


@deployment.command("scale")
@click.argument("replicas", type=int)
@NAME
def deployment_scale(replicas: int, name: str) -> None:
    """Scale to REPLICAS (``kubectl scale``)."""
    LocalEnvironment.attach(name).scale(replicas)
    console.print(f"scaled to {replicas}")


@deployment.command("deploy")
@click.argument("version")
@click.option("--setting", "settings", multiple=True, help="KEY=VALUE (JSON value).")
@click.option("--flag", "flags", multiple=True, help="NAME=true|false.")
@NAME
def deployment_deploy(
    version: str, settings: tuple[str, ...], flags: tuple[str, ...], name: str
) -> None:
    """Roll out a new revision with VERSION, settings and flags."""
    number = LocalEnvironment.attach(name).deploy_revision(
        version, _pairs(settings, "--setting"), _pairs(flags, "--flag")
    )
    console.print(f"revision {number} rolled out")


@deployment.command("rollback")
@NAME
def deployment_rollback(name: str) -> None:
    """Roll back to the previous revision (``kubectl rollout undo``)."""
    console.print(f"rolled back to revision {LocalEnvironment.attach(name).rollback()}")


@deployment.command("history")
@NAME
def deployment_history(name: str) -> None:
    """Every revision, the current one marked."""
    _table("rollout history", LocalEnvironment.attach(name).rollout_history())


@ops.command("top")
@NAME
def top(name: str) -> None:
    """CPU and memory per replica (``kubectl top pods``)."""
    _table("replicas", LocalEnvironment.attach(name).top())


# database ------------------------------------------------------------------------------
@ops.group()
def db() -> None:
    """The database: status, crash, stop/start, promote, rebuild, SQL, check."""


@db.command("status")
@NAME
def db_status(name: str) -> None:
    """Role, liveness and replication lag of each node."""
    st = LocalEnvironment.attach(name).database_status()
    console.print(f"primary: {st.primary}")
    _table("nodes", st.nodes)


@db.command("crash-primary")
@NAME
def db_crash(name: str) -> None:
    """SIGKILL the primary."""
    LocalEnvironment.attach(name).crash_primary()
    console.print("primary killed")


@db.command("stop")
@click.argument("node")
@NAME
def db_stop(node: str, name: str) -> None:
    """Stop NODE."""
    LocalEnvironment.attach(name).stop_database(node)


@db.command("start")
@click.argument("node")
@NAME
def db_start(node: str, name: str) -> None:
    """Start NODE."""
    LocalEnvironment.attach(name).start_database(node)


@db.command("promote")
@NAME
def db_promote(name: str) -> None:
    """Promote the replica to primary."""
    console.print(f"promoted {LocalEnvironment.attach(name).promote_replica()}")


@db.command("rebuild-replica")
@NAME
def db_rebuild(name: str) -> None:
    """Rebuild the non-primary node as a fresh standby."""
    console.print(f"rebuilt {LocalEnvironment.attach(name).rebuild_replica()} as a replica")


@db.command("sql")
@click.argument("statement")
@click.option("--node", default=None, help="Node (default: the primary).")
@NAME
def db_sql(statement: str, node: str | None, name: str) -> None:
    """Run STATEMENT and print the rows."""
    for row in LocalEnvironment.attach(name).sql(statement, node):
        click.echo("\t".join(str(v) for v in row))


@db.command("check")
@NAME
def db_check(name: str) -> None:
    """The seed's ``npm run test:db``."""
    console.print(LocalEnvironment.attach(name).check_database())


# cache ---------------------------------------------------------------------------------
@ops.group()
def cache() -> None:
    """The cache: status, flush, stop/start, freeze/thaw/restart, check."""


@cache.command("status")
@NAME
def cache_status(name: str) -> None:
    """Whether Redis answers, keys and memory."""
    console.print(dataclasses.asdict(LocalEnvironment.attach(name).cache_status()))


@cache.command("flush")
@NAME
def cache_flush(name: str) -> None:
    """Drop every key."""
    LocalEnvironment.attach(name).flush_cache()


@cache.command("stop")
@NAME
def cache_stop(name: str) -> None:
    """Stop Redis."""
    LocalEnvironment.attach(name).stop_cache()


@cache.command("start")
@NAME
def cache_start(name: str) -> None:
    """Start Redis."""
    LocalEnvironment.attach(name).start_cache()


@cache.command("freeze")
@NAME
def cache_freeze(name: str) -> None:
    """Make Redis unresponsive (SIGSTOP): connections hang until thawed."""
    LocalEnvironment.attach(name).freeze_cache()
    console.print("redis frozen")


@cache.command("thaw")
@NAME
def cache_thaw(name: str) -> None:
    """Let a frozen Redis answer again (SIGCONT)."""
    LocalEnvironment.attach(name).thaw_cache()
    console.print("redis thawed")


@cache.command("restart")
@NAME
def cache_restart(name: str) -> None:
    """Thaw, stop and start Redis (its keys are lost)."""
    LocalEnvironment.attach(name).restart_cache()
    console.print("redis restarted")


@cache.command("check")
@NAME
def cache_check(name: str) -> None:
    """The seed's ``npm run test:redis``."""
    console.print(LocalEnvironment.attach(name).check_cache())


# flags ---------------------------------------------------------------------------------
@ops.group()
def flags() -> None:
    """Feature flags (the circuit breaker among them)."""


@flags.command("get")
@NAME
def flags_get(name: str) -> None:
    """Effective flags."""
    click.echo(json.dumps(LocalEnvironment.attach(name).get_flags(), indent=2))


@flags.command("set")
@click.argument("flag")
@click.argument("state", type=click.Choice(["on", "off"]))
@NAME
def flags_set(flag: str, state: str, name: str) -> None:
    """Turn FLAG on or off on every replica."""
    click.echo(json.dumps(LocalEnvironment.attach(name).set_flag(flag, state == "on"), indent=2))


@flags.command("clear")
@click.argument("flag")
@NAME
def flags_clear(flag: str, name: str) -> None:
    """Remove FLAG's runtime override: every replica goes back to its revision's value."""
    click.echo(json.dumps(LocalEnvironment.attach(name).clear_flag(flag), indent=2))
