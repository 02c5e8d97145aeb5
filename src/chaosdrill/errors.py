"""The errors chaosdrill raises, all under one root.

The hierarchy::

    DrillError                      root: catch this to catch everything chaosdrill raises
    ├── UsageError                  the caller's mistake: bad input, nothing was changed
    │   ├── InvalidInputError       a file, field or argument that is not what was expected
    │   ├── UnknownComponentError   a component name the environment does not have
    │   └── EnvironmentExistsError  `env up` of a name that is already up
    └── RuntimeFailure              the world failed: a program, a port, a database
        ├── ProgramMissingError     required programs are not installed (lists each and the fix)
        ├── ComponentStartError     a part of the environment did not become ready
        ├── EnvironmentNotFoundError an operation on an environment that is not up
        ├── EnvironmentBusyError    another drill (plan, session) holds the environment
        ├── BrokenStateError        an environment's state file is torn or not its own format
        └── OperationError          an Environment operation (scale, promote, ...) failed

Caller mistakes exit with code 2 from the CLI, runtime failures with code 3; :class:`Exit`
lists every exit code of the command line, the drill worker and the gate.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaosdrill.environments.holding import Holder

__all__ = [
    "BrokenStateError",
    "ComponentStartError",
    "DrillError",
    "EnvironmentBusyError",
    "EnvironmentExistsError",
    "EnvironmentNotFoundError",
    "Exit",
    "InvalidInputError",
    "OperationError",
    "ProgramMissingError",
    "RuntimeFailure",
    "UnknownComponentError",
    "UsageError",
]


class DrillError(Exception):
    """Root of every error chaosdrill raises."""

    exit_code = 3


class UsageError(DrillError):
    """The caller asked for something invalid; nothing was changed."""

    exit_code = 2


class InvalidInputError(UsageError):
    """A file, field or argument is not what was expected.

    Args:
        message: what is wrong and what was expected.
        source: the file (or argument) the bad value came from.
        line: 1-based line number in ``source`` where known.
        field: dotted path of the offending field where known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.detail = message
        where = ""
        if source:
            where = source + (f":{line}" if line else "")
        if field:
            where = f"{where} field {field!r}" if where else f"field {field!r}"
        super().__init__(f"{where}: {message}" if where else message)


class UnknownComponentError(UsageError):
    """A component name that the environment does not have."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown component {name!r}; expected one of: {', '.join(known)}")


class EnvironmentExistsError(UsageError):
    """`env up` was asked for an environment name that is already up."""


class RuntimeFailure(DrillError):
    """Something in the world failed (a program, a port, a database)."""


class ProgramMissingError(RuntimeFailure):
    """Programs the environment needs are not installed.

    Args:
        missing: program name -> (paths looked in, how to install it).
    """

    def __init__(self, missing: dict[str, tuple[list[str], str]]) -> None:
        self.missing = missing
        lines = ["required programs are missing:"]
        for program, (looked_in, fix) in missing.items():
            lines.append(f"  - {program}: looked in {', '.join(looked_in)}; install with: {fix}")
        lines.append("run scripts/bootstrap.sh (as root) to install everything at once")
        super().__init__("\n".join(lines))


class ComponentStartError(RuntimeFailure):
    """A component of the environment did not start or did not become ready."""

    def __init__(self, component: str, reason: str, log_tail: str = "") -> None:
        self.component = component
        self.reason = reason
        self.log_tail = log_tail
        super().__init__(f"{component} did not become ready: {reason}")
        if log_tail:
            self.add_note(f"last lines of the {component} log:\n{log_tail}")


class EnvironmentNotFoundError(RuntimeFailure):
    """An operation was asked of an environment that is not up."""


class EnvironmentBusyError(RuntimeFailure):
    """Another live process holds the environment (one drill at a time); nothing was changed.

    Args:
        env_name: the environment.
        holder: what holds it (chaosdrill.environments.holding.Holder).
    """

    def __init__(self, env_name: str, holder: Holder) -> None:
        self.env_name = env_name
        self.holder = holder
        super().__init__(
            f"environment {env_name!r} is held by {holder.describe()}; one drill runs on an "
            "environment at a time. Wait until it ends, run on another environment (--name), "
            f"or stop it with `kill -TERM {holder.pid}` (it reverts its fault first). A holder "
            f"that is gone is cleared by the next drill or `chaosdrill env recover --name "
            f"{env_name}`; a live holder's hold is never cleared"
        )


class BrokenStateError(RuntimeFailure):
    """An environment's state file cannot be read (torn, truncated or edited by hand).

    Args:
        path: the state file.
        reason: what is wrong with it.
        remedy: what to do (how to take the environment down).
    """

    def __init__(self, path: str, reason: str, remedy: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path} cannot be read ({reason}); {remedy}")


class OperationError(RuntimeFailure):
    """An Environment operation failed (scale, rollout, promote, SQL, ...)."""


class Exit(IntEnum):
    """Exit codes: of ``chaosdrill`` commands, drill worker processes and the gate."""

    OK = 0
    """Success: every drill and check passed."""
    FAILED = 1
    """A drill, gate or check failed."""
    USAGE = UsageError.exit_code
    """Invalid input; nothing was changed or started."""
    RUNTIME = RuntimeFailure.exit_code
    """A runtime failure: a component, a port, a database, a drill that crashed."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C or SIGTERM); the fault was reverted."""
