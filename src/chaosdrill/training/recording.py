"""Recording what trainees do: every operation against an environment during a session.

The command line hands its commands the environment through
:func:`recording`: while a training session runs on it, the environment comes wrapped so
that each operation a person runs (``chaosdrill ops ...``, ``env logs``, ``runbook run``
and the operations its steps run) is written to the session's event log as an ``op``
event, with its time, the person (``--as NAME`` or ``$CHAOSDRILL_TRAINEE``), the operation
and its arguments as text (secrets redacted), and its effect (``ok`` or the error's
class). The debrief classifies each one against the cause's ``resolved_by`` and ``harms``.
Outside a session the environment is handed over as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from chaosdrill.training.session import Session, active_session, trainee

__all__ = ["OPERATIONS", "mark", "record_op", "recording"]

E = TypeVar("E")

#: The Environment operations a person can run, recorded when they do.
OPERATIONS = frozenset(
    {
        "deployment_status",
        "rollout_restart",
        "scale",
        "deploy_revision",
        "rollback",
        "reconcile",
        "rollout_history",
        "logs",
        "top",
        "database_status",
        "crash_primary",
        "stop_database",
        "start_database",
        "promote_replica",
        "rebuild_replica",
        "sql",
        "check_database",
        "cache_status",
        "flush_cache",
        "stop_cache",
        "start_cache",
        "freeze_cache",
        "thaw_cache",
        "restart_cache",
        "check_cache",
        "get_flags",
        "set_flag",
        "clear_flag",
        "components",
    }
)


def _text(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    from chaosdrill.faults.redaction import redact_text

    parts = [str(a) for a in args if a is not None]
    parts += [f"{k}={v}" for k, v in kwargs.items() if v is not None]
    return redact_text(" ".join(parts))


def record_op(session: Session, op: str, args: str, effect: str, command: str = "") -> None:
    """Write one ``op`` event for the person running this process."""
    session.log.record("op", who=trainee(), op=op, args=args, effect=effect, command=command)


class _Recording:
    """An environment whose operations are written to a session's log."""

    def __init__(self, env: Any, session: Session, command: str) -> None:
        self._env = env
        self._session = session
        self._command = command

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._env, name)
        if name not in OPERATIONS or not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            text = _text(args, kwargs)
            try:
                out = attr(*args, **kwargs)
            except BaseException as exc:
                record_op(self._session, name, text, f"failed: {type(exc).__name__}", self._command)
                raise
            record_op(self._session, name, text, "ok", self._command)
            return out

        return cast(Callable[..., Any], call)


def recording(env: E, command: str = "") -> E:
    """``env`` itself, or ``env`` recording its operations while a session runs on it."""
    session = active_session(getattr(env, "name", ""))
    if session is None:
        return env
    return cast(E, _Recording(env, session, command))


def mark(env: Any, op: str, args: str = "") -> None:
    """Record a look that is not an Environment operation (``env alerts``) during a session."""
    if isinstance(env, _Recording):
        record_op(env._session, op, args, "ok", env._command)
