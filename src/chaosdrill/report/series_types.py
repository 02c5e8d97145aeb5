"""The chart data of one drill in report.json: Prometheus series and the load's client SLIs.

Typed like the rest of a drill (``chaosdrill.report.drill_types``): ``from_json`` reads it,
naming the field of a bad value, and ``to_json`` writes it back in the same key order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject

__all__ = ["DrillSeries", "Series", "SeriesSet"]


@dataclass(frozen=True)
class Series:
    """One line of a chart: its label and (seconds after the fault, value) points."""

    label: str
    points: tuple[tuple[float, float | None], ...]  # None: a drill result's missing value

    @classmethod
    def from_json(cls, o: JsonObject) -> Series:
        """Read it from report.json (a bad value names its field)."""
        points = []
        for i, p in enumerate(o.array("points")):
            if not (isinstance(p, list | tuple) and len(p) == 2):
                raise o.fail(f"points[{i}]", f"expected [t, value], got {p!r}")
            points.append((p[0], p[1]))
        return cls(o.text("label"), tuple(points))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {"label": self.label, "points": [list(p) for p in self.points]}


@dataclass(frozen=True)
class SeriesSet:
    """One chart's data: its unit, the PromQL it came from (if any) and its lines."""

    unit: str
    series: tuple[Series, ...]
    query: str | None = None

    @classmethod
    def from_json(cls, o: JsonObject) -> SeriesSet:
        """Read it from report.json (a bad value names its field)."""
        lines = tuple(Series.from_json(s) for s in o.children("series"))
        return cls(o.text("unit"), lines, o.opt_text("query") if o.has("query") else None)

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        out: dict[str, Any] = {"unit": self.unit}
        if self.query is not None:
            out["query"] = self.query
        out["series"] = [s.to_json() for s in self.series]
        return out


@dataclass(frozen=True)
class DrillSeries:
    """Chart data: Prometheus series by name, their errors, and the load's client SLIs."""

    prometheus: Mapping[str, SeriesSet]
    series_errors: tuple[str, ...]
    client: Mapping[str, SeriesSet]

    @classmethod
    def from_json(cls, o: JsonObject) -> DrillSeries:
        """Read it from report.json (a bad value names its field)."""
        client = o.child("client")
        client.need(("error_rate", "p95_latency_ms"))
        return cls(
            {n: SeriesSet.from_json(s) for n, s in o.child("prometheus").members()},
            o.texts("series_errors"),
            {n: SeriesSet.from_json(s) for n, s in client.members()},
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "prometheus": {n: s.to_json() for n, s in self.prometheus.items()},
            "series_errors": list(self.series_errors),
            "client": {n: s.to_json() for n, s in self.client.items()},
        }
