"""``chaosdrill load ...`` and ``chaosdrill ops integrity``: user load and the write check."""

from __future__ import annotations

import dataclasses
import json

import click
from rich.table import Table

from chaosdrill.cli.application import app, env_option
from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.errors import EnvironmentNotFoundError, Exit, UsageError
from chaosdrill.load import LoadRun, LoadSpec, active_run, latest_run
from chaosdrill.load.sli import ALL
from chaosdrill.probes.integrity import check_integrity

__all__ = ["integrity", "load"]


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
@env_option
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
def load_start(name: str | None, rate: float, users: int, workers: int, duration: float) -> None:
    """Start a load run against the environment's load balancer."""
    env = app.environment(name)
    spec = LoadSpec(rate=rate, users=users, workers=workers, duration_s=duration)
    run = env.start_load(spec)
    app.console.print(
        f"load run {run.run_id} started: {rate:g} req/s, {users} users, "
        f"{workers or 'no'} workers"
    )


@load.command("stop")
@env_option
def load_stop(name: str | None) -> None:
    """Stop the running load run and write its SLI series."""
    env = app.environment(name)
    run = active_run(env.root / "load") or _run(env, None)
    points = run.stop()
    total = [p for p in points if p.flow == ALL]
    app.console.print(
        f"load run {run.run_id} stopped: {sum(p.requests for p in total)} requests, "
        f"{sum(p.failures for p in total)} failures; series in {run.run_dir / 'sli.jsonl'}"
    )


@load.command("status")
@env_option
@click.option("--run", "run_id", default=None, help="Run id (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def load_status(name: str | None, run_id: str | None, as_json: bool) -> None:
    """Requests, failures, recent rate and p95, write outcomes."""
    status = _run(app.environment(name), run_id).status()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(status), indent=2))
        return
    table = Table(title=f"load run {status.run_id}")
    table.add_column("measure")
    table.add_column("value")
    for f in dataclasses.fields(status):
        table.add_row(f.name, str(getattr(status, f.name)))
    app.console.print(table)


@click.command("integrity")
@env_option
@click.option("--run", "run_id", default=None, help="Run id (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def integrity(name: str | None, run_id: str | None, as_json: bool) -> None:
    """Verify data integrity: every acknowledged write of a load run is on the primary."""
    env = app.environment(name)
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
        app.console.print(report.summary())
        for label in ("lost", "unexpected", "duplicates", "failed_but_present"):
            keys = getattr(report, label)
            if keys:
                app.console.print(
                    f"  {label}: {', '.join(keys[:20])}{' ...' if len(keys) > 20 else ''}"
                )
    if not report.passed:
        app.exit(Exit.FAILED)
