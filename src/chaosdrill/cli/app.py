"""``chaosdrill``: the command line. It only parses and calls the library.

Exit codes: 0 success, 1 a check failed, 2 invalid input (nothing changed), 3 a runtime
failure (a component, a port, a database).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from chaosdrill import __version__
from chaosdrill.cli.gate import gate
from chaosdrill.cli.load import integrity, load
from chaosdrill.cli.ops import ops
from chaosdrill.cli.report import report
from chaosdrill.cli.run import run
from chaosdrill.cli.runbook import runbook
from chaosdrill.cli.validate import validate
from chaosdrill.environments.base import LogQuery
from chaosdrill.environments.local import EnvSettings, LocalEnvironment, list_environments
from chaosdrill.errors import DrillError, InvalidInputError
from chaosdrill.probes.alerts import firing_alerts, send_test_alert
from chaosdrill.probes.smoke import smoke_drive

__all__ = ["main"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

NAME = click.option("--name", default="default", show_default=True, help="Environment name.")


@click.group()
@click.version_option(__version__, prog_name="chaosdrill")
def cli() -> None:
    """Chaos drills for incident response.

    Break a real system, prove the alert pages and the runbook restores it, score the drill.
    """


@cli.group()
def env() -> None:
    """Bring local environments up and down, and look inside them."""


@env.command("up")
@NAME
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
    name: str,
    replicas: int,
    scrape_interval: float,
    evaluation_interval: float,
    group_wait: float,
    enrollments: int,
    sync_replication: bool,
) -> None:
    """Start an environment of real processes on 127.0.0.1."""
    settings = EnvSettings(
        replicas=replicas,
        scrape_interval_s=scrape_interval,
        evaluation_interval_s=evaluation_interval,
        group_wait_s=group_wait,
        enrollments=enrollments,
        synchronous_replication=sync_replication,
    )
    with console.status("bringing the environment up") as status:
        environment = LocalEnvironment.up(name, settings, progress=status.update)
    ep = environment.endpoints()
    console.print(f"[green]environment {name!r} is up[/] (state in {environment.root})")
    for field in dataclasses.fields(ep):
        console.print(f"  {field.name:<26} {getattr(ep, field.name)}")


@env.command("down")
@NAME
def env_down(name: str) -> None:
    """Stop every process, free every port, remove the state directory."""
    LocalEnvironment.attach(name).down()
    console.print(f"environment {name!r} is down")


@env.command("list")
def env_list() -> None:
    """Names of environments with a state directory."""
    for name in list_environments():
        console.print(name)


@env.command("status")
@NAME
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env_status(name: str, as_json: bool) -> None:
    """Every part: pid, port, state, health."""
    rows = LocalEnvironment.attach(name).components()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    table = Table(title=f"environment {name}")
    for col in ("part", "pid", "port", "state", "health"):
        table.add_column(col)
    for r in rows:
        colour = "green" if r.health == "ok" else "red"
        table.add_row(
            r.name, str(r.pid or "-"), str(r.port or "-"), r.state, f"[{colour}]{r.health}[/]"
        )
    console.print(table)
    if any(r.health not in ("ok", "-") for r in rows):
        sys.exit(1)


@env.command("logs")
@click.argument("component")
@NAME
@click.option("--tail", default=50, show_default=True, type=int, help="Lines to show (0: all).")
@click.option("--grep", default=None, help="Only lines matching this regular expression.")
def env_logs(component: str, name: str, tail: int, grep: str | None) -> None:
    """Show a component's log (like ``kubectl logs``)."""
    for line in LocalEnvironment.attach(name).logs(LogQuery(component, tail, grep)):
        click.echo(line)


@env.command("alerts")
@NAME
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--test", is_flag=True, help="First send a test alert and wait for its page.")
def env_alerts(name: str, as_json: bool, test: bool) -> None:
    """Alerts pending or firing in Prometheus, and every page the pager received."""
    environment = LocalEnvironment.attach(name)
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
    console.print(table)
    pt = Table(title="pages")
    for col in ("#", "received", "alert", "status", "startsAt"):
        pt.add_column(col)
    for p in got:
        pt.add_row(str(p.notification), p.received_wall, p.alertname, p.status, p.starts_at or "")
    console.print(pt)


@env.command("recover")
@NAME
def env_recover(name: str) -> None:
    """Revert every fault the ledger holds open (after a crash or kill -9 of a drill)."""
    from chaosdrill.faults.ledger import recover_environment
    from chaosdrill.load import active_run

    environment = LocalEnvironment.attach(name)
    reverted = recover_environment(environment)
    for entry in reverted:
        state = f"NOT reverted: {entry.error}" if entry.error else "reverted"
        console.print(f"{entry.kind} {entry.params}: {state}")
    console.print(f"{sum(1 for e in reverted if not e.error)} fault(s) reverted")
    stale = active_run(environment.root / "load")
    if stale is not None:
        stale.stop(grace_s=3)
        console.print(f"stopped load run {stale.run_id}")
    if any(e.error for e in reverted):
        sys.exit(1)


@env.command("smoke")
@NAME
def env_smoke(name: str) -> None:
    """Drive every route once through the load balancer and check the answers."""
    steps = smoke_drive(LocalEnvironment.attach(name))
    table = Table(title=f"smoke drive of {name}")
    for col in ("step", "result", "detail", "s"):
        table.add_column(col)
    for s in steps:
        table.add_row(
            s.name, "[green]ok[/]" if s.ok else "[red]FAILED[/]", s.detail, f"{s.seconds:.2f}"
        )
    console.print(table)
    if not all(s.ok for s in steps):
        sys.exit(1)


cli.add_command(gate)
cli.add_command(ops)
cli.add_command(load)
cli.add_command(report)
cli.add_command(run)
cli.add_command(runbook)
cli.add_command(validate)
ops.add_command(integrity)


def _report(exc: DrillError) -> None:
    err_console.print(f"[red]error:[/] {exc}")
    for note in getattr(exc, "__notes__", []):
        err_console.print(note)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``chaosdrill`` console script."""
    try:
        return cli.main(args=argv, prog_name="chaosdrill", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except InvalidInputError as exc:
        _report(exc)
        sys.exit(2)
    except DrillError as exc:
        _report(exc)
        sys.exit(exc.exit_code)
