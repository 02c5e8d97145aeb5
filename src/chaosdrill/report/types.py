"""report.json as typed values: ``Report`` (one run) and ``DrillSection`` (one drill).

``build_report`` makes a ``Report``; every renderer (Markdown, HTML, JUnit, comms, the
post-mortem draft, the terminal table, the history) reads it by attribute. ``to_json``
gives the report.json object (every key, in schema order, so a report read and written
again is byte-identical) and ``Report.from_json`` reads a version-1 report.json
back, partial reports of interrupted runs included. The parts of a drill (score, times,
severity, ...) are in ``chaosdrill.report.drill_types``, its chart data in
``chaosdrill.report.series_types``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.errors import InvalidInputError
from chaosdrill.report.drill_types import (
    GRADES,
    LEVELS,
    Check,
    Escalation,
    Markers,
    RunbookRun,
    Score,
    Severity,
    Targets,
    TimelineEvent,
    Times,
    Verdict,
)
from chaosdrill.report.series_types import DrillSeries
from chaosdrill.report.timing_types import OLD_METHOD, DrillTiming, PlanTiming, RecoveryNote
from chaosdrill.scoring.score import DrillImpact

__all__ = [
    "REPORT_VERSION",
    "Distribution",
    "DrillSection",
    "PlanRevenue",
    "PlanScoring",
    "PlanSettings",
    "Report",
    "Summary",
    "read_report",
]

REPORT_VERSION = 1


@dataclass(frozen=True)
class DrillSection:
    """One drill of a run: what was injected, what was measured, the score and the story.

    Attributes mirror a ``drills[]`` item of schemas/report.schema.json; times are seconds
    after the fault, each a drill/production pair where the schema has one.

    ``timing_method``: how the production-equivalents were computed (``split-v1``, or
    ``drill x K`` for a result written before the split; None: a report written before the
    field, whose times were drill x K). ``timing``: where the time went (split results
    only). ``recovery``: how the users saw the recovery (None: not recorded). The three are
    absent from report.json when None.
    """

    id: str
    experiment: str | None
    title: str
    scenario: str
    cause: str
    alert: str | None
    scenario_title: str
    cause_description: str
    seed_cause: str
    fault: Mapping[str, Any] | None
    environment: Mapping[str, Any]
    written_at: str | None
    started_at: str | None
    result_path: str | None
    time_scale: float
    complete: bool
    incomplete_reasons: tuple[str, ...]
    targets: Targets
    times: Times
    verdict: Verdict
    failures: tuple[str, ...]
    score: Score
    impact: DrillImpact
    severity: Severity
    escalation: Escalation
    markers: Markers
    timeline: tuple[TimelineEvent, ...]
    runbooks: tuple[RunbookRun, ...]
    verification: Mapping[str, Check]
    integrity: Mapping[str, Any] | None
    alerts_at_end: tuple[str, ...] | None
    series: DrillSeries
    improvements: tuple[str, ...]
    timing_method: str | None = None
    timing: DrillTiming | None = None
    recovery: RecoveryNote | None = None

    @property
    def old_timing(self) -> bool:
        """Its production-equivalents were computed the old way (drill seconds x K)."""
        return self.timing_method in (None, OLD_METHOD)

    @classmethod
    def from_json(cls, o: JsonObject) -> DrillSection:
        """Read one ``drills[]`` item."""
        scenario = o.text("scenario")
        if not o.text("id"):
            raise o.fail("id", "must not be empty")
        return cls(
            id=o.text("id"),
            experiment=o.opt_text("experiment"),
            title=o.text("title"),
            scenario=scenario,
            cause=o.text("cause"),
            alert=o.opt_text("alert"),
            scenario_title=o.text("scenario_title", scenario),
            cause_description=o.text("cause_description", ""),
            seed_cause=o.text("seed_cause", ""),
            fault=o.opt_free("fault"),
            environment=o.free("environment", {}),
            written_at=o.opt_text("written_at"),
            started_at=o.opt_text("started_at"),
            result_path=o.opt_text("result_path"),
            time_scale=o.number("time_scale"),
            complete=o.flag("complete"),
            incomplete_reasons=o.texts("incomplete_reasons"),
            targets=Targets.from_json(o.child("targets")),
            times=Times.from_json(o.child("times")),
            verdict=Verdict.from_json(o.child("verdict")),
            failures=o.texts("failures"),
            score=Score.from_json(o.child("score")),
            impact=DrillImpact.from_json(o.child("impact")),
            severity=Severity.from_json(o.child("severity")),
            escalation=Escalation.from_json(o.child("escalation")),
            markers=Markers.from_json(o.child("markers")),
            timeline=tuple(TimelineEvent.from_json(e) for e in o.children("timeline")),
            runbooks=tuple(RunbookRun.from_json(b) for b in o.children("runbooks")),
            verification={
                n: Check(c.flag("ok"), c.text("detail"))
                for n, c in o.child("verification").members()
            },
            integrity=o.opt_free("integrity"),
            alerts_at_end=None if o.data.get("alerts_at_end") is None else o.texts("alerts_at_end"),
            series=DrillSeries.from_json(o.child("series")),
            improvements=o.texts("improvements"),
            timing_method=o.opt_text("timing_method"),
            timing=None if (tm := o.opt_child("timing")) is None else DrillTiming.from_json(tm),
            recovery=None
            if (rec := o.opt_child("recovery")) is None
            else RecoveryNote.from_json(rec),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``drills[]`` item, keys in report.json order."""
        out: dict[str, Any] = {
            "id": self.id,
            "experiment": self.experiment,
            "title": self.title,
            "scenario": self.scenario,
            "cause": self.cause,
            "alert": self.alert,
            "scenario_title": self.scenario_title,
            "cause_description": self.cause_description,
            "seed_cause": self.seed_cause,
            "fault": _copy(self.fault),
            "environment": copy.deepcopy(dict(self.environment)),
            "written_at": self.written_at,
            "started_at": self.started_at,
            "result_path": self.result_path,
            "time_scale": self.time_scale,
            "complete": self.complete,
            "incomplete_reasons": list(self.incomplete_reasons),
            "targets": self.targets.to_json(),
            "times": self.times.to_json(),
            "verdict": self.verdict.to_json(),
            "failures": list(self.failures),
            "score": self.score.to_json(),
            "impact": self.impact.to_json(),
            "severity": self.severity.to_json(),
            "escalation": self.escalation.to_json(),
            "markers": self.markers.to_json(),
            "timeline": [e.to_json() for e in self.timeline],
            "runbooks": [b.to_json() for b in self.runbooks],
            "verification": {n: c.to_json() for n, c in self.verification.items()},
            "integrity": _copy(self.integrity),
            "alerts_at_end": None if self.alerts_at_end is None else list(self.alerts_at_end),
            "series": self.series.to_json(),
            "improvements": list(self.improvements),
        }
        if self.timing_method is not None:
            out["timing_method"] = self.timing_method
        if self.timing is not None:
            out["timing"] = self.timing.to_json()
        if self.recovery is not None:
            out["recovery"] = self.recovery.to_json()
        return out


def _copy(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else copy.deepcopy(dict(value))


@dataclass(frozen=True)
class Distribution:
    """Min, median and max of a measure across drills, and how many had none."""

    n: int
    missing: int
    min: float | None
    median: float | None
    max: float | None

    @classmethod
    def from_json(cls, o: JsonObject) -> Distribution:
        """Read it from report.json (a bad value names its field)."""
        o.only(("n", "missing", "min", "median", "max"))
        o.need(("min", "median", "max"))
        return cls(
            o.integer("n"),
            o.integer("missing"),
            o.opt_number("min"),
            o.opt_number("median"),
            o.opt_number("max"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "n": self.n,
            "missing": self.missing,
            "min": self.min,
            "median": self.median,
            "max": self.max,
        }


_SUMMARY = (
    "points",
    "grade",
    "passed",
    "drills",
    "drills_passed",
    "mttd_s",
    "mttr_s",
    "points_distribution",
    "worst_severity",
    "worst_severity_name",
    "incomplete_drills",
    "reasons",
)


@dataclass(frozen=True)
class Summary:
    """The run's score, grade and verdict, and the distribution of MTTD, MTTR and points."""

    points: float
    grade: str
    passed: bool
    drills: int
    drills_passed: int
    mttd_s: Distribution
    mttr_s: Distribution
    points_distribution: Distribution
    worst_severity: str | None
    worst_severity_name: str | None
    incomplete_drills: tuple[str, ...]
    reasons: tuple[str, ...]

    @classmethod
    def from_json(cls, o: JsonObject) -> Summary:
        """Read it from report.json (a bad value names its field)."""
        o.only(_SUMMARY)
        worst = o.opt_text("worst_severity")
        if worst is not None and worst not in LEVELS:
            raise o.fail("worst_severity", f"expected one of {', '.join(LEVELS)}, got {worst!r}")
        return cls(
            o.number("points"),
            o.choice("grade", GRADES),
            o.flag("passed"),
            o.integer("drills"),
            o.integer("drills_passed"),
            Distribution.from_json(o.child("mttd_s")),
            Distribution.from_json(o.child("mttr_s")),
            Distribution.from_json(o.child("points_distribution")),
            worst,
            o.opt_text("worst_severity_name"),
            o.texts("incomplete_drills"),
            o.texts("reasons"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "points": self.points,
            "grade": self.grade,
            "passed": self.passed,
            "drills": self.drills,
            "drills_passed": self.drills_passed,
            "mttd_s": self.mttd_s.to_json(),
            "mttr_s": self.mttr_s.to_json(),
            "points_distribution": self.points_distribution.to_json(),
            "worst_severity": self.worst_severity,
            "worst_severity_name": self.worst_severity_name,
            "incomplete_drills": list(self.incomplete_drills),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class PlanScoring:
    """The plan's scoring: part weights, pass mark, the lost-write cap, the error budget."""

    weights: Mapping[str, float]
    pass_mark: float
    lost_write_cap: str
    error_budget_limit_pct: float

    @classmethod
    def from_json(cls, o: JsonObject) -> PlanScoring:
        """Read it from report.json (a bad value names its field)."""
        w = o.child("weights")
        return cls(
            {n: w.number(n) for n in w.data},
            o.number("pass_mark"),
            o.choice("lost_write_cap", GRADES),
            o.number("error_budget_limit_pct"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "weights": dict(self.weights),
            "pass_mark": self.pass_mark,
            "lost_write_cap": self.lost_write_cap,
            "error_budget_limit_pct": self.error_budget_limit_pct,
        }


@dataclass(frozen=True)
class PlanRevenue:
    """The revenue model: production enrollments per hour and the average price."""

    enrollments_per_hour: float
    average_price_usd: float

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "enrollments_per_hour": self.enrollments_per_hour,
            "average_price_usd": self.average_price_usd,
        }


@dataclass(frozen=True)
class PlanSettings:
    """The plan a run came from: name, file, mode, service, people, scoring, revenue."""

    name: str
    source: str | None
    mode: str
    service: str
    roles: Mapping[str, str]
    scoring: PlanScoring
    revenue: PlanRevenue

    @classmethod
    def from_json(cls, o: JsonObject) -> PlanSettings:
        """Read it from report.json (a bad value names its field)."""
        roles = o.child("roles")
        rev = o.child("revenue")
        return cls(
            o.text("name"),
            o.opt_text("source"),
            o.choice("mode", ("auto", "training")),
            o.text("service"),
            {n: roles.text(n) for n in roles.data},
            PlanScoring.from_json(o.child("scoring")),
            PlanRevenue(rev.number("enrollments_per_hour"), rev.number("average_price_usd")),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "name": self.name,
            "source": self.source,
            "mode": self.mode,
            "service": self.service,
            "roles": dict(self.roles),
            "scoring": self.scoring.to_json(),
            "revenue": self.revenue.to_json(),
        }


_REPORT = (
    "chaosdrill_report_version",
    "run_id",
    "kind",
    "generated_at",
    "plan",
    "complete",
    "interrupted",
    "summary",
    "timing",
    "drills",
)


@dataclass(frozen=True)
class Report:
    """One run of one drill or of a plan's drills (report.json, version 1).

    ``timing``: how the run's times were measured (None: a report written before it was
    recorded, whose times were drill seconds x K; report.json then has no such key).
    """

    run_id: str
    kind: str
    generated_at: str
    plan: PlanSettings
    complete: bool
    interrupted: str | None
    summary: Summary
    drills: tuple[DrillSection, ...]
    timing: PlanTiming | None = None

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> Report:
        """Read a report.json object.

        Args:
            data: the parsed JSON.
            source: the file it came from, for error messages.

        Raises:
            InvalidInputError: a field is missing or not what the schema says, naming
                ``source`` and the field's dotted path.
        """
        o = JsonObject.of(data, source)
        o.only(_REPORT)
        version = o.data.get("chaosdrill_report_version")
        if version != REPORT_VERSION:
            raise o.fail("chaosdrill_report_version", f"expected {REPORT_VERSION}, got {version!r}")
        o.need(("interrupted",))
        if not o.text("run_id"):
            raise o.fail("run_id", "must not be empty")
        return cls(
            run_id=o.text("run_id"),
            kind=o.choice("kind", ("drill", "plan")),
            generated_at=o.text("generated_at"),
            plan=PlanSettings.from_json(o.child("plan")),
            complete=o.flag("complete"),
            interrupted=o.opt_text("interrupted"),
            summary=Summary.from_json(o.child("summary")),
            drills=tuple(DrillSection.from_json(d) for d in o.children("drills")),
            timing=None if (tm := o.opt_child("timing")) is None else PlanTiming.from_json(tm),
        )

    def to_json(self) -> dict[str, Any]:
        """The report.json object (``json.dumps(..., indent=2)`` of it is the file)."""
        out: dict[str, Any] = {
            "chaosdrill_report_version": REPORT_VERSION,
            "run_id": self.run_id,
            "kind": self.kind,
            "generated_at": self.generated_at,
            "plan": self.plan.to_json(),
            "complete": self.complete,
            "interrupted": self.interrupted,
            "summary": self.summary.to_json(),
        }
        if self.timing is not None:
            out["timing"] = self.timing.to_json()
        out["drills"] = [d.to_json() for d in self.drills]
        return out


def read_report(path: Path) -> Report:
    """Read a report.json file (or the report.json of a run's folder).

    Raises:
        InvalidInputError: the file cannot be read, is not JSON, or is not a version-1
            report; the message names the file, and the line or field where known.
    """
    file = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read the report: {exc.strerror}", source=str(file)
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg}", source=str(file), line=exc.lineno
        ) from None
    return Report.from_json(data, source=str(file))
