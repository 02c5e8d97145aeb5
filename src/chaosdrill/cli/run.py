"""``chaosdrill run``: drills from experiment files, with a live view and a summary table.

One experiment runs in this process (Chaos Toolkit runs one experiment per process); several
(``--all`` or more than one path) run one after another in child processes that share one
environment, brought up here if it is not up yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from chaosdrill.cli.application import app, env_option
from chaosdrill.cli.live import LiveView
from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.engine import DrillOutcome, run_drill
from chaosdrill.errors import Exit, InvalidInputError
from chaosdrill.report.rundir import RunDir
from chaosdrill.scenarios.settings import SpecOverrides
from chaosdrill.scenarios.spec import DrillSpec
from chaosdrill.workspace import current

__all__ = ["run"]

#: the last line on stderr of every run: where its report.json is (docs/reports.md)
REPORT_PREFIX = "chaosdrill-report: "


def _run_one(
    path: Path, overrides: SpecOverrides, spec: DrillSpec, run: RunDir, quiet: bool
) -> DrillOutcome:
    """One drill in this process, its result written to the run's drills/01-<name>.json.

    On a terminal (and without --quiet) the drill is shown as it runs (chaosdrill.cli.live).
    """
    view = None if quiet or not app.console.is_terminal else LiveView()

    def attach(ctx: DrillContext) -> None:
        if view is not None:
            view.attach(ctx)

    with contextlib.nullcontext() if view is None else view.shown(app.console):
        return run_drill(
            path,
            overrides,
            result_path=run.drill_result(1, path),
            on_context=attach,
            spec=spec,
        )


def named_file(path: Path, kind: str) -> Path:
    """``path`` as given, or the workspace's file of that name (then the built-in one).

    A bare name (no directory) that is not a file here is looked up by name.
    """
    if path.exists() or len(path.parts) != 1:
        return path
    entry = current().find(kind, path.name.removesuffix(".json").removesuffix(".yaml"))
    return entry.path if entry is not None else path


@click.command("run")
@click.argument("experiments", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--all",
    "run_all",
    is_flag=True,
    help="Every experiment of the workspace and the built-in catalogue.",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Run a plan (a file, or the name of one in the workspace's or the built-in "
    "drills/, such as 'quarterly'): its drills, environment, time scale, scoring.",
)
@env_option
@click.option(
    "--time-scale",
    type=float,
    default=None,
    help="Run K times faster than production (default: the plan's, else the experiment's).",
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
    help="Directory for reports (default: reports/).",
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
@click.option(
    "--load",
    "load_json",
    default=None,
    help="Load settings as JSON over the experiment's, e.g. '{\"rate\": 40}'.",
)
@click.option("--seed", type=int, default=None, help="Seed for a plan's random picks.")
@click.option("--quiet", is_flag=True, help="No live view or progress bar.")
def run(
    experiments: tuple[Path, ...],
    run_all: bool,
    plan_path: Path | None,
    name: str | None,
    time_scale: float | None,
    hold: float | None,
    reports: Path | None,
    recovery_timeout: float | None,
    mttd_target: float | None,
    mttr_target: float | None,
    load_json: str | None,
    seed: int | None,
    quiet: bool,
) -> None:
    """Run drills: inject the fault, wait for the page, run the runbook, verify, revert.

    One experiment, several, --all, or a --plan. Every run ends with a summary table and
    writes report.json, report.md, report.html, junit.xml, comms.md and postmortem.md under
    reports/<run-id>/. Exit 0 when every drill passed, 1 when one did not.
    """
    from chaosdrill.plans.run import adhoc_plan

    env_name = name
    load = _load_option(load_json)
    if plan_path is not None:
        if experiments or run_all:
            raise InvalidInputError("give either a --plan or experiments, not both", field="plan")
        from chaosdrill.plans.model import load_plan

        if recovery_timeout is not None:
            raise InvalidInputError(
                "--recovery-timeout applies to experiments, not to a plan",
                field="recovery_timeout",
            )
        plan = load_plan(named_file(plan_path, "plans"))
        # the command line's settings win over the plan's
        if time_scale is not None:
            from chaosdrill.timescale import TimeScale

            TimeScale(time_scale)  # a time scale it refuses is refused here, before anything
            plan = dataclasses.replace(plan, time_scale=time_scale)
        if hold is not None:
            if not 0 <= hold <= 86400:
                raise InvalidInputError(
                    f"expected 0 to 86400 production seconds, got {hold:g}", field="hold"
                )
            plan = dataclasses.replace(plan, hold_s=hold)
        if mttd_target is not None or mttr_target is not None:
            plan = dataclasses.replace(
                plan,
                targets=dataclasses.replace(
                    plan.targets,
                    mttd_s=mttd_target if mttd_target is not None else plan.targets.mttd_s,
                    mttr_s=mttr_target if mttr_target is not None else plan.targets.mttr_s,
                ),
            )
        if load:
            plan = dataclasses.replace(plan, load={**plan.load, **load})
        app.exit(_run_plan(plan, env_name, reports, quiet, seed))
    paths = [named_file(p, "experiments") for p in experiments]
    if run_all:
        paths += current().paths("experiments")
    if not paths:
        raise InvalidInputError("expected experiment files, --all or --plan", field="experiments")
    overrides = SpecOverrides(
        env_name=env_name,
        time_scale=time_scale,
        hold_production_s=hold,
        reports=reports,
        recovery_timeout_production_s=recovery_timeout,
        mttd_target_s=mttd_target,
        mttr_target_s=mttr_target,
        load=load,
    )
    specs = _resolve_specs(paths, overrides)
    if len(paths) == 1:
        folder = RunDir.create(reports, paths[0].stem)
        try:
            outcome = _run_one(paths[0], overrides, specs[0], folder, quiet)
        except BaseException:
            folder.remove_if_empty()  # a drill that could not start leaves no folder
            raise
        app.exit(_report_one(outcome, folder))
    plan = adhoc_plan(
        paths,
        env_name=env_name,
        time_scale=time_scale,
        hold_s=hold,
        mttd_target_s=mttd_target,
        mttr_target_s=mttr_target,
    )
    if load:
        plan = dataclasses.replace(plan, load=load)
    app.exit(_run_plan(plan, env_name, reports, quiet, seed))


def _resolve_specs(paths: list[Path], overrides: SpecOverrides) -> list[DrillSpec]:
    """Every drill's spec, before anything starts (InvalidInputError, exit 2, at the first)."""
    from chaosdrill.scenarios.catalogue import Catalogue
    from chaosdrill.scenarios.spec import load_spec

    catalogue = Catalogue()
    return [load_spec(path, overrides, catalogue=catalogue) for path in paths]


def _load_option(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"not valid JSON: {exc.msg}", field="--load") from None
    if not isinstance(value, dict):
        raise InvalidInputError("expected a JSON object of load settings", field="--load")
    return value


def _report_one(outcome: DrillOutcome, folder: RunDir) -> int:
    """Reports of a single drill in its run folder; the summary; the exit code.

    A drill stopped by a signal gets an incomplete report and exit 130.
    """
    from chaosdrill.report.terminal import summary_table
    from chaosdrill.report.writer import write_reports

    interrupted = f"interrupted ({outcome.stopped})" if outcome.stopped else None
    written = write_reports(
        [(outcome.result, str(outcome.result_path))],
        folder.path,
        run_id=folder.run_id,
        interrupted=interrupted,
    )
    app.console.print(summary_table(written.report))
    app.console.print(f"reports: {folder.path}")
    print(f"{REPORT_PREFIX}{written.path}", file=sys.stderr)
    if interrupted:
        return Exit.INTERRUPTED
    return Exit.OK if written.report.summary.passed else Exit.FAILED


def _run_plan(
    plan: Any, env_name: str | None, reports: Path | None, quiet: bool, seed: int | None
) -> int:
    """Run a plan with a progress bar across its drills; print the summary; exit code."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from chaosdrill.plans.run import run_plan
    from chaosdrill.report.terminal import summary_table

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} drills"),
        TimeElapsedColumn(),
        console=app.console,
        disable=quiet or not app.console.is_terminal,
    )
    task = progress.add_task(plan.name, total=len(plan.resolve_drills()))
    if plan.mode == "training":
        app.console.print(
            "[yellow]mode: training asks for a person to respond: `chaosdrill train start` "
            "runs a session; under `chaosdrill run` the runbooks respond automatically.[/]"
        )

    def on_progress(i: int, n: int, name: str, result: Any) -> None:
        if result is None:
            progress.update(task, description=f"{plan.name}: {name}", total=n)
            if not app.console.is_terminal and not quiet:
                app.console.print(f"[{i}/{n}] {name}")
        else:
            progress.advance(task)

    with progress:
        outcome = run_plan(
            plan, env_name=env_name, reports=reports, on_progress=on_progress, seed=seed
        )
    assert outcome.report_path is not None
    assert outcome.report is not None
    app.console.print(summary_table(outcome.report))
    for crash in outcome.crashed:
        app.console.print(f"[red]{crash}[/]")
    app.console.print(f"reports: {outcome.out_dir}")
    print(f"{REPORT_PREFIX}{outcome.report_path}", file=sys.stderr)
    if outcome.interrupted and not outcome.crashed:
        return Exit.INTERRUPTED
    if outcome.crashed:
        return Exit.RUNTIME
    return Exit.OK if outcome.passed else Exit.FAILED
