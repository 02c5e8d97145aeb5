"""What a runbook run did: one :class:`StepResult` per step, a :class:`RunbookResult` per run.

A step whose operation was still running at its timeout failed at its timeout; the run's
:class:`OperationWait` says how long the executor then waited for that operation and how it
ended. Made by :func:`chaosdrill.runbooks.executor.run_runbook`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OperationWait", "RunbookResult", "StepResult"]


@dataclass(frozen=True)
class StepResult:
    """What one step did.

    Attributes:
        index: 1-based position in the runbook.
        name: the step's name.
        action: the action in words ('' for a check-only step).
        check: the check in words ('' when the step has none).
        started_wall: wall-clock start (seconds since the epoch), a label only.
        started: monotonic start.
        ended: monotonic end.
        ok: the action succeeded and the check passed (or the step was skipped).
        skipped: the step's condition did not hold, so it did nothing.
        attempts: how many times the check ran.
        output: short output of the action and the last check attempt.
        error: why the step failed (None when ok).
        window_wait: monotonic (from, to) of a PromQL check's retries: the time the step
            waited for a rule window to pass, which a drill's time scale compresses (None:
            the step did not wait on a PromQL window).
    """

    index: int
    name: str
    action: str
    check: str
    started_wall: float
    started: float
    ended: float
    ok: bool
    skipped: bool = False
    attempts: int = 0
    output: str = ""
    error: str | None = None
    window_wait: tuple[float, float] | None = None

    @property
    def duration_s(self) -> float:
        """Seconds the step took (monotonic clock)."""
        return self.ended - self.started

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the duration."""
        return {**dataclasses.asdict(self), "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class OperationWait:
    """The wait for a step's operation that outlived the step's timeout.

    The step failed at its timeout; then the executor waited for the operation, at most
    ``grace_s``, before anything else could act on the environment.

    Attributes:
        step: the name of the step whose operation it is.
        operation: the operation (``rollback``, ``sql``; ``shell`` for a command whose
            process group was killed at the timeout and then waited for).
        started: monotonic start of the wait (the step's end).
        ended: monotonic end of the wait.
        grace_s: the most the executor would wait.
        finished: the operation ended within the grace; False: it is still running.
        error: how the finished operation failed (None: it succeeded, or still runs).
    """

    step: str
    operation: str
    started: float
    ended: float
    grace_s: float
    finished: bool
    error: str | None = None

    @property
    def waited_s(self) -> float:
        """Seconds the executor waited (monotonic clock)."""
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        """The operation finished within the grace and succeeded."""
        return self.finished and self.error is None

    def summary(self) -> str:
        """One line: what was waited for, how long, and how it ended."""
        head = f"waited {self.waited_s:.1f} s for {self.operation} (step {self.step!r})"
        if not self.finished:
            return f"{head}: still running after the {self.grace_s:g} s grace"
        return f"{head}: {'it failed: ' + self.error if self.error else 'it finished'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "step": self.step,
            "operation": self.operation,
            "waited_s": round(self.waited_s, 3),
            "grace_s": self.grace_s,
            "finished": self.finished,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True)
class RunbookResult:
    """What a runbook run did: every step run, and the names of those not run.

    ``operation_wait`` is the wait for an operation that outlived its step (None: none did);
    ``ended`` is after that wait.
    """

    runbook: str
    env_name: str
    params: Mapping[str, Any]
    time_scale: float
    started_wall: float
    started: float
    ended: float
    steps: tuple[StepResult, ...]
    not_run: tuple[str, ...] = ()
    operation_wait: OperationWait | None = None

    @property
    def settled(self) -> bool:
        """No operation of the run is still running (False: the grace ran out)."""
        return self.operation_wait is None or self.operation_wait.finished

    @property
    def ok(self) -> bool:
        """Every step succeeded (or was skipped) and none was left out."""
        return all(s.ok for s in self.steps) and not self.not_run

    @property
    def duration_s(self) -> float:
        """Seconds the whole run took (monotonic clock)."""
        return self.ended - self.started

    @property
    def failed_step(self) -> StepResult | None:
        """The step that stopped the run, if one did."""
        return next((s for s in self.steps if not s.ok), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for reports and ``--json``)."""
        return {
            "runbook": self.runbook,
            "env_name": self.env_name,
            "params": dict(self.params),
            "time_scale": self.time_scale,
            "started_wall": self.started_wall,
            "duration_s": round(self.duration_s, 3),
            "ok": self.ok,
            "steps": [s.to_dict() for s in self.steps],
            "not_run": list(self.not_run),
            "operation_wait": self.operation_wait.to_dict() if self.operation_wait else None,
            "settled": self.settled,
        }
