"""``chaosdrill env ...``: bring local environments up and down, and look inside them."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import click
from rich.table import Table

from chaosdrill.cli.application import app, env_option
from chaosdrill.environments.base import LogQuery
from chaosdrill.environments.holding import clear_dead, current_holder
from chaosdrill.environments.local import EnvSettings, LocalEnvironment, list_environments
from chaosdrill.errors import Exit
from chaosdrill.probes.alerts import firing_alerts, send_test_alert
from chaosdrill.probes.smoke import smoke_drive

__all__ = ["env"]


@click.group()
def env() -> None:
    """Bring local environments up and down, and look inside them."""


@env.command("up")
@env_option
@click.option("--replicas", default=2, show_default=True, type=int, help="Service replicas.")
@click.option(
    "--scrape-interval",
    default=5.0,
    show_default=True,
    type=float,
    help="Prometheus scrape interval, seconds.",
)
@click.option(
    "--evaluation-interval",
    default=5.0,
    show_default=True,
    type=float,
    help="Prometheus rule evaluation interval, seconds.",
)
@click.option(
    "--group-wait",
    default=1.0,
    show_default=True,
    type=float,
    help="Alertmanager group_wait, seconds.",
)
@click.option(
    "--enrollments",
    default=200_000,
    show_default=True,
    type=int,
    help="Enrollments seeded into the database.",
)
@click.option(
    "--sync-replication/--async-replication",
    default=False,
    show_default=True,
    help="Synchronous streaming replication to the standby.",
)
def env_up(
    name: str | None,
    replicas: int,
    scrape_interval: float,
    evaluation_interval: float,
    group_wait: float,
    enrollments: int,
    sync_replication: bool,
) -> None:
    """Start an environment of real processes on 127.0.0.1."""
    name = app.env_name(name)
    settings = EnvSettings(
        replicas=replicas,
        scrape_interval_s=scrape_interval,
        evaluation_interval_s=evaluation_interval,
        group_wait_s=group_wait,
        enrollments=enrollments,
        synchronous_replication=sync_replication,
    )
    with app.console.status("bringing the environment up") as status:
        environment = LocalEnvironment.up(name, settings, progress=status.update)
    ep = environment.endpoints()
    app.console.print(f"[green]environment {name!r} is up[/] (state in {environment.root})")
    for field in dataclasses.fields(ep):
        app.console.print(f"  {field.name:<26} {getattr(ep, field.name)}")


@env.command("down")
@env_option
@click.option(
    "--force",
    is_flag=True,
    help="Take it down even while a drill holds it (that drill then fails).",
)
def env_down(name: str | None, force: bool) -> None:
    """Stop every process, free every port, remove the state directory.

    Also takes down an environment whose state file is torn or whose supervisor is gone:
    every process carrying the environment's marker is stopped. An environment a running
    drill (plan, test session) holds is refused, naming the holder (exit 3), unless --force.
    """
    name = app.env_name(name)
    LocalEnvironment.take_down(name, force=force)
    app.console.print(f"environment {name!r} is down")


@env.command("list")
def env_list() -> None:
    """Names of environments with a state directory."""
    for name in list_environments():
        app.console.print(name)


@env.command("status")
@env_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env_status(name: str | None, as_json: bool) -> None:
    """Every part: pid, port, state, health."""
    environment = app.environment(name)
    rows = environment.components()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    table = Table(title=f"environment {environment.name}")
    for col in ("part", "pid", "port", "state", "health"):
        table.add_column(col)
    for r in rows:
        colour = "green" if r.health == "ok" else "red"
        table.add_row(
            r.name, str(r.pid or "-"), str(r.port or "-"), r.state, f"[{colour}]{r.health}[/]"
        )
    app.console.print(table)
    target = environment.target()
    app.console.print(f"target {target.name} ({target.source})", markup=False)
    holder = current_holder(environment.root)
    app.console.print(
        f"held by {holder.describe()}" if holder else "held by no drill", markup=False
    )
    if any(r.health not in ("ok", "-") for r in rows):
        app.exit(Exit.FAILED)


def _regular_expression(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise click.BadParameter(f"not a valid regular expression ({exc}): {value!r}") from None
    return value


@env.command("logs")
@click.argument("component")
@env_option
@click.option(
    "--tail",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    help="Lines to show (0: all).",
)
@click.option(
    "--grep",
    default=None,
    callback=_regular_expression,
    help="Only lines matching this regular expression.",
)
def env_logs(component: str, name: str | None, tail: int, grep: str | None) -> None:
    """Show a component's log (like ``kubectl logs``)."""
    query = LogQuery(component, tail, grep)  # checked before the environment is touched
    for line in app.environment(name).logs(query):
        click.echo(line)


@env.command("alerts")
@env_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--test", is_flag=True, help="First send a test alert and wait for its page.")
def env_alerts(name: str | None, as_json: bool, test: bool) -> None:
    """Alerts pending or firing in Prometheus, and every page the pager received."""
    from chaosdrill.training.recording import mark

    environment = app.environment(name)
    mark(environment, "alerts")
    if test:
        send_test_alert(environment)
    alerts = firing_alerts(environment.endpoints())
    got = environment.pages()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "alerts": [dataclasses.asdict(a) for a in alerts],
                    "pages": [dataclasses.asdict(p) for p in got],
                },
                indent=2,
            )
        )
        return
    table = Table(title="Prometheus alerts")
    for col in ("alert", "state", "active since"):
        table.add_column(col)
    for a in alerts:
        table.add_row(a.name, a.state, a.active_at)
    app.console.print(table)
    pt = Table(title="pages")
    for col in ("#", "received", "alert", "status", "startsAt"):
        pt.add_column(col)
    for p in got:
        pt.add_row(str(p.notification), p.received_wall, p.alertname, p.status, p.starts_at or "")
    app.console.print(pt)


@env.command("recover")
@env_option
@click.option(
    "--discard",
    "discard",
    metavar="ID",
    multiple=True,
    help="Close this open ledger entry without reverting it (one whose revert always "
    "fails); repeatable; needs --reason.",
)
@click.option(
    "--reason", metavar="TEXT", help="Why the entries are discarded (kept in the ledger)."
)
def env_recover(name: str | None, discard: tuple[str, ...], reason: str | None) -> None:
    """Revert every fault the ledger holds open (after a crash or kill -9 of a drill).

    Each entry is listed with its id; one that cannot be reverted makes the command exit 1
    until it reverts or is discarded (--discard ID --reason TEXT); an entry of a drill that
    still runs is left alone and does not count. Then the environment's
    records are made to agree with what runs (a replica a killed rollout started but never
    recorded is removed, HAProxy routes to exactly the recorded replicas) and an
    interrupted rollout is finished. Also stops a load run left running, unless a drill
    that is still running started it, and clears the hold of a drill that is gone. A drill
    that still runs keeps its hold, its faults and its load.
    """
    from chaosdrill.faults.ledger import FaultLedger, default_ledger_path
    from chaosdrill.faults.redaction import redact, redact_text
    from chaosdrill.load import active_run

    if bool(discard) != bool(reason and reason.strip()):
        raise click.UsageError("--discard ID and --reason TEXT go together")
    environment = app.environment(name)
    gone = clear_dead(environment.root)
    if gone is not None:
        app.console.print(
            f"cleared the hold of {gone.describe()}: it is no longer running", markup=False
        )
    holder = current_holder(environment.root)
    if holder is not None:
        app.console.print(
            f"held by {holder.describe()}: its faults and its load are left alone", markup=False
        )
    ledger = FaultLedger(default_ledger_path(environment))
    for entry_id in discard:
        closed = ledger.discard(entry_id, reason or "")
        app.console.print(
            f"{closed.id} {_shown(closed, redact)}: "
            f"discarded by {closed.closed_by} ({closed.reason})",
            markup=False,
        )
    reverted = ledger.recover(environment)
    for line in environment.reconcile():
        app.console.print(line, markup=False)
    for entry in reverted:
        if entry.live:
            state = f"left alone: {entry.error}"
        else:
            state = f"NOT reverted: {entry.error}" if entry.error else "reverted"
        # a ledger written before secrets were redacted may still hold one: never print it
        app.console.print(f"{entry.id} {_shown(entry, redact)}: {redact_text(state)}", markup=False)
    app.console.print(f"{sum(1 for e in reverted if not e.error)} fault(s) reverted")
    stale = active_run(environment.root / "load")
    owner = stale.drill_owner() if stale is not None else None
    if stale is not None and owner is not None:
        app.console.print(f"load run {stale.run_id} left running: drill pid {owner} still runs")
    elif stale is not None:
        stale.stop(grace_s=3)
        app.console.print(f"stopped load run {stale.run_id}")
    if any(e.error and not e.live for e in reverted):
        app.exit(Exit.FAILED)


def _shown(entry: Any, redact: Any) -> str:
    """A ledger entry's fault as printed: kind and parameters, or that it is sealed."""
    return entry.label if entry.sealed else f"{entry.kind} {redact(entry.params)}"


@env.command("smoke")
@env_option
def env_smoke(name: str | None) -> None:
    """Drive every route once through the load balancer and check the answers."""
    environment = app.environment(name)
    steps = smoke_drive(environment)
    table = Table(title=f"smoke drive of {environment.name}")
    for col in ("step", "result", "detail", "s"):
        table.add_column(col)
    for s in steps:
        table.add_row(
            s.name, "[green]ok[/]" if s.ok else "[red]FAILED[/]", s.detail, f"{s.seconds:.2f}"
        )
    app.console.print(table)
    if not all(s.ok for s in steps):
        app.exit(Exit.FAILED)
