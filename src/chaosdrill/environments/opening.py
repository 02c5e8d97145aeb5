"""One way to get a drill's environment: attach to a running one, or bring it up.

The drill, plans and the pytest plugin all call :func:`open_environment`; each backend
decides what "running" means and how it comes up. Backends are imported on use, so
naming a backend that is not installed costs nothing until it is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from chaosdrill.environments.base import Environment
from chaosdrill.errors import InvalidInputError

__all__ = ["BACKENDS", "DEFAULT_NAME", "NAME_VARIABLE", "environment_name", "open_environment"]

Opener = Callable[[str, float, int | None], tuple[Environment, bool]]


def _open_local(name: str, time_scale: float, replicas: int | None) -> tuple[Environment, bool]:
    from chaosdrill.environments.local import LocalEnvironment

    return LocalEnvironment.open(name, time_scale=time_scale, replicas=replicas)


_OPENERS: dict[str, Opener] = {"local": _open_local}

BACKENDS: tuple[str, ...] = tuple(_OPENERS)
"""The backends this version can run drills on."""

DEFAULT_NAME = "default"
"""The environment's name when nothing names one."""
NAME_VARIABLE = "CHAOSDRILL_ENV"
"""The environment variable that names the environment for every command."""


def environment_name(given: str | None = None, declared: str | None = None) -> str:
    """The one rule for which environment a command or drill uses.

    ``given`` (``--name``, or a caller's argument) wins; then ``$CHAOSDRILL_ENV``; then what
    the plan or experiment ``declared``; then :data:`DEFAULT_NAME`.
    """
    return given or os.environ.get(NAME_VARIABLE) or declared or DEFAULT_NAME


def open_environment(
    name: str,
    *,
    backend: str = "local",
    time_scale: float = 1.0,
    replicas: int | None = None,
    source: str | None = None,
    field: str = "backend",
) -> tuple[Environment, bool]:
    """The environment ``name`` of ``backend`` at ``time_scale``, and whether the caller owns it.

    A running environment is attached to and its monitoring re-timed for ``time_scale``
    (the caller does not own it: leave it up). Otherwise a new one is brought up with
    ``replicas`` service replicas (the backend's default if None); the caller owns it and
    takes it down with ``down()``.

    Raises:
        InvalidInputError: ``backend`` is not one of :data:`BACKENDS` (``source`` and
            ``field`` say where it was asked for, e.g. a plan's ``environment.backend``).
    """
    opener = _OPENERS.get(backend)
    if opener is None:
        raise InvalidInputError(
            f"unknown environment backend {backend!r}; expected one of: {', '.join(BACKENDS)}",
            source=source,
            field=field,
        )
    return opener(name, time_scale, replicas)
