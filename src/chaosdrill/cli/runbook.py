"""``chaosdrill runbook ...``: list, render and run runbooks (parse and call, nothing else)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from chaosdrill.cli.application import app, env_option
from chaosdrill.errors import Exit, InvalidInputError
from chaosdrill.monitoring.rules import alert_names
from chaosdrill.runbooks.executor import OPERATION_GRACE_S, run_runbook
from chaosdrill.runbooks.loader import load_runbook, load_runbooks
from chaosdrill.runbooks.model import Runbook
from chaosdrill.runbooks.renderer import render_markdown, render_scenarios_markdown
from chaosdrill.runbooks.result import RunbookResult, StepResult
from chaosdrill.scenarios.loader import check_references, load_scenario, load_scenarios
from chaosdrill.workspace import current

__all__ = ["runbook"]

DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory of runbook files [default: the workspace's runbooks over the built-in "
    "ones].",
)


def _runbooks(directory: Path | None) -> dict[str, Runbook]:
    """The runbooks of ``directory``, or those the workspace resolves (see chaosdrill.workspace)."""
    if directory is not None:
        return load_runbooks(directory)
    return {name: load_runbook(e.path) for name, e in current().entries("runbooks").items()}


@click.group()
def runbook() -> None:
    """Executable runbooks: list them, render them for people, run them against an env."""


@runbook.command("list")
@DIR
def list_runbooks(directory: Path | None) -> None:
    """Every runbook with its steps and parameters."""
    table = Table(title="runbooks")
    for col in ("name", "title", "steps", "params"):
        table.add_column(col)
    for rb in _runbooks(directory).values():
        params = ", ".join(f"{p.name}={p.default}" for p in rb.params)
        table.add_row(rb.name, rb.title, str(len(rb.steps)), params or "-")
    app.console.print(table)


@runbook.command("render")
@DIR
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where runbook pages go [default: docs/runbooks].",
)
@click.option(
    "--scenarios",
    "scenarios_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory of scenario files [default: the workspace's over the built-in ones].",
)
@click.option(
    "--scenarios-out",
    type=click.Path(path_type=Path),
    default=None,
    help="The scenarios page [default: docs/scenarios.md next to --out].",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a page is out of date.")
def render(
    directory: Path | None,
    out: Path | None,
    scenarios_dir: Path | None,
    scenarios_out: Path | None,
    check: bool,
) -> None:
    """Write docs/runbooks/NAME.md for every runbook and docs/scenarios.md.

    The scenarios must name only runbooks that exist and alerts of probes/*.rules.yml.
    """
    ws = current()
    runbooks = _runbooks(directory)
    if scenarios_dir is not None:
        scenarios = load_scenarios(scenarios_dir)
    else:
        scenarios = {n: load_scenario(e.path) for n, e in ws.entries("scenarios").items()}
    check_references(scenarios, set(runbooks), alert_names(ws.paths("rules")))
    out = out or (ws.root or Path.cwd()) / "docs" / "runbooks"
    pages = {out / f"{name}.md": render_markdown(rb) for name, rb in runbooks.items()}
    pages[scenarios_out or out.parent / "scenarios.md"] = render_scenarios_markdown(
        scenarios, runbooks
    )
    stale = [p for p, text in pages.items() if not p.exists() or p.read_text() != text]
    if check:
        for path in stale:
            click.echo(f"out of date: {path}", err=True)
        if stale:
            app.exit(Exit.FAILED)
        app.console.print(f"{len(pages)} pages up to date")
        return
    out.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(pages[path])
    app.console.print(f"{len(pages)} pages, {len(stale)} written")


def _params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"expected NAME=VALUE, got {item!r}", field="--param")
        params[key] = value
    return params


def _print_step(step: StepResult) -> None:
    state = "skipped" if step.skipped else "ok" if step.ok else "FAILED"
    app.err_console.print(f"{step.index}. {step.name}: {state} ({step.duration_s:.1f} s)")


def _table(result: RunbookResult) -> Table:
    table = Table(title=f"runbook {result.runbook} on {result.env_name}")
    for col in ("#", "step", "result", "s", "output / error"):
        table.add_column(col)
    for s in result.steps:
        state = "skipped" if s.skipped else "ok" if s.ok else "FAILED"
        detail = s.error or s.output
        table.add_row(str(s.index), s.name, state, f"{s.duration_s:.2f}", detail[:160])
    start = len(result.steps) + 1
    for i, name in enumerate(result.not_run, start=start):
        table.add_row(str(i), name, "not run", "", "")
    return table


@runbook.command("run")
@click.argument("name_of_runbook", metavar="RUNBOOK")
@env_option
@click.option("--param", "params", multiple=True, help="NAME=VALUE for a runbook parameter.")
@click.option(
    "--time-scale",
    default=None,
    type=float,
    help="Drill time scale (divides PromQL windows only) [default: the environment's, as "
    "the drill or training session running on it set it].",
)
@click.option(
    "--operation-grace",
    "grace_s",
    default=OPERATION_GRACE_S,
    show_default=True,
    type=float,
    help="Seconds to wait, after a step's timeout, for its operation still running.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@DIR
def run(
    name_of_runbook: str,
    name: str | None,
    params: tuple[str, ...],
    time_scale: float | None,
    grace_s: float,
    as_json: bool,
    directory: Path | None,
) -> None:
    """Run RUNBOOK against environment --name; exit 1 if a step failed.

    A step whose operation outlives its timeout fails; the operation is then waited for
    (up to --operation-grace) before the command ends.
    """
    runbooks = _runbooks(directory)
    rb = runbooks.get(name_of_runbook)
    if rb is None:
        raise InvalidInputError(
            f"no runbook named {name_of_runbook!r}; expected one of: {', '.join(runbooks)}",
            field="RUNBOOK",
        )
    values = rb.resolve_params(_params(params))
    from chaosdrill.training.recording import mark

    env = app.environment(name)
    mark(env, "runbook_run", name_of_runbook)
    if time_scale is None:
        time_scale = float(env.state.settings.time_scale)
    result = run_runbook(
        rb,
        env,
        values,
        time_scale,
        on_step=None if as_json else _print_step,
        operation_grace_s=grace_s,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        app.console.print(_table(result))
        if result.operation_wait is not None:
            app.console.print(f"then {result.operation_wait.summary()}", markup=False)
        if not result.settled:
            app.console.print(
                f"the environment is not settled: wait for the operation to finish, then "
                f"run `chaosdrill env recover --name {env.name}`",
                markup=False,
            )
        failed = result.failed_step
        verdict = "ok" if result.ok else f"FAILED at step {failed.name!r}" if failed else "FAILED"
        app.console.print(f"{verdict} in {result.duration_s:.1f} s")
    if not result.ok:
        app.exit(Exit.FAILED)
