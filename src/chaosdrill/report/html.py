"""report.html: one self-contained page with the run's scores, drill-downs and charts.

``render_html`` turns the report that ``build_report`` makes into one HTML file that needs
no network: the CSS is inline and plotly.js is inlined once, with the first chart. Every
drill has a ``<details>`` drill-down (open when the drill failed or is incomplete) with its
score breakdown, severity and escalation, four time-series charts (error rate, p95 latency,
memory per replica, database up/down) marked at the fault, first impact, page, mitigation
and recovery, the timeline, the runbook steps, the verification checks and what to improve.

Every chart is a plotly figure in a ``<div id="chart-<drill>-<series>">`` with a
``data-points`` attribute (its number of points); ``document.getElementById(id).data`` holds
its traces in the browser. All text from the report is escaped; the same report renders to
the same page.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]

__all__ = ["CHARTS", "MARKER_STYLE", "chart_id", "render_html"]

#: markers drawn on every chart: report marker name -> (label, colour)
MARKER_STYLE: dict[str, tuple[str, str]] = {
    "inject": ("fault", "#d62728"),
    "first_impact": ("first impact", "#ff7f0e"),
    "page": ("page", "#9467bd"),
    "mitigated": ("mitigated", "#1f77b4"),
    "recovered": ("recovered", "#2ca02c"),
}

_MIB = 1024.0 * 1024.0
#: line colours (plotly's own palette, without its template)
_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880")
_CHART_HEIGHT = 330
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True)
class _Source:
    """One series group of a drill's report feeding a chart, and how to convert it."""

    origin: str  # "prometheus" or "client"
    name: str  # key under series.<origin>
    suffix: str  # appended to each line's label in the legend
    scale: float  # multiplier to the chart's unit


@dataclass(frozen=True)
class ChartSpec:
    """A chart drawn for every drill."""

    key: str
    title: str
    y_title: str
    sources: tuple[_Source, ...]
    step: bool = False


#: the charts of each drill, in page order
CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "error_rate",
        "Error rate",
        "errors (%)",
        (
            _Source("prometheus", "error_rate", "Prometheus", 100.0),
            _Source("client", "error_rate", "client", 100.0),
        ),
    ),
    ChartSpec(
        "p95_latency",
        "p95 latency",
        "p95 latency (ms)",
        (
            _Source("prometheus", "p95_latency_s", "Prometheus", 1000.0),
            _Source("client", "p95_latency_ms", "client", 1.0),
        ),
    ),
    ChartSpec(
        "memory",
        "Memory per replica",
        "resident memory (MiB)",
        (_Source("prometheus", "memory_bytes", "", 1.0 / _MIB),),
    ),
    ChartSpec(
        "database_up",
        "Database up/down",
        "up (1) / down (0)",
        (_Source("prometheus", "database_up", "", 1.0),),
        step=True,
    ),
)

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


def _e(value: Any) -> str:
    """Text from the report, escaped for HTML ("-" when unknown)."""
    return "-" if value is None else html.escape(str(value), quote=True)


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-") or "drill"


def chart_id(drill_id: str, key: str) -> str:
    """The id of a drill's chart div, e.g. ``chart-bad-release-error_rate``."""
    return f"chart-{_slug(drill_id)}-{key}"


def _num(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "-"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return _e(value)
    text = f"{f:.{digits}f}"
    if text.startswith("-") and float(text) == 0:  # no "-0.0"
        text = text[1:]
    return f"{text}{unit}"


def _dur(value: Any) -> str:
    """A production-equivalent duration: seconds, with minutes past two minutes."""
    if value is None:
        return "-"
    v = float(value)
    if abs(v) >= 120:
        return f"{v:.0f}&nbsp;s ({v / 60:.1f}&nbsp;min)"
    return f"{v:.1f}&nbsp;s"


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{float(value) * 100:.{digits}f} %"


def _verdict(passed: bool) -> str:
    return (
        '<span class="badge pass">PASS</span>' if passed else '<span class="badge fail">FAIL</span>'
    )


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    failed: Sequence[bool] = (),
    table_id: str | None = None,
) -> str:
    """A table of already escaped cells; rows flagged in ``failed`` are highlighted."""
    attr = f' id="{_e(table_id)}"' if table_id else ""
    head = "".join(
        f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for n, row in enumerate(rows):
        tr = '<tr class="failed">' if n < len(failed) and failed[n] else "<tr>"
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"{tr}{cells}</tr>")
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _list(items: Iterable[Any], cls: str = "reasons") -> str:
    lis = "".join(f"<li>{_e(i)}</li>" for i in items)
    return f'<ul class="{cls}">{lis}</ul>' if lis else ""


# --- header and summary -------------------------------------------------------------------


def _header(report: Mapping[str, Any]) -> str:
    s = report.get("summary") or {}
    plan = report.get("plan") or {}
    passed = bool(s.get("passed"))
    worst = s.get("worst_severity")
    worst_text = f"{worst} ({s.get('worst_severity_name')})" if worst else "-"
    meta = [
        f"run <b>{_e(report.get('run_id'))}</b>",
        f"generated {_e(report.get('generated_at'))}",
        f"{_e(report.get('kind'))}",
        f"service {_e(plan.get('service'))}",
    ]
    if plan.get("source"):
        meta.append(f"plan file {_e(plan.get('source'))}")
    stats = [
        (
            f'<b class="{"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</b>',
            "verdict",
        ),
        (f"<b>{_num(s.get('points'))}</b>", "score / 100"),
        (f"<b>{_e(s.get('grade'))}</b>", "grade"),
        (f"<b>{_e(worst_text)}</b>", "worst severity"),
        (
            f"<b>{_e(s.get('drills_passed'))} of {_e(s.get('drills'))}</b>",
            "drills passed",
        ),
    ]
    cards = "".join(f'<div class="stat">{v}<span>{k}</span></div>' for v, k in stats)
    out = [
        f"<header><h1>Drill report: {_e(plan.get('name'))}</h1>",
        f'<p class="meta">{" &middot; ".join(meta)}</p>',
        f'<div class="headline" id="headline">{cards}</div>',
    ]
    if not report.get("complete", True):
        out.append(_incomplete_banner(report))
    if s.get("reasons"):
        out.append("<h3>Why the run did not pass</h3>" + _list(s["reasons"]))
    out.append("</header>")
    return "".join(out)


def _incomplete_banner(report: Mapping[str, Any]) -> str:
    parts = ['<div class="banner" id="incomplete" role="alert"><strong>INCOMPLETE</strong> ']
    if report.get("interrupted"):
        parts.append(f"<p>The run was interrupted: {_e(report['interrupted'])}</p>")
    rows = [
        f"<li><b>{_e(d.get('id'))}</b>: {_e('; '.join(d.get('incomplete_reasons') or []))}</li>"
        for d in report.get("drills") or []
        if not d.get("complete", True)
    ]
    if rows:
        parts.append(
            "<p>What is shown is what was measured before the drill(s) stopped:</p>"
            f"<ul>{''.join(rows)}</ul>"
        )
    parts.append("</div>")
    return "".join(parts)


def _time_vs_target(d: Mapping[str, Any], key: str) -> str:
    got = ((d.get("times") or {}).get(key) or {}).get("production_s")
    target = ((d.get("targets") or {}).get(key) or {}).get("production_s")
    cls = ""
    if got is not None and target is not None:
        cls = "pass" if got <= target else "fail"
    elif got is None:
        cls = "fail"
    return f'<span class="{cls}">{_dur(got)}</span> / {_dur(target)}'


def _summary_table(report: Mapping[str, Any]) -> str:
    rows = []
    drills = list(report.get("drills") or [])
    for d in drills:
        sc = d.get("score") or {}
        sev = d.get("severity") or {}
        rows.append(
            [
                f'<a href="#drill-{_e(_slug(str(d.get("id"))))}">{_e(d.get("id"))}</a>',
                _e(d.get("scenario")),
                _e(d.get("cause")),
                _time_vs_target(d, "mttd"),
                _time_vs_target(d, "mttr"),
                _num(sc.get("points")),
                _e(sc.get("grade")),
                _e(sev.get("level")),
                _verdict(bool(sc.get("passed")))
                + ("" if d.get("complete", True) else " <b>incomplete</b>"),
            ]
        )
    table = _table(
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
        failed=[not (d.get("score") or {}).get("passed") for d in drills],
        table_id="summary",
    )
    return f"<section><h2>Drills</h2>{table}{_distribution(report)}</section>"


def _distribution(report: Mapping[str, Any]) -> str:
    s = report.get("summary") or {}
    rows = []
    for key, label, fmt in (
        ("mttd_s", "MTTD (production-equivalent)", _dur),
        ("mttr_s", "MTTR (production-equivalent)", _dur),
        ("points_distribution", "score (points)", _num),
    ):
        dist = s.get(key) or {}
        rows.append(
            [
                label,
                _e(dist.get("n", 0)),
                _e(dist.get("missing", 0)),
                fmt(dist.get("min")),
                fmt(dist.get("median")),
                fmt(dist.get("max")),
            ]
        )
    table = _table(
        ["measure", "drills", "missing", "min", "median", "max"],
        rows,
        numeric=(1, 2, 3, 4, 5),
        table_id="distribution",
    )
    return f"<h3>Plan distribution</h3>{table}"


# --- charts -------------------------------------------------------------------------------


def _points(raw: Any, scale: float) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for p in raw or []:
        try:
            x, y = float(p[0]), float(p[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            xs.append(x)
            ys.append(round(y * scale, 6))
    return xs, ys


def _traces(d: Mapping[str, Any], spec: ChartSpec) -> list[tuple[str, list[float], list[float]]]:
    series = d.get("series") or {}
    out = []
    for src in spec.sources:
        group = (series.get(src.origin) or {}).get(src.name) or {}
        for line in group.get("series") or []:
            xs, ys = _points(line.get("points"), src.scale)
            if not xs:
                continue
            label = str(line.get("label") or ("service" if src.origin == "prometheus" else ""))
            name = f"{label} ({src.suffix})" if src.suffix else label
            out.append((name, xs, ys))
    return out


def _marker_layout(markers: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Vertical lines at the drill's markers, one label per distinct time."""
    shapes: list[dict[str, Any]] = []
    at: dict[float, list[str]] = {}
    colour_at: dict[float, str] = {}
    for name, (label, colour) in MARKER_STYLE.items():
        t = markers.get(name)
        if t is None:
            continue
        x = float(t)
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": colour, "width": 1.5, "dash": "dash"},
                "name": f"marker-{name}",
            }
        )
        key = round(x, 3)
        at.setdefault(key, []).append(label)
        colour_at.setdefault(key, colour)
    annotations = [
        {
            "x": x,
            "xref": "x",
            "y": 1.0,
            "yref": "paper",
            "yanchor": "bottom",
            "yshift": 2 + 13 * (i % 2),
            "text": html.escape(" / ".join(labels)),
            "showarrow": False,
            "font": {"size": 10, "color": colour_at[x]},
        }
        for i, (x, labels) in enumerate(sorted(at.items()))
    ]
    return shapes, annotations


@functools.cache
def _template() -> go.layout.Template:
    """A small white template (plotly's own are large: slow to copy, heavy in the page)."""
    axis = {
        "gridcolor": "#e6e9ef",
        "zerolinecolor": "#c4cad6",
        "linecolor": "#c4cad6",
        "automargin": True,
    }
    return go.layout.Template(
        layout={
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "font": {"family": "DejaVu Sans, Arial, sans-serif", "size": 12, "color": "#1d2433"},
            "colorway": list(_COLOURS),
            "hovermode": "x unified",
            "xaxis": axis,
            "yaxis": axis,
        }
    )


def _figure(d: Mapping[str, Any], spec: ChartSpec) -> tuple[go.Figure, int] | None:
    traces = _traces(d, spec)
    if not traces:
        return None
    k = float(d.get("time_scale") or 1.0)
    shapes, annotations = _marker_layout(d.get("markers") or {})
    yaxis: dict[str, Any] = {"title": {"text": spec.y_title}, "rangemode": "tozero"}
    if spec.step:
        yaxis.update(range=[-0.1, 1.15], tickvals=[0, 1], ticktext=["down", "up"])
    fig = go.Figure(
        data=[
            go.Scatter(
                x=xs,
                y=ys,
                name=name,
                mode="lines",
                line={"shape": "hv" if spec.step else "linear", "width": 2},
            )
            for name, xs, ys in traces
        ],
        layout={
            "template": _template(),
            "height": _CHART_HEIGHT,
            "margin": {"l": 60, "r": 10, "t": 44, "b": 46},
            "showlegend": True,
            "legend": {"font": {"size": 11}},
            "xaxis": {
                "title": {
                    "text": "seconds since the fault "
                    f"(drill s; production-equivalent = x \u00d7 {k:g})",
                    "font": {"size": 11},
                }
            },
            "yaxis": yaxis,
            "shapes": shapes,
            "annotations": annotations,
        },
    )
    return fig, sum(len(xs) for _, xs, _ in traces)


class _Charts:
    """Renders figures, inlining plotly.js with the first one of the page only."""

    def __init__(self) -> None:
        self.count = 0

    def render(self, d: Mapping[str, Any], spec: ChartSpec) -> str:
        div_id = chart_id(str(d.get("id")), spec.key)
        title = f'<p class="chart-title">{_e(spec.title)}</p>'
        made = _figure(d, spec)
        if made is None:
            what = " and ".join(f"{s.origin} {s.name}" for s in spec.sources)
            return (
                f'<div class="chart">{title}<p class="no-data" id="nodata-{div_id[6:]}">'
                f"no data: the result has no {_e(what)} series</p></div>"
            )
        fig, n = made
        div = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=self.count == 0,
            include_mathjax=False,
            div_id=div_id,
            config=_PLOT_CONFIG,
            default_height=f"{_CHART_HEIGHT}px",
        )
        self.count += 1
        tag = f'<div id="{div_id}" class="plotly-graph-div"'
        if div.count(tag) != 1:  # plotly changed its markup: fail loudly, not silently
            raise RuntimeError(f"unexpected plotly markup for chart {div_id}")
        div = div.replace(tag, f'{tag} data-points="{n}" data-traces="{len(fig.data)}"')
        return f'<div class="chart">{title}{div}</div>'


# --- one drill ----------------------------------------------------------------------------


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
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v is not None)
    return f'<dl class="facts">{items}</dl>'


def _score(d: Mapping[str, Any]) -> str:
    sc = d.get("score") or {}
    parts = list(sc.get("parts") or [])
    rows = [
        [
            _e(p.get("name")),
            _e(p.get("measured")),
            _e(p.get("target")),
            f"{_num(p.get('points'))} / {_num(p.get('max_points'), 0)}",
            _list(p.get("reasons") or []) or "-",
        ]
        for p in parts
    ]
    rows.append(
        [
            "<b>total</b>",
            "",
            "",
            f"<b>{_num(sc.get('points'))} / {_num(sc.get('max_points', 100), 0)}</b>",
            f"grade <b>{_e(sc.get('grade'))}</b> {_verdict(bool(sc.get('passed')))}",
        ]
    )
    out = ["<h3>Score</h3>"]
    out.append(
        _table(
            ["part", "measured", "target", "points", "reasons"],
            rows,
            numeric=(3,),
            failed=[bool(p.get("reasons")) for p in parts],
            table_id=f"score-{_slug(str(d.get('id')))}",
        )
    )
    if sc.get("capped_by"):
        out.append(f"<p><b>Capped:</b> {_e(sc['capped_by'])}</p>")
    if sc.get("reasons"):
        out.append("<p>Why it did not pass:</p>" + _list(sc["reasons"]))
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
                _e(label),
                _num(t.get("drill_s"), 2, " s"),
                _dur(t.get("production_s")),
                _dur(tg.get("production_s")) if tg else "",
            ]
        )
    table = _table(
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
        f'<p><span class="badge sev">{_e(sev.get("level"))}</span> <b>{_e(sev.get("name"))}</b>'
        f": {_e(sev.get('meaning'))} (revenue band {_e(sev.get('revenue_band'))})</p>",
        '<dl class="facts">',
        f"<dt>revenue lost per hour</dt><dd>${float(sev.get('revenue_per_hour_usd') or 0):,.2f}"
        "</dd>",
        f"<dt>worst availability</dt><dd>{_pct(sev.get('availability'))}</dd>",
        f"<dt>worst error rate</dt><dd>{_pct(sev.get('error_rate'))}</dd>",
        f"<dt>worst p95 latency</dt><dd>{_num(sev.get('p95_latency_s'), 3, ' s')}</dd>",
        f"<dt>data loss</dt><dd>{'yes' if sev.get('data_loss') else 'no'}</dd>",
    ]
    if imp:
        out.append(
            f"<dt>user requests</dt><dd>{_e(imp.get('failed'))} of {_e(imp.get('requests'))} "
            f"failed; {_num(imp.get('budget_burned_pct'), 2)} % of the month's error budget; "
            f"{_e(imp.get('lost_writes'))} lost write(s)</dd>"
        )
    out.append("</dl>")
    if sev.get("reasons"):
        out.append("<p>Why this level:</p>" + _list(sev["reasons"]))
    return "".join(out)


def _escalation(d: Mapping[str, Any]) -> str:
    esc = d.get("escalation") or {}
    out = ["<h3>Escalation</h3>"]
    duration = esc.get("duration_production_s")
    if duration is None:
        out.append(f"<p>{_e(esc.get('level'))} incident that did not end (never mitigated).</p>")
    else:
        out.append(
            f"<p>{_e(esc.get('level'))} incident lasting {_dur(duration)} "
            "(production-equivalent, fault to mitigation).</p>"
        )
    if esc.get("triggered"):
        out.append("<p>Escalation triggered:</p>" + _list(esc["triggered"]))
    notify = sorted(
        esc.get("notify") or [],
        key=lambda n: -1.0 if n.get("at_s") is None else float(n["at_s"]),
    )
    if notify:
        rows = [
            [
                _e(n.get("role")),
                _e(n.get("person")),
                "with the level"
                if n.get("at_s") is None
                else f"after {float(n['at_s']) / 60:.0f} min",
            ]
            for n in notify
        ]
        out.append("<p>Who would be notified:</p>")
        out.append(_table(["role", "person", "when"], rows))
    else:
        out.append("<p>Nobody beyond the on-call engineer would be notified.</p>")
    return "".join(out)


def _charts(d: Mapping[str, Any], charts: _Charts) -> str:
    errors = (d.get("series") or {}).get("series_errors") or []
    note = ""
    if errors:
        note = '<p class="small">Prometheus series errors:</p>' + _list(errors)
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
                _num(e.get("t_s"), 3),
                _num(e.get("production_s"), 1),
                _e(e.get("label")),
                f'<span class="small">{_e(text)}</span>' if text else "",
            ]
        )
    bad = {"detection_failed", "recovery_failed", "steady_state_not_met"}
    table = _table(
        ["t_s (drill)", "production_s", "event", "detail"],
        rows,
        numeric=(0, 1),
        failed=[
            e.get("name") in bad
            or (e.get("name") == "runbook_step" and not (e.get("detail") or {}).get("ok"))
            for e in events
        ],
        table_id=f"timeline-{_slug(str(d.get('id')))}",
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
            f"<p><b>{_e(b.get('name'))}</b> {'ok' if b.get('ok') else '<b class=fail>FAILED</b>'}"
            f", {len(steps)} step(s)</p>"
        )
        rows = []
        for i, s in enumerate(steps, 1):
            extra = []
            if s.get("error"):
                extra.append(f"<pre>{_e(s['error'])}</pre>")
            if s.get("output"):
                extra.append(
                    f"<details><summary>output</summary><pre>{_e(s['output'])}</pre></details>"
                )
            rows.append(
                [
                    str(i),
                    _e(s.get("name")),
                    _num(s.get("duration_s"), 3, " s"),
                    "ok" if s.get("ok") else '<b class="fail">failed</b>',
                    "".join(extra),
                ]
            )
        out.append(
            _table(
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
                _e(n.replace("_", " ")),
                "ok" if checks[n].get("ok") else '<b class="fail">failed</b>',
                _e(checks[n].get("detail")),
            ]
            for n in names
        ]
        out.append(
            _table(
                ["check", "result", "detail"],
                rows,
                failed=[not checks[n].get("ok") for n in names],
            )
        )
    integrity = d.get("integrity")
    if isinstance(integrity, Mapping):
        lost = integrity.get("lost") or []
        out.append(
            f"<p>Acknowledged writes: {_e(integrity.get('attempts'))} attempted, "
            f"{_e(integrity.get('ok'))} ok, {_e(integrity.get('failed'))} failed, "
            f"{len(lost)} lost; RPO {_num(integrity.get('rpo_s'), 3, ' s')}.</p>"
        )
    stray = d.get("alerts_at_end")
    if stray:
        out.append(f"<p>Alerts still firing at the end: {_e(', '.join(map(str, stray)))}</p>")
    return "".join(out)


def _drill(d: Mapping[str, Any], charts: _Charts) -> str:
    sc = d.get("score") or {}
    sev = d.get("severity") or {}
    passed = bool(sc.get("passed"))
    complete = bool(d.get("complete", True))
    slug = _slug(str(d.get("id")))
    summary = (
        f"{_verdict(passed)} {_e(d.get('id'))}: {_e(d.get('title'))} &middot; "
        f"score {_num(sc.get('points'))} ({_e(sc.get('grade'))}) &middot; "
        f'<span class="badge sev">{_e(sev.get("level"))}</span>'
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
            + _list(d.get("incomplete_reasons") or [])
            + "</div>"
        )
    if d.get("failures"):
        out.append("<h3>Failures</h3>" + _list(d["failures"]))
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
        _list(d.get("improvements") or []) or "<p>Nothing: every part scored in full.</p>",
        "</details>",
    ]
    return "".join(out)


def render_html(report: Mapping[str, Any]) -> str:
    """Render a report (what ``build_report`` returns) as one self-contained HTML page.

    Args:
        report: the run's report.

    Returns:
        The page: inline CSS, plotly.js inlined once, no reference to the network. The same
        report gives the same page.
    """
    charts = _Charts()
    drills = "".join(_drill(d, charts) for d in report.get("drills") or [])
    plan = report.get("plan") or {}
    title = f"Drill report: {plan.get('name', '')} ({report.get('run_id', '')})"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body><main>",
            _header(report),
            _summary_table(report),
            f'<section id="drills"><h2>Drill-downs</h2>{drills or "<p>No drill ran.</p>"}'
            "</section>",
            f'<footer>chaosdrill report version {_e(report.get("chaosdrill_report_version"))}'
            "</footer>",
            "</main>",
            f"<script>{_JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
