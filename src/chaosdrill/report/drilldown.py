"""The drill-downs of report.html: one ``<details>`` per drill.

Open when the drill failed or is incomplete; it holds the drill's facts, score breakdown,
times (MTTD beside its detection floor), where the time went (phases and segments, drill
and production seconds, on which clock; a warning when detection was much slower than its
floor), severity and escalation, its charts, the timeline, the runbook steps, the
verification checks and what to improve. A drill whose times were computed the old way
(drill seconds x K) says so where its times are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from chaosdrill.report.charts import CHARTS, ChartRenderer
from chaosdrill.report.html_cells import (
    bullets,
    drill_slug,
    dur,
    esc,
    html_table,
    num,
    pct,
    verdict_badge,
)
from chaosdrill.report.timing_text import (
    floor_line,
    method_line,
    old_way_note,
    old_way_short,
    recovery_line,
    slow_detection_line,
)
from chaosdrill.report.types import DrillSection

__all__ = ["render_drill"]


def _facts(d: DrillSection) -> str:
    fault = d.fault
    fault_text = None
    if isinstance(fault, Mapping):
        params = fault.get("params") or {}
        fault_text = f"{fault.get('kind')} {json.dumps(params, sort_keys=True)}"
    env = d.environment
    rows = [
        ("scenario", f"{d.scenario_title or d.scenario} ({d.scenario})"),
        ("cause", d.cause),
        ("cause, described", d.cause_description or None),
        ("seed's cause", d.seed_cause or None),
        ("fault", fault_text),
        ("expected alert", d.alert),
        ("time scale", _scale_text(d)),
        ("environment", f"{env.get('backend', '-')} {env.get('name', '')}".strip()),
        ("fault injected at", d.started_at),
        ("result file", d.result_path),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v is not None)
    return f'<dl class="facts">{items}</dl>'


def _scale_text(d: DrillSection) -> str:
    k = float(d.time_scale or 1.0)
    if d.old_timing:
        return f"{k:g}x ({old_way_short(d)}: production = drill x {k:g})"
    return f"{k:g}x (scaled time: production = drill x {k:g}; program time is not scaled)"


def _score(d: DrillSection) -> str:
    sc = d.score
    parts = sc.parts
    rows = [
        [
            esc(p.name),
            esc(p.measured),
            esc(p.target),
            f"{num(p.points)} / {num(p.max_points, 0)}",
            bullets(p.reasons) or "-",
        ]
        for p in parts
    ]
    rows.append(
        [
            "<b>total</b>",
            "",
            "",
            f"<b>{num(sc.points)} / {num(sc.max_points, 0)}</b>",
            f"grade <b>{esc(sc.grade)}</b> {verdict_badge(sc.passed)}",
        ]
    )
    out = ["<h3>Score</h3>"]
    out.append(
        html_table(
            ["part", "measured", "target", "points", "reasons"],
            rows,
            numeric=(3,),
            failed=[bool(p.reasons) for p in parts],
            table_id=f"score-{drill_slug(d.id)}",
        )
    )
    if sc.capped_by:
        out.append(f"<p><b>Capped:</b> {esc(sc.capped_by)}</p>")
    if sc.reasons:
        out.append("<p>Why it did not pass:</p>" + bullets(sc.reasons))
    return "".join(out)


def _times(d: DrillSection) -> str:
    rows = []
    for key, label in (
        ("time_to_first_impact", "time to first impact"),
        ("mttd", "MTTD (fault to page)"),
        ("time_to_mitigate", "time to mitigate"),
        ("mttr", "MTTR (fault to steady state)"),
    ):
        t = getattr(d.times, key)
        tg = getattr(d.targets, key, None)  # targets: MTTD and MTTR only
        rows.append(
            [
                esc(label),
                num(t.drill_s, 2, " s"),
                dur(t.production_s),
                dur(tg.production_s) if tg else "",
            ]
        )
        floor = d.timing.floor if d.timing else None
        if key == "mttd" and floor is not None:
            rows.append(
                [
                    f"detection floor ({esc(floor.rule)}: earliest page)",
                    num(floor.drill_s, 2, " s"),
                    dur(floor.production_s),
                    "",
                ]
            )
    table = html_table(
        ["time", "drill", "production-equivalent", "target (production)"],
        rows,
        numeric=(1, 2, 3),
        table_id=f"times-{drill_slug(d.id)}",
    )
    out = [f"<h3>Times</h3>{table}"]
    if d.old_timing:
        out.append(f'<p class="old-way">{esc(old_way_note(d))}</p>')
    if (rec := recovery_line(d)) is not None:
        cls = "warn" if d.recovery and d.recovery.kind == "before_response" else "old-way"
        out.append(f'<p class="{cls}" id="recovery-{drill_slug(d.id)}">{esc(rec)}</p>')
    return "".join(out)


def _where_the_time_went(d: DrillSection) -> str:
    """The phases and segments of a split drill (nothing for one timed the old way)."""
    t = d.timing
    if t is None:
        return ""
    slug = drill_slug(d.id)
    out = ["<h3>Where the time went</h3>", f'<p class="small">{esc(method_line(d))}</p>']
    if (floor := floor_line(d)) is not None:
        out.append(f"<p>{esc(floor)}</p>")
    if (slow := slow_detection_line(d)) is not None:
        out.append(f'<p class="warn" role="alert" id="slow-{slug}"><b>Warning</b>: {esc(slow)}</p>')
    out.append(
        html_table(
            ["phase", "drill", "production-equivalent", "clock"],
            [
                [esc(p.label), num(p.drill_s, 2, " s"), dur(p.production_s), esc(p.clock)]
                for p in t.phases
            ],
            numeric=(1, 2),
            table_id=f"phases-{slug}",
        )
    )
    out.append("<p>What filled each stretch after the fault:</p>")
    out.append(
        html_table(
            ["from (drill)", "to (drill)", "drill", "production-equivalent", "clock", "what"],
            [
                [
                    num(s.from_s, 3, " s"),
                    num(s.to_s, 3, " s"),
                    num(s.drill_s, 3, " s"),
                    dur(s.production_s),
                    esc(s.clock if s.factor is None else f"{s.clock} (x{s.factor:g})"),
                    esc(s.what),
                ]
                for s in t.segments
            ],
            numeric=(0, 1, 2, 3),
            table_id=f"segments-{slug}",
        )
    )
    out.append(f'<p class="small">Resolution: {esc(t.resolution.text())}.</p>')
    return "".join(out)


def _severity(d: DrillSection) -> str:
    sev = d.severity
    imp = d.impact
    out = [
        "<h3>Severity</h3>",
        f'<p><span class="badge sev">{esc(sev.level)}</span> <b>{esc(sev.name)}</b>'
        f": {esc(sev.meaning)} (revenue band {esc(sev.revenue_band)})</p>",
        '<dl class="facts">',
        f"<dt>revenue lost per hour</dt><dd>${float(sev.revenue_per_hour_usd or 0):,.2f}</dd>",
        f"<dt>worst availability</dt><dd>{pct(sev.availability)}</dd>",
        f"<dt>worst error rate</dt><dd>{pct(sev.error_rate)}</dd>",
        f"<dt>worst p95 latency</dt><dd>{num(sev.p95_latency_s, 3, ' s')}</dd>",
        f"<dt>data loss</dt><dd>{'yes' if sev.data_loss else 'no'}</dd>",
        f"<dt>user requests</dt><dd>{esc(imp.failed)} of {esc(imp.requests)} "
        f"failed; {num(imp.budget_burned_pct, 2)} % of the month's error budget; "
        f"{esc(imp.lost_writes)} lost write(s)</dd>",
    ]
    out.append("</dl>")
    if sev.reasons:
        out.append("<p>Why this level:</p>" + bullets(sev.reasons))
    return "".join(out)


def _escalation(d: DrillSection) -> str:
    escalation = d.escalation
    out = ["<h3>Escalation</h3>"]
    duration = escalation.duration_production_s
    if duration is None:
        out.append(f"<p>{esc(escalation.level)} incident that did not end (never mitigated).</p>")
    else:
        out.append(
            f"<p>{esc(escalation.level)} incident lasting {dur(duration)} "
            "(production-equivalent, fault to mitigation).</p>"
        )
    if escalation.triggered:
        out.append("<p>Escalation triggered:</p>" + bullets(escalation.triggered))
    notify = sorted(escalation.notify, key=lambda n: -1.0 if n.at_s is None else float(n.at_s))
    if notify:
        rows = [
            [
                esc(n.role),
                esc(n.person),
                "with the level" if n.at_s is None else f"after {float(n.at_s) / 60:.0f} min",
            ]
            for n in notify
        ]
        out.append("<p>Who would be notified:</p>")
        out.append(html_table(["role", "person", "when"], rows))
    else:
        out.append("<p>Nobody beyond the on-call engineer would be notified.</p>")
    return "".join(out)


def _charts(d: DrillSection, charts: ChartRenderer) -> str:
    errors = d.series.series_errors
    note = ""
    if errors:
        note = '<p class="small">Prometheus series errors:</p>' + bullets(errors)
    body = "".join(charts.render(d, spec) for spec in CHARTS)
    k = float(d.time_scale or 1.0)
    scale = (
        f"production-equivalent = x &times; {k:g} ({esc(old_way_short(d))})"
        if d.old_timing
        else f"scaled time is x &times; {k:g} in production, program time is not scaled "
        "(where the time went: above)"
    )
    return (
        "<h3>Charts</h3>"
        f'<p class="small">x: seconds since the fault in drill time; {scale}. '
        "Dashed lines: fault, first impact, page, mitigated, recovered.</p>"
        f'{note}<div class="charts">{body}</div>'
    )


def _timeline(d: DrillSection) -> str:
    events = d.timeline
    if not events:
        return "<h3>Timeline</h3><p>No timeline recorded.</p>"
    rows = []
    for e in events:
        detail = e.detail
        text = json.dumps(detail, sort_keys=True, default=str) if detail else ""
        if len(text) > 240:
            text = text[:237] + "..."
        rows.append(
            [
                num(e.t_s, 3),
                num(e.production_s, 1),
                esc(e.label),
                f'<span class="small">{esc(text)}</span>' if text else "",
            ]
        )
    bad = {"detection_failed", "recovery_failed", "steady_state_not_met", "revert_deferred"}
    judged = {"runbook_step", "runbook_operation_wait"}  # failed unless ok
    table = html_table(
        ["t_s (drill)", "production_s", "event", "detail"],
        rows,
        numeric=(0, 1),
        failed=[e.name in bad or (e.name in judged and not e.detail.get("ok")) for e in events],
        table_id=f"timeline-{drill_slug(d.id)}",
    )
    return f"<h3>Timeline</h3>{table}"


def _runbooks(d: DrillSection) -> str:
    books = d.runbooks
    out = ["<h3>Runbook</h3>"]
    if not books:
        out.append("<p>No runbook ran.</p>")
    for b in books:
        steps = b.steps
        out.append(
            f"<p><b>{esc(b.name)}</b> {'ok' if b.ok else '<b class=fail>FAILED</b>'}"
            f", {len(steps)} step(s)</p>"
        )
        rows = []
        for i, s in enumerate(steps, 1):
            extra = []
            if s.error:
                extra.append(f"<pre>{esc(s.error)}</pre>")
            if s.output:
                extra.append(
                    f"<details><summary>output</summary><pre>{esc(s.output)}</pre></details>"
                )
            rows.append(
                [
                    str(i),
                    esc(s.name),
                    num(s.duration_s, 3, " s"),
                    "ok" if s.ok else '<b class="fail">failed</b>',
                    "".join(extra),
                ]
            )
        out.append(
            html_table(
                ["#", "step", "duration (drill)", "result", "error / output"],
                rows,
                numeric=(0, 2),
                failed=[not s.ok for s in steps],
            )
        )
        if (w := b.operation_wait) is not None:
            mark = "" if w.ok else ' class="fail"'
            out.append(f"<p{mark}>Then the runbook {esc(w.summary())}.</p>")
    return "".join(out)


def _verification(d: DrillSection) -> str:
    checks = d.verification
    out = ["<h3>Verification</h3>"]
    if not checks:
        out.append("<p>Verification did not run.</p>")
    else:
        names = list(checks)
        rows = [
            [
                esc(n.replace("_", " ")),
                "ok" if checks[n].ok else '<b class="fail">failed</b>',
                esc(checks[n].detail),
            ]
            for n in names
        ]
        out.append(
            html_table(
                ["check", "result", "detail"],
                rows,
                failed=[not checks[n].ok for n in names],
            )
        )
    integrity = d.integrity
    if isinstance(integrity, Mapping):
        lost = integrity.get("lost") or []
        out.append(
            f"<p>Acknowledged writes: {esc(integrity.get('attempts'))} attempted, "
            f"{esc(integrity.get('ok'))} ok, {esc(integrity.get('failed'))} failed, "
            f"{len(lost)} lost; RPO {num(integrity.get('rpo_s'), 3, ' s')}.</p>"
        )
    stray = d.alerts_at_end
    if stray:
        out.append(f"<p>Alerts still firing at the end: {esc(', '.join(map(str, stray)))}</p>")
    return "".join(out)


def render_drill(d: DrillSection, charts: ChartRenderer) -> str:
    """One drill's ``<details>`` section, its charts drawn by ``charts``."""
    sc = d.score
    sev = d.severity
    passed = sc.passed
    complete = d.complete
    slug = drill_slug(d.id)
    summary = (
        f"{verdict_badge(passed)} {esc(d.id)}: {esc(d.title)} &middot; "
        f"score {num(sc.points)} ({esc(sc.grade)}) &middot; "
        f'<span class="badge sev">{esc(sev.level)}</span>'
        + ("" if complete else " &middot; <b>INCOMPLETE</b>")
    )
    out = [
        f'<details class="drill" id="drill-{slug}"{"" if passed and complete else " open"}>',
        f"<summary>{summary}</summary>",
        _facts(d),
    ]
    if not complete:
        out.append(
            '<div class="banner"><strong>INCOMPLETE</strong>'
            + bullets(d.incomplete_reasons)
            + "</div>"
        )
    if d.failures:
        out.append("<h3>Failures</h3>" + bullets(d.failures))
    out += [
        _score(d),
        _times(d),
        _where_the_time_went(d),
        _severity(d),
        _escalation(d),
        _charts(d, charts),
        _timeline(d),
        _runbooks(d),
        _verification(d),
        "<h3>What to improve</h3>",
        bullets(d.improvements) or "<p>Nothing: every part scored in full.</p>",
        "</details>",
    ]
    return "".join(out)
