"""The drill result: journal + timeline + measurements, written as JSON under reports/.

``build_result`` turns a drill's context into the typed ``DrillResult`` (drill/model.py,
format version 1); ``write_result`` writes its JSON. Times are drill seconds on the monotonic
clock; every duration also has its production-equivalent (chaosdrill.drill.timing: the
monitoring pipeline's time x the time scale, program time not scaled).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from chaosdrill.drill import users
from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.drill.model import (
    DrillResult,
    Environment,
    LoadSli,
    ProductionEquivalent,
    ProductionTargets,
    Series,
    Targets,
    TimelineEvent,
    Verdict,
)
from chaosdrill.drill.phases import SAMPLE_LAG_S
from chaosdrill.drill.timing import Timing, compute_timing
from chaosdrill.drill.users import Impact
from chaosdrill.errors import DrillError
from chaosdrill.faults.redaction import redact
from chaosdrill.load.sli import ALL
from chaosdrill.paths import write_atomic
from chaosdrill.timescale import TimeScale

__all__ = [
    "build_result",
    "first_impact",
    "retime",
    "rules_of",
    "signal_step",
    "timing_of",
    "write_result",
]


def first_impact(ctx: DrillContext) -> Impact | None:
    """The users' first impact after the fault (chaosdrill.drill.users); None: none seen."""
    t_inject = ctx.timeline.first("t_inject")
    if t_inject is None or ctx.sli is None:
        return None
    ctx.sli.poll()
    return users.first_impact(
        ctx.sli, t_inject.t, time.monotonic() - SAMPLE_LAG_S, ctx.spec.slo_window_s
    )


def _full_effect_s(ctx: DrillContext, impact: Impact) -> float | None:
    """Seconds from the first impact to the users' impact as a step of its full size.

    A fault's effect on users can grow in program time (a deploy rolling replica by
    replica, a queue building behind slow queries). The alert's window counts bad
    requests, so the ramp is replaced by the step of the full share (the share from the
    alert pending to the page) that gives the window the same count of bad requests by the
    time the alert pended. None: the alert did not pend after users saw the fault.
    """
    pending = ctx.timeline.first("t_alert_pending") or ctx.timeline.first("t_page")
    page = ctx.timeline.first("t_page")
    if ctx.sli is None or pending is None or pending.t <= impact.seen:
        return None

    def bad_share(a: float, b: float) -> tuple[float, int]:
        done = ctx.sli.requests(a, b) if ctx.sli is not None else []
        bad = sum(1 for r in done if r.failed or r.ms > users.LATENCY_SLO_MS)
        return (bad / len(done) if done else 0.0), len(done)

    ramp, _ = bad_share(impact.seen - 1e-6, pending.t)
    full, n = bad_share(pending.t, page.t if page is not None else pending.t)
    if n < 10:  # too few requests after pending to judge the full share: the whole span
        full, _ = bad_share(impact.seen - 1e-6, page.t if page is not None else pending.t)
    full = max(full, ramp)
    if full <= 0:
        return None
    equivalent = pending.t - (pending.t - impact.seen) * ramp / full
    return round(equivalent - impact.first, 3)


_HISTOGRAM = re.compile(r"rate\(\s*([A-Za-z_:][A-Za-z0-9_:]*)_bucket\s*(\{[^}]*\})?\s*\[")


def signal_step(ctx: DrillContext, rules: tuple[tuple[str, str, float], ...]) -> None:
    """Mark the service's own slow share as a step of its full size (``t_signal_full``).

    A latency-quantile rule reads the service's own histogram, not the users' latency:
    requests can queue before the service times them (a database saturating behind slow
    queries), so the histogram's share of slow requests grows in program time after the
    users already feel it. Prometheus is asked for that share (observations over the
    rule's threshold, over three scrape intervals) from the fault to the page; the ramp up
    to the alert pending is replaced by the step of its full share (the mean from pending
    to the page) that holds as many slow observations. Nothing is marked for other rules,
    or when Prometheus cannot answer.
    """
    from chaosdrill.drill.timing import rule_shape

    inject, pending = ctx.timeline.first("t_inject"), ctx.timeline.first("t_alert_pending")
    page = ctx.timeline.first("t_page")
    if inject is None or pending is None or page is None:
        return
    if ctx.timeline.first("t_signal_full") is not None:
        return
    try:
        monitoring = ctx.env.monitoring()
        url = ctx.env.endpoints().prometheus_url
    except DrillError:
        return
    window = 3 * monitoring.scrape_interval_s
    step = max(0.05, monitoring.evaluation_interval_s)
    offset = time.time() - time.monotonic()
    for _, expr, for_s in rules:
        shape = rule_shape(expr, for_s)
        found = _HISTOGRAM.search(expr)
        if shape.kind != "quantile" or shape.threshold is None or found is None:
            continue
        metric, selector = found.group(1), (found.group(2) or "{}")[1:-1]
        le = f'le=~"{shape.threshold:g}|{shape.threshold:g}[.]0+"'
        sel = f"{selector}, {le}" if selector.strip() else le
        w = f"{round(window * 1000)}ms"
        query = (
            f"1 - sum(rate({metric}_bucket{{{sel}}}[{w}])) / "
            f"(sum(rate({metric}_count{{{selector}}}[{w}])) > 0)"
        )
        try:
            resp = httpx.get(
                f"{url}/api/v1/query_range",
                params={
                    "query": query,
                    "start": inject.t + offset,
                    "end": page.t + offset,
                    "step": step,
                },
                timeout=5.0,
            )
            resp.raise_for_status()
            result = resp.json()["data"]["result"]
        except (httpx.HTTPError, KeyError, ValueError):
            continue
        points = sorted(
            (float(t) - offset - window / 2, float(v))  # a window's share, at its middle
            for item in result
            for t, v in item.get("values", [])
            if v not in ("NaN", "+Inf", "-Inf")
        )
        full = [v for t, v in points if pending.t <= t + window / 2 <= page.t]
        ramp = [v for t, v in points if inject.t <= t <= pending.t]
        if not full or not ramp or statistics.fmean(full) <= 0:
            continue
        share = statistics.fmean(full)
        slow = sum(min(v, share) for v in ramp) * step
        at = max(inject.t, pending.t - slow / share)
        ctx.timeline.mark(
            "t_signal_full", t=at, full_share=round(share, 4), window_s=window, query=query
        )
        return


def rule_files() -> tuple[str, ...]:
    """The alert rule files in force: the workspace's over the built-in catalogue's."""
    from chaosdrill.workspace import current

    return tuple(str(p) for p in current().paths("rules"))


@functools.lru_cache(maxsize=8)
def rules_of(alert: str, files: tuple[str, ...]) -> tuple[tuple[str, str, float], ...]:
    """The alert's rules as written (production time): (name, expr, for in seconds).

    ``files``: the rule files (:func:`rule_files`).
    """
    from chaosdrill.monitoring.promql import parse_duration
    from chaosdrill.monitoring.rules import load_rule_files

    try:
        loaded = load_rule_files(list(files))
    except DrillError:
        return ()
    return tuple(
        (r.name, r.expr, parse_duration(r.for_) / 1000 if r.for_ else 0.0)
        for f in loaded
        for r in f.alerts
        if r.name == alert
    )


def timing_of(ctx: DrillContext) -> Timing:
    """The drill's timeline split into scaled and program time, with the detection floor."""
    ts = ctx.spec.time_scale
    try:
        monitoring = ctx.env.monitoring()
        scrape, slower = monitoring.scrape_interval_s, dict(monitoring.slower_jobs)
    except DrillError:
        scrape, slower = ts.scrape_interval_s, {}
    return compute_timing(
        ctx.timeline.events,
        ts,
        rules_of(ctx.spec.alert, rule_files()) if ctx.spec.alert else (),
        scrape_s=scrape,
        slower_jobs=slower,
    )


def retime(result: DrillResult) -> Timing | None:
    """A stored result's timing computed again from its timeline (None: it has no fault).

    Uses the alert rules of the catalogue as they are now and the resolution the result
    recorded (a result written before timing existed: the time scale's own intervals).
    """
    if result.event("t_inject") is None:
        return None
    ts = TimeScale(float(result.time_scale or 1.0))
    alert = result.measurements.detection.alert if result.measurements.detection else ""
    old = result.timing
    return compute_timing(
        result.timeline,
        ts,
        rules_of(alert, rule_files()) if alert else (),
        scrape_s=old.scrape_interval_s if old and old.scrape_interval_s else ts.scrape_interval_s,
        slower_jobs=dict(old.slower_jobs) if old else {},
    )


def _verdict(ctx: DrillContext) -> Verdict:
    ts = ctx.spec.time_scale
    m = ctx.measurements
    mttd = m.detection.mttd_s if m.detection else None
    mttr = m.recovery.mttr_s if m.recovery else None
    timing = ctx.timing
    prod_mttd = timing.production_s("t_page") if timing and mttd is not None else None
    prod_mttr = timing.production_s("t_recovered") if timing and mttr is not None else None
    mttd_ok = prod_mttd is not None and prod_mttd <= ts.production.mttd_target_s
    mttr_ok = prod_mttr is not None and prod_mttr <= ts.production.mttr_target_s
    checks = {
        "detected": bool(m.detection and m.detection.paged),
        "mttd_within_target": mttd_ok,
        # recovered after the response began, with the fault gone, and not on its own
        "recovered": bool(
            m.recovery and m.recovery.recovered and m.recovery.kind != "before_response"
        ),
        "mttr_within_target": mttr_ok,
        "runbook_succeeded": bool(m.runbooks) and all(r.ok for r in m.runbooks or ()),
        "verification_passed": all(c.ok for c in m.verification or ()) and bool(m.verification),
        "fault_reverted": bool(m.revert and m.revert.ok),
    }
    reasons = list(ctx.failures)
    alert = ctx.spec.alert
    if mttd is not None and prod_mttd is not None and not mttd_ok:
        reasons.append(
            f"{alert} paged after {mttd:.1f} s ({prod_mttd:.0f} s production-equivalent); "
            f"target {ts.production.mttd_target_s:.0f} s"
        )
    if mttr is not None and prod_mttr is not None and not mttr_ok:
        reasons.append(
            f"recovered after {mttr:.1f} s ({prod_mttr:.0f} s production-equivalent); "
            f"target {ts.production.mttr_target_s:.0f} s"
        )
    return Verdict(passed=all(checks.values()), checks=checks, reasons=tuple(reasons))


def build_result(ctx: DrillContext, journal: dict[str, Any] | None) -> DrillResult:
    """Everything measured, as the typed result (``to_json`` is the file's content)."""
    cfg, ts = ctx.spec, ctx.spec.time_scale
    impact = first_impact(ctx)
    if impact is not None and ctx.timeline.first("t_first_impact") is None:
        page = ctx.timeline.first("t_page")
        shares = impact
        if page is not None and ctx.sli is not None and page.t > impact.breach:
            t_inject = ctx.timeline.first("t_inject")
            assert t_inject is not None
            until_page = users.first_impact(ctx.sli, t_inject.t, page.t, ctx.spec.slo_window_s)
            shares = until_page or impact
        ctx.timeline.mark(
            "t_first_impact",
            t=impact.first,
            seen_s=round(impact.seen - impact.first, 3),
            full_s=_full_effect_s(ctx, impact),
            breach_s=round(impact.breach - impact.first, 3),
            # of the requests sent from the first impact to the page: failed, slower than 1 s
            share=round(shares.share, 4),
            slow_share=round(shares.slow_share, 4),
        )
    if ctx.spec.alert:
        signal_step(ctx, rules_of(ctx.spec.alert, rule_files()))
    ctx.timing = timing = timing_of(ctx)
    m = dataclasses.replace(ctx.measurements)  # a snapshot: the parts are immutable
    mttd = m.detection.mttd_s if m.detection else None
    mttr = m.recovery.mttr_s if m.recovery else None
    series = ctx.load.series() if ctx.load is not None else []
    return DrillResult(
        experiment=cfg.experiment,
        title=cfg.title,
        scenario=cfg.scenario,
        cause=cfg.cause,
        environment=Environment(
            backend=ctx.env.backend, name=cfg.env_name, target=ctx.env.target().name
        ),
        written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        time_scale=ts.k,
        targets=Targets(
            mttd_s=ts.mttd_target_s,
            mttr_s=ts.mttr_target_s,
            hold_s=cfg.hold_s,
            production=ProductionTargets(
                mttd_s=ts.production.mttd_target_s,
                mttr_s=ts.production.mttr_target_s,
                hold_s=cfg.hold_production_s,
            ),
        ),
        mttd_s=mttd,
        mttr_s=mttr,
        production_equivalent=ProductionEquivalent(
            mttd_s=timing.production_s("t_page") if mttd is not None else None,
            mttr_s=timing.production_s("t_recovered") if mttr is not None else None,
            time_to_mitigate_s=timing.production_s("t_mitigated"),
            time_to_first_impact_s=timing.production_s("t_first_impact"),
        ),
        verdict=_verdict(ctx),
        failures=tuple(ctx.failures),
        complete=ctx.timeline.first("t_reverted") is not None and ctx.stopped is None,
        measurements=m,
        timeline=tuple(
            TimelineEvent.from_json(JsonObject.of(e, "the drill's timeline", f"timeline[{i}]"))
            for i, e in enumerate(redact(ctx.timeline.to_list()))
        ),
        load=LoadSli(
            run_id=ctx.load.run_id if ctx.load else None,
            sli=tuple(p for p in series if p.flow == ALL),
        ),
        series=_series(ctx),
        journal=redact(journal),  # an experiment's arguments may hold a password
        timing=timing,
    )


def _series(ctx: DrillContext) -> Series:
    """Prometheus' series over the drill (for the report's charts); never raises."""
    from chaosdrill.probes.series import capture_series

    start, inject = ctx.timeline.first("drill_start"), ctx.timeline.first("t_inject")
    if start is None or inject is None:
        return Series(charts=(), errors=("the drill ended before the fault: no series",))
    offset = time.time() - time.monotonic()
    try:
        captured = capture_series(
            ctx.env.endpoints().prometheus_url,
            start.t + offset,
            time.monotonic() + offset,
            inject.t + offset,
            ctx.env.monitoring().scrape_interval_s,
        )
        return Series.from_json(JsonObject.of(captured, "Prometheus", "series"))
    except DrillError as exc:
        return Series(charts=(), errors=(str(exc),))


def write_result(ctx: DrillContext, journal: dict[str, Any] | None) -> Path:
    """Write the result atomically; return its path.

    The path is the drill's ``result_path`` when the caller named one (``chaosdrill run``,
    plans, the pytest plugin), else ``drills/01-<experiment>.json`` in a new run folder
    under the reports directory (chaosdrill.report.rundir).
    """
    from chaostoolkit import encoder

    from chaosdrill.report.rundir import RunDir

    data = build_result(ctx, journal)
    path = ctx.result_path
    if path is None:  # no run folder named (the stock `chaos run`): a new one
        path = RunDir.create(ctx.spec.reports_dir, cfg_stem(ctx)).drill_result(1, cfg_stem(ctx))
    write_atomic(path, json.dumps(data.to_json(), indent=2, default=encoder))
    ctx.result_path = path
    ctx.result = data
    return path


def cfg_stem(ctx: DrillContext) -> str:
    """File name stem of the experiment."""
    return Path(ctx.spec.experiment).stem
