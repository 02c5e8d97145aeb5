"""report.json: one drill or a plan's drills, scored, with severity, escalation and series.

``build_report`` turns drill results (what ``chaosdrill run`` writes) into the report every
writer renders. Times in a report are seconds relative to the fault (``t_inject``) in drill
seconds, each with its production-equivalent. A result that lacks parts (an interrupted or
killed drill) still makes a report: what is known, marked ``complete: false`` with why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import DrillError
from chaosdrill.report.types import REPORT_VERSION, Report
from chaosdrill.scoring.score import Scoring, aggregate, drill_impact, event_time, score_drill
from chaosdrill.scoring.severity import LEVELS, Revenue, classify, escalation

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

_LABELS = {
    "drill_start": "drill started",
    "load_started": "load started",
    "steady_state_verified": "steady state verified",
    "steady_state_not_met": "steady state NOT met",
    "t_inject": "fault injected",
    "fault_applied": "fault applied",
    "t_first_impact": "first impact seen by users",
    "t_alert_firing": "alert firing in Prometheus",
    "t_page": "page received",
    "detection_failed": "no page: detection failed",
    "t_response_start": "response started",
    "runbook_step": "runbook step",
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


@dataclass(frozen=True)
class ReportSettings:
    """What a plan adds to a report: its name, scoring, revenue model and people."""

    name: str = "ad hoc"
    source: str | None = None
    mode: str = "auto"
    scoring: Scoring = field(default_factory=Scoring)
    revenue: Revenue = field(default_factory=Revenue)
    roles: Mapping[str, str] = field(default_factory=dict)
    service: str = "Education Revenue Engine"


def _rel(result: DrillResult, name: str) -> float | None:
    t0 = event_time(result, "t_inject")
    t = event_time(result, name)
    return None if t0 is None or t is None else round(t - t0, 3)


def _pair(value: float | None, k: float) -> dict[str, float | None]:
    return {"drill_s": value, "production_s": None if value is None else round(value * k, 3)}


def _timeline(result: DrillResult, k: float) -> list[dict[str, Any]]:
    t0 = event_time(result, "t_inject")
    base = t0 if t0 is not None else (event_time(result, "drill_start") or 0.0)
    out = []
    for e in result.timeline:
        name = e.name
        if name == "activity":
            continue
        detail = dict(e.detail)
        label = _LABELS.get(name, name.replace("_", " "))
        if name == "runbook_step":
            label = f"{detail.get('step')} ({'ok' if detail.get('ok') else 'FAILED'})"
        rel = round(float(e.t) - base, 3)
        out.append(
            {
                "name": name,
                "label": label,
                "t_s": rel,
                "production_s": round(rel * k, 3),
                "wall": e.wall,
                "detail": detail,
            }
        )
    return out


def _client_series(result: DrillResult) -> dict[str, Any]:
    t0 = event_time(result, "t_inject") or event_time(result, "drill_start") or 0.0
    sli = result.load.sli if result.load is not None else ()
    errors, p95 = [], []
    for p in sli:
        if not p.requests:
            continue
        t = round(p.second + 0.5 - t0, 3)
        errors.append([t, round(p.failures / p.requests, 4)])
        p95.append([t, p.p95_ms])
    return {
        "error_rate": {"unit": "ratio", "series": [{"label": "users", "points": errors}]},
        "p95_latency_ms": {"unit": "ms", "series": [{"label": "users", "points": p95}]},
    }


def _incomplete(result: DrillResult) -> list[str]:
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
    return list(dict.fromkeys(why))


def _improvements(d: Mapping[str, Any]) -> list[str]:
    out = []
    alert, books = d.get("alert") or "the alert", [b["name"] for b in d.get("runbooks") or []]
    book = ", ".join(books) or "the runbook"
    for part in d["score"]["parts"]:
        for reason in part["reasons"]:
            name = part["name"]
            if name == "detection" and "never paged" in reason:
                out.append(
                    f"Detection: {reason}. Check that the {alert} rule can fire for this cause "
                    "and that Alertmanager routes it to the pager (`chaosdrill validate`)."
                )
            elif name == "detection":
                out.append(
                    f"Detection: {reason}. Shorten the {alert} detection budget (rule window, "
                    "`for:`, group_wait) or add an alert closer to the cause."
                )
            elif name == "recovery":
                out.append(
                    f"Recovery: {reason}. Review {book}: does it fix this cause, and can its "
                    "slow steps be made faster?"
                )
            elif name == "impact" and "lost" in reason:
                out.append(f"Data: {reason}. Review replication (synchronous commit) and failover.")
            elif name == "impact":
                out.append(
                    f"Impact: {reason}. Shorten the time to mitigate, or limit the blast radius "
                    "(retries, a circuit breaker, a canary for releases)."
                )
            elif name == "verification":
                out.append(f"Verification: {reason}.")
            elif name == "hygiene":
                out.append(f"Hygiene: {reason}.")
    return out


def _alerts_at_end(result: DrillResult) -> list[str] | None:
    """Alerts left firing at the end; None when unknown (not asked, or not recorded)."""
    at_end = result.measurements.alerts_at_end
    return None if at_end is None or at_end.firing is None else list(at_end.firing)


def drill_report(
    result: DrillResult,
    settings: ReportSettings | None = None,
    result_path: str | None = None,
) -> dict[str, Any]:
    """One drill's part of a report (see the JSON Schema in schemas/report.schema.json)."""
    from chaosdrill.paths import SCENARIOS_DIR
    from chaosdrill.scenarios.loader import load_scenario

    st = settings or ReportSettings()
    k = float(result.time_scale or 1.0)
    impact = drill_impact(result)
    score = score_drill(result, st.scoring, impact)
    scenario = None
    with contextlib.suppress(DrillError, OSError):
        scenario = load_scenario(SCENARIOS_DIR / f"{result.scenario}.yaml")
    model = scenario.severity if scenario else None
    cause = next(
        (c for c in (scenario.common_causes if scenario else ()) if c.id == result.cause),
        None,
    )
    inject = result.event("t_inject")
    fault = inject.detail.get("fault") if inject is not None else None
    severity = classify(result, impact, model, st.revenue)
    # the incident lasted until mitigation, if steady state then held; else it never ended
    end = (
        event_time(result, "t_mitigated") if event_time(result, "t_recovered") is not None else None
    )
    t0 = event_time(result, "t_inject")
    duration = None if end is None or t0 is None else round((end - t0) * k, 3)
    esc = escalation(severity.level, duration, st.roles)
    m = result.measurements
    incomplete = _incomplete(result)
    targets = result.targets
    failed_detection = result.event("detection_failed")
    environment = result.environment
    d: dict[str, Any] = {
        "id": str(result.cause or Path(result.experiment).stem),
        "experiment": result.experiment,
        "title": result.title,
        "scenario": result.scenario,
        "cause": result.cause,
        "alert": (m.detection.alert if m.detection else None)
        or (failed_detection.detail.get("alert") if failed_detection else None),
        "scenario_title": scenario.title if scenario else result.scenario,
        "cause_description": cause.description if cause else "",
        "seed_cause": cause.seed if cause else "",
        "fault": fault,
        "environment": {"backend": environment.backend, "name": environment.name}
        if environment
        else {},
        "written_at": result.written_at,
        "started_at": inject.wall if inject is not None else None,
        "result_path": result_path,
        "time_scale": k,
        "complete": not incomplete,
        "incomplete_reasons": incomplete,
        "targets": {
            "mttd": _pair(targets.mttd_s, k),
            "mttr": _pair(targets.mttr_s, k),
            "hold": _pair(targets.hold_s, k),
        },
        "times": {
            "mttd": _pair(result.mttd_s, k),
            "mttr": _pair(result.mttr_s, k),
            "time_to_mitigate": _pair(_rel(result, "t_mitigated"), k),
            "time_to_first_impact": _pair(_rel(result, "t_first_impact"), k),
        },
        "verdict": result.verdict.to_json(),
        "failures": list(result.failures),
        "score": score.to_dict(),
        "impact": impact.to_dict(),
        "severity": severity.to_dict(),
        "escalation": esc.to_dict(),
        "markers": {name: _rel(result, ev) for name, ev in MARKERS.items()},
        "timeline": _timeline(result, k),
        "runbooks": [
            {
                "name": b.name,
                "ok": b.ok,
                "steps": [
                    {
                        "name": s.name,
                        "ok": s.ok,
                        "duration_s": s.duration_s,
                        "error": s.error,
                        "output": (s.output or "")[:500],
                    }
                    for s in b.steps
                ],
            }
            for b in m.runbooks or ()
        ],
        "verification": {c.name: {"ok": c.ok, "detail": c.detail} for c in m.verification or ()},
        "integrity": m.integrity.to_json() if m.integrity else None,
        "alerts_at_end": _alerts_at_end(result),
        "series": {
            "prometheus": {c.name: c.to_json() for c in result.series.charts}
            if result.series
            else {},
            "series_errors": list(result.series.errors) if result.series else [],
            "client": _client_series(result),
        },
    }
    d["improvements"] = _improvements(d)
    return d


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
    drills = [drill_report(r, st, p) for r, p in results]
    ids: dict[str, int] = {}
    for d in drills:  # the same cause twice (random picks) gets -2, -3 ...
        n = ids[d["id"]] = ids.get(d["id"], 0) + 1
        if n > 1:
            d["id"] = f"{d['id']}-{n}"
    plan_score = aggregate(
        [r for r, _ in results],
        [d["score"]["points"] for d in drills],
        [d["score"]["passed"] for d in drills],
    )
    levels = [d["severity"]["level"] for d in drills]
    worst = min(levels) if levels else None  # "P1" < "P2"
    incomplete = [d["id"] for d in drills if not d["complete"]]
    reasons = [f"{d['id']}: {r}" for d in drills for r in d["score"]["reasons"]]
    if interrupted:
        reasons.insert(0, interrupted)
    report = {
        "chaosdrill_report_version": REPORT_VERSION,
        "run_id": run_id,
        "kind": kind or ("drill" if len(drills) == 1 else "plan"),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": {
            "name": st.name,
            "source": st.source,
            "mode": st.mode,
            "service": st.service,
            "roles": dict(st.roles),
            "scoring": {
                "weights": dict(st.scoring.weights.__dict__),
                "pass_mark": st.scoring.pass_mark,
                "lost_write_cap": st.scoring.lost_write_cap,
                "error_budget_limit_pct": st.scoring.error_budget_limit_pct,
            },
            "revenue": dict(st.revenue.__dict__),
        },
        "complete": not incomplete and not interrupted,
        "interrupted": interrupted,
        "summary": {
            **plan_score.to_dict(),
            "passed": plan_score.passed and not interrupted,
            "worst_severity": worst,
            "worst_severity_name": LEVELS[worst].name if worst else None,
            "incomplete_drills": incomplete,
            "reasons": reasons,
        },
        "drills": drills,
    }
    return Report.from_json(report)
