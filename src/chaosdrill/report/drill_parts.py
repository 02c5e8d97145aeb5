"""The parts of a drill's report section, made from the drill result and its scoring.

Each function turns one typed input (``DrillResult`` and its measurements, ``DrillScore``,
``DrillImpact``, ``SeverityDecision``, ``Escalation``) into the report type of the same part
(``chaosdrill.report.drill_types``, ``chaosdrill.report.series_types``), so the report is
built as values and never as a dict read back. Times are seconds after the fault
(``t_inject``), each with its production equivalent (``chaosdrill.report.timing_parts``:
the result's split figures, or drill seconds x K for a result written before the split).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from chaosdrill.drill.measurements import Check as MeasuredCheck
from chaosdrill.drill.measurements import OperationWaitRun as MeasuredOperationWait
from chaosdrill.drill.measurements import RunbookRun as MeasuredRunbookRun
from chaosdrill.drill.model import DrillResult
from chaosdrill.report.drill_types import (
    Check,
    Escalation,
    Notify,
    OperationWait,
    RunbookRun,
    RunbookStep,
    Score,
    ScorePart,
    Severity,
    TimelineEvent,
)
from chaosdrill.report.series_types import DrillSeries, Series, SeriesSet
from chaosdrill.report.timing_parts import timeline_production
from chaosdrill.scoring import severity as sev
from chaosdrill.scoring.score import DrillScore, event_time

__all__ = [
    "LABELS",
    "OUTPUT_CHARS",
    "drill_series",
    "escalation_part",
    "incomplete_reasons",
    "relative",
    "runbook_runs",
    "score_part",
    "severity_part",
    "timeline_events",
    "verification_checks",
]

#: how much of a runbook step's output a report keeps
OUTPUT_CHARS = 500

#: timeline event name -> what the report calls it
LABELS: dict[str, str] = {
    "drill_start": "drill started",
    "load_started": "load started",
    "steady_state_verified": "steady state verified",
    "steady_state_not_met": "steady state NOT met",
    "t_inject": "fault injected",
    "fault_applied": "fault applied",
    "t_first_impact": "first impact seen by users",
    "t_alert_pending": "alert pending in Prometheus",
    "t_alert_firing": "alert firing in Prometheus",
    "t_page": "page received",
    "detection_failed": "no page: detection failed",
    "t_response_start": "response started",
    "runbook_resolved": "runbook file",
    "runbook_step": "runbook step",
    "runbook_operation_wait": "waited for a runbook operation",
    "t_fault_cleared": "fault gone",
    "t_last_bad_request": "users' last failed or slow request",
    "t_users_ok": "users' SLOs met again",
    "revert_deferred": "revert deferred: a runbook operation still running",
    "t_response_end": "response finished",
    "t_mitigated": "mitigated (SLOs met)",
    "t_recovered": "recovered (steady state held)",
    "recovery_failed": "recovery failed",
    "t_resolved": "resolved notification",
    "verification_done": "verification done",
    "t_reverted": "fault reverted",
    "load_stopped": "load stopped",
    "leftover_faults_reverted": "faults left by an earlier run reverted",
}


def relative(result: DrillResult, name: str) -> float | None:
    """Seconds from the fault to the first event ``name``; None if either never came."""
    t0 = event_time(result, "t_inject")
    t = event_time(result, name)
    return None if t0 is None or t is None else round(t - t0, 3)


def timeline_events(result: DrillResult) -> tuple[TimelineEvent, ...]:
    """The drill's timeline relative to the fault (to the drill's start if it never came).

    Each event's production-equivalent is ``timing_parts.timeline_production``'s.
    ``activity`` events (Chaos Toolkit's own bookkeeping) are left out; a runbook step is
    labelled with its name and outcome.
    """
    t0 = event_time(result, "t_inject")
    base = t0 if t0 is not None else (event_time(result, "drill_start") or 0.0)
    production = timeline_production(result)
    out = []
    for e, prod in zip(result.timeline, production, strict=True):
        if e.name == "activity":
            continue
        detail = copy.deepcopy(dict(e.detail))
        label = LABELS.get(e.name, e.name.replace("_", " "))
        if e.name == "runbook_step":
            label = f"{detail.get('step')} ({'ok' if detail.get('ok') else 'FAILED'})"
        elif e.name == "runbook_operation_wait":
            label = _wait_label(detail)
        elif e.name == "runbook_resolved":
            label = f"runbook {detail.get('runbook')}: {detail.get('source')} {detail.get('file')}"
        rel = round(float(e.t) - base, 3)
        out.append(TimelineEvent(e.name, label, rel, prod, e.wall, detail))
    return tuple(out)


def _wait_label(detail: Mapping[str, Any]) -> str:
    """A runbook operation's wait on the timeline: what, how long, how it ended."""
    what = f"waited {detail.get('waited_s')} s for {detail.get('operation')}"
    if not detail.get("finished"):
        return f"{what}: still running (not settled)"
    return f"{what}: {'finished' if detail.get('ok') else 'it failed'}"


def _client_series(result: DrillResult) -> dict[str, SeriesSet]:
    """The users' error rate and p95 latency, one point per second with requests."""
    t0 = event_time(result, "t_inject") or event_time(result, "drill_start") or 0.0
    sli = result.load.sli if result.load is not None else ()
    errors: list[tuple[float, float]] = []
    p95: list[tuple[float, float]] = []
    for p in sli:
        if not p.requests:
            continue
        t = round(p.second + 0.5 - t0, 3)
        errors.append((t, round(p.failures / p.requests, 4)))
        p95.append((t, p.p95_ms))
    return {
        "error_rate": SeriesSet("ratio", (Series("users", tuple(errors)),)),
        "p95_latency_ms": SeriesSet("ms", (Series("users", tuple(p95)),)),
    }


def drill_series(result: DrillResult) -> DrillSeries:
    """Chart data: the Prometheus series the drill recorded and the load's client SLIs."""
    charts = result.series.charts if result.series else ()
    prometheus = {
        c.name: SeriesSet(c.unit, tuple(Series(ln.label, ln.points) for ln in c.lines), c.query)
        for c in charts
    }
    errors = tuple(result.series.errors) if result.series else ()
    return DrillSeries(prometheus, errors, _client_series(result))


def incomplete_reasons(result: DrillResult) -> tuple[str, ...]:
    """Why a drill's result lacks parts (each reason once); empty for a complete drill."""
    why = []
    names = {e.name for e in result.timeline}
    if "t_inject" not in names:
        why.append("the fault was never injected")
    m = result.measurements
    for part, what in (
        (m.detection, "detection"),
        (m.recovery, "recovery"),
        (m.verification, "verification"),
        (m.revert, "the revert"),
    ):
        if part is None:
            why.append(f"{what} did not run")
    if not result.complete and "t_reverted" not in names:
        why.append("the drill ended before the fault was reverted")
    journal = result.journal or {}
    if journal and journal.get("status") not in (None, "completed"):
        why.append(f"Chaos Toolkit status: {journal.get('status')}")
    return tuple(dict.fromkeys(why))


def score_part(score: DrillScore) -> Score:
    """The drill's score (out of 100) with its five parts."""
    parts = tuple(
        ScorePart(p.name, p.points, p.max_points, p.measured, p.target, tuple(p.reasons))
        for p in score.parts
    )
    return Score(
        score.points, 100.0, score.grade, score.passed, score.capped_by, score.reasons, parts
    )


def severity_part(decision: sev.SeverityDecision) -> Severity:
    """The incident's level with its row of the severity table and the rounded inputs."""
    info = sev.LEVELS[decision.level]
    measured = decision.impact
    return Severity(
        level=decision.level,
        name=info.name,
        meaning=info.meaning,
        revenue_band=info.revenue_band,
        reasons=tuple(decision.reasons),
        revenue_per_hour_usd=round(decision.revenue_per_hour, 2),
        availability=round(measured.availability, 4),
        error_rate=round(measured.error_rate, 4),
        p95_latency_s=round(measured.p95_latency_s, 3),
        data_loss=measured.data_loss,
    )


def escalation_part(esc: sev.Escalation) -> Escalation:
    """Who the incident brings in, each role with its title, person and time."""
    notify = tuple(
        Notify(sev.ROLE_TITLES.get(role, role), role, person, at) for role, person, at in esc.notify
    )
    return Escalation(esc.level, esc.duration_s, tuple(esc.triggered), notify)


def runbook_runs(runs: Sequence[MeasuredRunbookRun] | None) -> tuple[RunbookRun, ...]:
    """The runbooks the drill ran, each step's output cut to ``OUTPUT_CHARS``."""
    return tuple(
        RunbookRun(
            b.name,
            b.ok,
            tuple(
                RunbookStep(s.name, s.ok, s.duration_s, s.error, (s.output or "")[:OUTPUT_CHARS])
                for s in b.steps
            ),
            _operation_wait(b.operation_wait),
            b.file,
            b.source,
        )
        for b in runs or ()
    )


def _operation_wait(w: MeasuredOperationWait | None) -> OperationWait | None:
    if w is None:
        return None
    return OperationWait(w.step, w.operation, w.waited_s, w.grace_s, w.finished, w.error)


def verification_checks(checks: Sequence[MeasuredCheck] | None) -> dict[str, Check]:
    """The verification checks by name: passed, and why."""
    return {c.name: Check(c.ok, c.detail) for c in checks or ()}
