"""One way to get a drill's environment: attach to a running one, or bring it up.

The drill, plans and the pytest plugin all call :func:`hold_environment` (or
:func:`open_environment`, which holds nothing); each backend decides what "running" means
and how it comes up. Backends are imported on use, so naming a backend that is not installed
costs nothing until it is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from chaosdrill.environments.base import Environment
from chaosdrill.environments.holding import Claim, Hold
from chaosdrill.errors import InvalidInputError

__all__ = [
    "BACKENDS",
    "DEFAULT_NAME",
    "NAME_VARIABLE",
    "HeldEnvironment",
    "environment_name",
    "hold_environment",
    "open_environment",
]

Opener = Callable[[str, float, int | None, Claim | None], tuple[Environment, bool, Hold | None]]


def _open_local(
    name: str, time_scale: float, replicas: int | None, claim: Claim | None
) -> tuple[Environment, bool, Hold | None]:
    from chaosdrill.environments.local import LocalEnvironment

    return LocalEnvironment.open(name, time_scale=time_scale, replicas=replicas, claim=claim)


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


def _opener(backend: str, source: str | None, field: str) -> Opener:
    opener = _OPENERS.get(backend)
    if opener is None:
        raise InvalidInputError(
            f"unknown environment backend {backend!r}; expected one of: {', '.join(BACKENDS)}",
            source=source,
            field=field,
        )
    return opener


def open_environment(
    name: str,
    *,
    backend: str = "local",
    time_scale: float = 1.0,
    replicas: int | None = None,
    source: str | None = None,
    field: str = "backend",
) -> tuple[Environment, bool]:
    """The environment ``name`` of ``backend``, and whether the caller owns it.

    A running environment is attached to as it is (the caller does not own it: leave it
    up). Otherwise a new one is brought up at ``time_scale`` with ``replicas`` service
    replicas (the backend's default if None); the caller owns it and takes it down with
    ``down()``. Nothing is held: to run drills on it, use :func:`hold_environment`.

    Raises:
        InvalidInputError: ``backend`` is not one of :data:`BACKENDS` (``source`` and
            ``field`` say where it was asked for, e.g. a plan's ``environment.backend``).
    """
    env, owns, _ = _opener(backend, source, field)(name, time_scale, replicas, None)
    return env, owns


@dataclass(frozen=True)
class HeldEnvironment:
    """An environment opened and held: release ``hold`` when done (after ``down()``)."""

    env: Environment
    owns: bool
    hold: Hold


def hold_environment(
    name: str,
    claim: Claim,
    *,
    backend: str = "local",
    time_scale: float = 1.0,
    replicas: int | None = None,
    source: str | None = None,
    field: str = "backend",
) -> HeldEnvironment:
    """:func:`open_environment`, and the environment held for ``claim`` in the same step.

    No other drill gets in between the attach (or bring-up) and the hold. An environment
    attached to is not re-timed here: the holder re-times it (``apply_time_scale``) now that
    nothing else runs on it (chaosdrill.environments.holding).

    Raises:
        InvalidInputError: ``backend`` is not one of :data:`BACKENDS`.
        EnvironmentBusyError: another live drill, plan or session holds it; nothing was
            changed.
    """
    env, owns, hold = _opener(backend, source, field)(name, time_scale, replicas, claim)
    assert hold is not None
    return HeldEnvironment(env, owns, hold)
