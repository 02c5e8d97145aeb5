"""comms.md: the seed's incident notification template, filled in from the drill's timeline.

Three kinds of message, as the seed's "Communication" section asks: the initial notification
(due within 5 minutes of the page), a status update every 15 minutes while the incident is
open, and the resolution notification. Times are production-equivalent ("T+" from the first
sign of trouble); the drill's wall-clock time is kept as a label. A drill whose times were
computed the old way (drill seconds x K) says so above its messages.
"""

from __future__ import annotations

from chaosdrill.report.drill_types import TimelineEvent
from chaosdrill.report.timing_text import old_way_note
from chaosdrill.report.types import DrillSection, Report
from chaosdrill.workspace import current

__all__ = ["INITIAL_DUE_S", "STATUS_EVERY_S", "render_comms"]

INITIAL_DUE_S = 5 * 60  # "Initial Notification (within 5 minutes)"
STATUS_EVERY_S = 15 * 60  # "Status Updates (every 15 minutes)"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else "+"
    s = abs(int(round(seconds)))
    return f"T{sign}{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _event(d: DrillSection, name: str) -> TimelineEvent | None:
    return next((e for e in d.timeline if e.name == name), None)


def _actions(d: DrillSection, until_production_s: float) -> list[str]:
    done = [
        e for e in d.timeline if e.name == "runbook_step" and e.production_s <= until_production_s
    ]
    out = [
        f"{e.detail.get('runbook')}: {e.detail.get('step')} "
        f"({'done' if e.detail.get('ok') else 'FAILED'})"
        for e in done
    ]
    return out or ["Investigating: checking dashboards, recent deployments and error logs"]


def _message(
    d: DrillSection, service: str, status: str, at: float, eta: str, impact: str
) -> list[str]:
    start = _event(d, "t_first_impact") or _event(d, "t_inject")
    started = f"{start.wall} (drill clock)" if start else "-"
    lines = [
        "```",
        f"🚨 INCIDENT: {service}",
        f"Severity: {d.severity.level}",
        f"Status: {status}",
        "",
        f"Affected: {d.scenario_title} ({d.scenario})",
        f"Impact: {impact}",
        f"Started: {started}",
        "",
        "Current Actions:",
        *(f"- {a}" for a in _actions(d, at)),
        "",
        f"ETA: {eta}",
        "```",
    ]
    return lines


def _impact_text(d: DrillSection) -> str:
    imp, sev = d.impact, d.severity
    text = (
        f"{imp.worst_error_share:.0%} of requests failing at worst, p95 up to "
        f"{imp.worst_p95_ms:.0f} ms; revenue impact ${sev.revenue_per_hour_usd:,.0f}/hour"
    )
    if imp.lost_writes:
        text += f"; {imp.lost_writes} acknowledged enrollment(s) lost"
    return text


def _drill(d: DrillSection, service: str) -> list[str]:
    page = _event(d, "t_page")
    mitigated = _event(d, "t_mitigated")
    recovered = _event(d, "t_recovered")
    target = d.targets.mttr.production_s
    lines = ["", f"## {d.id}: {d.title}", ""]
    if d.old_timing:
        lines += [f"> {old_way_note(d)}", ""]
    if page is None:
        lines += [
            "No page arrived, so no notification would have gone out: the incident was "
            "not detected. Nothing below was sent.",
        ]
        at_open = 0.0
    else:
        at_open = page.production_s
        due = at_open + INITIAL_DUE_S
        lines += [
            f"### Initial notification (page at {_clock(at_open)}, due by {_clock(due)})",
            "",
            *_message(
                d,
                service,
                "Investigating",
                at_open,
                f"{_clock(target)} (the MTTR target)" if target else "unknown",
                _impact_text(d),
            ),
        ]
    hold = d.targets.hold.production_s or 0.0
    # resolved once steady state has held for the monitoring period after recovery
    end = None if recovered is None else recovered.production_s + hold
    last = end if end is not None else d.timeline[-1].production_s if d.timeline else 0
    updates = []
    t = at_open + STATUS_EVERY_S
    while t < last:
        updates.append(t)
        t += STATUS_EVERY_S
    lines += ["", "### Status updates", ""]
    if not updates:
        lines += [
            f"None was due: the incident was resolved at {_clock(end)}, before the first "
            f"15-minute update."
            if end is not None
            else "None: the drill ended before the first 15-minute update."
        ]
    for i, at in enumerate(updates, 1):
        lines += [
            f"Update {i} at {_clock(at)}:",
            "",
            *_message(d, service, "Mitigating", at, f"{_clock(target)}", _impact_text(d)),
            "",
        ]
    lines += ["", "### Resolution notification", ""]
    if end is None:
        lines += ["Not sent: the service did not recover during the drill."]
        return lines
    checks = ", ".join(
        f"{n.replace('_', ' ')} {'ok' if c.ok else 'FAILED'}" for n, c in d.verification.items()
    )
    calm_event = mitigated or recovered
    calm = calm_event.production_s if calm_event else None
    lines += [
        f"At {_clock(end)} (mitigated at {_clock(calm)}; "
        "steady state then held for the monitoring period):",
        "",
        "```",
        f"🚨 INCIDENT: {service}",
        f"Severity: {d.severity.level}",
        "Status: Resolved",
        "",
        f"Root cause: {d.cause_description or d.cause}",
        "Resolution steps: "
        + ("; ".join(f"{b.name} ({'ok' if b.ok else 'FAILED'})" for b in d.runbooks) or "-"),
        f"Verification: {checks or 'not run'}",
        "Post-incident actions: see postmortem.md",
        "```",
    ]
    return lines


def render_comms(report: Report) -> str:
    """comms.md for a run: the notifications each drill's incident would have sent."""
    service = report.plan.service or current().target().service
    roles = report.plan.roles
    sender = roles.get("communications_lead") or "Communications Lead"
    commander = roles.get("incident_commander") or "Incident Commander"
    lines = [
        f"# Incident communications: {report.plan.name} ({report.run_id})",
        "",
        "The seed's notification template, filled in from each drill's real timeline. "
        "T+h:mm:ss is production-equivalent time from the fault. Sent to #incidents by "
        f"{sender} (Communications Lead) for {commander} (Incident Commander).",
    ]
    for d in report.drills:
        lines += _drill(d, service)
    return "\n".join(lines) + "\n"
