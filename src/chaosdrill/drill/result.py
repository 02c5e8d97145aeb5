"""The drill result: journal + timeline + measurements, written as JSON under reports/.

Format version 1. Times are drill seconds on the monotonic clock; every duration also has its
production-equivalent (drill seconds x time scale). The report issue renders this file.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import DrillContext
from chaosdrill.errors import DrillError
from chaosdrill.load.sli import ALL

__all__ = [
    "RESULT_VERSION",
    "build_result",
    "first_impact",
    "write_result",
]

RESULT_VERSION = 1


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


def _verdict(ctx: DrillContext) -> dict[str, Any]:
    ts = ctx.config.time_scale
    m = ctx.measurements
    mttd = (m.get("detection") or {}).get("mttd_s")
    mttr = (m.get("recovery") or {}).get("mttr_s")
    checks = {
        "detected": bool((m.get("detection") or {}).get("paged")),
        "mttd_within_target": mttd is not None and mttd <= ts.mttd_target_s,
        "recovered": bool((m.get("recovery") or {}).get("recovered")),
        "mttr_within_target": mttr is not None and mttr <= ts.mttr_target_s,
        "runbook_succeeded": bool(m.get("runbooks")) and all(r["ok"] for r in m["runbooks"]),
        "verification_passed": all(c.get("ok") for c in (m.get("verification") or {}).values())
        and bool(m.get("verification")),
        "fault_reverted": bool((m.get("revert") or {}).get("ok")),
    }
    reasons = list(ctx.failures)
    alert = ctx.config.alert
    if mttd is not None and not checks["mttd_within_target"]:
        reasons.append(
            f"{alert} paged after {mttd:.1f} s ({mttd * ts.k:.0f} s in production); "
            f"target {ts.mttd_target_s:.1f} s ({ts.production.mttd_target_s:.0f} s)"
        )
    if mttr is not None and not checks["mttr_within_target"]:
        reasons.append(
            f"recovered after {mttr:.1f} s ({mttr * ts.k:.0f} s in production); "
            f"target {ts.mttr_target_s:.1f} s ({ts.production.mttr_target_s:.0f} s)"
        )
    return {"passed": all(checks.values()), "checks": checks, "reasons": reasons}


def build_result(ctx: DrillContext, journal: dict[str, Any] | None) -> dict[str, Any]:
    """Everything measured in one JSON-serialisable dict."""
    cfg, ts = ctx.config, ctx.config.time_scale
    impact = first_impact(ctx)
    if impact is not None and ctx.timeline.first("t_first_impact") is None:
        ctx.timeline.mark("t_first_impact", t=impact)
    m = ctx.measurements
    mttd = (m.get("detection") or {}).get("mttd_s")
    mttr = (m.get("recovery") or {}).get("mttr_s")
    series = ctx.load.series() if ctx.load is not None else []
    return {
        "chaosdrill_result_version": RESULT_VERSION,
        "experiment": cfg.experiment,
        "title": cfg.title,
        "scenario": cfg.scenario,
        "cause": cfg.cause,
        "environment": {"backend": "local", "name": cfg.env_name},
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "time_scale": ts.k,
        "targets": {
            "mttd_s": ts.mttd_target_s,
            "mttr_s": ts.mttr_target_s,
            "hold_s": cfg.hold_s,
            "production": {
                "mttd_s": ts.production.mttd_target_s,
                "mttr_s": ts.production.mttr_target_s,
                "hold_s": cfg.hold_production_s,
            },
        },
        "mttd_s": mttd,
        "mttr_s": mttr,
        "production_equivalent": {
            "mttd_s": ts.production_equivalent(mttd),
            "mttr_s": ts.production_equivalent(mttr),
            "time_to_mitigate_s": ts.production_equivalent(
                (m.get("recovery") or {}).get("time_to_mitigate_s")
            ),
            "time_to_first_impact_s": ts.production_equivalent(
                ctx.timeline.since("t_inject", "t_first_impact")
            ),
        },
        "verdict": _verdict(ctx),
        "failures": list(ctx.failures),
        "complete": ctx.timeline.first("t_reverted") is not None,
        "measurements": m,
        "timeline": ctx.timeline.to_list(),
        "load": {
            "run_id": ctx.load.run_id if ctx.load else None,
            "sli": [p.__dict__ for p in series if p.flow == ALL],
        },
        "series": _series(ctx),
        "journal": journal,
    }


def _series(ctx: DrillContext) -> dict[str, Any]:
    """Prometheus' series over the drill (for the report's charts); never raises."""
    from chaosdrill.probes.series import capture_series

    start, inject = ctx.timeline.first("drill_start"), ctx.timeline.first("t_inject")
    if start is None or inject is None:
        return {"errors": ["the drill ended before the fault: no series"]}
    offset = time.time() - time.monotonic()
    try:
        return capture_series(
            ctx.env.endpoints().prometheus_url,
            start.t + offset,
            time.monotonic() + offset,
            inject.t + offset,
            ctx.env.state.settings.scrape_interval_s,
        )
    except DrillError as exc:
        return {"errors": [str(exc)]}


def write_result(ctx: DrillContext, journal: dict[str, Any] | None) -> Path:
    """Write the result atomically; return its path.

    The path is the drill's ``result_path`` when the caller named one (``chaosdrill run``,
    plans, the pytest plugin), else ``drills/01-<experiment>.json`` in a new run folder
    under the reports directory (chaosdrill.rundir).
    """
    from chaostoolkit import encoder

    from chaosdrill.rundir import RunDir

    data = build_result(ctx, journal)
    path = ctx.result_path or ctx.config.result_path
    if path is None:  # no run folder named (the stock `chaos run`): a new one
        path = RunDir.create(ctx.config.reports_dir, cfg_stem(ctx)).drill_result(1, cfg_stem(ctx))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=encoder))
    os.replace(tmp, path)
    ctx.result_path = path
    return path


def cfg_stem(ctx: DrillContext) -> str:
    """File name stem of the experiment."""
    return Path(ctx.config.experiment).stem
