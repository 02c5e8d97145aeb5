"""The trend page: MTTD, MTTR and score per scenario across runs, one chart per scenario.

Written by ``chaosdrill report trend --html FILE``; self-contained like report.html (plotly.js
inlined once, no network). Times computed one way and times computed another (the old way,
drill seconds x K, marked †, and split) are separate series, never joined by a line.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go  # type: ignore[import-untyped]

from chaosdrill.report.history import TrendPoint
from chaosdrill.report.history_rows import is_old_method, method_of
from chaosdrill.report.timing_text import OLD_MARK

__all__ = ["render_trend_html"]

#: a colour per measure, the same for every method
_COLOURS = {"MTTD s": "#1f77b4", "MTTR s": "#ff7f0e", "score": "#2ca02c"}

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}.note{color:#666}"
)


def _label(measure: str, method: str, methods: Sequence[str]) -> str:
    """A series' name: the measure, † for the old way, the method when several are split."""
    if is_old_method(method):
        return f"{measure} {OLD_MARK} (old way)"
    split = [m for m in methods if not is_old_method(m)]
    return measure if len(split) == 1 else f"{measure} ({method})"


def _figure(name: str, points: Sequence[TrendPoint]) -> go.Figure:
    runs = [p.run_id for p in points]
    methods = list(dict.fromkeys(method_of(p.timing_method) for p in points))
    fig = go.Figure()
    for method in methods:  # a series per method: other methods' runs are gaps
        old = is_old_method(method)
        mine = [method_of(p.timing_method) == method for p in points]
        for measure, attr in (("MTTD s", "mttd_s"), ("MTTR s", "mttr_s"), ("score", "points")):
            score = attr == "points"
            dash = ("dashdot" if old else "dot") if score else ("dash" if old else "solid")
            fig.add_trace(
                go.Scatter(
                    x=runs,
                    y=[getattr(p, attr) if m else None for p, m in zip(points, mine, strict=True)],
                    name=_label(measure, method, methods),
                    mode="lines+markers",
                    yaxis="y2" if score else "y",
                    line={"dash": dash, "color": _COLOURS[measure]},
                    marker={"symbol": "circle-open" if old else "circle"},
                )
            )
    fig.update_layout(
        title=f"{name}: production-equivalent seconds and score per run",
        xaxis={"title": "run", "type": "category"},
        yaxis={"title": "seconds (production-equivalent)", "rangemode": "tozero"},
        yaxis2={"title": "score", "overlaying": "y", "side": "right", "range": [0, 100]},
        height=380,
        margin={"l": 60, "r": 60, "t": 50, "b": 80},
        template="none",
    )
    return fig


def render_trend_html(points: Sequence[TrendPoint], history: str) -> str:
    """One page with a chart per scenario (runs oldest first)."""
    by: dict[str, list[TrendPoint]] = {}
    for p in points:
        by.setdefault(p.scenario or "(no scenario)", []).append(p)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>chaosdrill trend</title>",
        f"<style>{_CSS}</style></head><body><h1>chaosdrill trend</h1>",
        f"<p class='note'>From {html.escape(history)}. A missing point is a drill that never "
        "paged (MTTD) or never recovered (MTTR).</p>",
    ]
    if any(p.old_timing for p in points):
        parts.append(
            f"<p class='note' id='old-way'>{OLD_MARK} computed the old way: drill seconds x K "
            "(from a result written before production-equivalent times were split into scaled "
            "and program time). Those runs are their own series (open markers, dashed), not "
            "joined to, or compared with, split times.</p>"
        )
    if not by:
        parts.append("<p>No run is recorded yet.</p>")
    for i, (name, pts) in enumerate(sorted(by.items())):
        slug = "".join(c if c.isalnum() else "-" for c in name)
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(
            _figure(name, pts).to_html(
                full_html=False,
                include_plotlyjs=i == 0,
                div_id=f"trend-{slug}",
                config={"displaylogo": False},
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts)
