"""The drill-downs of report.html: one ``<details>`` per drill.

Open when the drill failed or is incomplete; it holds the drill's facts, score breakdown,
times, severity and escalation, its charts, the timeline, the runbook steps, the
verification checks and what to improve.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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

__all__ = ["render_drill"]


def _facts(d: Mapping[str, Any]) -> str:
    fault = d.get("fault")
    fault_text = None
    if isinstance(fault, Mapping):
        params = fault.get("params") or {}
        fault_text = f"{fault.get('kind')} {json.dumps(params, sort_keys=True)}"
    env = d.get("environment") or {}
    rows = [
        ("scenario", f"{d.get('scenario_title') or d.get('scenario')} ({d.get('scenario')})"),
        ("cause", d.get("cause")),
        ("cause, described", d.get("cause_description") or None),
        ("seed's cause", d.get("seed_cause") or None),
        ("fault", fault_text),
        ("expected alert", d.get("alert")),
        ("time scale", f"{float(d.get('time_scale') or 1.0):g}x (production = drill x scale)"),
        ("environment", f"{env.get('backend', '-')} {env.get('name', '')}".strip()),
        ("fault injected at", d.get("started_at")),
        ("result file", d.get("result_path")),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v is not None)
    return f'<dl class="facts">{items}</dl>'


def _score(d: Mapping[str, Any]) -> str:
    sc = d.get("score") or {}
    parts = list(sc.get("parts") or [])
    rows = [
        [
            esc(p.get("name")),
            esc(p.get("measured")),
            esc(p.get("target")),
            f"{num(p.get('points'))} / {num(p.get('max_points'), 0)}",
            bullets(p.get("reasons") or []) or "-",
        ]
        for p in parts
    ]
    rows.append(
        [
            "<b>total</b>",
            "",
            "",
            f"<b>{num(sc.get('points'))} / {num(sc.get('max_points', 100), 0)}</b>",
            f"grade <b>{esc(sc.get('grade'))}</b> {verdict_badge(bool(sc.get('passed')))}",
        ]
    )
    out = ["<h3>Score</h3>"]
    out.append(
        html_table(
            ["part", "measured", "target", "points", "reasons"],
            rows,
            numeric=(3,),
            failed=[bool(p.get("reasons")) for p in parts],
            table_id=f"score-{drill_slug(str(d.get('id')))}",
        )
    )
    if sc.get("capped_by"):
        out.append(f"<p><b>Capped:</b> {esc(sc['capped_by'])}</p>")
    if sc.get("reasons"):
        out.append("<p>Why it did not pass:</p>" + bullets(sc["reasons"]))
    return "".join(out)


def _times(d: Mapping[str, Any]) -> str:
    times = d.get("times") or {}
    targets = d.get("targets") or {}
    rows = []
    for key, label in (
        ("time_to_first_impact", "time to first impact"),
        ("mttd", "MTTD (fault to page)"),
        ("time_to_mitigate", "time to mitigate"),
        ("mttr", "MTTR (fault to steady state)"),
    ):
        t = times.get(key) or {}
        tg = targets.get(key) or {}
        rows.append(
            [
                esc(label),
                num(t.get("drill_s"), 2, " s"),
                dur(t.get("production_s")),
                dur(tg.get("production_s")) if tg else "",
            ]
        )
    table = html_table(
        ["time", "drill", "production-equivalent", "target (production)"],
        rows,
        numeric=(1, 2, 3),
    )
    return f"<h3>Times</h3>{table}"


def _severity(d: Mapping[str, Any]) -> str:
    sev = d.get("severity") or {}
    imp = d.get("impact") or {}
    out = [
        "<h3>Severity</h3>",
        f'<p><span class="badge sev">{esc(sev.get("level"))}</span> <b>{esc(sev.get("name"))}</b>'
        f": {esc(sev.get('meaning'))} (revenue band {esc(sev.get('revenue_band'))})</p>",
        '<dl class="facts">',
        f"<dt>revenue lost per hour</dt><dd>${float(sev.get('revenue_per_hour_usd') or 0):,.2f}"
        "</dd>",
        f"<dt>worst availability</dt><dd>{pct(sev.get('availability'))}</dd>",
        f"<dt>worst error rate</dt><dd>{pct(sev.get('error_rate'))}</dd>",
        f"<dt>worst p95 latency</dt><dd>{num(sev.get('p95_latency_s'), 3, ' s')}</dd>",
        f"<dt>data loss</dt><dd>{'yes' if sev.get('data_loss') else 'no'}</dd>",
    ]
    if imp:
        out.append(
            f"<dt>user requests</dt><dd>{esc(imp.get('failed'))} of {esc(imp.get('requests'))} "
            f"failed; {num(imp.get('budget_burned_pct'), 2)} % of the month's error budget; "
            f"{esc(imp.get('lost_writes'))} lost write(s)</dd>"
        )
    out.append("</dl>")
    if sev.get("reasons"):
        out.append("<p>Why this level:</p>" + bullets(sev["reasons"]))
    return "".join(out)


def _escalation(d: Mapping[str, Any]) -> str:
    escalation = d.get("escalation") or {}
    out = ["<h3>Escalation</h3>"]
    duration = escalation.get("duration_production_s")
    if duration is None:
        out.append(
            f"<p>{esc(escalation.get('level'))} incident that did not end (never mitigated).</p>"
        )
    else:
        out.append(
            f"<p>{esc(escalation.get('level'))} incident lasting {dur(duration)} "
            "(production-equivalent, fault to mitigation).</p>"
        )
    if escalation.get("triggered"):
        out.append("<p>Escalation triggered:</p>" + bullets(escalation["triggered"]))
    notify = sorted(
        escalation.get("notify") or [],
        key=lambda n: -1.0 if n.get("at_s") is None else float(n["at_s"]),
    )
    if notify:
        rows = [
            [
                esc(n.get("role")),
                esc(n.get("person")),
                "with the level"
                if n.get("at_s") is None
                else f"after {float(n['at_s']) / 60:.0f} min",
            ]
            for n in notify
        ]
        out.append("<p>Who would be notified:</p>")
        out.append(html_table(["role", "person", "when"], rows))
    else:
        out.append("<p>Nobody beyond the on-call engineer would be notified.</p>")
    return "".join(out)


def _charts(d: Mapping[str, Any], charts: ChartRenderer) -> str:
    errors = (d.get("series") or {}).get("series_errors") or []
    note = ""
    if errors:
        note = '<p class="small">Prometheus series errors:</p>' + bullets(errors)
    body = "".join(charts.render(d, spec) for spec in CHARTS)
    k = float(d.get("time_scale") or 1.0)
    return (
        "<h3>Charts</h3>"
        f'<p class="small">x: seconds since the fault in drill time; production-equivalent = '
        f"x &times; {k:g}. Dashed lines: fault, first impact, page, mitigated, recovered.</p>"
        f'{note}<div class="charts">{body}</div>'
    )


def _timeline(d: Mapping[str, Any]) -> str:
    events = list(d.get("timeline") or [])
    if not events:
        return "<h3>Timeline</h3><p>No timeline recorded.</p>"
    rows = []
    for e in events:
        detail = e.get("detail") or {}
        text = json.dumps(detail, sort_keys=True, default=str) if detail else ""
        if len(text) > 240:
            text = text[:237] + "..."
        rows.append(
            [
                num(e.get("t_s"), 3),
                num(e.get("production_s"), 1),
                esc(e.get("label")),
                f'<span class="small">{esc(text)}</span>' if text else "",
            ]
        )
    bad = {"detection_failed", "recovery_failed", "steady_state_not_met"}
    table = html_table(
        ["t_s (drill)", "production_s", "event", "detail"],
        rows,
        numeric=(0, 1),
        failed=[
            e.get("name") in bad
            or (e.get("name") == "runbook_step" and not (e.get("detail") or {}).get("ok"))
            for e in events
        ],
        table_id=f"timeline-{drill_slug(str(d.get('id')))}",
    )
    return f"<h3>Timeline</h3>{table}"


def _runbooks(d: Mapping[str, Any]) -> str:
    books = list(d.get("runbooks") or [])
    out = ["<h3>Runbook</h3>"]
    if not books:
        out.append("<p>No runbook ran.</p>")
    for b in books:
        steps = list(b.get("steps") or [])
        out.append(
            f"<p><b>{esc(b.get('name'))}</b> {'ok' if b.get('ok') else '<b class=fail>FAILED</b>'}"
            f", {len(steps)} step(s)</p>"
        )
        rows = []
        for i, s in enumerate(steps, 1):
            extra = []
            if s.get("error"):
                extra.append(f"<pre>{esc(s['error'])}</pre>")
            if s.get("output"):
                extra.append(
                    f"<details><summary>output</summary><pre>{esc(s['output'])}</pre></details>"
                )
            rows.append(
                [
                    str(i),
                    esc(s.get("name")),
                    num(s.get("duration_s"), 3, " s"),
                    "ok" if s.get("ok") else '<b class="fail">failed</b>',
                    "".join(extra),
                ]
            )
        out.append(
            html_table(
                ["#", "step", "duration (drill)", "result", "error / output"],
                rows,
                numeric=(0, 2),
                failed=[not s.get("ok") for s in steps],
            )
        )
    return "".join(out)


def _verification(d: Mapping[str, Any]) -> str:
    checks = d.get("verification") or {}
    out = ["<h3>Verification</h3>"]
    if not checks:
        out.append("<p>Verification did not run.</p>")
    else:
        names = list(checks)
        rows = [
            [
                esc(n.replace("_", " ")),
                "ok" if checks[n].get("ok") else '<b class="fail">failed</b>',
                esc(checks[n].get("detail")),
            ]
            for n in names
        ]
        out.append(
            html_table(
                ["check", "result", "detail"],
                rows,
                failed=[not checks[n].get("ok") for n in names],
            )
        )
    integrity = d.get("integrity")
    if isinstance(integrity, Mapping):
        lost = integrity.get("lost") or []
        out.append(
            f"<p>Acknowledged writes: {esc(integrity.get('attempts'))} attempted, "
            f"{esc(integrity.get('ok'))} ok, {esc(integrity.get('failed'))} failed, "
            f"{len(lost)} lost; RPO {num(integrity.get('rpo_s'), 3, ' s')}.</p>"
        )
    stray = d.get("alerts_at_end")
    if stray:
        out.append(f"<p>Alerts still firing at the end: {esc(', '.join(map(str, stray)))}</p>")
    return "".join(out)


def render_drill(d: Mapping[str, Any], charts: ChartRenderer) -> str:
    """One drill's ``<details>`` section, its charts drawn by ``charts``."""
    sc = d.get("score") or {}
    sev = d.get("severity") or {}
    passed = bool(sc.get("passed"))
    complete = bool(d.get("complete", True))
    slug = drill_slug(str(d.get("id")))
    summary = (
        f"{verdict_badge(passed)} {esc(d.get('id'))}: {esc(d.get('title'))} &middot; "
        f"score {num(sc.get('points'))} ({esc(sc.get('grade'))}) &middot; "
        f'<span class="badge sev">{esc(sev.get("level"))}</span>'
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
            + bullets(d.get("incomplete_reasons") or [])
            + "</div>"
        )
    if d.get("failures"):
        out.append("<h3>Failures</h3>" + bullets(d["failures"]))
    out += [
        _score(d),
        _times(d),
        _severity(d),
        _escalation(d),
        _charts(d, charts),
        _timeline(d),
        _runbooks(d),
        _verification(d),
        "<h3>What to improve</h3>",
        bullets(d.get("improvements") or []) or "<p>Nothing: every part scored in full.</p>",
        "</details>",
    ]
    return "".join(out)
