"""``chaosdrill``: the command line. It only parses and calls the library.

The root group and the console script's entry point; each command group lives in a module
of its own and shares the application object of :mod:`chaosdrill.cli.application` (exit
codes are documented there).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from chaosdrill import __version__
from chaosdrill.cli.application import app
from chaosdrill.cli.env import env
from chaosdrill.cli.gate import gate
from chaosdrill.cli.load import integrity, load
from chaosdrill.cli.ops import ops
from chaosdrill.cli.report import report
from chaosdrill.cli.run import run
from chaosdrill.cli.runbook import runbook
from chaosdrill.cli.training import incident, pager, train
from chaosdrill.cli.validate import validate
from chaosdrill.cli.workspace import catalogue, init
from chaosdrill.errors import DrillError, Exit
from chaosdrill.training.session import TRAINEE_VARIABLE
from chaosdrill.workspace import WORKSPACE_ENV, WORKSPACE_FILE

__all__ = ["cli", "main"]


@click.group()
@click.version_option(__version__, prog_name="chaosdrill")
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"The workspace (a directory with a {WORKSPACE_FILE}) [default: ${WORKSPACE_ENV}, "
    f"else the nearest {WORKSPACE_FILE} here or above, else the built-in catalogue alone].",
)
@click.option(
    "--as",
    "as_name",
    default=None,
    metavar="NAME",
    help="Who runs the command, recorded in a training session "
    "[default: $CHAOSDRILL_TRAINEE, else your user name].",
)
def cli(workspace: Path | None, as_name: str | None) -> None:
    """Chaos drills for incident response.

    Break a real system, prove the alert pages and the runbook restores it, score the drill.
    """
    if workspace is not None:  # the processes a drill starts see the same workspace
        os.environ[WORKSPACE_ENV] = str(workspace.absolute())
    if as_name:
        os.environ[TRAINEE_VARIABLE] = as_name


for _group in (
    catalogue,
    env,
    gate,
    incident,
    init,
    ops,
    load,
    pager,
    report,
    run,
    runbook,
    train,
    validate,
):
    cli.add_command(_group)
ops.add_command(integrity)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``chaosdrill`` console script."""
    try:
        return cli.main(args=argv, prog_name="chaosdrill", standalone_mode=False)
    except click.exceptions.Abort:
        app.err_console.print("aborted")
        app.exit(Exit.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        app.exit(exc.exit_code)
    except DrillError as exc:
        app.exit(app.report_error(exc))
