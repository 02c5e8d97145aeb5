"""The charts of report.html: one plotly figure per drill and series, marked at the drill's events.

Each drill gets the charts in ``CHARTS`` (error rate, p95 latency, memory per replica,
database up/down), drawn from its report's series and marked with dashed lines at the fault,
first impact, page, mitigation and recovery (``MARKER_STYLE``).

Every chart is a plotly figure in a ``<div id="chart-<drill>-<series>">`` with a
``data-points`` attribute (its number of points); ``document.getElementById(id).data`` holds
its traces in the browser. ``ChartRenderer`` inlines plotly.js once per page, with the first
chart.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]

from chaosdrill.report.drill_types import Markers
from chaosdrill.report.html_cells import drill_slug, esc
from chaosdrill.report.types import DrillSection

__all__ = ["CHARTS", "MARKER_STYLE", "ChartRenderer", "ChartSpec", "chart_id"]

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


def chart_id(drill_id: str, key: str) -> str:
    """The id of a drill's chart div, e.g. ``chart-bad-release-error_rate``."""
    return f"chart-{drill_slug(drill_id)}-{key}"


def _points(raw: Sequence[Sequence[float | None]], scale: float) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for p in raw:
        try:
            px, py = p[0], p[1]
            if px is None or py is None:  # a value Prometheus did not have
                continue
            x, y = float(px), float(py)
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            xs.append(x)
            ys.append(round(y * scale, 6))
    return xs, ys


def _traces(d: DrillSection, spec: ChartSpec) -> list[tuple[str, list[float], list[float]]]:
    out = []
    for src in spec.sources:
        groups = d.series.prometheus if src.origin == "prometheus" else d.series.client
        group = groups.get(src.name)
        for line in group.series if group else ():
            xs, ys = _points(line.points, src.scale)
            if not xs:
                continue
            label = line.label or ("service" if src.origin == "prometheus" else "")
            name = f"{label} ({src.suffix})" if src.suffix else label
            out.append((name, xs, ys))
    return out


def _marker_layout(markers: Markers) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Vertical lines at the drill's markers, one label per distinct time."""
    shapes: list[dict[str, Any]] = []
    at: dict[float, list[str]] = {}
    colour_at: dict[float, str] = {}
    at_marker = dict(markers.items())
    for name, (label, colour) in MARKER_STYLE.items():
        t = at_marker[name]
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


def _figure(d: DrillSection, spec: ChartSpec) -> tuple[go.Figure, int] | None:
    traces = _traces(d, spec)
    if not traces:
        return None
    k = float(d.time_scale or 1.0)
    scale = (
        f"production-equivalent = x \u00d7 {k:g}, the old way"
        if d.old_timing
        else f"scaled time \u00d7 {k:g} in production, program time not scaled"
    )
    shapes, annotations = _marker_layout(d.markers)
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
                    "text": f"seconds since the fault (drill s; {scale})",
                    "font": {"size": 11},
                }
            },
            "yaxis": yaxis,
            "shapes": shapes,
            "annotations": annotations,
        },
    )
    return fig, sum(len(xs) for _, xs, _ in traces)


class ChartRenderer:
    """Renders figures, inlining plotly.js with the first one of the page only."""

    def __init__(self) -> None:
        self.count = 0

    def render(self, d: DrillSection, spec: ChartSpec) -> str:
        """The chart ``spec`` of drill ``d``, or a "no data" note when it has no series."""
        div_id = chart_id(d.id, spec.key)
        title = f'<p class="chart-title">{esc(spec.title)}</p>'
        made = _figure(d, spec)
        if made is None:
            what = " and ".join(f"{s.origin} {s.name}" for s in spec.sources)
            return (
                f'<div class="chart">{title}<p class="no-data" id="nodata-{div_id[6:]}">'
                f"no data: the result has no {esc(what)} series</p></div>"
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
