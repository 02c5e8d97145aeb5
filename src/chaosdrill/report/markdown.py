"""report.md: summary, how the times were measured, each drill's score and where its time went.

Then each drill's severity, timeline, runbooks, verification and what to improve. One
section per drill of the run, after the run's summary table, distribution and "How these
times were measured". A drill whose times were computed the old way (drill seconds x K) is
marked in the summary table and says so in its section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaosdrill.report.timing_text import (
    HOW_MEASURED,
    OLD_MARK,
    floor_line,
    method_line,
    old_way_note,
    plan_items,
    plan_sources,
    recovery_line,
    slow_detection_line,
)
from chaosdrill.report.types import DrillSection, Report

__all__ = ["fmt_s", "render_markdown", "table"]


def fmt_s(value: float | None, digits: int = 0) -> str:
    """Seconds for people ("-" when unknown)."""
    return "-" if value is None else f"{value:.{digits}f} s"


def cell(value: Any) -> str:
    """A value safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A GitHub-flavoured Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def verdict(passed: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def _summary(report: Report) -> list[str]:
    s = report.summary
    lines = [
        f"# Drill report: {report.plan.name} ({report.run_id})",
        "",
        f"**{verdict(s.passed)}**, score {s.points:.1f}/100, grade {s.grade}; "
        f"{s.drills_passed} of {s.drills} drill(s) passed; worst severity "
        f"{s.worst_severity or '-'}.",
        "",
    ]
    if not report.complete:
        why = report.interrupted or ", ".join(s.incomplete_drills)
        lines += [f"> **INCOMPLETE**: {why}", ""]
    rows = []
    for d in report.drills:
        t = d.times
        tg = d.targets
        rows.append(
            [
                d.id + (f" {OLD_MARK}" if d.old_timing else ""),
                d.scenario,
                f"{fmt_s(t.mttd.production_s)} / {fmt_s(tg.mttd.production_s)}",
                f"{fmt_s(t.mttr.production_s)} / {fmt_s(tg.mttr.production_s)}",
                f"{d.score.points:.1f}",
                d.score.grade,
                d.severity.level,
                verdict(d.score.passed),
            ]
        )
    lines += table(
        ["drill", "scenario", "MTTD / target", "MTTR / target", "score", "grade", "sev", "verdict"],
        rows,
    )
    dist = [("MTTD (s)", s.mttd_s), ("MTTR (s)", s.mttr_s), ("score", s.points_distribution)]
    lines += ["", "Distribution across drills (production-equivalent seconds):", ""]
    lines += table(
        ["measure", "min", "median", "max", "missing"],
        [[n, v.min, v.median, v.max, v.missing] for n, v in dist],
    )
    lines += [
        "",
        "Times are production-equivalent seconds unless marked; how they were measured: below.",
    ]
    old = [d.id for d in report.drills if d.old_timing]
    if old:
        lines += [
            "",
            f"{OLD_MARK} Times computed the old way (drill seconds x K): {', '.join(old)}.",
        ]
    return lines


def _how_measured(report: Report) -> list[str]:
    """The report's one section on how its times were measured."""
    lines = ["", f"## {HOW_MEASURED}", ""]
    lines += [f"- **{what}**: {how}" for what, how in plan_items(report)]
    sources = plan_sources(report)
    lines += ["", "Where each timestamp comes from:", ""]
    lines += table(["event", "source"], sources) if sources else ["Not recorded."]
    return lines


def _where_the_time_went(d: DrillSection) -> list[str]:
    """The drill's phases and segments, MTTD beside its floor, and what its MTTR means."""
    lines = ["", "### Where the time went", ""]
    t = d.timing
    if d.old_timing or t is None:
        lines += [f"> {old_way_note(d)}"]
        if (rec := recovery_line(d)) is not None:
            lines += ["", rec]
        return lines
    lines += [method_line(d)]
    if (floor := floor_line(d)) is not None:
        lines += ["", floor]
    if (slow := slow_detection_line(d)) is not None:
        lines += ["", f"> **Warning**: {slow}"]
    if (rec := recovery_line(d)) is not None:
        lines += ["", rec]
    lines += [""]
    lines += table(
        ["phase", "drill s", "production s", "clock"],
        [[p.label, f"{p.drill_s:.2f}", f"{p.production_s:.0f}", p.clock] for p in t.phases],
    )
    lines += ["", "What filled each stretch after the fault:", ""]
    lines += table(
        ["from (drill s)", "to (drill s)", "drill s", "production s", "clock", "what"],
        [
            [
                f"{s.from_s:.2f}",
                f"{s.to_s:.2f}",
                f"{s.drill_s:.3f}",
                f"{s.production_s:.1f}",
                s.clock if s.factor is None else f"{s.clock} (x{s.factor:g})",
                s.what,
            ]
            for s in t.segments
        ],
    )
    lines += ["", f"Resolution: {t.resolution.text()}."]
    return lines


def _drill(d: DrillSection) -> list[str]:
    sc, sev, imp = d.score, d.severity, d.impact
    lines = [
        "",
        f"## {d.id}: {d.title}",
        "",
        f"Scenario {d.scenario}, cause {d.cause}, alert {d.alert or '-'}, "
        f"time scale x{d.time_scale:g}. **{verdict(sc.passed)}**, "
        f"{sc.points:.1f}/100, grade {sc.grade}.",
    ]
    if not d.complete:
        lines += ["", "> **INCOMPLETE**: " + "; ".join(d.incomplete_reasons)]
    if sc.reasons:
        lines += ["", *(f"- {r}" for r in sc.reasons)]
    lines += ["", "### Score", ""]
    lines += table(
        ["part", "measured", "target", "points", "why points were lost"],
        [
            [
                p.name,
                p.measured,
                p.target,
                f"{p.points:.1f}/{p.max_points:.0f}",
                "; ".join(p.reasons),
            ]
            for p in sc.parts
        ],
    )
    if sc.capped_by:
        lines += ["", f"Grade capped: {sc.capped_by}."]
    lines += _where_the_time_went(d)
    esc = d.escalation
    notify = ", ".join(
        f"{n.person} ({n.role})" if n.person != n.role else n.role for n in esc.notify
    )
    lines += [
        "",
        "### Severity and impact",
        "",
        f"- Severity **{sev.level}** ({sev.name}: {sev.meaning}): "
        + ("; ".join(sev.reasons) or "no threshold met"),
        f"- Revenue impact: ${sev.revenue_per_hour_usd:,.0f}/hour (band {sev.revenue_band})",
        f"- Users: {imp.failed} of {imp.requests} requests failed over "
        f"{fmt_s(imp.window_production_s)}; worst minute {imp.worst_error_share:.1%} "
        f"failing; worst p95 {imp.worst_p95_ms:.0f} ms; "
        f"{imp.budget_burned_pct:.2f} % of the month's error budget",
        f"- Writes: {imp.enrollments_attempted} enrollments attempted, "
        f"{imp.enrollments_failed} failed, {imp.lost_writes} acknowledged write(s) lost",
        f"- Escalation: {notify or 'not required'}"
        + (f" (triggered: {'; '.join(esc.triggered)})" if esc.triggered else ""),
    ]
    lines += ["", "### Timeline", ""]
    lines += table(
        ["t (drill s)", "t (production s)", "event"],
        [[f"{e.t_s:+.1f}", f"{e.production_s:+.0f}", e.label] for e in d.timeline],
    )
    for book in d.runbooks:
        lines += ["", f"### Runbook {book.name} ({'ok' if book.ok else 'FAILED'})", ""]
        if book.file:
            lines += [f"From `{book.file}` ({book.source}).", ""]
        lines += table(
            ["step", "result", "duration (drill s)", "error"],
            [
                [
                    s.name,
                    "ok" if s.ok else "FAILED",
                    f"{s.duration_s:.2f}" if s.duration_s is not None else "-",
                    s.error or "",
                ]
                for s in book.steps
            ],
        )
        if book.operation_wait is not None:
            lines += ["", f"Then the runbook {book.operation_wait.summary()}."]
    if d.verification:
        lines += ["", "### Verification", ""]
        lines += table(
            ["check", "result", "detail"],
            [
                [n.replace("_", " "), "ok" if c.ok else "FAILED", c.detail]
                for n, c in d.verification.items()
            ],
        )
    lines += ["", "### What to improve", ""]
    lines += [f"- {i}" for i in d.improvements] or ["- Nothing: every part scored full."]
    return lines


def render_markdown(report: Report) -> str:
    """report.md for a run."""
    lines = _summary(report) + _how_measured(report)
    for d in report.drills:
        lines += _drill(d)
    return "\n".join(lines) + "\n"
