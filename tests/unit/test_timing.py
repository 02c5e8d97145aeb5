"""The split of drill timelines into scaled and program time, and the detection floor.

The timelines under tests/data/timing were recorded by real drills at K = 30 on the local
environment (a bad release rolling replica by replica, a primary crash, a dropped index).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.drill.model import TimelineEvent
from chaosdrill.drill.timing import (
    PROGRAM,
    SCALED,
    Segment,
    Timing,
    compute_timing,
    detection_floor,
    production_at,
    rule_shape,
    scrape_factor,
    slow_detection,
    split_timeline,
)
from chaosdrill.monitoring.promql import parse_duration
from chaosdrill.monitoring.rules import load_rule_files
from chaosdrill.timescale import TimeScale
from tests.repo import PROBES_DIR

DATA = Path(__file__).parent.parent / "data" / "timing"


def _recorded(cause: str) -> dict[str, Any]:
    return json.loads((DATA / f"{cause}-k30.json").read_text())  # type: ignore[no-any-return]


def _events(data: dict[str, Any]) -> list[TimelineEvent]:
    return [
        TimelineEvent.from_json(JsonObject.of(e, "fixture", f"timeline[{i}]"))
        for i, e in enumerate(data["timeline"])
    ]


def _t(events: list[TimelineEvent], name: str) -> float:
    return next(e.t for e in events if e.name == name)


def _rules(alert: str) -> list[tuple[str, str, float]]:
    files = load_rule_files(sorted(PROBES_DIR.glob("*.rules.yml")))
    return [
        (r.name, r.expr, parse_duration(r.for_) / 1000 if r.for_ else 0.0)
        for f in files
        for r in f.alerts
        if r.name == alert
    ]


def _timing(cause: str, k: float | None = None) -> tuple[Timing, list[TimelineEvent]]:
    data = _recorded(cause)
    events = _events(data)
    written = data["timing_as_written"]
    timing = compute_timing(
        events,
        TimeScale(k if k is not None else data["time_scale"]),
        _rules(data["alert"]),
        scrape_s=written["scrape_interval_s"],
        slower_jobs=written["slower_jobs"],
    )
    return timing, events


@pytest.mark.parametrize("cause", ["bad-release", "primary-crash", "missing-index"])
def test_segments_cover_the_timeline_from_the_fault_without_gaps(cause: str) -> None:
    timing, events = _timing(cause)
    segs = timing.segments
    assert segs[0].start == _t(events, "t_inject")
    for a, b in itertools.pairwise(segs):
        assert b.start == pytest.approx(a.end), (a, b)
        assert b.end >= b.start
    assert segs[-1].end == pytest.approx(_t(events, "t_recovered"))
    assert {s.clock for s in segs} == {SCALED, PROGRAM}


@pytest.mark.parametrize("cause", ["bad-release", "primary-crash", "missing-index"])
def test_production_times_lie_between_drill_seconds_and_drill_seconds_times_k(cause: str) -> None:
    timing, _ = _timing(cause)
    for p in timing.phases:
        assert p.drill_s - 1e-6 <= p.production_s <= p.drill_s * 30 + 1e-6, p
    page = timing.phase("t_page")
    recovered = timing.phase("t_recovered")
    assert page is not None and recovered is not None
    assert recovered.production_s >= page.production_s


@pytest.mark.parametrize("cause", ["bad-release", "primary-crash", "missing-index"])
def test_at_production_speed_every_phase_is_its_drill_time(cause: str) -> None:
    timing, _ = _timing(cause, k=1)
    for p in timing.phases:
        assert p.production_s == pytest.approx(p.drill_s, abs=1e-3), p


def test_a_rolling_deploy_counts_as_program_time_in_proportion_to_the_share_it_lacked() -> None:
    timing, events = _timing("bad-release")
    inject, applied, page = (_t(events, n) for n in ("t_inject", "fault_applied", "t_page"))
    impact = next(e for e in events if e.name == "t_first_impact")
    # the first new replica failed users 0.5 s before the deploy ended, at half the share
    assert impact.t < applied
    effect = impact.t + impact.detail["full_s"]  # the ramp as a step of the full share
    assert impact.t < effect < applied
    first = timing.segments[0]
    assert first.clock == PROGRAM and first.what == "the fault taking effect"
    assert first.end == pytest.approx(effect)
    detection = timing.segments[1]
    assert detection.clock == SCALED and detection.end == pytest.approx(page)
    mttd = timing.production_s("t_page")
    assert mttd == pytest.approx((effect - inject) + 30 * (page - effect), abs=2e-3)
    # the deploy's end is a program's time, even where the pipeline overlaps it
    applied_phase = timing.phase("fault_applied")
    assert applied_phase is not None and applied_phase.clock == PROGRAM
    assert applied_phase.production_s == pytest.approx(applied - inject, abs=1e-3)


def test_the_runbook_is_program_time_and_the_users_window_clearing_is_scaled() -> None:
    timing, events = _timing("missing-index")
    started, cleared, mitigated = (
        _t(events, n) for n in ("t_response_start", "t_fault_cleared", "t_mitigated")
    )
    inside = [s for s in timing.segments if started <= s.start and s.end <= cleared + 1e-9]
    assert inside and all(s.clock == PROGRAM for s in inside)
    assert any("Create the index" in s.what for s in inside)
    clearing = timing.segments[-1]
    assert clearing.clock == SCALED
    assert clearing.what == "the users' SLO window clearing (from their last failed request)"
    assert clearing.end == pytest.approx(mitigated)
    recovered = timing.production_s("t_recovered")
    fault_gone = timing.production_s("t_fault_cleared")
    assert recovered is not None and fault_gone is not None
    assert recovered - fault_gone == pytest.approx(30 * (mitigated - cleared), abs=2e-3)


def test_users_still_failing_after_the_fault_is_gone_is_program_time() -> None:
    timing, events = _timing("primary-crash")
    last_bad = _t(events, "t_last_bad_request")
    still = [
        s for s in timing.segments if s.what == "the service still failing users after the fault"
    ]
    assert len(still) == 1 and still[0].clock == PROGRAM
    assert still[0].start == pytest.approx(_t(events, "t_fault_cleared"))
    assert still[0].end == pytest.approx(last_bad)


def test_an_alert_not_fed_by_users_starts_its_pipeline_when_the_fault_applied() -> None:
    timing, events = _timing("primary-crash")
    # DatabaseDown pended before any user's request had failed
    impact = next(e for e in events if e.name == "t_first_impact")
    assert impact.t + impact.detail["seen_s"] > _t(events, "t_alert_pending")
    assert timing.segments[0].end == pytest.approx(_t(events, "fault_applied"))


def test_a_job_scraped_slower_than_scaled_maps_its_wait_by_its_own_interval() -> None:
    timing, events = _timing("primary-crash")
    until_pending = timing.segments[1]
    assert until_pending.clock == SCALED
    assert until_pending.factor == pytest.approx(15.0 / 2.0)  # production 15 s / postgres 2 s
    assert until_pending.end == pytest.approx(_t(events, "t_alert_pending"))
    assert timing.segments[2].factor is None  # from pending on: for: and group wait, x K
    assert scrape_factor(['up{job="app"}'], 30, 0.5, {"postgres": 2.0}, 15.0) is None
    assert scrape_factor(['pg_up{job="postgres"}'], 30, 0.5, {"postgres": 2.0}, 15.0) == 7.5
    assert scrape_factor(['pg_up{job="postgres"}'], 4, 3.75, {}, 15.0) is None


def test_a_promql_wait_inside_a_runbook_step_is_scaled() -> None:
    events = [
        TimelineEvent("t_inject", 100.0, None, {}, None),
        TimelineEvent("fault_applied", 100.1, None, {}, None),
        TimelineEvent("t_page", 103.0, None, {}, None),
        TimelineEvent("t_response_start", 103.0, None, {}, None),
        TimelineEvent(
            "runbook_step",
            104.0,
            None,
            {"step": "act", "started": 103.0, "duration_s": 1.0},
            None,
        ),
        TimelineEvent(
            "runbook_step",
            106.5,
            None,
            {"step": "wait", "started": 104.0, "window_wait": [104.5, 106.4]},
            None,
        ),
        TimelineEvent("t_response_end", 106.5, None, {}, None),
        TimelineEvent("t_fault_cleared", 106.6, None, {}, None),
        TimelineEvent("t_mitigated", 107.0, None, {}, None),
        TimelineEvent("t_recovered", 107.0, None, {}, None),
    ]
    segs = split_timeline(events, k=10)
    waiting = [s for s in segs if "waiting for a PromQL window" in s.what]
    assert len(waiting) == 1 and waiting[0].clock == SCALED
    assert (waiting[0].start, waiting[0].end) == (104.5, 106.4)
    assert production_at(segs, 107.0, 10) == pytest.approx(
        0.1 + 10 * 2.9 + 1.0 + 0.5 + 10 * 1.9 + 0.1 + 0.1 + 10 * 0.4
    )


def test_rule_shapes_of_the_shipped_alerts() -> None:
    [(_, high_error, for_s)] = _rules("HighErrorRate")
    shape = rule_shape(high_error, for_s)
    assert (shape.kind, shape.window_s, shape.threshold, shape.for_s) == ("ratio", 120, 0.05, 30)
    [(_, latency, for_s)] = _rules("HighLatency")
    shape = rule_shape(latency, for_s)
    assert (shape.kind, shape.quantile, shape.threshold, shape.window_s) == (
        "quantile",
        0.95,
        1.0,
        120,
    )
    [(_, down, for_s)] = _rules("DatabaseDown")
    assert rule_shape(down, for_s).kind == "other"


def test_the_floor_adds_the_window_crossing_for_and_group_wait() -> None:
    [rule] = _rules("HighErrorRate")
    floor = detection_floor([rule], 2.0, 0.25, 0.0, 30, scrape_s=15, group_wait_s=30)
    assert floor is not None
    # a 2-minute window holds at least 90 s of samples; 5 % of them at a 25 % error share
    assert floor.parts == {"effect": 2.0, "window": 18.0, "for": 30.0, "group_wait": 30.0}
    assert floor.production_s == pytest.approx(80.0)
    assert floor.drill_s == pytest.approx(2.0 + 78.0 / 30)
    counted = detection_floor(
        [rule], 2.0, 0.25, 0.0, 30, scrape_s=15, group_wait_s=30, counted_s=10.0
    )
    assert counted is not None and counted.parts["window"] == pytest.approx(8.0)
    below = detection_floor([rule], 2.0, 0.04, 0.0, 30, scrape_s=15, group_wait_s=30)
    assert below is not None and below.parts["window"] == 0.0  # cannot cross: not counted


def test_the_floor_of_an_alert_with_two_rules_is_the_lower() -> None:
    rules = _rules("HighMemoryUsage")
    assert len(rules) == 2
    floor = detection_floor(rules, 0.1, 0.0, 0.0, 30, scrape_s=15, group_wait_s=30)
    assert floor is not None and floor.production_s == pytest.approx(0.1 + 30 + 30)


def test_a_quantile_rule_crosses_with_the_share_of_slow_requests() -> None:
    [rule] = _rules("HighLatency")
    floor = detection_floor([rule], 1.0, 0.0, 0.5, 20, scrape_s=15, group_wait_s=30)
    assert floor is not None and floor.parts["window"] == pytest.approx(90 * 0.05 / 0.5)


@pytest.mark.parametrize("cause", ["bad-release", "primary-crash", "missing-index"])
def test_the_floor_of_a_recorded_drill_is_below_its_mttd(cause: str) -> None:
    timing, _ = _timing(cause)
    page = timing.phase("t_page")
    assert timing.floor is not None and page is not None
    assert timing.floor.production_s <= page.production_s
    assert timing.floor.drill_s <= page.drill_s


def test_a_detection_much_slower_than_its_floor_is_called_out() -> None:
    [rule] = _rules("DatabaseDown")
    floor = detection_floor([rule], 0.1, 0.0, 0.0, 30, scrape_s=15, group_wait_s=30)
    assert floor is not None
    assert slow_detection(100.0, floor, 15, 15) is None
    said = slow_detection(200.0, floor, 15, 15)
    assert said is not None and "above its floor of 60 s" in said


def test_timing_reads_back_as_written() -> None:
    timing, _ = _timing("bad-release")
    written = timing.to_json()
    again = Timing.from_json(JsonObject.of(written, "test")).to_json()
    assert again == written
    assert written["method"] == "split-v1"
    assert set(written["sources"]) >= {"t_page", "t_alert_pending", "t_first_impact"}
    assert written["resolution"] == {
        "scrape_interval_s": 0.5,
        "production_scrape_interval_s": 15.0,
        "slower_jobs": {"postgres": 2.0},
    }


def test_a_segment_on_its_own_factor() -> None:
    s = Segment(0.0, 2.0, SCALED, "x", 7.5)
    assert s.production_s(30) == 15.0
    assert Segment(0.0, 2.0, PROGRAM, "y").production_s(30) == 2.0


def _rollback(users_ok: float, cleared: float, mitigated: float) -> list[TimelineEvent]:
    """A rollback from 10.0 to ``cleared``; the users' last failed request at 11.0."""
    marks = [
        ("t_inject", 0.0, {}),
        ("fault_applied", 1.0, {}),
        ("t_page", 5.0, {}),
        ("t_response_start", 10.0, {}),
        ("runbook_step", cleared, {"step": "roll back", "started": 10.0}),
        ("t_fault_cleared", cleared, {}),
        ("t_response_end", cleared, {}),
        ("t_last_bad_request", 11.0, {}),
        ("t_users_ok", users_ok, {}),
        ("t_mitigated", mitigated, {}),
        ("t_recovered", mitigated, {}),
    ]
    return [TimelineEvent(n, t, None, d, None) for n, t, d in sorted(marks, key=lambda m: m[1])]


def test_a_users_window_that_cleared_during_the_rollback_counts_at_production_speed() -> None:
    # at K = 30 the users' 2-second window cleared (12.5) while the rollback still ran (13.0)
    events = _rollback(users_ok=12.5, cleared=13.0, mitigated=13.0)
    segs = split_timeline(events, k=30)
    recovered = production_at(segs, 13.0, 30)
    program = 1.0 + (10.0 - 5.0) + (11.0 - 10.0)  # the fault taking effect, responder, rollback
    assert recovered == pytest.approx(program + 30 * 4.0 + 30 * (12.5 - 11.0))
    # the fault gone alone would have said: program time to 13.0
    assert recovered > 1.0 + 30 * 4.0 + 5.0 + 3.0


def test_a_fault_gone_after_the_users_recovered_is_the_later_chain() -> None:
    events = _rollback(users_ok=11.2, cleared=20.0, mitigated=20.0)
    segs = split_timeline(events, k=30)
    assert production_at(segs, 20.0, 30) == pytest.approx(1.0 + 30 * 4.0 + 5.0 + 10.0)


def test_each_event_keeps_the_figure_of_its_own_chain() -> None:
    events = _rollback(users_ok=12.5, cleared=13.0, mitigated=13.0)
    events.insert(
        -2, TimelineEvent("runbook_step", 14.0, None, {"step": "verify", "started": 13.0}, None)
    )
    events.sort(key=lambda e: e.t)
    timing = compute_timing(events, TimeScale(30), [], scrape_s=0.5, slower_jobs={})
    figures = {name: prod for name, _, prod in timing.events}
    program = 1.0 + 30 * 4.0 + 5.0
    assert figures["t_users_ok"] == pytest.approx(program + 1.0 + 30 * 1.5)
    assert figures["t_fault_cleared"] == pytest.approx(program + 3.0)
    steps = [prod for name, _, prod in timing.events if name == "runbook_step"]
    assert steps[-1] == pytest.approx(program + 3.0 + 1.0)  # the runbook's chain, not x K
    assert Timing.from_json(JsonObject.of(timing.to_json(), "t")).events == timing.events


def test_a_latency_rule_starts_from_the_services_own_slow_share_when_it_lags_the_users() -> None:
    data = _recorded("missing-index")
    events = _events(data)
    impact = next(e for e in events if e.name == "t_first_impact")
    users_step = impact.t + impact.detail["full_s"]
    pending = _t(events, "t_alert_pending")
    later = (users_step + pending) / 2
    step = TimelineEvent("t_signal_full", later, None, {"full_share": 0.4}, None)
    with_step = sorted([*events, step], key=lambda e: e.t)
    assert split_timeline(events, k=30)[0].end == pytest.approx(users_step)
    assert split_timeline(with_step, k=30)[0].end == pytest.approx(later)
    # a step before the users' one changes nothing: the later of the two
    early = TimelineEvent("t_signal_full", impact.t, None, {}, None)
    assert split_timeline(sorted([*events, early], key=lambda e: e.t), k=30)[0].end == (
        pytest.approx(users_step)
    )


def test_an_alertmanager_group_that_paged_before_counts_no_group_wait_in_the_floor() -> None:
    data = _recorded("primary-crash")
    events = _events(data)
    rules = _rules("DatabaseDown")
    ts = TimeScale(30)
    fresh = compute_timing(events, ts, rules, scrape_s=0.5, slower_jobs={})
    grouped_events = [
        TimelineEvent(e.name, e.t, e.wall, {**e.detail, "group_existed": True}, e.offset_s)
        if e.name == "t_page"
        else e
        for e in events
    ]
    grouped = compute_timing(grouped_events, ts, rules, scrape_s=0.5, slower_jobs={})
    assert fresh.floor is not None and grouped.floor is not None
    assert fresh.floor.parts["group_wait"] == 30.0 and grouped.floor.parts["group_wait"] == 0.0
    assert grouped.floor.production_s == pytest.approx(fresh.floor.production_s - 30.0)
    assert "group existed" in grouped.floor.note
