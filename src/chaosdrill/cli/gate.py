"""``chaosdrill gate PLAN``: the CI gate on runbook and alert regressions (see gate.py)."""

from __future__ import annotations

from pathlib import Path

import click

from chaosdrill.cli.application import app, env_option
from chaosdrill.errors import DrillError, InvalidInputError, RuntimeFailure
from chaosdrill.paths import reports_dir
from chaosdrill.plans.gate import (
    GateResult,
    evaluate,
    find_baseline,
    record,
    write_outputs,
)
from chaosdrill.report.types import Report, read_report

__all__ = ["gate"]


def _fail(out_dir: Path, plan_name: str, exc: DrillError) -> None:
    result = GateResult(error=str(exc))
    write_outputs(out_dir, None, result, plan_name)
    app.console.print(f"[red]chaosdrill gate: {exc}[/]")
    app.console.print(f"junit.xml and gate.md: {out_dir}")
    app.exit(exc.exit_code if isinstance(exc, InvalidInputError) else result.exit_code)


@click.command("gate")
@click.argument("plan_path", type=click.Path(path_type=Path))
@env_option
@click.option(
    "--reports",
    type=click.Path(path_type=Path),
    default=None,
    help="Reports directory (default: reports/); the history is history.sqlite in it.",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Compare with this report.json instead of the plan's baseline policy.",
)
@click.option(
    "--from",
    "from_run",
    type=click.Path(path_type=Path),
    default=None,
    help="Judge an existing run (its folder or report.json) instead of running the plan.",
)
@click.option("--seed", type=int, default=None, help="Seed for random picks.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def gate(
    plan_path: Path,
    name: str | None,
    reports: Path | None,
    baseline_file: Path | None,
    from_run: Path | None,
    seed: int | None,
    quiet: bool,
) -> None:
    """Run a plan as a CI gate: exit 0 pass, 1 regression, 2 invalid input, 3 environment.

    junit.xml, gate.md and gate.json are always written to the run's folder under reports/
    (gate.md is also appended to $GITHUB_STEP_SUMMARY when that is set).
    """
    from chaosdrill.plans.model import load_plan
    from chaosdrill.plans.run import run_plan
    from chaosdrill.report.rundir import new_run_id
    from chaosdrill.report.terminal import summary_table

    root = reports or reports_dir()
    run_id = new_run_id(plan_path.stem)
    try:
        plan = load_plan(plan_path)
        baseline_override = read_report(baseline_file) if baseline_file else None
        given = read_report(from_run) if from_run else None
    except InvalidInputError as exc:
        _fail(root / f"{run_id}-invalid", plan_path.stem, exc)
        return
    if given is not None:
        report, out_dir = given, (from_run if from_run and from_run.is_dir() else root / run_id)
        error = None
    else:
        try:
            run_id = new_run_id(plan.name)
            run = run_plan(
                plan,
                env_name=name,
                reports=root,
                run_id=run_id,
                record_history=False,
                seed=seed,
                on_progress=None
                if quiet
                else lambda i, n, name, res: app.console.print(
                    f"[{i}/{n}] {name}"
                    + ("" if res is None else f": {'PASS' if res.verdict.passed else 'FAIL'}")
                ),
            )
        except RuntimeFailure as exc:
            _fail(root / run_id, plan.name, exc)
            return
        assert run.report is not None
        report = run.report
        out_dir = run.out_dir
        error = "; ".join(c.splitlines()[0] for c in run.crashed) or None
    baseline: Report | None
    if baseline_override is not None:
        baseline, note = baseline_override, f"baseline file {baseline_file}"
    else:
        baseline, note = find_baseline(plan, report.run_id, root / "history.sqlite")
    result = evaluate(report, plan.gates, baseline, plan.baseline)
    result.baseline_note = note
    if error and result.error is None:
        result.error = error
    paths = write_outputs(out_dir, report, result, plan.name)
    if given is None:
        record(report, result, out_dir)
    app.console.print(summary_table(report))
    for finding in result.findings:
        app.console.print(f"[red]- {finding.message}[/]")
    if result.error:
        app.console.print(f"[red]error: {result.error}[/]")
    verdict = "[green]PASSED[/]" if result.passed else "[red]FAILED[/]"
    app.console.print(f"gate {verdict} ({note}); {paths['junit.xml']}, {paths['gate.md']}")
    app.exit(result.exit_code)
