"""The trend page: MTTD, MTTR and score per scenario across runs, one chart per scenario.

Written by ``chaosdrill report trend --html FILE``; self-contained like report.html (plotly.js
inlined once, no network).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go  # type: ignore[import-untyped]

from chaosdrill.report.history import TrendPoint

__all__ = ["render_trend_html"]

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}.note{color:#666}"
)


def _figure(name: str, points: Sequence[TrendPoint]) -> go.Figure:
    runs = [p.run_id for p in points]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=runs, y=[p.mttd_s for p in points], name="MTTD s", mode="lines+markers")
    )
    fig.add_trace(
        go.Scatter(x=runs, y=[p.mttr_s for p in points], name="MTTR s", mode="lines+markers")
    )
    fig.add_trace(
        go.Scatter(
            x=runs,
            y=[p.points for p in points],
            name="score",
            mode="lines+markers",
            yaxis="y2",
            line={"dash": "dot"},
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
