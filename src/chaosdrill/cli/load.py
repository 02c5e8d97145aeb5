"""``chaosdrill load ...`` and ``chaosdrill ops integrity``: user load and the write check."""

from __future__ import annotations

import dataclasses
import json
import sys

import click
from rich.console import Console
from rich.table import Table

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.errors import EnvironmentNotFoundError, UsageError
from chaosdrill.load import LoadRun, LoadSpec, active_run, latest_run
from chaosdrill.load.sli import ALL
from chaosdrill.probes.integrity import check_integrity

__all__ = ["integrity", "load"]

console = Console(highlight=False)
NAME = click.option("--name", default="default", show_default=True, help="Environment name.")


def _run(env: LocalEnvironment, run_id: str | None) -> LoadRun:
    base = env.root / "load"
    if run_id:
        run = LoadRun(base / run_id)
        if not (run.run_dir / "spec.json").exists():
            raise UsageError(f"no load run {run_id!r} in environment {env.name!r}")
        return run
    latest = latest_run(base)
    if latest is None:
        raise EnvironmentNotFoundError(f"environment {env.name!r} has no load run yet")
    return latest


@click.group()
def load() -> None:
    """Drive the service with Locust user flows (browse, view, enroll, check enrollment)."""


@load.command("start")
@NAME
@click.option("--rate", default=20.0, show_default=True, help="Requests per second in all.")
@click.option("--users", default=10, show_default=True, help="Concurrent users.")
@click.option(
    "--workers",
    default=0,
    show_default=True,
    help="0: one process; N: a Locust master and N worker processes.",
)
@click.option(
    "--duration",
    default=3600.0,
    show_default=True,
    help="Seconds after which the run stops by itself.",
)
def load_start(name: str, rate: float, users: int, workers: int, duration: float) -> None:
    """Start a load run against the environment's load balancer."""
    env = LocalEnvironment.attach(name)
    spec = LoadSpec(rate=rate, users=users, workers=workers, duration_s=duration)
    run = env.start_load(spec)
    console.print(
        f"load run {run.run_id} started: {rate:g} req/s, {users} users, "
        f"{workers or 'no'} workers"
    )


@load.command("stop")
@NAME
def load_stop(name: str) -> None:
    """Stop the running load run and write its SLI series."""
    env = LocalEnvironment.attach(name)
    run = active_run(env.root / "load") or _run(env, None)
    points = run.stop()
    total = [p for p in points if p.flow == ALL]
    console.print(
        f"load run {run.run_id} stopped: {sum(p.requests for p in total)} requests, "
        f"{sum(p.failures for p in total)} failures; series in {run.run_dir / 'sli.jsonl'}"
    )


@load.command("status")
@NAME
@click.option("--run", "run_id", default=None, help="Run id (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def load_status(name: str, run_id: str | None, as_json: bool) -> None:
    """Requests, failures, recent rate and p95, write outcomes."""
    status = _run(LocalEnvironment.attach(name), run_id).status()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(status), indent=2))
        return
    table = Table(title=f"load run {status.run_id}")
    table.add_column("measure")
    table.add_column("value")
    for f in dataclasses.fields(status):
        table.add_row(f.name, str(getattr(status, f.name)))
    console.print(table)


@click.command("integrity")
@NAME
@click.option("--run", "run_id", default=None, help="Run id (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def integrity(name: str, run_id: str | None, as_json: bool) -> None:
    """Verify data integrity: every acknowledged write of a load run is on the primary."""
    env = LocalEnvironment.attach(name)
    run = _run(env, run_id)
    started = min((p.second for p in run.series()), default=None)
    promotion = next(
        (
            p
            for p in reversed(env.state.promotions)
            if started is None or p["at_monotonic"] >= started
        ),
        None,
    )
    report = check_integrity(env, run, promotion)
    if as_json:
        data = dataclasses.asdict(report)
        data["passed"] = report.passed
        click.echo(json.dumps(data, indent=2))
    else:
        console.print(report.summary())
        for label in ("lost", "unexpected", "duplicates", "failed_but_present"):
            keys = getattr(report, label)
            if keys:
                console.print(
                    f"  {label}: {', '.join(keys[:20])}{' ...' if len(keys) > 20 else ''}"
                )
    if not report.passed:
        sys.exit(1)
