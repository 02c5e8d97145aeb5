"""Production-equivalent times that hold at production speed: the drill's timeline, split.

A drill at time scale K runs the monitoring pipeline K times faster than production
(scrape and evaluation intervals, rule windows, ``for:``, Alertmanager's group wait, the
users' SLO window, the waits a runbook step makes for a PromQL window to pass). Programs do
not run faster: a deploy rolling, a process starting, a promotion, SQL, a runbook action's
own work take the same seconds at any K. So a drill's times are not drill seconds x K.
The timeline after the fault is cut into segments, each either *scaled* (the monitoring
pipeline's: production-equivalent = drill seconds x K) or *program* time (production-
equivalent = drill seconds):

==========================================  =======  ======================================
segment                                     clock    why
==========================================  =======  ======================================
fault -> first effect                       program  the fault taking effect: a deploy
                                                     rolling, a process killed, a lock taken
first effect -> page                        scaled   the monitoring pipeline; where it
                                                     overlaps a deploy still rolling, it is
                                                     the pipeline's
page -> response begins                     program  the responder starting the runbook
runbook steps until the fault is gone       program  each step's own work; a PromQL check's
                                                     retries (waiting for a window) scaled
fault gone -> users' SLOs met (mitigated)   scaled   the users' SLO window clearing
mitigated -> recovered (hold start)         scaled   the SLO window settling
==========================================  =======  ======================================

The first effect is the users' first impact (the first request that failed or was slow,
chaosdrill.drill.users) when they saw one before the page, else the fault applied.
Every timestamp keeps its source (``SOURCES``). ``detection_floor`` is the earliest the
alert could have paged under its rule and the production settings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.timescale import TimeScale

__all__ = [
    "METHOD",
    "PHASES",
    "SOURCES",
    "Floor",
    "PhaseTime",
    "RuleShape",
    "Segment",
    "Timing",
    "compute_timing",
    "detection_floor",
    "rule_shape",
    "scrape_factor",
    "split_timeline",
]

#: the method's name, written into results (results without it were computed as drill x K)
METHOD = "split-v1"

#: the phases a report shows, in order: (timeline event, label)
PHASES: tuple[tuple[str, str], ...] = (
    ("fault_applied", "fault applied"),
    ("t_first_impact", "first impact on users"),
    ("t_alert_pending", "alert pending"),
    ("t_alert_firing", "alert firing"),
    ("t_page", "page received (MTTD)"),
    ("t_response_start", "response begun"),
    ("t_fault_cleared", "fault gone"),
    ("t_response_end", "response ended"),
    ("t_mitigated", "mitigated"),
    ("t_recovered", "recovered (MTTR)"),
)

#: where each timestamp comes from
SOURCES: dict[str, str] = {
    "t_inject": "the drill, just before it applied the fault",
    "fault_applied": "the drill, once the fault's injection returned",
    "t_first_impact": (
        "the load's own record of every request: when the first request that failed or took "
        "over 1 s was sent"
    ),
    "t_signal_full": (
        "Prometheus: the service's own share of requests over a latency rule's threshold, "
        "from the fault to the page, as a step of its full size"
    ),
    "t_alert_pending": "Prometheus' activeAt for the alert (the evaluation that found it true)",
    "t_alert_firing": "the first look at Prometheus' alerts API that showed it firing",
    "t_page": (
        "the pager's receipt of Alertmanager's webhook (its startsAt is kept beside it, as "
        "webhook_starts_at)"
    ),
    "t_response_start": "the drill, when the first runbook began",
    "t_fault_cleared": "the first is_active check of the drill's faults that found them gone",
    "t_response_end": "the drill, when the last runbook returned",
    "t_last_bad_request": (
        "the load's record: the last request that failed or was slow in the last SLO window "
        "that broke the SLOs"
    ),
    "t_users_ok": "the end of the first SLO window after the users' last bad request that met them",
    "t_mitigated": "the end of the first SLO window after the fault was gone that met the SLOs",
    "t_recovered": "the start of the hold period that held (the end of a window meeting the SLOs)",
}

SCALED = "scaled"
PROGRAM = "program"


class _Event(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def t(self) -> float: ...
    @property
    def detail(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Segment:
    """A stretch of the timeline (monotonic seconds) on one clock, and what filled it."""

    start: float
    end: float
    clock: str  # "scaled" or "program"
    what: str
    #: production seconds per drill second of a scaled segment, when not the time scale
    factor: float | None = None
    #: its production-equivalent length when set outright (a stretch whose production
    #: time is that of a chain that ran beside program time in the drill)
    production: float | None = None

    @property
    def drill_s(self) -> float:
        """Its length in drill seconds."""
        return max(0.0, self.end - self.start)

    def rate(self, k: float) -> float:
        """Production seconds per drill second."""
        if self.clock != SCALED:
            return 1.0
        return k if self.factor is None else self.factor

    def production_s(self, k: float) -> float:
        """Its length in production-equivalent seconds."""
        if self.production is not None:
            return self.production
        return self.drill_s * self.rate(k)


@dataclass(frozen=True)
class PhaseTime:
    """One phase: seconds since the fault, drill and production-equivalent, and its clock."""

    event: str
    label: str
    drill_s: float
    production_s: float
    clock: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (an item of ``timing.phases``)."""
        return {
            "event": self.event,
            "label": self.label,
            "drill_s": self.drill_s,
            "production_s": self.production_s,
            "clock": self.clock,
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> PhaseTime:
        """Read one phase."""
        return cls(
            o.text("event"),
            o.text("label", ""),
            o.number("drill_s"),
            o.number("production_s"),
            o.text("clock", SCALED),
        )


@dataclass(frozen=True)
class Floor:
    """The earliest the expected alert could have paged, and how it adds up.

    ``parts``: production seconds of each part (``effect``: program time until the fault
    took effect; ``window``: the rule's window crossing for the measured share; ``for``;
    ``group_wait``); ``scrape`` and ``evaluation`` phases and delivery count 0 (at best the
    sample and the evaluation come at once). ``note`` says which rule and share it used.
    """

    drill_s: float
    production_s: float
    parts: dict[str, float]
    rule: str
    note: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (``timing.floor``)."""
        return {
            "drill_s": self.drill_s,
            "production_s": self.production_s,
            "parts": dict(self.parts),
            "rule": self.rule,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> Floor:
        """Read ``timing.floor``."""
        parts = o.free("parts", {})
        if not all(isinstance(v, int | float) for v in parts.values()):
            raise o.fail("parts", f"expected part -> seconds, got {parts!r}")
        return cls(
            o.number("drill_s"),
            o.number("production_s"),
            parts,
            o.text("rule", ""),
            o.text("note", ""),
        )


@dataclass(frozen=True)
class Timing:
    """How a drill's times were measured and what they are at production speed.

    Attributes:
        method: ``split-v1`` (results without a ``timing`` were computed as drill x K).
        time_scale: K.
        segments: the timeline from the fault, each stretch on its clock.
        phases: each phase reached, drill and production-equivalent seconds since the fault.
        scrape_interval_s: the resolution: Prometheus' scrape interval in drill seconds
            (production: ``production_scrape_interval_s``).
        floor: the detection floor (None: the drill had no expected alert or no fault).
        slow_detection: why the detection is called much slower than its floor, if it is.
    """

    method: str
    time_scale: float
    segments: tuple[Segment, ...]
    phases: tuple[PhaseTime, ...]
    scrape_interval_s: float
    production_scrape_interval_s: float
    floor: Floor | None = None
    slow_detection: str | None = None
    sources: Mapping[str, str] = field(default_factory=lambda: dict(SOURCES))
    #: jobs scraped less often than ``scrape_interval_s`` (drill seconds)
    slower_jobs: Mapping[str, float] = field(default_factory=dict)
    #: every timeline event from the fault on: (name, drill s, production s since the fault)
    events: tuple[tuple[str, float, float], ...] = ()

    def phase(self, event: str) -> PhaseTime | None:
        """The phase of timeline event ``event``, if reached."""
        return next((p for p in self.phases if p.event == event), None)

    def production_s(self, event: str) -> float | None:
        """Production-equivalent seconds from the fault to ``event`` (None: not reached)."""
        p = self.phase(event)
        return None if p is None else p.production_s

    def production_after(self, drill_s: float) -> float:
        """Production-equivalent seconds of the first ``drill_s`` drill seconds after the fault.

        Past the last segment (after the recovery), time runs on the scaled clock.
        """
        if not self.segments:
            return drill_s * self.time_scale
        origin = self.segments[0].start
        return production_at(self.segments, origin + drill_s, self.time_scale)

    def _segment_json(self, s: Segment) -> dict[str, Any]:
        # figures from the rounded ends, so that reading it back writes the same figures
        a = round(s.start - self.segments[0].start, 3)
        b = round(s.end - self.segments[0].start, 3)
        drill = round(b - a, 3)
        out = {
            "from_s": a,
            "to_s": b,
            "drill_s": drill,
            "production_s": round(
                s.production if s.production is not None else drill * s.rate(self.time_scale), 3
            ),
            "clock": s.clock,
            "what": s.what,
        }
        if s.factor is not None:
            out["factor"] = s.factor
        if s.production is not None:
            out["explicit"] = True  # production_s is its own, not drill_s x a rate
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON form (``timing``)."""
        k = self.time_scale
        return {
            "method": self.method,
            "time_scale": k,
            "scaled": (
                "the monitoring pipeline: scrape and evaluation intervals, rule windows, "
                "for:, Alertmanager's group wait, the users' SLO window, hold periods, a "
                "runbook step's waits for a PromQL window"
            ),
            "not_scaled": (
                "programs: the fault taking effect (a deploy rolling, a process killed), the "
                "responder starting, a runbook action's own work"
            ),
            "resolution": {
                "scrape_interval_s": self.scrape_interval_s,
                "production_scrape_interval_s": self.production_scrape_interval_s,
                "slower_jobs": dict(self.slower_jobs),
            },
            "segments": [self._segment_json(s) for s in self.segments],
            "phases": [p.to_json() for p in self.phases],
            "floor": None if self.floor is None else self.floor.to_json(),
            "slow_detection": self.slow_detection,
            "events": [[n, d, p] for n, d, p in self.events],
            "sources": dict(self.sources),
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> Timing:
        """Read ``timing`` (its segments keep their offsets from the fault)."""
        segments = tuple(
            Segment(
                s.number("from_s"),
                s.number("to_s"),
                s.text("clock"),
                s.text("what", ""),
                s.opt_number("factor"),
                s.number("production_s") if s.flag("explicit", False) else None,
            )
            for s in o.children("segments", [])
        )
        res = o.opt_child("resolution")
        floor = o.opt_child("floor")
        sources = o.free("sources", {})
        return cls(
            method=o.text("method"),
            time_scale=o.number("time_scale"),
            segments=segments,
            phases=tuple(PhaseTime.from_json(p) for p in o.children("phases", [])),
            scrape_interval_s=res.number("scrape_interval_s", 0.0) if res else 0.0,
            production_scrape_interval_s=res.number("production_scrape_interval_s", 0.0)
            if res
            else 0.0,
            floor=None if floor is None else Floor.from_json(floor),
            slow_detection=o.opt_text("slow_detection"),
            sources={str(k): str(v) for k, v in sources.items()},
            slower_jobs={
                str(k): float(v)
                for k, v in (res.free("slower_jobs", {}) if res else {}).items()
                if isinstance(v, int | float)
            },
            events=_events_of(o),
        )


def _events_of(o: JsonObject) -> tuple[tuple[str, float, float], ...]:
    out = []
    for i, item in enumerate(o.array("events", [])):
        ok = isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
        if not ok or not all(isinstance(v, int | float) for v in item[1:]):
            raise o.fail(
                "events", f"item {i}: expected [name, drill s, production s], got {item!r}"
            )
        out.append((item[0], float(item[1]), float(item[2])))
    return tuple(out)


def _first(events: Sequence[_Event], name: str) -> _Event | None:
    return next((e for e in events if e.name == name), None)


def _last(events: Sequence[_Event], name: str) -> _Event | None:
    return next((e for e in reversed(events) if e.name == name), None)


def _runbook_segments(events: Sequence[_Event], start: float, cut: float) -> list[Segment]:
    """The runbooks' steps from ``start`` to ``cut``: program time, PromQL waits scaled."""
    out: list[Segment] = []
    at = start
    for e in events:
        if at >= cut:
            break
        if e.name != "runbook_step" or e.t <= start:
            continue
        raw = e.detail.get("started")
        duration = e.detail.get("duration_s")
        began = float(raw) if isinstance(raw, int | float) else e.t - float(duration or 0.0)
        step = str(e.detail.get("step", "a step"))
        wait = e.detail.get("window_wait")
        pieces = [(began, e.t, PROGRAM, f"runbook step {step!r}")]
        if isinstance(wait, list) and len(wait) == 2 and wait[1] > wait[0]:
            a, b = float(wait[0]), float(wait[1])
            pieces = [
                (began, a, PROGRAM, f"runbook step {step!r}"),
                (a, b, SCALED, f"runbook step {step!r} waiting for a PromQL window"),
                (b, e.t, PROGRAM, f"runbook step {step!r}"),
            ]
        for a, b, clock, what in pieces:
            a, b = max(a, at), min(b, cut)
            if a > at:
                out.append(Segment(at, a, PROGRAM, "between runbook steps"))
                at = a
            if b > a:
                out.append(Segment(a, b, clock, what))
                at = b
    if at < cut:
        out.append(Segment(at, cut, PROGRAM, "the runbook"))
    return out


def _effect(events: Sequence[_Event], at: Mapping[str, float]) -> float:
    """When the fault's effect reached what the alert watches: the pipeline starts there.

    The fault applied, unless the alert's signal is the users' requests: when the first
    request that failed or was slow completed before the alert went pending (and before the
    page), the users' impact as a step of its full size (``full_s`` of ``t_first_impact``:
    a ramp, such as a deploy rolling replica by replica, replaced by the step of the full
    share that puts the same count of bad requests in the rule's window by the time it
    pended: the ramp is program time in proportion to the share it lacked), or, for a
    latency rule, the same step found on the service's own histogram (``t_signal_full``: a
    queue building behind slow queries before the service times requests slow), if later.
    """
    applied = at.get("fault_applied", at.get("t_inject", 0.0))
    impact = _first(events, "t_first_impact")
    if impact is None:
        return applied
    raw = impact.detail.get("seen_s")
    seen = impact.t + (float(raw) if isinstance(raw, int | float) else 0.0)
    signal_end = at.get("t_alert_pending", at.get("t_page"))
    if signal_end is not None and seen > signal_end:
        return applied  # the alert pended before any user saw the fault: not their signal
    full = impact.detail.get("full_s")
    if isinstance(full, int | float):
        seen = max(seen, impact.t + float(full))
    step = _first(events, "t_signal_full")  # a latency rule: the service's own histogram
    if step is not None and signal_end is not None and step.t <= signal_end:
        seen = max(seen, step.t)
    return seen


def split_timeline(
    events: Sequence[_Event], pending_factor: float | None = None, k: float = 1.0
) -> list[Segment]:
    """The timeline from the fault to the last phase reached, cut into segments.

    Args:
        events: the drill's timeline.
        pending_factor: production seconds per drill second from the first effect to the
            alert pending, when the alert's rule reads a job scraped less often than the
            time scale asks (``scrape_factor``); None: the time scale.
        k: the time scale (for the users' window clearing, which runs beside the runbook).
    """
    inject = _first(events, "t_inject")
    if inject is None:
        return []
    t0 = inject.t
    at = {name: e.t for name, _ in PHASES if (e := _first(events, name)) is not None}
    if (last_end := _last(events, "t_response_end")) is not None:
        at["t_response_end"] = last_end.t
    page = at.get("t_page")
    effect = max(t0, _effect(events, at))
    if (pending_at := at.get("t_alert_pending")) is not None:
        effect = min(effect, max(t0, pending_at))  # the pipeline ran by then at the latest
    segs: list[Segment] = []

    def add(a: float, b: float, clock: str, what: str, factor: float | None = None) -> None:
        if b > a:
            segs.append(Segment(a, b, clock, what, factor))

    started = at.get("t_response_start")
    detected_until = page if page is not None else started
    if detected_until is None:  # the drill ended before a page or a response
        ends = [t for t in at.values() if t > effect]
        detected_until = max(ends) if ends else effect
    add(t0, min(effect, detected_until), PROGRAM, "the fault taking effect")
    pending = at.get("t_alert_pending")
    if pending_factor is not None and pending is not None and effect < pending < detected_until:
        add(
            effect,
            pending,
            SCALED,
            "detection until pending: scrapes (a job scraped slower), evaluations, the window",
            pending_factor,
        )
        add(pending, detected_until, SCALED, "detection: for:, evaluations, group wait")
    else:
        add(
            effect,
            detected_until,
            SCALED,
            "detection: scrapes, evaluations, the rule's window and for:, group wait",
        )
    if started is None:
        return segs
    if page is not None:
        add(page, started, PROGRAM, "the responder starting the runbook")
    cleared = at.get("t_fault_cleared")
    ended = at.get("t_response_end", started)
    cut = ended if cleared is None else min(cleared, ended)
    segs.extend(_runbook_segments(events, max(started, detected_until), cut))
    if cleared is not None and cleared > ended:
        add(ended, cleared, PROGRAM, "the fault clearing after the runbook")
    mitigated = at.get("t_mitigated")
    if mitigated is not None:
        _recovery_segments(segs, events, max(cut, cleared or cut), mitigated, k)
        recovered = at.get("t_recovered")
        if recovered is not None:
            add(mitigated, recovered, SCALED, "the users' SLO window settling")
    return segs


def _recovery_segments(
    segs: list[Segment], events: Sequence[_Event], settled: float, mitigated: float, k: float
) -> None:
    """From the fault gone (``settled``) to mitigated: two chains, the later counts.

    The users' SLO window clears from their last bad request on (``t_last_bad_request``
    to ``t_users_ok``): scaled, since the window is. In a drill that clearing can run
    beside program time (a rollback replacing replicas one by one): the window has
    cleared by the time the runbook's last replica is gone, where at production speed it
    would still take most of a window. So mitigated counts, in production seconds, at the
    later of the fault gone (program chain) and the users' last bad request (program
    chain) plus the clearing x K.
    """
    last_bad, users_ok = _first(events, "t_last_bad_request"), _first(events, "t_users_ok")
    if last_bad is not None and settled < last_bad.t < mitigated:
        segs.append(
            Segment(settled, last_bad.t, PROGRAM, "the service still failing users after the fault")
        )
        settled = last_bad.t
    gate = production_at(segs, settled, k)
    # the users' errors tapering off as the runbook worked (a rollback replacing replicas
    # one by one) count as a step of their full share (``equivalent_s``)
    users = _users_chain(events, segs, k)
    after = k * max(0.0, mitigated - max(settled, users_ok.t if users_ok else settled))
    total = max(gate, users if users is not None else gate) + after - gate
    if mitigated > settled or total > 0:
        segs.append(
            Segment(
                settled,
                max(settled, mitigated),
                SCALED,
                "the users' SLO window clearing (from their last failed request)",
                production=total,
            )
        )


_JOB = re.compile(r'job\s*=\s*"([^"]+)"')


def scrape_factor(
    exprs: Iterable[str],
    k: float,
    scrape_s: float,
    slower_jobs: Mapping[str, float],
    production_scrape_s: float,
) -> float | None:
    """Production seconds per drill second until an alert pends, when it reads a slower job.

    A job scraped less often than the time scale asks (the local postgres exporter: at
    least every 2 s, since it takes about a second to report a dead server) stretches the
    wait for the first sample that shows the fault: that wait maps to production as
    production interval / the job's interval, not K. None: every job the rules read is
    scraped at the scaled interval.
    """
    jobs = {j for expr in exprs for j in _JOB.findall(expr)}
    slowest = max((slower_jobs[j] for j in jobs if j in slower_jobs), default=scrape_s)
    if slowest <= scrape_s * 1.001:
        return None
    return min(k, production_scrape_s / slowest)


def production_at(
    segments: Sequence[Segment], t: float, k: float, *, inclusive: bool = True
) -> float:
    """Production-equivalent seconds from the first segment's start to monotonic ``t``.

    A stretch of no drill time but its own production time (the users' window clearing
    that ran beside the runbook) counts at its own instant only when ``inclusive`` (for
    mitigated and what follows, not for the fault gone at the same instant).
    """
    if not segments:
        return 0.0
    total = 0.0
    for s in segments:
        if t < s.start or (t == s.start and s.drill_s > 0):
            break
        if s.production is not None:
            whole = s.drill_s
            if whole == 0:
                if t > s.end or inclusive:
                    total += s.production
                continue
            total += s.production if t >= s.end else s.production * (t - s.start) / whole
            continue
        part = min(t, s.end) - s.start
        total += part * s.rate(k)
    if t > segments[-1].end:  # past the last segment: on the scaled clock
        total += (t - segments[-1].end) * k
    return total


#: events dated by the users' recovery: a same-instant stretch of its own counts for them
_AFTER_CLEARING = ("t_mitigated", "t_recovered", "t_users_ok")


def phase_times(events: Sequence[_Event], segments: Sequence[Segment], k: float) -> list[PhaseTime]:
    """Each phase reached: drill and production-equivalent seconds since the fault."""
    inject = _first(events, "t_inject")
    if inject is None:
        return []
    effect_end = segments[0].end if segments and segments[0].clock == PROGRAM else inject.t
    out = []
    for name, label in PHASES:
        e = _last(events, name) if name == "t_response_end" else _first(events, name)
        if e is None:
            continue
        drill = e.t - inject.t
        cleared = _first(events, "t_fault_cleared")
        if name == "fault_applied" and e.t >= effect_end:
            prod, clock = drill, PROGRAM  # a program's time, even where the pipeline overlaps
        elif name == "t_response_end" and cleared is not None and e.t > cleared.t:
            # the runbook's steps after the fault was gone ran beside the users' window
            # clearing: on the runbook's own chain
            tail = _runbook_segments(events, cleared.t, e.t)
            prod = production_at(segments, cleared.t, k, inclusive=False) + sum(
                x.production_s(k) for x in tail
            )
            clock = PROGRAM
        else:
            prod = production_at(segments, e.t, k, inclusive=name in _AFTER_CLEARING)
            seg = next((s for s in segments if s.start < e.t <= s.end), None)
            clock = seg.clock if seg is not None else PROGRAM
        out.append(PhaseTime(name, label, round(drill, 3), round(prod, 3), clock))
    return out


def event_times(
    events: Sequence[_Event], segments: Sequence[Segment], k: float
) -> list[tuple[str, float, float]]:
    """Every event from the fault on: its drill and production-equivalent seconds.

    On the segments' clock, except where two chains ran side by side after the fault was
    gone: a runbook's later steps (and its end) on the runbook's own chain, the users'
    recovery (``t_users_ok``) on theirs.
    """
    inject = _first(events, "t_inject")
    if inject is None:
        return []
    cleared = _first(events, "t_fault_cleared")
    users = _users_chain(events, segments, k)
    out = []
    for e in events:
        if e.t < inject.t:
            continue
        if cleared is not None and e.t > cleared.t and e.name in ("runbook_step", "t_response_end"):
            tail = _runbook_segments(events, cleared.t, e.t)
            prod = production_at(segments, cleared.t, k, inclusive=False) + sum(
                x.production_s(k) for x in tail
            )
        elif e.name == "t_users_ok" and users is not None:
            prod = users
        else:
            prod = production_at(segments, e.t, k, inclusive=e.name in _AFTER_CLEARING)
        out.append((e.name, round(e.t - inject.t, 3), round(prod, 3)))
    return out


def _users_chain(events: Sequence[_Event], segments: Sequence[Segment], k: float) -> float | None:
    """Production seconds since the fault to the users' recovery, on their own chain."""
    last_bad, users_ok = _first(events, "t_last_bad_request"), _first(events, "t_users_ok")
    if last_bad is None or users_ok is None or users_ok.t <= last_bad.t:
        return None
    raw = last_bad.detail.get("equivalent_s")
    end = last_bad.t + (float(raw) if isinstance(raw, int | float) else 0.0)
    return production_at(segments, end, k, inclusive=False) + k * (users_ok.t - end)


@dataclass(frozen=True)
class RuleShape:
    """What the floor needs of one alert rule (production seconds)."""

    window_s: float | None
    threshold: float | None
    kind: str  # "ratio" (a share of errors), "quantile" (a latency quantile), "other"
    quantile: float | None
    for_s: float


_RANGE = re.compile(r"\[(\d+(?:\.\d+)?)(ms|s|m|h)\]")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_COMPARE = re.compile(r"\)\s*>\s*([0-9]+(?:\.[0-9]+)?)")


def rule_shape(expr: str, for_s: float) -> RuleShape:
    """Recognise an alert rule's shape: a ratio of rates or a latency quantile over a window.

    Anything else is ``other``: its window crossing counts 0 in the floor (a lower bound).
    """
    windows = [float(v) * _UNITS[u] for v, u in _RANGE.findall(expr)]
    window = max(windows) if windows else None
    if (at := expr.find("histogram_quantile(")) >= 0:
        q = re.search(r"histogram_quantile\(\s*([0-9.]+)", expr)
        compare = _COMPARE.search(expr, at)  # the comparison right after the quantile
        threshold = float(compare.group(1)) if compare else None
        return RuleShape(window, threshold, "quantile", float(q.group(1)) if q else None, for_s)
    compares = _COMPARE.findall(expr)
    threshold = float(compares[-1]) if compares else None  # the outermost comparison
    if "rate(" in expr and "/" in expr and threshold is not None and 0 < threshold < 1:
        return RuleShape(window, threshold, "ratio", None, for_s)
    return RuleShape(window, threshold, "other", None, for_s)


def _crossing(
    shape: RuleShape, share: float, slow_share: float, scrape_s: float, slo_latency_s: float
) -> tuple[float, str]:
    """Production seconds at least until the rule's window crosses its threshold."""
    if shape.window_s is None or shape.threshold is None:
        return 0.0, "no window"
    span = max(0.0, shape.window_s - 2 * scrape_s)  # the samples a window holds, at least
    if shape.kind == "ratio":
        if share <= shape.threshold:
            return 0.0, f"error share {share:.1%} not above the threshold: window not counted"
        return span * shape.threshold / share, f"error share {share:.1%}"
    if shape.kind == "quantile" and shape.quantile is not None:
        if abs(shape.threshold - slo_latency_s) > 1e-9:
            return 0.0, "latency threshold unlike the SLO's 1 s: window not counted"
        over = 1.0 - shape.quantile
        if slow_share <= over:
            return 0.0, f"slow share {slow_share:.1%} too low: window not counted"
        return span * over / slow_share, f"share of requests over 1 s {slow_share:.1%}"
    return 0.0, "an instant rule: no window to cross"


def detection_floor(
    rules: Iterable[tuple[str, str, float]],
    effect_s: float,
    share: float,
    slow_share: float,
    k: float,
    *,
    scrape_s: float,
    group_wait_s: float,
    slo_latency_s: float = 1.0,
    counted_s: float = 0.0,
    crossed_by_s: float | None = None,
) -> Floor | None:
    """The earliest the alert could page, for each of its rules the lowest.

    Args:
        rules: the alert's rules as (name, expr, for in production seconds), in production
            time (as the rule files are written).
        effect_s: program seconds from the fault to its first effect (not scaled).
        share: of the users' requests after the first effect, the share that failed.
        slow_share: of those, the share slower than 1 s.
        k: the time scale.
        scrape_s: the production scrape interval.
        group_wait_s: Alertmanager's production group wait.
        slo_latency_s: the latency SLO (a quantile rule with this threshold is judged
            against ``slow_share``).
        counted_s: production seconds of window the users' bad requests already filled
            before the first effect (a deploy still rolling): taken off the crossing.
        crossed_by_s: production seconds from the effect to the alert pending: the window
            had crossed by then, so the crossing counts no more (bad requests that come in a
            burst cross sooner than their share says).
    """
    best: Floor | None = None
    for name, expr, for_s in rules:
        shape = rule_shape(expr, for_s)
        crossing, why = _crossing(shape, share, slow_share, scrape_s, slo_latency_s)
        crossing = max(0.0, crossing - counted_s)
        if crossed_by_s is not None and crossing > crossed_by_s:
            crossing = crossed_by_s
            why += f"; the window had crossed by the alert pending, {crossed_by_s:.0f} s in"
        parts = {
            "effect": round(effect_s, 3),
            "window": round(crossing, 3),
            "for": round(for_s, 3),
            "group_wait": round(group_wait_s, 3),
        }
        pipeline = crossing + for_s + group_wait_s
        floor = Floor(
            drill_s=round(effect_s + pipeline / k, 3),
            production_s=round(effect_s + pipeline, 3),
            parts=parts,
            rule=name,
            note=f"{shape.kind} rule; {why}",
        )
        if best is None or floor.production_s < best.production_s:
            best = floor
    return best


def slow_detection(
    mttd_production_s: float | None,
    floor: Floor | None,
    scrape_s: float,
    evaluation_s: float,
) -> str | None:
    """Why a detection counts as much slower than its floor (None: it does not).

    Much slower: more than the floor's own pipeline time, and more than two scrape and
    evaluation intervals, above it.
    """
    if mttd_production_s is None or floor is None:
        return None
    slack = mttd_production_s - floor.production_s
    allowed = max(
        floor.production_s - floor.parts.get("effect", 0.0), 2 * (scrape_s + evaluation_s)
    )
    if slack <= allowed:
        return None
    return (
        f"MTTD {mttd_production_s:.0f} s is {slack:.0f} s above its floor of "
        f"{floor.production_s:.0f} s (more than {allowed:.0f} s): the alert could page much "
        f"sooner; look at its rule's window and for:, and Alertmanager's timers"
    )


def compute_timing(
    events: Sequence[_Event],
    ts: TimeScale,
    rules: Sequence[tuple[str, str, float]],
    *,
    scrape_s: float,
    slower_jobs: Mapping[str, float],
) -> Timing:
    """A drill's timing from its timeline: segments, phases, the floor, a slow detection.

    Args:
        events: the timeline (live or read back from a result).
        ts: the drill's time scale (and the production timings).
        rules: the expected alert's rules, in production time: (name, expr, for seconds).
        scrape_s: Prometheus' scrape interval in drill seconds.
        slower_jobs: jobs scraped less often than that (job -> drill seconds).
    """
    k = ts.k
    prod = ts.production
    factor = scrape_factor(
        (expr for _, expr, _ in rules), k, scrape_s, slower_jobs, prod.scrape_interval_s
    )
    segments = split_timeline(events, factor, k)
    phases = phase_times(events, segments, k)
    floor = None
    if _first(events, "t_inject") is not None and rules:
        effect = segments[0].drill_s if segments and segments[0].clock == PROGRAM else 0.0
        impact = _first(events, "t_first_impact")
        detail = impact.detail if impact is not None else {}
        share, slow = detail.get("share"), detail.get("slow_share")
        counted = 0.0  # window time users' bad requests filled before the effect boundary
        if impact is not None and segments and segments[0].clock == PROGRAM:
            raw = detail.get("seen_s")
            seen = impact.t + (float(raw) if isinstance(raw, int | float) else 0.0)
            counted = max(0.0, segments[0].end - seen) * k
        page = _first(events, "t_page")
        grouped = bool(page is not None and page.detail.get("group_existed"))
        pending = _first(events, "t_alert_pending")
        cap = None  # the window crossed by the time the alert pended, whatever the share said
        if pending is not None and segments:
            cap = max(0.0, production_at(segments, pending.t, k) - effect)
        floor = detection_floor(
            rules,
            effect,
            float(share) if isinstance(share, int | float) else 0.0,
            float(slow) if isinstance(slow, int | float) else 0.0,
            k,
            scrape_s=prod.scrape_interval_s,
            # an alert whose Alertmanager group existed before (it paged earlier) is sent
            # at the group's next tick, which can come at once
            group_wait_s=0.0 if grouped else prod.group_wait_s,
            counted_s=counted,
            crossed_by_s=cap,
        )
        if floor is not None and grouped:
            floor = dataclasses.replace(
                floor,
                note=floor.note + "; Alertmanager's group existed (it paged before the fault): "
                "its next tick, not group_wait, counted 0",
            )
    mttd = next((p.production_s for p in phases if p.event == "t_page"), None)
    return Timing(
        method=METHOD,
        time_scale=k,
        segments=tuple(segments),
        phases=tuple(phases),
        scrape_interval_s=scrape_s,
        production_scrape_interval_s=prod.scrape_interval_s,
        floor=floor,
        slow_detection=slow_detection(
            mttd, floor, prod.scrape_interval_s, prod.evaluation_interval_s
        ),
        slower_jobs=dict(slower_jobs),
        events=tuple(event_times(events, segments, k)),
    )
