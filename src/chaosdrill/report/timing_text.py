"""The sentences every renderer shares about a report's times: how they were measured.

report.md, report.html, junit.xml, the post-mortem, comms.md and the terminal summary say
the same things in the same words: which method computed a drill's production-equivalent
times (the old way, drill seconds x K, is marked wherever such a time is shown), the
detection floor beside MTTD, a detection much slower than its floor, what a recovery kind
means for MTTR, and the plan's "How these times were measured". Plain text: each renderer
escapes it as its format needs.
"""

from __future__ import annotations

from chaosdrill.report.timing_types import OLD_METHOD, PlanTiming
from chaosdrill.report.types import DrillSection, Report

__all__ = [
    "HOW_MEASURED",
    "OLD_MARK",
    "floor_line",
    "method_line",
    "old_way_note",
    "old_way_short",
    "plan_items",
    "plan_sources",
    "recovery_line",
    "slow_detection_line",
]

#: the heading of the plan's section on how its times were measured
HOW_MEASURED = "How these times were measured"

#: what marks a drill whose times were computed the old way, in tables
OLD_MARK = "†"


def old_way_short(d: DrillSection) -> str:
    """A few words: its times were computed the old way."""
    return f"times computed the old way (drill seconds x {d.time_scale:g})"


def old_way_note(d: DrillSection) -> str:
    """The note beside a drill whose times were computed the old way (drill seconds x K)."""
    return (
        f"Times computed the old way (drill seconds x {d.time_scale:g}): this result was "
        "written before production-equivalent times were split into scaled and program "
        "time, so program time (a deploy rolling, a process starting, a runbook's own work) "
        f"is multiplied by {d.time_scale:g} too; it has no phase split and no detection "
        "floor."
    )


def method_line(d: DrillSection) -> str:
    """How the drill's production-equivalent times were computed, one sentence."""
    if d.old_timing:
        return old_way_note(d)
    return (
        f"Times {d.timing_method}: production-equivalent seconds are drill seconds "
        f"x {d.time_scale:g} on the scaled clock (the monitoring pipeline) and drill seconds "
        "on the program clock (programs' own work)."
    )


def floor_line(d: DrillSection) -> str | None:
    """MTTD beside the detection floor, its parts and rule (None: no floor)."""
    floor = d.timing.floor if d.timing else None
    if floor is None:
        return None
    mttd = d.times.mttd
    got = (
        "no page"
        if mttd.production_s is None
        else f"MTTD {mttd.production_s:.0f} s ({mttd.drill_s:.2f} drill s)"
    )
    return (
        f"{got}; detection floor {floor.production_s:.0f} s ({floor.drill_s:.2f} drill s) "
        f"= {floor.parts_text()}; rule {floor.rule} ({floor.note})."
    )


def slow_detection_line(d: DrillSection) -> str | None:
    """The warning of a detection much slower than its floor (None: it is not)."""
    slow = d.timing.slow_detection if d.timing else None
    return None if slow is None else f"Slow detection: {slow}."


def recovery_line(d: DrillSection) -> str | None:
    """What MTTR means when the SLOs held or recovered before the response (else None)."""
    rec = d.recovery
    if rec is None or rec.kind == "restored":
        return None
    return f"Recovery: {rec.note}."


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(ids)


def plan_items(report: Report) -> list[tuple[str, str]]:
    """The plan's "How these times were measured" (but its sources), as (what, how) pairs.

    A report written before it was recorded (``Report.timing`` None) says its times were
    drill seconds x K.
    """
    t: PlanTiming | None = report.timing
    if t is None:
        return [("method", "drill seconds x the time scale (a report written before the split)")]
    scales = ", ".join(f"x{k:g}" for k in t.time_scales) or "-"
    split = any(m != OLD_METHOD for m in t.methods)
    per = " of scaled time" if split else ", every second counted the old way"
    out = [("time scale", f"{scales} (production seconds per drill second{per})")]
    for method, ids in t.methods.items():
        how = t.old_method if method == OLD_METHOD else None
        how = how or "the timeline split into scaled and program time"
        out.append(("method", f"{method} for {_ids(ids)}: {how}"))
    if t.scaled is not None:
        out.append(("scaled (x K)", t.scaled))
    if t.not_scaled is not None:
        out.append(("not scaled", t.not_scaled))
    if split:
        out.append(("outside the segments", t.outside_segments))
        out.append(("detection floor", t.floor))
    for r in t.resolution:
        out.append(("resolution", f"{r.resolution.text()} ({_ids(r.drills)})"))
    if not t.resolution:
        out.append(("resolution", "not recorded (results written before the split)"))
    return out


def plan_sources(report: Report) -> list[tuple[str, str]]:
    """Where each timestamp comes from, as (timeline event, source); empty: not recorded."""
    return list(report.timing.sources.items()) if report.timing else []
