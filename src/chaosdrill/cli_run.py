"""``chaosdrill run``: drills from experiment files, with a live view and a summary table.

One experiment runs in this process (Chaos Toolkit runs one experiment per process); several
(``--all`` or more than one path) run one after another in child processes that share one
environment, brought up here if it is not up yet.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaosdrill.alerts import firing_alerts
from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.engine import DrillOutcome, run_drill
from chaosdrill.drill.phases import SAMPLE_LAG_S
from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.errors import DrillError, EnvironmentNotFoundError, InvalidInputError
from chaosdrill.paths import EXPERIMENTS_DIR

__all__ = ["run"]

console = Console(highlight=False)
RESULT_PREFIX = "chaosdrill-result: "


class _LiveView:
    """What the live view shows: phase, elapsed time, SLIs, alerts and pages."""

    def __init__(self) -> None:
        self.ctx: DrillContext | None = None
        self._alerts = ""
        self._alerts_at = 0.0

    def _firing(self, ctx: DrillContext) -> str:
        """Alerts pending or firing in Prometheus (asked at most once a second)."""
        if time.monotonic() - self._alerts_at > 1.0:
            self._alerts_at = time.monotonic()
            try:
                alerts = firing_alerts(ctx.env.endpoints())
                self._alerts = ", ".join(sorted(f"{a.name} ({a.state})" for a in alerts))
            except DrillError:
                self._alerts = "Prometheus not answering"
        return self._alerts

    def __rich__(self) -> Any:
        ctx = self.ctx
        if ctx is None:
            return Text("setting the drill up ...")
        t_inject = ctx.timeline.first("t_inject")
        elapsed = f"{time.monotonic() - t_inject.t:6.1f} s since the fault" if t_inject else ""
        table = Table(
            title=f"{ctx.config.cause} ({ctx.config.scenario}) x{ctx.config.time_scale.k:g}"
        )
        table.add_column("phase")
        table.add_column("elapsed")
        table.add_column("users' view (last window)")
        table.add_column("alerts")
        table.add_column("events")
        sli = ""
        if ctx.sli is not None:
            now = time.monotonic() - SAMPLE_LAG_S  # the samples of a second arrive after it
            n, failed, p95 = ctx.sli.window(now - ctx.config.slo_window_s, now)
            sli = f"{n} req, {failed} failed, p95 {p95:.0f} ms"
        marks = [e.name for e in ctx.timeline.events if e.name.startswith("t_")]
        table.add_row(ctx.phase, elapsed, sli, self._firing(ctx), ", ".join(marks[-4:]))
        return Group(table, Text("; ".join(ctx.failures[-2:]), style="red"))


def _summary(outcomes: list[dict[str, Any]]) -> Table:
    table = Table(title="drills")
    for col in ("drill", "scenario", "MTTD s (prod)", "MTTR s (prod)", "verdict", "reason"):
        table.add_column(col)
    for r in outcomes:
        prod = r.get("production_equivalent", {})
        passed = r["verdict"]["passed"]
        table.add_row(
            r["cause"],
            r["scenario"],
            f"{r['mttd_s']} ({prod.get('mttd_s')})" if r["mttd_s"] is not None else "no page",
            f"{r['mttr_s']} ({prod.get('mttr_s')})" if r["mttr_s"] is not None else "not recovered",
            "[green]PASS[/]" if passed else "[red]FAIL[/]",
            (r["verdict"].get("reasons") or r["failures"] or [""])[0][:90],
        )
    return table


def _run_one(
    path: Path,
    env: str | None,
    k: float | None,
    hold: float | None,
    reports: Path | None,
    recovery_timeout: float | None,
    quiet: bool,
    targets: tuple[float | None, float | None] = (None, None),
) -> DrillOutcome:
    view = _LiveView()

    def attach(ctx: DrillContext) -> None:
        view.ctx = ctx

    plain = quiet or not console.is_terminal
    shown = (
        contextlib.nullcontext()
        if plain
        else Live(view, console=console, refresh_per_second=4, transient=True)
    )
    with shown:
        return run_drill(
            path,
            env_name=env,
            time_scale=k,
            hold_production_s=hold,
            reports=reports,
            recovery_timeout_production_s=recovery_timeout,
            mttd_target_s=targets[0],
            mttr_target_s=targets[1],
            on_context=attach,
        )


@click.command("run")
@click.argument("experiments", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "run_all", is_flag=True, help="Every experiment in experiments/.")
@click.option("--env", "env_name", default=None, help="Environment name (default: drill).")
@click.option(
    "--time-scale",
    type=float,
    default=None,
    help="Run K times faster than production (default: the experiment's).",
)
@click.option(
    "--hold",
    type=float,
    default=None,
    help="Hold period in production seconds (default: the seed's 1800).",
)
@click.option(
    "--reports",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for results (default: reports/).",
)
@click.option(
    "--recovery-timeout",
    type=float,
    default=None,
    help="Give up waiting for recovery after this many production seconds "
    "(default: twice the MTTR target).",
)
@click.option(
    "--mttd-target",
    type=float,
    default=None,
    help="MTTD target in production seconds (default: the seed's 300).",
)
@click.option(
    "--mttr-target",
    type=float,
    default=None,
    help="MTTR target in production seconds (default: the seed's 1800).",
)
@click.option("--quiet", is_flag=True, help="No live view.")
def run(
    experiments: tuple[Path, ...],
    run_all: bool,
    env_name: str | None,
    time_scale: float | None,
    hold: float | None,
    reports: Path | None,
    recovery_timeout: float | None,
    mttd_target: float | None,
    mttr_target: float | None,
    quiet: bool,
) -> None:
    """Run drills: inject the fault, wait for the page, run the runbook, verify, revert."""
    paths = list(experiments)
    if run_all:
        paths += sorted(EXPERIMENTS_DIR.glob("*.json"))
    if not paths:
        raise InvalidInputError("expected experiment files or --all", field="experiments")
    if len(paths) == 1:
        outcome = _run_one(
            paths[0],
            env_name,
            time_scale,
            hold,
            reports,
            recovery_timeout,
            quiet,
            (mttd_target, mttr_target),
        )
        console.print(_summary([outcome.result]))
        console.print(f"result: {outcome.result_path}")
        print(f"{RESULT_PREFIX}{outcome.result_path}", file=sys.stderr)
        sys.exit(0 if outcome.passed else 1)
    sys.exit(_run_many(paths, env_name or "drill", time_scale, hold, reports, recovery_timeout))


def _run_many(
    paths: list[Path],
    env_name: str,
    k: float | None,
    hold: float | None,
    reports: Path | None,
    recovery_timeout: float | None,
) -> int:
    try:
        env, owned = LocalEnvironment.attach(env_name), False
    except EnvironmentNotFoundError:
        env = LocalEnvironment.up(env_name, EnvSettings.for_time_scale(k or 1.0))
        owned = True
    results: list[dict[str, Any]] = []
    worst = 0
    try:
        for i, path in enumerate(paths, 1):
            console.print(f"[{i}/{len(paths)}] {path.name}")
            cmd = [
                sys.executable,
                "-m",
                "chaosdrill",
                "run",
                str(path),
                "--env",
                env_name,
                "--quiet",
            ]
            for flag, value in (
                ("--time-scale", k),
                ("--hold", hold),
                ("--reports", reports),
                ("--recovery-timeout", recovery_timeout),
            ):
                if value is not None:
                    cmd += [flag, str(value)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            worst = max(worst, proc.returncode)
            found = [
                ln[len(RESULT_PREFIX) :]
                for ln in proc.stderr.splitlines()
                if ln.startswith(RESULT_PREFIX)
            ]
            if found:
                results.append(json.loads(Path(found[-1]).read_text()))
            else:
                console.print(f"[red]{path.name} produced no result[/]\n{proc.stderr[-1500:]}")
    finally:
        if owned:
            env.down()
    console.print(_summary(results))
    return worst
