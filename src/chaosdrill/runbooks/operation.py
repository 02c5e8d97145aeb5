"""What a runbook step runs that can outlive it, and waiting for it.

A step calls an Environment operation (a rollout, a promotion, a SQL query) as an
:class:`Operation`, in a thread of its own, so that the step can stop waiting at its
timeout. The operation itself is not stopped: half a rollout is worse than a late one.
Instead the executor waits for it (:func:`settle`, bounded by a grace) before it returns, so
nothing else acts on the environment while it runs; :func:`running` lists those still
running, so a drill does not revert under one. A ``shell:`` command still running at the
timeout has its process group killed and is then waited for the same way
(:class:`KilledCommand`).

The thread is not a daemon: Python joins it at interpreter exit, so an exit never kills an
operation mid-way. A Ctrl-C while Python waits at exit stops that wait (Python then stops
joining), so an operation that hangs cannot hold the process forever. A stop signal while
the executor waits (:func:`wait_for`) stops the runbook only once the operation finished:
the stop signals are held meanwhile, as during a revert (chaosdrill.faults.signals).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from chaosdrill.faults.signals import held
from chaosdrill.runbooks.result import OperationWait

__all__ = ["KilledCommand", "Operation", "Pending", "running", "settle", "wait_for"]

logger = logging.getLogger(__name__)

_RUNNING: set[Operation] = set()
_LOCK = threading.Lock()


class Pending(Protocol):
    """What a step left running at its timeout: an operation, or a killed command."""

    what: str

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True once it has finished."""

    def error_text(self) -> str | None:
        """How it failed, once finished (None: it succeeded)."""


class Operation:
    """One call running in its own non-daemon thread; wait for it, then take its result.

    Attributes:
        what: what runs, in words (the operation's name: ``rollback``, ``sql``).
        started: monotonic time it started.
        ended: monotonic time it finished (None while it runs).
    """

    def __init__(self, what: str, fn: Callable[[], Any]) -> None:
        """Start ``fn`` in a new thread named after ``what``."""
        self.what = what
        self.started = time.monotonic()
        self.ended: float | None = None
        self._fn = fn
        self._value: Any = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        thread = threading.Thread(target=self._run, name=f"runbook {what}", daemon=False)
        with _LOCK:
            _RUNNING.add(self)
        try:
            thread.start()
        except BaseException:
            with _LOCK:
                _RUNNING.discard(self)
            raise

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to whoever takes the result
            self._error = exc
        finally:
            self.ended = time.monotonic()
            with _LOCK:
                _RUNNING.discard(self)
            self._done.set()

    @property
    def finished(self) -> bool:
        """The call has returned or raised."""
        return self._done.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True once the call has finished.

        A signal handler that raises (Ctrl-C) interrupts the wait, not the call.
        """
        return self._done.wait(max(timeout, 0.0))

    def error_text(self) -> str | None:
        """What the finished call raised, as ``Type: message`` (None: it succeeded)."""
        if self._error is None:
            return None
        return f"{type(self._error).__name__}: {self._error}".strip()

    def result(self) -> Any:
        """The call's return value; raises what the call raised.

        Raises:
            RuntimeError: the call has not finished.
        """
        if not self.finished:
            raise RuntimeError(f"{self.what} is still running")
        if self._error is not None:
            raise self._error
        return self._value


class KilledCommand:
    """A ``shell:`` step's command whose process group was killed at the step's timeout."""

    what = "shell"

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        """Wait for ``proc`` (already sent SIGKILL) and its output."""
        self.proc = proc

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to end and its output to close."""
        try:
            self.proc.communicate(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:  # a process outside its group holds its output
            return False
        return True

    def error_text(self) -> str | None:
        """How it ended: always killed."""
        code = self.proc.returncode
        return f"killed at the step's timeout (SIGKILL to its process group; exit code {code})"


def running() -> tuple[Operation, ...]:
    """The operations started in this process that are still running, oldest first."""
    with _LOCK:
        return tuple(sorted(_RUNNING, key=lambda op: op.started))


def wait_for(pending: Pending, until: float, grace_s: float, hint: str) -> bool:
    """Wait for ``pending`` until monotonic time ``until``; True once it has finished.

    A stop signal (Ctrl-C) meanwhile still stops the runbook, but only after ``pending``
    finished or ``grace_s`` more seconds passed: the stop signals are held meanwhile, as
    during a revert (a third Ctrl-C abandons the wait, naming ``hint``).
    """
    try:
        return pending.wait(until - time.monotonic())
    except KeyboardInterrupt:
        _wait_stopping(pending, time.monotonic() + grace_s, hint)
        raise


def _wait_stopping(pending: Pending, until: float, hint: str) -> None:
    logger.warning("stopping: waiting for %s to finish first", pending.what)
    with held(
        hint,
        doing=f"waiting for {pending.what} to finish",
        at_risk=(
            f"wait abandoned ({{signal}}): {pending.what} may still be running, "
            "and a drill's fault is left unreverted"
        ),
    ):
        if not pending.wait(until - time.monotonic()):
            logger.warning("%s is still running", pending.what)


def settle(pending: Pending, step: str, grace_s: float, hint: str) -> OperationWait:
    """Wait (at most ``grace_s``) for what step ``step`` left running; the record of it.

    A stop signal meanwhile waits out the rest of the grace first (:func:`wait_for`).
    """
    started = time.monotonic()
    try:
        finished = pending.wait(grace_s)
    except KeyboardInterrupt:
        _wait_stopping(pending, started + grace_s, hint)
        raise
    wait = OperationWait(
        step=step,
        operation=pending.what,
        started=started,
        ended=time.monotonic(),
        grace_s=grace_s,
        finished=finished,
        error=pending.error_text() if finished else None,
    )
    if not finished:
        logger.warning(
            "%s of step %r is still running %g s after the step's timeout; this process "
            "waits for it before it exits",
            pending.what,
            step,
            grace_s,
        )
    return wait
