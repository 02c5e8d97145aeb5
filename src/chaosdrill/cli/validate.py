"""``chaosdrill validate [PATHS]...``: static validation (parse and call, nothing else)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from chaosdrill.cli.application import app
from chaosdrill.errors import Exit
from chaosdrill.validate.runner import run_validation

__all__ = ["validate"]


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check scenarios, runbooks, experiments, plans, rules and Alertmanager configs.

    PATHS are files or directories (default: the whole workspace, or the built-in catalogue
    when there is none). Nothing is started and nothing is changed. Every problem is printed
    as FILE:LINE: FIELD: MESSAGE, then each name the files use (runbook, scenario, alert,
    experiment) with the file it resolved to, in the workspace or built in. Exit code 0
    when there is no problem, 2 when there is any.
    """
    report = run_validation(list(paths))
    files = len(report.files)
    count = len(report.problems)
    summary = (
        f"{files} file{'s' if files != 1 else ''} checked, "
        f"{count} problem{'s' if count != 1 else ''}"
    )
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in report.problems], indent=2))
        click.echo(summary, err=True)
    else:
        for problem in report.problems:
            click.echo(str(problem))
        if report.resolved:
            click.echo("names used, and the file each resolved to:")
            width = max(len(f"{kind} {name}") for kind, name, _, _ in report.resolved)
            for kind, name, file, source in report.resolved:
                click.echo(f"  {f'{kind} {name}':<{width}}  {source:<9} {file}")
        click.echo(summary)
    if not report.ok:
        app.exit(Exit.USAGE)
