"""A drill's times for its report, from the result's split figures (or the old way).

A result with ``timing`` (chaosdrill.drill.timing, method ``split-v1``) gives every
production-equivalent time of its report: MTTD, MTTR, time to mitigate and to first impact
from ``production_equivalent`` (the phases where a figure is missing), each timeline event
from its phase or the segment it falls in, the incident's duration from the time to
mitigate. A result without (written before the split) keeps the old figures, drill seconds
x K, and its drill section says so (``timing_method: "drill x K"``). Targets are the
result's production targets beside their drill equivalents (production / K, exact).
"""

from __future__ import annotations

from collections.abc import Sequence

from chaosdrill.drill.model import DrillResult
from chaosdrill.drill.timing import PHASES, Segment, production_at
from chaosdrill.report.drill_types import Targets, TimePair, Times
from chaosdrill.report.timing_types import (
    OLD_METHOD,
    DetectionFloor,
    DrillTiming,
    PhaseRow,
    PlanResolution,
    PlanTiming,
    RecoveryNote,
    Resolution,
    SegmentRow,
)
from chaosdrill.scoring.score import event_time

__all__ = [
    "FLOOR_TEXT",
    "OLD_METHOD_TEXT",
    "OUTSIDE_SEGMENTS_TEXT",
    "RECOVERY_NOTES",
    "drill_targets",
    "drill_times",
    "drill_timing",
    "incident_production_s",
    "plan_timing",
    "recovery_note",
    "timeline_production",
    "timing_method",
]

#: what the old way of computing production-equivalents was
OLD_METHOD_TEXT = (
    "computed the old way (drill seconds x K): results written before production-equivalent "
    "times were split into scaled and program time, so every one is the drill's seconds "
    "times the time scale, program time (a deploy rolling, a process starting, a runbook's "
    "own work) included"
)

#: what the detection floor is (chaosdrill.drill.timing.detection_floor)
FLOOR_TEXT = (
    "the earliest the expected alert could have paged under its rule at the production "
    "settings: the program time until the fault took effect, plus the rule's window "
    "crossing for the share of requests that failed (or were slow), its for: and "
    "Alertmanager's group wait; scrape and evaluation phases count 0 (at best the sample "
    "and the evaluation come at once)"
)

#: how times outside a split drill's segments are given
OUTSIDE_SEGMENTS_TEXT = (
    "before the fault (the steady-state check) and after the last segment (the resolved "
    "notification, verification, the revert): on the scaled clock, drill seconds x K"
)

#: what each recovery kind means for MTTR (``measurements.recovery.kind``)
RECOVERY_NOTES: dict[str, str] = {
    "restored": "users saw the fault; their SLOs were met again once it was gone",
    "held": "the SLOs held through the fault (MTTR: until the response removed the fault)",
    "before_response": ("recovered before the response: the runbook was not what restored health"),
}


def timing_method(result: DrillResult) -> str:
    """How the result's production-equivalent times were computed."""
    return OLD_METHOD if result.timing is None else result.timing.method


def _relative(result: DrillResult, name: str) -> float | None:
    t0 = event_time(result, "t_inject")
    t = event_time(result, name)
    return None if t0 is None or t is None else round(t - t0, 3)


def _old(value: float | None, k: float) -> TimePair:
    return TimePair(value, None if value is None else round(value * k, 3))


def drill_times(result: DrillResult) -> Times:
    """MTTD, MTTR, time to mitigate and to first impact, drill and production seconds."""
    k = float(result.time_scale or 1.0)
    mitigated = _relative(result, "t_mitigated")
    impact = _relative(result, "t_first_impact")
    timing = result.timing
    if timing is None:
        return Times(
            _old(result.mttd_s, k), _old(result.mttr_s, k), _old(mitigated, k), _old(impact, k)
        )
    pe = result.production_equivalent

    def pair(drill: float | None, production: float | None, event: str) -> TimePair:
        if drill is None:
            return TimePair(None, None)
        return TimePair(drill, production if production is not None else timing.production_s(event))

    return Times(
        mttd=pair(result.mttd_s, pe.mttd_s, "t_page"),
        mttr=pair(result.mttr_s, pe.mttr_s, "t_recovered"),
        time_to_mitigate=pair(mitigated, pe.time_to_mitigate_s, "t_mitigated"),
        time_to_first_impact=pair(impact, pe.time_to_first_impact_s, "t_first_impact"),
    )


def drill_targets(result: DrillResult) -> Targets:
    """The targets: the production ones beside their drill equivalents (production / K)."""
    k = float(result.time_scale or 1.0)
    t, p = result.targets, result.targets.production

    def pair(drill: float | None, production: float | None) -> TimePair:
        if production is None and drill is not None:
            production = round(drill * k, 3)
        return TimePair(drill, None if drill is None else production)

    return Targets(pair(t.mttd_s, p.mttd_s), pair(t.mttr_s, p.mttr_s), pair(t.hold_s, p.hold_s))


def incident_production_s(result: DrillResult, times: Times) -> float | None:
    """How long the incident lasted, in production seconds; None when it never ended.

    It lasted from the fault to mitigation, if steady state then held.
    """
    if event_time(result, "t_recovered") is None:
        return None
    if result.timing is None:
        end, t0 = event_time(result, "t_mitigated"), event_time(result, "t_inject")
        k = float(result.time_scale or 1.0)
        return None if end is None or t0 is None else round((end - t0) * k, 3)
    return times.time_to_mitigate.production_s


def _segment_rows(result: DrillResult) -> tuple[SegmentRow, ...]:
    """The result's segments, relative to the fault (as its file has them)."""
    if result.timing is None:
        return ()
    return tuple(
        SegmentRow(
            s["from_s"],
            s["to_s"],
            s["drill_s"],
            s["production_s"],
            s["clock"],
            s["what"],
            s.get("factor"),
        )
        for s in result.timing.to_json()["segments"]
    )


def timeline_production(result: DrillResult) -> list[float]:
    """Production-equivalent seconds since the fault of each timeline event, in order.

    A split result: a phase's own figure for the event it marks (the first, the last
    ``t_response_end``), else the production seconds of the segments up to it (past the
    last one, and before the fault, x K). The old way, or without a fault: x K.
    """
    k = float(result.time_scale or 1.0)
    t0 = event_time(result, "t_inject")
    base = t0 if t0 is not None else (event_time(result, "drill_start") or 0.0)
    rel = [round(float(e.t) - base, 3) for e in result.timeline]
    timing = result.timing
    if timing is None or t0 is None or not timing.segments:
        return [round(r * k, 3) for r in rel]
    after = [i for i, e in enumerate(result.timeline) if float(e.t) >= t0]
    if len(timing.events) == len(after):  # each event's own figure, chains and all
        own = {i: p for i, (_, _, p) in zip(after, timing.events, strict=True)}
        return [own[i] if i in own else round(r * k, 3) for i, r in enumerate(rel)]
    segments = [Segment(s.from_s, s.to_s, s.clock, s.what, s.factor) for s in _segment_rows(result)]
    marks: dict[int, float] = {}
    for event, _ in PHASES:
        phase = timing.phase(event)
        at = [i for i, e in enumerate(result.timeline) if e.name == event]
        if phase is not None and at:
            marks[at[-1] if event == "t_response_end" else at[0]] = phase.production_s
    return [
        marks[i] if i in marks else round(r * k if r < 0 else production_at(segments, r, k), 3)
        for i, r in enumerate(rel)
    ]


def drill_timing(result: DrillResult) -> DrillTiming | None:
    """Where the drill's time went; None for a result written before the split."""
    tm = result.timing
    if tm is None:
        return None
    floor = tm.floor
    return DrillTiming(
        method=tm.method,
        time_scale=tm.time_scale,
        resolution=Resolution(
            tm.scrape_interval_s, tm.production_scrape_interval_s, dict(tm.slower_jobs)
        ),
        phases=tuple(
            PhaseRow(p.event, p.label, p.drill_s, p.production_s, p.clock) for p in tm.phases
        ),
        segments=_segment_rows(result),
        floor=None
        if floor is None
        else DetectionFloor(
            floor.drill_s, floor.production_s, dict(floor.parts), floor.rule, floor.note
        ),
        slow_detection=tm.slow_detection,
    )


def recovery_note(result: DrillResult) -> RecoveryNote | None:
    """How the users saw the recovery (None: not recorded, or not recovered)."""
    recovery = result.measurements.recovery
    kind = recovery.kind if recovery is not None else None
    return None if kind is None else RecoveryNote(kind, RECOVERY_NOTES.get(kind, kind))


def plan_timing(results: Sequence[tuple[DrillResult, str]]) -> PlanTiming:
    """How the run's times were measured, from its (result, drill id) pairs."""
    methods: dict[str, list[str]] = {}
    scales: list[float] = []
    resolution: dict[tuple[float, float, tuple[tuple[str, float], ...]], list[str]] = {}
    sources: dict[str, str] = {}
    texts: dict[str, str] = {}
    for result, drill in results:
        methods.setdefault(timing_method(result), []).append(drill)
        if (k := float(result.time_scale or 1.0)) not in scales:
            scales.append(k)
        tm = result.timing
        if tm is None:
            continue
        if not texts:
            as_json = tm.to_json()
            texts = {"scaled": str(as_json["scaled"]), "not_scaled": str(as_json["not_scaled"])}
        key = (tm.scrape_interval_s, tm.production_scrape_interval_s, tuple(tm.slower_jobs.items()))
        resolution.setdefault(key, []).append(drill)
        for event, source in tm.sources.items():
            sources.setdefault(event, source)
    return PlanTiming(
        methods={m: tuple(ids) for m, ids in methods.items()},
        time_scales=tuple(scales),
        scaled=texts.get("scaled"),
        not_scaled=texts.get("not_scaled"),
        outside_segments=OUTSIDE_SEGMENTS_TEXT,
        old_method=OLD_METHOD_TEXT if OLD_METHOD in methods else None,
        floor=FLOOR_TEXT,
        resolution=tuple(
            PlanResolution(tuple(ids), Resolution(scrape, prod, dict(slower)))
            for (scrape, prod, slower), ids in resolution.items()
        ),
        sources=sources,
    )
