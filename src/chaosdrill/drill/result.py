"""The drill result: journal + timeline + measurements, written as JSON under reports/.

``build_result`` turns a drill's context into the typed ``DrillResult`` (drill/model.py,
format version 1); ``write_result`` writes its JSON. Times are drill seconds on the monotonic
clock; every duration also has its production-equivalent (drill seconds x time scale).
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from chaosdrill.errors import DrillError
from chaosdrill.faults.redaction import redact
from chaosdrill.load.sli import ALL
from chaosdrill.paths import write_atomic

__all__ = [
    "build_result",
    "first_impact",
    "write_result",
]


def first_impact(ctx: DrillContext) -> float | None:
    """Monotonic time of the first whole second after the fault that broke an SLO."""
    from chaosdrill.drill.phases import ERROR_SLO, LATENCY_SLO_MS

    t_inject = ctx.timeline.first("t_inject")
    if t_inject is None or ctx.load is None:
        return None
    for p in ctx.load.series():
        if p.flow != ALL or p.second + 1 <= t_inject.t or p.requests == 0:
            continue
        if p.failures / p.requests > ERROR_SLO or p.p95_ms > LATENCY_SLO_MS:
            return float(max(p.second, t_inject.t))
    return None


def _verdict(ctx: DrillContext) -> Verdict:
    ts = ctx.spec.time_scale
    m = ctx.measurements
    mttd = m.detection.mttd_s if m.detection else None
    mttr = m.recovery.mttr_s if m.recovery else None
    mttd_ok = mttd is not None and mttd <= ts.mttd_target_s
    mttr_ok = mttr is not None and mttr <= ts.mttr_target_s
    checks = {
        "detected": bool(m.detection and m.detection.paged),
        "mttd_within_target": mttd_ok,
        "recovered": bool(m.recovery and m.recovery.recovered),
        "mttr_within_target": mttr_ok,
        "runbook_succeeded": bool(m.runbooks) and all(r.ok for r in m.runbooks or ()),
        "verification_passed": all(c.ok for c in m.verification or ()) and bool(m.verification),
        "fault_reverted": bool(m.revert and m.revert.ok),
    }
    reasons = list(ctx.failures)
    alert = ctx.spec.alert
    if mttd is not None and not mttd_ok:
        reasons.append(
            f"{alert} paged after {mttd:.1f} s ({mttd * ts.k:.0f} s in production); "
            f"target {ts.mttd_target_s:.1f} s ({ts.production.mttd_target_s:.0f} s)"
        )
    if mttr is not None and not mttr_ok:
        reasons.append(
            f"recovered after {mttr:.1f} s ({mttr * ts.k:.0f} s in production); "
            f"target {ts.mttr_target_s:.1f} s ({ts.production.mttr_target_s:.0f} s)"
        )
    return Verdict(passed=all(checks.values()), checks=checks, reasons=tuple(reasons))


def build_result(ctx: DrillContext, journal: dict[str, Any] | None) -> DrillResult:
    """Everything measured, as the typed result (``to_json`` is the file's content)."""
    cfg, ts = ctx.spec, ctx.spec.time_scale
    impact = first_impact(ctx)
    if impact is not None and ctx.timeline.first("t_first_impact") is None:
        ctx.timeline.mark("t_first_impact", t=impact)
    m = dataclasses.replace(ctx.measurements)  # a snapshot: the parts are immutable
    mttd = m.detection.mttd_s if m.detection else None
    mttr = m.recovery.mttr_s if m.recovery else None
    series = ctx.load.series() if ctx.load is not None else []
    return DrillResult(
        experiment=cfg.experiment,
        title=cfg.title,
        scenario=cfg.scenario,
        cause=cfg.cause,
        environment=Environment(backend=ctx.env.backend, name=cfg.env_name),
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
            mttd_s=ts.production_equivalent(mttd),
            mttr_s=ts.production_equivalent(mttr),
            time_to_mitigate_s=ts.production_equivalent(
                m.recovery.time_to_mitigate_s if m.recovery else None
            ),
            time_to_first_impact_s=ts.production_equivalent(
                ctx.timeline.since("t_inject", "t_first_impact")
            ),
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
