"""postmortem.md: the seed's post-mortem structure, drafted from the drill.

Timeline, root cause (the injected cause), detection, resolution steps, verification,
impact and severity, and action items derived from the points the drill lost, each with an
owner from the plan's roles and the seed's deadline ("within 24 hours"). Detection shows
MTTD beside its floor (and a detection much slower than it); a drill whose times were
computed the old way (drill seconds x K) says so under its summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaosdrill.report.markdown import fmt_s, table
from chaosdrill.report.timing_text import (
    floor_line,
    old_way_note,
    recovery_line,
    slow_detection_line,
)
from chaosdrill.report.types import DrillSection, Report

__all__ = ["render_postmortem"]

_OWNER = {
    "Detection": "technical_lead",
    "Recovery": "technical_lead",
    "Data": "technical_lead",
    "Impact": "incident_commander",
    "Verification": "technical_lead",
    "Hygiene": "scribe",
}
_TITLES = {
    "incident_commander": "Incident Commander",
    "technical_lead": "Technical Lead",
    "scribe": "Scribe",
}


def _owner(item: str, roles: Mapping[str, str]) -> str:
    key = _OWNER.get(item.split(":", 1)[0], "incident_commander")
    return roles.get(key) or _TITLES[key]


def _detection_notes(d: DrillSection) -> list[str]:
    """MTTD beside its floor, and the warning of a detection much slower than it."""
    floor, slow = floor_line(d), slow_detection_line(d)
    return [x for x in (floor, None if slow is None else f"> **Warning**: {slow}") if x]


def _drill(d: DrillSection, roles: Mapping[str, str]) -> list[str]:
    t, sev, imp = d.times, d.severity, d.impact
    fault: Mapping[str, Any] = d.fault or {}
    lines = [
        "",
        f"## {d.id}: {d.title}",
        "",
        "### Summary",
        "",
        f"{d.scenario_title}: severity {sev.level} ({sev.name}). Detected after "
        f"{fmt_s(t.mttd.production_s)} "
        f"(target {fmt_s(d.targets.mttd.production_s)}), recovered after "
        f"{fmt_s(t.mttr.production_s)} "
        f"(target {fmt_s(d.targets.mttr.production_s)}); drill score "
        f"{d.score.points:.1f}/100 ({d.score.grade}).",
    ]
    if (rec := recovery_line(d)) is not None:
        lines += ["", rec]
    if d.old_timing:
        lines += ["", f"> {old_way_note(d)}"]
    if not d.complete:
        lines += ["", "> **INCOMPLETE**: " + "; ".join(d.incomplete_reasons)]
    lines += ["", "### Timeline (production-equivalent)", ""]
    lines += table(
        ["T+ (s)", "event", "wall clock (drill)"],
        [[f"{e.production_s:+.0f}", e.label, e.wall or ""] for e in d.timeline],
    )
    params = ", ".join(f"{k}={v}" for k, v in (fault.get("params") or {}).items())
    lines += [
        "",
        "### Root cause",
        "",
        f"Injected fault `{fault.get('kind', d.cause)}`"
        + (f" ({params})" if params else "")
        + f": {d.cause_description or d.cause}"
        + (f' The seed lists this as "{d.seed_cause}".' if d.seed_cause else ""),
        "",
        "### Detection",
        "",
        (
            f"{d.alert} paged after {fmt_s(t.mttd.production_s)}."
            if t.mttd.production_s is not None
            else f"{d.alert or 'The expected alert'} never paged."
        ),
        *(line for note in _detection_notes(d) for line in ("", note)),
        "",
        "### Resolution steps",
        "",
    ]
    steps = [
        [b.name, s.name, "ok" if s.ok else "FAILED", fmt_s(s.duration_s, 2)]
        for b in d.runbooks
        for s in b.steps
    ]
    lines += table(["runbook", "step", "result", "took (drill)"], steps) if steps else ["None ran."]
    waits = [
        f"Runbook {b.name} then {b.operation_wait.summary()}."
        for b in d.runbooks
        if b.operation_wait is not None
    ]
    lines += ["", *waits] if waits else []
    lines += ["", "### Verification", ""]
    lines += [
        f"- {n.replace('_', ' ')}: {'ok' if c.ok else 'FAILED'} ({c.detail})"
        for n, c in d.verification.items()
    ] or ["- Not run."]
    lines += [
        "",
        "### Impact",
        "",
        f"- {imp.failed} of {imp.requests} user requests failed; "
        f"{imp.budget_burned_pct:.2f} % of the month's error budget.",
        f"- Revenue impact ${sev.revenue_per_hour_usd:,.0f}/hour; "
        f"{imp.enrollments_failed} enrollment(s) failed, {imp.lost_writes} acknowledged "
        "write(s) lost.",
        "- Severity reasons: " + ("; ".join(sev.reasons) or "none"),
        "",
        "### Action items",
        "",
    ]
    items = [
        [i + 1, item, _owner(item, roles), "within 24 hours"]
        for i, item in enumerate(d.improvements)
    ]
    lines += (
        table(["#", "action", "owner", "deadline"], items)
        if items
        else ["No action item: every part of the drill scored full marks."]
    )
    return lines


def render_postmortem(report: Report) -> str:
    """postmortem.md for a run (a draft for the post-mortem meeting)."""
    roles = report.plan.roles
    lines = [
        f"# Post-mortem draft: {report.plan.name} ({report.run_id})",
        "",
        "Drafted from the drill; review the timeline, discuss the root cause, agree the "
        "preventive measures, assign owners and deadlines.",
    ]
    for d in report.drills:
        lines += _drill(d, roles)
    return "\n".join(lines) + "\n"
