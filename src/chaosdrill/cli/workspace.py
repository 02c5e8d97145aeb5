"""``chaosdrill init`` and ``chaosdrill catalogue list`` (parse and call, nothing else)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from chaosdrill.cli.application import app
from chaosdrill.workspace import Workspace, current

__all__ = ["catalogue", "init"]


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option(
    "--from-reference",
    is_flag=True,
    help="Copy the whole built-in catalogue in to edit (default: one example of each kind; "
    "the rest resolves in the built-in catalogue).",
)
def init(directory: Path, from_reference: bool) -> None:
    """Create a workspace in DIRECTORY (default: here) for a team's own drills.

    Writes chaosdrill.yaml, scenarios/, runbooks/, probes/, experiments/, drills/, a
    git-ignored reports/ and a README of the layout. Refuses (exit 2, nothing written) when
    DIRECTORY already holds a workspace or any of those files.
    """
    from chaosdrill.workspace.init import init_workspace

    result = init_workspace(directory, from_reference=from_reference)
    for path in result.files:
        app.console.print(f"wrote {path.relative_to(result.root)}", highlight=False)
    app.console.print(
        f"workspace ready in {result.root}: next, chaosdrill --workspace {directory} validate",
        highlight=False,
    )


@click.group("catalogue")
def catalogue() -> None:
    """The catalogue in force: the workspace's files over the built-in ones."""


def _rows(ws: Workspace) -> list[dict[str, str]]:
    from chaosdrill.monitoring.rules import load_rule_file
    from chaosdrill.runbooks.loader import load_runbook
    from chaosdrill.scenarios.loader import load_scenario

    rows: list[dict[str, str]] = []
    for name, entry in ws.entries("scenarios").items():
        scenario = load_scenario(entry.path)
        rows.append(_row("scenario", name, scenario.title, entry.source, entry.path))
        for cause in scenario.common_causes:
            rows.append(
                _row("cause", f"{name}/{cause.id}", cause.description, entry.source, entry.path)
            )
    for name, entry in ws.entries("runbooks").items():
        book = load_runbook(entry.path)
        rows.append(_row("runbook", name, book.title, entry.source, entry.path))
    for entry in ws.entries("rules").values():
        for rule in load_rule_file(entry.path).alerts:
            summary = str(rule.annotations.get("summary", "")) if rule.annotations else ""
            rows.append(_row("alert", rule.name, summary, entry.source, entry.path))
    for name, entry in ws.entries("experiments").items():
        title = str(json.loads(entry.path.read_text()).get("title", ""))
        rows.append(_row("experiment", name, title, entry.source, entry.path))
    for name, entry in ws.entries("plans").items():
        rows.append(_row("plan", name, "", entry.source, entry.path))
    return rows


def _row(kind: str, name: str, title: str, source: str, path: Path) -> dict[str, str]:
    return {"kind": kind, "name": name, "title": title, "source": source, "file": str(path)}


@catalogue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list.")
@click.option(
    "--kind",
    type=click.Choice(["scenario", "cause", "runbook", "alert", "experiment", "plan"]),
    multiple=True,
    help="Only these kinds (repeatable).",
)
def list_catalogue(as_json: bool, kind: tuple[str, ...]) -> None:
    """Every scenario, cause, runbook, alert, experiment and plan, with its source.

    The source is ``workspace`` for a file of the workspace (which hides a built-in file of
    the same name) and ``built-in`` for one of chaosdrill's reference catalogue.
    """
    ws = current()
    rows = [r for r in _rows(ws) if not kind or r["kind"] in kind]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"catalogue: {ws.describe()}")
    for col in ("kind", "name", "source"):
        table.add_column(col, no_wrap=True)
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=60)
    for r in rows:
        table.add_row(r["kind"], r["name"], r["source"], r["title"])
    app.console.print(table)
    target = ws.target()
    app.console.print(
        f"target {target.name} ({target.source}); it supports: "
        f"{', '.join(sorted(target.capabilities))}",
        highlight=False,
    )
    hidden = {k: ws.overridden(k) for k in ("scenarios", "runbooks", "rules", "experiments")}
    for k, entries in hidden.items():
        for name in entries:
            app.console.print(
                f"the workspace's {k} {name} overrides the built-in one", highlight=False
            )
