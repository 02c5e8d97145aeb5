"""report.json: one drill or a plan's drills, scored, with severity, escalation and series.

``build_report`` turns drill results (what ``chaosdrill run`` writes) into the report every
writer renders, a ``Report`` made directly from the typed results and their scoring (each
drill a ``DrillSection``, its parts from ``chaosdrill.report.drill_parts``). Times in a
report are seconds relative to the fault (``t_inject``) in drill seconds, each with its
production-equivalent: the result's split figures (``chaosdrill.report.timing_parts``),
or drill seconds x K for a result written before the split, marked ``timing_method:
"drill x K"``. The report says once how its times were measured (``Report.timing``). A
result that lacks parts (an interrupted or killed drill) still makes a report: what is
known, marked ``complete: false`` with why.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import DrillError
from chaosdrill.report.drill_parts import (
    drill_series,
    escalation_part,
    incomplete_reasons,
    relative,
    runbook_runs,
    score_part,
    severity_part,
    timeline_events,
    verification_checks,
)
from chaosdrill.report.drill_types import Markers, Verdict
from chaosdrill.report.improvements import improvements
from chaosdrill.report.timing_parts import (
    drill_targets,
    drill_times,
    drill_timing,
    incident_production_s,
    plan_timing,
    recovery_note,
    timing_method,
)
from chaosdrill.report.types import (
    Distribution,
    DrillSection,
    PlanRevenue,
    PlanScoring,
    PlanSettings,
    Report,
    Summary,
)
from chaosdrill.scenarios.model import Cause, Scenario
from chaosdrill.scoring.score import (
    PlanScore,
    Scoring,
    aggregate,
    drill_impact,
    score_drill,
)
from chaosdrill.scoring.severity import LEVELS, Revenue, classify, escalation
from chaosdrill.workspace import current

__all__ = [
    "MARKERS",
    "ReportSettings",
    "build_report",
    "drill_report",
]

#: chart markers: report name -> timeline event
MARKERS: dict[str, str] = {
    "inject": "t_inject",
    "first_impact": "t_first_impact",
    "page": "t_page",
    "mitigated": "t_mitigated",
    "recovered": "t_recovered",
    "resolved": "t_resolved",
}


@dataclass(frozen=True)
class ReportSettings:
    """What a plan adds to a report: its name, scoring, revenue model and people."""

    name: str = "ad hoc"
    source: str | None = None
    mode: str = "auto"
    scoring: Scoring = field(default_factory=Scoring)
    revenue: Revenue = field(default_factory=Revenue)
    roles: Mapping[str, str] = field(default_factory=dict)
    service: str = field(default_factory=lambda: current().target().service)
    """The service drilled, as the workspace's target names it."""


def _scenario(name: str) -> Scenario | None:
    """The drill's scenario from the catalogue; None when it is missing or unreadable."""
    from chaosdrill.scenarios.loader import load_scenario
    from chaosdrill.workspace import current

    with contextlib.suppress(DrillError, OSError):
        entry = current().find("scenarios", name)
        return load_scenario(entry.path) if entry else None
    return None


def _cause(scenario: Scenario | None, cause_id: str) -> Cause | None:
    """The scenario's common cause the drill seeded, if the scenario lists it."""
    causes = scenario.common_causes if scenario else ()
    return next((c for c in causes if c.id == cause_id), None)


def _alert(result: DrillResult) -> str | None:
    """The alert the drill waited for: detection's, or the one a failed detection names."""
    detection = result.measurements.detection
    failed = result.event("detection_failed")
    return (detection.alert if detection else None) or (
        failed.detail.get("alert") if failed else None
    )


def _alerts_at_end(result: DrillResult) -> tuple[str, ...] | None:
    """Alerts left firing at the end; None when unknown (not asked, or not recorded)."""
    at_end = result.measurements.alerts_at_end
    return None if at_end is None or at_end.firing is None else tuple(at_end.firing)


def drill_report(
    result: DrillResult,
    settings: ReportSettings | None = None,
    result_path: str | None = None,
) -> DrillSection:
    """One drill's part of a report (a ``drills[]`` item of schemas/report.schema.json)."""
    st = settings or ReportSettings()
    k = float(result.time_scale or 1.0)
    times = drill_times(result)
    impact = drill_impact(result)
    score = score_part(score_drill(result, st.scoring, impact))
    scenario = _scenario(result.scenario)
    cause = _cause(scenario, result.cause)
    severity = classify(result, impact, scenario.severity if scenario else None, st.revenue)
    esc = escalation(severity.level, incident_production_s(result, times), st.roles)
    m = result.measurements
    incomplete = incomplete_reasons(result)
    inject = result.event("t_inject")
    fault = inject.detail.get("fault") if inject is not None else None
    env = result.environment
    alert = _alert(result)
    return DrillSection(
        id=str(result.cause or Path(result.experiment).stem),
        experiment=result.experiment,
        title=result.title,
        scenario=result.scenario,
        cause=result.cause,
        alert=alert,
        scenario_title=scenario.title if scenario else result.scenario,
        cause_description=cause.description if cause else "",
        seed_cause=cause.seed if cause else "",
        fault=None if fault is None else copy.deepcopy(dict(fault)),
        environment=(
            {
                "backend": env.backend,
                "name": env.name,
                **({"target": env.target} if env.target else {}),
            }
            if env
            else {}
        ),
        written_at=result.written_at,
        started_at=inject.wall if inject is not None else None,
        result_path=result_path,
        time_scale=k,
        complete=not incomplete,
        incomplete_reasons=incomplete,
        targets=drill_targets(result),
        times=times,
        verdict=Verdict(result.verdict.passed, dict(result.verdict.checks), result.verdict.reasons),
        failures=tuple(result.failures),
        score=score,
        impact=impact,
        severity=severity_part(severity),
        escalation=escalation_part(esc),
        markers=Markers(**{name: relative(result, ev) for name, ev in MARKERS.items()}),
        timeline=timeline_events(result),
        runbooks=runbook_runs(m.runbooks),
        verification=verification_checks(m.verification),
        integrity=m.integrity.to_json() if m.integrity else None,
        alerts_at_end=_alerts_at_end(result),
        series=drill_series(result),
        improvements=improvements(score, alert, [b.name for b in m.runbooks or ()]),
        timing_method=timing_method(result),
        timing=drill_timing(result),
        recovery=recovery_note(result),
    )


def _unique_ids(drills: Sequence[DrillSection]) -> list[DrillSection]:
    """The same cause twice (random picks) gets -2, -3 ... after its id."""
    seen: dict[str, int] = {}
    out = []
    for d in drills:
        n = seen[d.id] = seen.get(d.id, 0) + 1
        out.append(d if n == 1 else dataclasses.replace(d, id=f"{d.id}-{n}"))
    return out


def _distribution(values: Mapping[str, float | int | None]) -> Distribution:
    """A distribution of the plan's score (scoring's own form) as the report's."""
    return Distribution(
        n=int(values["n"] or 0),
        missing=int(values["missing"] or 0),
        min=values["min"],
        median=values["median"],
        max=values["max"],
    )


def _summary(
    plan_score: PlanScore, drills: Sequence[DrillSection], interrupted: str | None
) -> Summary:
    """The run's verdict: the plan's score, its worst severity and why it did not pass."""
    levels = [d.severity.level for d in drills]
    worst = min(levels) if levels else None  # "P1" < "P2"
    reasons = [f"{d.id}: {r}" for d in drills for r in d.score.reasons]
    if interrupted:
        reasons.insert(0, interrupted)
    return Summary(
        points=plan_score.points,
        grade=plan_score.grade,
        passed=plan_score.passed and not interrupted,
        drills=plan_score.drills,
        drills_passed=plan_score.drills_passed,
        mttd_s=_distribution(plan_score.mttd_s),
        mttr_s=_distribution(plan_score.mttr_s),
        points_distribution=_distribution(plan_score.points_distribution),
        worst_severity=worst,
        worst_severity_name=LEVELS[worst].name if worst else None,
        incomplete_drills=tuple(d.id for d in drills if not d.complete),
        reasons=tuple(reasons),
    )


def _plan(st: ReportSettings) -> PlanSettings:
    """The plan's part of the report: name, file, mode, service, people, scoring, revenue."""
    sc = st.scoring
    return PlanSettings(
        name=st.name,
        source=st.source,
        mode=st.mode,
        service=st.service,
        roles=dict(st.roles),
        scoring=PlanScoring(
            dataclasses.asdict(sc.weights),
            sc.pass_mark,
            sc.lost_write_cap,
            sc.error_budget_limit_pct,
        ),
        revenue=PlanRevenue(st.revenue.enrollments_per_hour, st.revenue.average_price_usd),
    )


def build_report(
    results: Sequence[tuple[DrillResult, str | None]],
    *,
    run_id: str,
    settings: ReportSettings | None = None,
    kind: str | None = None,
    interrupted: str | None = None,
) -> Report:
    """The report of one run: every drill, the plan's score and distribution.

    Args:
        results: (drill result, path of its result file) pairs, in run order.
        run_id: the run's id (the directory under reports/).
        settings: the plan's scoring, revenue model and roles.
        kind: "drill" or "plan" (default: "drill" for one result, else "plan").
        interrupted: why the run stopped early, if it did (marks the report incomplete).
    """
    st = settings or ReportSettings()
    drills = _unique_ids([drill_report(r, st, p) for r, p in results])
    plan_score = aggregate(
        [r for r, _ in results],
        [d.score.points for d in drills],
        [d.score.passed for d in drills],
    )
    return Report(
        run_id=run_id,
        kind=kind or ("drill" if len(drills) == 1 else "plan"),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        plan=_plan(st),
        complete=all(d.complete for d in drills) and not interrupted,
        interrupted=interrupted,
        summary=_summary(plan_score, drills, interrupted),
        drills=tuple(drills),
        timing=plan_timing([(r, d.id) for (r, _), d in zip(results, drills, strict=True)]),
    )
