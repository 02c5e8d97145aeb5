"""report.html: one self-contained page with the run's scores, drill-downs and charts.

``render_html`` turns the report that ``build_report`` makes into one HTML file that needs
no network: the CSS is inline and plotly.js is inlined once, with the first chart. Every
drill has a ``<details>`` drill-down (open when the drill failed or is incomplete) with its
score breakdown, severity and escalation, four time-series charts (error rate, p95 latency,
memory per replica, database up/down) marked at the fault, first impact, page, mitigation
and recovery, the timeline, the runbook steps, the verification checks and what to improve.

This module makes the page (header, summary tables, "How these times were measured", CSS);
``drilldown`` makes each drill's section (with where its time went), ``charts`` its plotly
figures and ``html_cells`` the escaped cells they share. A drill whose times were computed
the old way (drill seconds x K) is marked in the summary table and in its section.

Every chart is a plotly figure in a ``<div id="chart-<drill>-<series>">`` with a
``data-points`` attribute (its number of points); ``document.getElementById(id).data`` holds
its traces in the browser. All text from the report is escaped; the same report renders to
the same page.
"""

from __future__ import annotations

from chaosdrill.report.charts import CHARTS, MARKER_STYLE, ChartRenderer, chart_id
from chaosdrill.report.drilldown import render_drill
from chaosdrill.report.html_cells import (
    bullets,
    drill_slug,
    dur,
    esc,
    html_table,
    num,
    verdict_badge,
)
from chaosdrill.report.timing_text import HOW_MEASURED, OLD_MARK, plan_items, plan_sources
from chaosdrill.report.types import REPORT_VERSION, DrillSection, Report

__all__ = ["CHARTS", "MARKER_STYLE", "chart_id", "render_html"]

_CSS = """
:root { --fg: #1d2433; --muted: #5b6478; --line: #d8dce5; --bg: #f6f7fa;
  --pass: #1e7d32; --fail: #b3261e; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.headline { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.stat { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 14px; min-width: 120px; }
.stat b { display: block; font-size: 20px; }
.stat span { color: var(--muted); font-size: 12px; }
.pass { color: var(--pass); }
.fail { color: var(--fail); }
.badge { display: inline-block; border-radius: 4px; padding: 0 6px; font-weight: 600;
  font-size: 12px; color: #fff; }
.badge.pass { background: var(--pass); color: #fff; }
.badge.fail { background: var(--fail); color: #fff; }
.badge.sev { background: #44506a; }
.banner { border: 2px solid var(--warn); background: #fff4d6; color: #4a3200;
  border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.banner strong { font-size: 16px; letter-spacing: 0.05em; }
.warn { border-left: 4px solid var(--warn); background: #fff4d6; color: #4a3200;
  padding: 6px 10px; margin: 8px 0; }
.old-way { border-left: 4px solid var(--muted); background: var(--bg); padding: 6px 10px;
  margin: 8px 0; }
table { border-collapse: collapse; margin: 6px 0 10px; width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.failed td { background: #fdecea; }
details.drill { border: 1px solid var(--line); border-radius: 6px; margin: 12px 0;
  padding: 0 14px; }
details.drill > summary { cursor: pointer; padding: 10px 0; font-size: 16px; font-weight: 600; }
details.drill[open] > summary { border-bottom: 1px solid var(--line); margin-bottom: 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
  gap: 12px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 4px; min-width: 0; }
.no-data { color: var(--muted); font-style: italic; padding: 12px; margin: 0; }
.chart-title { font-weight: 600; padding: 6px 8px 0; margin: 0; }
pre { background: var(--bg); border: 1px solid var(--line); padding: 6px 8px;
  white-space: pre-wrap; word-break: break-word; margin: 4px 0; font-size: 12px; }
.small { font-size: 12px; color: var(--muted); }
ul.reasons { margin: 4px 0 8px; padding-left: 20px; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
"""

# A chart is drawn while the page is still being parsed, and one inside a closed <details>
# at a default size: fit every chart to its box once the page has loaded and when opened.
_JS = """
function chaosdrillFit(root) {
  if (!window.Plotly) { return; }
  root.querySelectorAll(".plotly-graph-div").forEach(function (g) {
    if (g.offsetParent !== null) { window.Plotly.Plots.resize(g); }
  });
}
window.addEventListener("load", function () { chaosdrillFit(document); });
document.querySelectorAll("details.drill").forEach(function (d) {
  d.addEventListener("toggle", function () { if (d.open) { chaosdrillFit(d); } });
});
"""


# --- header and summary -------------------------------------------------------------------


def _header(report: Report) -> str:
    s = report.summary
    plan = report.plan
    passed = s.passed
    worst = s.worst_severity
    worst_text = f"{worst} ({s.worst_severity_name})" if worst else "-"
    meta = [
        f"run <b>{esc(report.run_id)}</b>",
        f"generated {esc(report.generated_at)}",
        f"{esc(report.kind)}",
        f"service {esc(plan.service)}",
    ]
    if plan.source:
        meta.append(f"plan file {esc(plan.source)}")
    stats = [
        (
            f'<b class="{"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</b>',
            "verdict",
        ),
        (f"<b>{num(s.points)}</b>", "score / 100"),
        (f"<b>{esc(s.grade)}</b>", "grade"),
        (f"<b>{esc(worst_text)}</b>", "worst severity"),
        (
            f"<b>{esc(s.drills_passed)} of {esc(s.drills)}</b>",
            "drills passed",
        ),
    ]
    cards = "".join(f'<div class="stat">{v}<span>{k}</span></div>' for v, k in stats)
    out = [
        f"<header><h1>Drill report: {esc(plan.name)}</h1>",
        f'<p class="meta">{" &middot; ".join(meta)}</p>',
        f'<div class="headline" id="headline">{cards}</div>',
    ]
    if not report.complete:
        out.append(_incomplete_banner(report))
    if s.reasons:
        out.append("<h3>Why the run did not pass</h3>" + bullets(s.reasons))
    out.append("</header>")
    return "".join(out)


def _incomplete_banner(report: Report) -> str:
    parts = ['<div class="banner" id="incomplete" role="alert"><strong>INCOMPLETE</strong> ']
    if report.interrupted:
        parts.append(f"<p>The run was interrupted: {esc(report.interrupted)}</p>")
    rows = [
        f"<li><b>{esc(d.id)}</b>: {esc('; '.join(d.incomplete_reasons))}</li>"
        for d in report.drills
        if not d.complete
    ]
    if rows:
        parts.append(
            "<p>What is shown is what was measured before the drill(s) stopped:</p>"
            f"<ul>{''.join(rows)}</ul>"
        )
    parts.append("</div>")
    return "".join(parts)


def _time_vs_target(d: DrillSection, key: str) -> str:
    got = getattr(d.times, key).production_s
    target = getattr(d.targets, key).production_s
    cls = ""
    if got is not None and target is not None:
        cls = "pass" if got <= target else "fail"
    elif got is None:
        cls = "fail"
    return f'<span class="{cls}">{dur(got)}</span> / {dur(target)}'


def _summary_table(report: Report) -> str:
    rows = []
    drills = report.drills
    for d in drills:
        sc = d.score
        mark = f' <span title="times computed the old way">{OLD_MARK}</span>'
        rows.append(
            [
                f'<a href="#drill-{esc(drill_slug(d.id))}">{esc(d.id)}</a>'
                + (mark if d.old_timing else ""),
                esc(d.scenario),
                esc(d.cause),
                _time_vs_target(d, "mttd"),
                _time_vs_target(d, "mttr"),
                num(sc.points),
                esc(sc.grade),
                esc(d.severity.level),
                verdict_badge(sc.passed) + ("" if d.complete else " <b>incomplete</b>"),
            ]
        )
    table = html_table(
        [
            "drill",
            "scenario",
            "cause",
            "MTTD (production) / target",
            "MTTR (production) / target",
            "score",
            "grade",
            "severity",
            "verdict",
        ],
        rows,
        numeric=(5,),
        failed=[not d.score.passed for d in drills],
        table_id="summary",
    )
    old = [d.id for d in drills if d.old_timing]
    note = (
        f'<p class="old-way" id="old-way">{OLD_MARK} Times computed the old way (drill '
        f"seconds x K): {esc(', '.join(old))}.</p>"
        if old
        else ""
    )
    return f"<section><h2>Drills</h2>{table}{note}{_distribution(report)}</section>"


def _how_measured(report: Report) -> str:
    """The report's one section on how its times were measured."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in plan_items(report))
    sources = plan_sources(report)
    table = (
        html_table(
            ["event", "source"],
            [[esc(e), esc(src)] for e, src in sources],
            table_id="timing-sources",
        )
        if sources
        else "<p>Not recorded.</p>"
    )
    return (
        f'<section id="timing"><h2>{esc(HOW_MEASURED)}</h2><dl class="facts">{items}</dl>'
        f"<h3>Where each timestamp comes from</h3>{table}</section>"
    )


def _distribution(report: Report) -> str:
    s = report.summary
    rows = []
    for dist, label, fmt in (
        (s.mttd_s, "MTTD (production-equivalent)", dur),
        (s.mttr_s, "MTTR (production-equivalent)", dur),
        (s.points_distribution, "score (points)", num),
    ):
        rows.append(
            [
                label,
                esc(dist.n),
                esc(dist.missing),
                fmt(dist.min),
                fmt(dist.median),
                fmt(dist.max),
            ]
        )
    table = html_table(
        ["measure", "drills", "missing", "min", "median", "max"],
        rows,
        numeric=(1, 2, 3, 4, 5),
        table_id="distribution",
    )
    return f"<h3>Plan distribution</h3>{table}"


def render_html(report: Report) -> str:
    """Render a report (what ``build_report`` returns) as one self-contained HTML page.

    Args:
        report: the run's report.

    Returns:
        The page: inline CSS, plotly.js inlined once, no reference to the network. The same
        report gives the same page.
    """
    charts = ChartRenderer()
    drills = "".join(render_drill(d, charts) for d in report.drills)
    title = f"Drill report: {report.plan.name} ({report.run_id})"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body><main>",
            _header(report),
            _summary_table(report),
            _how_measured(report),
            f'<section id="drills"><h2>Drill-downs</h2>{drills or "<p>No drill ran.</p>"}'
            "</section>",
            f"<footer>chaosdrill report version {esc(REPORT_VERSION)}" "</footer>",
            "</main>",
            f"<script>{_JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
