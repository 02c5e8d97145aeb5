"""The one application object of the command line: consoles, common options, exits.

Every command module imports :data:`app` and the option decorators from here, so the
console, the environment option and the way a command ends are written once. Commands only
parse their arguments and call the library; an error's class decides the exit code
(:class:`~chaosdrill.errors.UsageError` 2, :class:`~chaosdrill.errors.RuntimeFailure` 3).

Exit codes (:class:`~chaosdrill.errors.Exit`): 0 success, 1 a check or drill failed,
2 invalid input (nothing was changed), 3 a runtime failure (a component, a port, a
database, a crashed drill), 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console

from chaosdrill.environments.opening import DEFAULT_NAME, NAME_VARIABLE, environment_name
from chaosdrill.errors import DrillError, Exit

if TYPE_CHECKING:
    from chaosdrill.environments.local import LocalEnvironment

__all__ = ["Application", "app", "env_option"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Application:
    """The consoles and the ways a command ends, shared by every command."""

    console: Console = field(default_factory=lambda: Console(highlight=False))
    err_console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def env_name(self, given: str | None, plan_env: str | None = None) -> str:
        """The environment to use (:func:`~chaosdrill.environments.environment_name`)."""
        return environment_name(given, plan_env)

    def environment(self, name: str | None) -> LocalEnvironment:
        """Attach to the running environment ``name`` (EnvironmentNotFoundError if it is not up).

        While a training session runs on it, the environment records every operation the
        command runs in the session's log (chaosdrill.training.recording).
        """
        from chaosdrill.environments.local import LocalEnvironment
        from chaosdrill.training.recording import recording

        ctx = click.get_current_context(silent=True)
        command = ctx.command_path.removeprefix("chaosdrill ") if ctx is not None else ""
        return recording(LocalEnvironment.attach(self.env_name(name)), command)

    def exit(self, code: int) -> NoReturn:
        """End the command with ``code``."""
        sys.exit(int(code))

    def fail_unless(self, ok: bool) -> None:
        """End with :attr:`Exit.FAILED` when a check did not pass."""
        if not ok:
            self.exit(Exit.FAILED)

    def report_error(self, exc: DrillError) -> int:
        """Print an error with its notes on stderr; return the exit code its class gives."""
        self.err_console.print(f"[red]error:[/] {exc}")
        for note in getattr(exc, "__notes__", []):
            self.err_console.print(note)
        return exc.exit_code


app = Application()
"""The command line's application object."""


def env_option(func: F) -> F:
    """``--name NAME``: the environment a command works on (one name, one default rule)."""
    return click.option(
        "--name",
        "name",
        default=None,
        metavar="NAME",
        help=(
            f"Environment name (default: ${NAME_VARIABLE}, else the plan's or experiment's, "
            f"else {DEFAULT_NAME!r})."
        ),
    )(func)
