"""How a report's times were measured, as typed values: the plan's method and each drill's.

A drill result written since production-equivalent times were split into scaled and
program time (chaosdrill.drill.timing, method ``split-v1``) gives its drill section a
``DrillTiming``: each phase in drill and production-equivalent seconds with its clock, the
segments of the timeline and what filled them, the detection floor and whether detection
was much slower than it. A result written before has none: its times were computed the old
way, drill seconds x the time scale (``OLD_METHOD``). ``PlanTiming`` is the report's one
"how these times were measured": the methods, time scales, what was scaled and what was
not, the floor, the resolution and the source of each timestamp.

Each type reads and writes one object of schemas/report.schema.json (``from_json`` /
``to_json``, keys in report.json order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject

__all__ = [
    "OLD_METHOD",
    "DetectionFloor",
    "DrillTiming",
    "PhaseRow",
    "PlanResolution",
    "PlanTiming",
    "RecoveryNote",
    "Resolution",
    "SegmentRow",
]

#: the method of a result written before the split (``timing_method`` of its drill)
OLD_METHOD = "drill x K"


def _seconds(o: JsonObject, key: str) -> dict[str, float]:
    """A name -> seconds object (floor parts, slower jobs)."""
    raw = o.free(key, {})
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise o.fail(key, f"expected {name!r} -> seconds, got {value!r}")
    return raw


@dataclass(frozen=True)
class PhaseRow:
    """One phase of a drill: seconds since the fault, drill and production, and its clock."""

    event: str
    label: str
    drill_s: float
    production_s: float
    clock: str

    @classmethod
    def from_json(cls, o: JsonObject) -> PhaseRow:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.text("event"),
            o.text("label"),
            o.number("drill_s"),
            o.number("production_s"),
            o.choice("clock", ("scaled", "program")),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "event": self.event,
            "label": self.label,
            "drill_s": self.drill_s,
            "production_s": self.production_s,
            "clock": self.clock,
        }


@dataclass(frozen=True)
class SegmentRow:
    """A stretch of the timeline (seconds since the fault) on one clock, and what filled it.

    ``factor``: production seconds per drill second of a scaled stretch when not the time
    scale (a job scraped slower than the time scale asks); None: the time scale.
    """

    from_s: float
    to_s: float
    drill_s: float
    production_s: float
    clock: str
    what: str
    factor: float | None = None

    @classmethod
    def from_json(cls, o: JsonObject) -> SegmentRow:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.number("from_s"),
            o.number("to_s"),
            o.number("drill_s"),
            o.number("production_s"),
            o.choice("clock", ("scaled", "program")),
            o.text("what"),
            o.opt_number("factor"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "from_s": self.from_s,
            "to_s": self.to_s,
            "drill_s": self.drill_s,
            "production_s": self.production_s,
            "clock": self.clock,
            "what": self.what,
            "factor": self.factor,
        }


@dataclass(frozen=True)
class DetectionFloor:
    """The earliest the expected alert could have paged, and its parts (production s)."""

    drill_s: float
    production_s: float
    parts: Mapping[str, float]
    rule: str
    note: str

    def parts_text(self) -> str:
        """Its parts as a sum ("effect 1.9 s + window 16.7 s + for 30.0 s + ...")."""
        return " + ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in self.parts.items())

    @classmethod
    def from_json(cls, o: JsonObject) -> DetectionFloor:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.number("drill_s"),
            o.number("production_s"),
            _seconds(o, "parts"),
            o.text("rule"),
            o.text("note"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "drill_s": self.drill_s,
            "production_s": self.production_s,
            "parts": dict(self.parts),
            "rule": self.rule,
            "note": self.note,
        }


@dataclass(frozen=True)
class Resolution:
    """How finely the drill saw its times: Prometheus' scrape interval, drill and production.

    ``slower_jobs``: jobs scraped less often than ``scrape_interval_s`` (drill seconds).
    """

    scrape_interval_s: float
    production_scrape_interval_s: float
    slower_jobs: Mapping[str, float]

    def text(self) -> str:
        """One sentence: the scrape intervals, and the jobs scraped slower."""
        out = (
            f"Prometheus scraped every {self.scrape_interval_s:g} drill s "
            f"({self.production_scrape_interval_s:g} s in production)"
        )
        if self.slower_jobs:
            slower = ", ".join(f"{j} every {s:g} drill s" for j, s in self.slower_jobs.items())
            out += f"; slower: {slower}"
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> Resolution:
        """Read it from report.json (a bad value names its field)."""
        return cls(
            o.number("scrape_interval_s"),
            o.number("production_scrape_interval_s"),
            _seconds(o, "slower_jobs"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "scrape_interval_s": self.scrape_interval_s,
            "production_scrape_interval_s": self.production_scrape_interval_s,
            "slower_jobs": dict(self.slower_jobs),
        }


@dataclass(frozen=True)
class DrillTiming:
    """Where one drill's time went (a result with the split timing only).

    Attributes:
        method: how its production-equivalent times were computed (``split-v1``).
        time_scale: K.
        resolution: the scrape intervals it was measured at.
        phases: each phase reached, in the drill's order of phases.
        segments: the timeline from the fault, stretch by stretch.
        floor: the detection floor (None: no expected alert, or no fault).
        slow_detection: why the detection is much slower than its floor (None: it is not).
    """

    method: str
    time_scale: float
    resolution: Resolution
    phases: tuple[PhaseRow, ...]
    segments: tuple[SegmentRow, ...]
    floor: DetectionFloor | None
    slow_detection: str | None

    def phase(self, event: str) -> PhaseRow | None:
        """The phase of timeline event ``event``, if reached."""
        return next((p for p in self.phases if p.event == event), None)

    @classmethod
    def from_json(cls, o: JsonObject) -> DrillTiming:
        """Read it from report.json (a bad value names its field)."""
        floor = o.opt_child("floor")
        o.need(("floor", "slow_detection"))
        return cls(
            o.text("method"),
            o.number("time_scale"),
            Resolution.from_json(o.child("resolution")),
            tuple(PhaseRow.from_json(p) for p in o.children("phases")),
            tuple(SegmentRow.from_json(s) for s in o.children("segments")),
            None if floor is None else DetectionFloor.from_json(floor),
            o.opt_text("slow_detection"),
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "method": self.method,
            "time_scale": self.time_scale,
            "resolution": self.resolution.to_json(),
            "phases": [p.to_json() for p in self.phases],
            "segments": [s.to_json() for s in self.segments],
            "floor": None if self.floor is None else self.floor.to_json(),
            "slow_detection": self.slow_detection,
        }


@dataclass(frozen=True)
class RecoveryNote:
    """How the users saw the recovery (the result's ``measurements.recovery.kind``)."""

    kind: str
    note: str

    @classmethod
    def from_json(cls, o: JsonObject) -> RecoveryNote:
        """Read it from report.json (a bad value names its field)."""
        return cls(o.choice("kind", ("restored", "held", "before_response")), o.text("note"))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {"kind": self.kind, "note": self.note}


@dataclass(frozen=True)
class PlanResolution:
    """One resolution of the run and the drills measured at it."""

    drills: tuple[str, ...]
    resolution: Resolution

    @classmethod
    def from_json(cls, o: JsonObject) -> PlanResolution:
        """Read it from report.json (a bad value names its field)."""
        return cls(o.texts("drills"), Resolution.from_json(o))

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {"drills": list(self.drills), **self.resolution.to_json()}


_PLAN = (
    "methods",
    "time_scales",
    "scaled",
    "not_scaled",
    "outside_segments",
    "old_method",
    "floor",
    "resolution",
    "sources",
)


@dataclass(frozen=True)
class PlanTiming:
    """How a run's times were measured, once for the report.

    Attributes:
        methods: method -> the drills whose times it computed (``split-v1``, ``drill x K``).
        time_scales: the time scales of the run's drills.
        scaled: what the time scale compresses (None: no drill of the run was split).
        not_scaled: what it does not.
        outside_segments: how times outside the segments (before the fault, after the last
            phase) are given.
        old_method: what ``drill x K`` means (None: no drill of the run used it).
        floor: what the detection floor is.
        resolution: the scrape intervals, with the drills measured at each.
        sources: timeline event -> where its timestamp comes from.
    """

    methods: Mapping[str, tuple[str, ...]]
    time_scales: tuple[float, ...]
    scaled: str | None
    not_scaled: str | None
    outside_segments: str
    old_method: str | None
    floor: str
    resolution: tuple[PlanResolution, ...]
    sources: Mapping[str, str]

    @classmethod
    def from_json(cls, o: JsonObject) -> PlanTiming:
        """Read it from report.json (a bad value names its field)."""
        o.only(_PLAN)
        o.need(("scaled", "not_scaled", "old_method"))
        methods = o.child("methods")
        sources = o.child("sources")
        scales = o.array("time_scales")
        for i, k in enumerate(scales):
            if isinstance(k, bool) or not isinstance(k, int | float):
                raise o.fail("time_scales", f"expected numbers, got {scales[i]!r}")
        return cls(
            {m: methods.texts(m) for m in methods.data},
            tuple(scales),
            o.opt_text("scaled"),
            o.opt_text("not_scaled"),
            o.text("outside_segments"),
            o.opt_text("old_method"),
            o.text("floor"),
            tuple(PlanResolution.from_json(r) for r in o.children("resolution")),
            {e: sources.text(e) for e in sources.data},
        )

    def to_json(self) -> dict[str, Any]:
        """Its report.json form, keys in report.json order."""
        return {
            "methods": {m: list(ids) for m, ids in self.methods.items()},
            "time_scales": list(self.time_scales),
            "scaled": self.scaled,
            "not_scaled": self.not_scaled,
            "outside_segments": self.outside_segments,
            "old_method": self.old_method,
            "floor": self.floor,
            "resolution": [r.to_json() for r in self.resolution],
            "sources": dict(self.sources),
        }
