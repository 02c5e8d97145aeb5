"""What a runbook run did: one :class:`StepResult` per step, a :class:`RunbookResult` per run.

Made by :func:`chaosdrill.runbooks.executor.run_runbook`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RunbookResult", "StepResult"]


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

    @property
    def duration_s(self) -> float:
        """Seconds the step took (monotonic clock)."""
        return self.ended - self.started

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the duration."""
        return {**dataclasses.asdict(self), "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class RunbookResult:
    """What a runbook run did: every step run, and the names of those not run."""

    runbook: str
    env_name: str
    params: Mapping[str, Any]
    time_scale: float
    started_wall: float
    started: float
    ended: float
    steps: tuple[StepResult, ...]
    not_run: tuple[str, ...] = ()

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
        }
