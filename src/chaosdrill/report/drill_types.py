"""One drill of report.json as typed values (``DrillSection`` and its parts).

Each type mirrors one object of schemas/report.schema.json: ``from_json`` reads it (a bad
value is an ``InvalidInputError`` with the file and field), ``to_json`` writes it back with
the same keys in the same order, so a report.json read and written again is byte-identical.
Free-form objects of the schema (fault parameters, environment, event detail, integrity)
stay dicts: they are whatever the fault or probe recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject

__all__ = [
    "GRADES",
    "LEVELS",
    "Check",
    "Escalation",
    "Markers",
    "Notify",
    "OperationWait",
    "RunbookRun",
    "RunbookStep",
    "Score",
    "ScorePart",
    "Severity",
    "Targets",
    "TimePair",
    "TimelineEvent",
    "Times",
    "Verdict",
]

GRADES = ("A", "B", "C", "D", "F")
LEVELS = ("P1", "P2", "P3", "P4")
PARTS = ("detection", "recovery", "impact", "verification", "hygiene")
_PAIR = ("drill_s", "production_s")


@dataclass(frozen=True)
class TimePair:
    """A time in drill seconds and its production equivalent.

    The production equivalent is the result's split figure (scaled time x K, program time
    as it is), or drill seconds x K for a drill whose ``timing_method`` is ``drill x K``.
    """

    drill_s: float | None
    production_s: float | None

    @classmethod
    def from_json(cls, o: JsonObject) -> TimePair:
        """Read it from report.json (a bad value names its field)."""
        o.only(_PAIR)
        return cls(o.opt_number("drill_s"), o.opt_number("production_s"))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {"drill_s": self.drill_s, "production_s": self.production_s}


@dataclass(frozen=True)
class Targets:
    """The drill's targets: MTTD, MTTR and how long steady state must hold."""

    mttd: TimePair
    mttr: TimePair
    hold: TimePair

    @classmethod
    def from_json(cls, o: JsonObject) -> Targets:
        """Read it from report.json (a bad value names its field)."""
        return cls(*(TimePair.from_json(o.child(k)) for k in ("mttd", "mttr", "hold")))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "mttd": self.mttd.to_json(),
            "mttr": self.mttr.to_json(),
            "hold": self.hold.to_json(),
        }


@dataclass(frozen=True)
class Times:
    """What the drill measured, relative to the fault."""

    mttd: TimePair
    mttr: TimePair
    time_to_mitigate: TimePair
    time_to_first_impact: TimePair

    @classmethod
    def from_json(cls, o: JsonObject) -> Times:
        """Read it from report.json (a bad value names its field)."""
        keys = ("mttd", "mttr", "time_to_mitigate", "time_to_first_impact")
        return cls(*(TimePair.from_json(o.child(k)) for k in keys))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "mttd": self.mttd.to_json(),
            "mttr": self.mttr.to_json(),
            "time_to_mitigate": self.time_to_mitigate.to_json(),
            "time_to_first_impact": self.time_to_first_impact.to_json(),
        }


@dataclass(frozen=True)
class Verdict:
    """The drill's own pass/fail checks (from the drill result)."""

    passed: bool
    checks: Mapping[str, bool]
    reasons: tuple[str, ...]

    @classmethod
    def from_json(cls, o: JsonObject) -> Verdict:
        """Read it from report.json (a bad value names its field)."""
        checks = o.child("checks")
        return cls(o.flag("passed"), {n: checks.flag(n) for n in checks.data}, o.texts("reasons"))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {"passed": self.passed, "checks": dict(self.checks), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class ScorePart:
    """One of the five parts of a drill's score."""

    name: str
    points: float
    max_points: float
    measured: str
    target: str
    reasons: tuple[str, ...]

    @classmethod
    def from_json(cls, o: JsonObject) -> ScorePart:
        """Read it from report.json (a bad value names its field)."""
        o.only(("name", "points", "max_points", "measured", "target", "reasons"))
        return cls(
            o.choice("name", PARTS),
            o.number("points"),
            o.number("max_points"),
            o.text("measured"),
            o.text("target"),
            o.texts("reasons"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "name": self.name,
            "points": self.points,
            "max_points": self.max_points,
            "measured": self.measured,
            "target": self.target,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Score:
    """A drill's score out of 100, its grade, and why points were lost."""

    points: float
    max_points: float
    grade: str
    passed: bool
    capped_by: str | None
    reasons: tuple[str, ...]
    parts: tuple[ScorePart, ...]

    @classmethod
    def from_json(cls, o: JsonObject) -> Score:
        """Read it from report.json (a bad value names its field)."""
        o.only(("points", "max_points", "grade", "passed", "capped_by", "reasons", "parts"))
        return cls(
            o.number("points"),
            o.number("max_points"),
            o.choice("grade", GRADES),
            o.flag("passed"),
            o.opt_text("capped_by"),
            o.texts("reasons"),
            tuple(ScorePart.from_json(p) for p in o.children("parts")),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "points": self.points,
            "max_points": self.max_points,
            "grade": self.grade,
            "passed": self.passed,
            "capped_by": self.capped_by,
            "reasons": list(self.reasons),
            "parts": [p.to_json() for p in self.parts],
        }


@dataclass(frozen=True)
class Severity:
    """The incident's level (P1-P4), what it means, and the measured inputs."""

    level: str
    name: str
    meaning: str
    revenue_band: str
    reasons: tuple[str, ...]
    revenue_per_hour_usd: float
    availability: float
    error_rate: float
    p95_latency_s: float
    data_loss: bool

    @classmethod
    def from_json(cls, o: JsonObject) -> Severity:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.choice("level", LEVELS),
            o.text("name"),
            o.text("meaning"),
            o.text("revenue_band"),
            o.texts("reasons"),
            o.number("revenue_per_hour_usd"),
            o.number("availability"),
            o.number("error_rate"),
            o.number("p95_latency_s"),
            o.flag("data_loss"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "level": self.level,
            "name": self.name,
            "meaning": self.meaning,
            "revenue_band": self.revenue_band,
            "reasons": list(self.reasons),
            "revenue_per_hour_usd": self.revenue_per_hour_usd,
            "availability": self.availability,
            "error_rate": self.error_rate,
            "p95_latency_s": self.p95_latency_s,
            "data_loss": self.data_loss,
        }


@dataclass(frozen=True)
class Notify:
    """One person to notify: their role, name, and when (production seconds) if timed."""

    role: str
    role_key: str
    person: str
    at_s: float | None

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "role": self.role,
            "role_key": self.role_key,
            "person": self.person,
            "at_s": self.at_s,
        }


@dataclass(frozen=True)
class Escalation:
    """Who the incident's level and duration bring in."""

    level: str
    duration_production_s: float | None
    triggered: tuple[str, ...]
    notify: tuple[Notify, ...]

    @classmethod
    def from_json(cls, o: JsonObject) -> Escalation:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.choice("level", LEVELS),
            o.opt_number("duration_production_s"),
            o.texts("triggered"),
            tuple(
                Notify(n.text("role"), n.text("role_key"), n.text("person"), n.opt_number("at_s"))
                for n in o.children("notify")
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "level": self.level,
            "duration_production_s": self.duration_production_s,
            "triggered": list(self.triggered),
            "notify": [n.to_json() for n in self.notify],
        }


_MARKERS = ("inject", "first_impact", "page", "mitigated", "recovered", "resolved")


@dataclass(frozen=True)
class Markers:
    """Chart markers: seconds after the fault of each milestone, None when it never came."""

    inject: float | None
    first_impact: float | None
    page: float | None
    mitigated: float | None
    recovered: float | None
    resolved: float | None

    @classmethod
    def from_json(cls, o: JsonObject) -> Markers:
        """Read it from report.json (a bad value names its field)."""
        o.only(_MARKERS)
        o.need(_MARKERS)
        return cls(*(o.opt_number(k) for k in _MARKERS))

    def items(self) -> list[tuple[str, float | None]]:
        """(marker name, time) in report order."""
        return [(k, getattr(self, k)) for k in _MARKERS]

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return dict(self.items())


@dataclass(frozen=True)
class TimelineEvent:
    """One event of the drill's timeline, relative to the fault."""

    name: str
    label: str
    t_s: float
    production_s: float
    wall: str | None
    detail: Mapping[str, Any]

    @classmethod
    def from_json(cls, o: JsonObject) -> TimelineEvent:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.text("name"),
            o.text("label"),
            o.number("t_s"),
            o.number("production_s"),
            o.opt_text("wall"),
            o.free("detail"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "name": self.name,
            "label": self.label,
            "t_s": self.t_s,
            "production_s": self.production_s,
            "wall": self.wall,
            "detail": copy.deepcopy(dict(self.detail)),
        }


@dataclass(frozen=True)
class RunbookStep:
    """One step of a runbook run: ok, how long, its error and (the start of) its output."""

    name: str | None
    ok: bool
    duration_s: float | None
    error: str | None
    output: str = ""

    @classmethod
    def from_json(cls, o: JsonObject) -> RunbookStep:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.opt_text("name"),
            o.flag("ok"),
            o.opt_number("duration_s"),
            o.opt_text("error"),
            o.text("output", ""),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "name": self.name,
            "ok": self.ok,
            "duration_s": self.duration_s,
            "error": self.error,
            "output": self.output,
        }


@dataclass(frozen=True)
class OperationWait:
    """The wait for a step's operation that outlived the step's timeout.

    ``finished`` False: it was still running when the grace ran out (not settled).
    """

    step: str
    operation: str
    waited_s: float
    grace_s: float
    finished: bool
    error: str | None

    @property
    def ok(self) -> bool:
        """The operation finished within the grace and succeeded."""
        return self.finished and self.error is None

    def summary(self) -> str:
        """One line: what was waited for, how long, and how it ended."""
        head = f"waited {self.waited_s:.1f} s for {self.operation} (step {self.step!r})"
        if not self.finished:
            return f"{head}: still running after the {self.grace_s:g} s grace (not settled)"
        return f"{head}: {'it failed: ' + self.error if self.error else 'it finished'}"

    @classmethod
    def from_json(cls, o: JsonObject) -> OperationWait:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.text("step"),
            o.text("operation"),
            o.number("waited_s"),
            o.number("grace_s"),
            o.flag("finished"),
            o.opt_text("error"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "step": self.step,
            "operation": self.operation,
            "waited_s": self.waited_s,
            "grace_s": self.grace_s,
            "finished": self.finished,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True)
class RunbookRun:
    """One runbook the drill ran, its steps, and the wait for an operation that outlived one.

    ``operation_wait`` is None when no operation outlived its step (and in reports written
    before the wait was recorded); report.json then has no such key.
    """

    name: str | None
    ok: bool
    steps: tuple[RunbookStep, ...]
    operation_wait: OperationWait | None = None
    file: str | None = None  # the runbook file the name resolved to (None: older reports)
    source: str | None = None  # "workspace" or "built-in"

    @classmethod
    def from_json(cls, o: JsonObject) -> RunbookRun:
        """Read it from report.json (a bad value names its field)."""
        steps = tuple(RunbookStep.from_json(s) for s in o.children("steps"))
        wait = o.opt_child("operation_wait")
        return cls(
            o.opt_text("name"),
            o.flag("ok"),
            steps,
            OperationWait.from_json(wait) if wait is not None else None,
            o.opt_text("file"),
            o.opt_text("source"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        out: dict[str, Any] = {
            "name": self.name,
            "ok": self.ok,
            "steps": [s.to_json() for s in self.steps],
        }
        if self.operation_wait is not None:
            out["operation_wait"] = self.operation_wait.to_json()
        if self.file is not None:
            out["file"], out["source"] = self.file, self.source
        return out


@dataclass(frozen=True)
class Check:
    """One verification check after recovery."""

    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {"ok": self.ok, "detail": self.detail}
