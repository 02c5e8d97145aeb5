"""Setting a drill up from an experiment and taking it down again.

``start_drill``: read the chaosdrill part of the experiment, attach to (or bring up) the
environment at the drill's time scale, revert faults a killed drill left behind, start the
load. ``finish_drill``: stop the load, write the result. ``cleanup_drill``: revert anything
still open and take down an environment the drill brought up itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import DrillConfig, DrillContext, clear_current, set_current
from chaosdrill.drill.result import write_result
from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.errors import EnvironmentNotFoundError, InvalidInputError
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.load import LoadSpec, active_run
from chaosdrill.load.sli import SliTail
from chaosdrill.paths import reports_dir
from chaosdrill.timescale import PRODUCTION, TimeScale

__all__ = ["cleanup_drill", "config_from_experiment", "finish_drill", "start_drill"]

_REQUIRED = ("scenario", "cause", "alert", "runbook")


def _number(value: Any, field: str, source: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"expected a number, got {value!r}", source=source, field=field
        ) from None


def config_from_experiment(
    experiment: dict[str, Any], configuration: dict[str, Any] | None, source: str
) -> DrillConfig:
    """The drill's settings from the experiment's ``chaosdrill`` extension and configuration."""
    ext = next(
        (e for e in experiment.get("extensions") or [] if e.get("name") == "chaosdrill"), None
    )
    if not isinstance(ext, dict):
        raise InvalidInputError(
            "expected an extension named 'chaosdrill'", source=source, field="extensions"
        )
    for key in _REQUIRED:
        if not isinstance(ext.get(key), str) or not ext[key]:
            raise InvalidInputError(
                "expected a non-empty string", source=source, field=f"extensions[chaosdrill].{key}"
            )
    conf = configuration or {}
    k = _number(conf.get("chaosdrill_time_scale", 1), "configuration.chaosdrill_time_scale", source)
    hold = _number(
        conf.get("chaosdrill_hold_s", PRODUCTION.hold_s), "configuration.chaosdrill_hold_s", source
    )
    timeout = conf.get("chaosdrill_recovery_timeout_s")
    recovery_timeout = (
        None
        if timeout in (None, "")
        else _number(timeout, "configuration.chaosdrill_recovery_timeout_s", source)
    )
    targets = {}
    for key, name in (
        ("mttd_target_s", "chaosdrill_mttd_target_s"),
        ("mttr_target_s", "chaosdrill_mttr_target_s"),
    ):
        if conf.get(name) not in (None, ""):
            value = _number(conf[name], f"configuration.{name}", source)
            if value <= 0:
                raise InvalidInputError(
                    f"expected a positive number of production seconds, got {value:g}",
                    source=source,
                    field=f"configuration.{name}",
                )
            targets[key] = value
    load = ext.get("load") or {}
    override = conf.get("chaosdrill_load") or {}
    for given, where in (
        (load, "extensions[chaosdrill].load"),
        (override, "configuration.chaosdrill_load"),
    ):
        if not isinstance(given, dict):
            raise InvalidInputError(
                "expected a mapping of LoadSpec fields", source=source, field=where
            )
    load = {**load, **override}
    return DrillConfig(
        experiment=source,
        title=str(experiment.get("title", "")),
        scenario=ext["scenario"],
        cause=ext["cause"],
        alert=ext["alert"],
        runbook=ext["runbook"],
        runbook_params=dict(ext.get("runbook_params") or {}),
        env_name=str(conf.get("chaosdrill_env") or "drill"),
        time_scale=TimeScale(k, production=dataclasses.replace(PRODUCTION, **targets)),
        reports_dir=Path(conf.get("chaosdrill_reports") or reports_dir()),
        hold_production_s=hold,
        load=dict(load),
        replicas=int(ext.get("replicas", 2)),
        recovery_timeout_production_s=recovery_timeout,
        result_path=Path(conf["chaosdrill_result"]) if conf.get("chaosdrill_result") else None,
    )


def start_drill(cfg: DrillConfig) -> DrillContext:
    """Environment at the drill's time scale, leftovers reverted, load running."""
    LoadSpec(**cfg.load)  # validate before anything starts
    try:
        env = LocalEnvironment.attach(cfg.env_name)
        owns = False
        env.apply_time_scale(cfg.time_scale.k)
    except EnvironmentNotFoundError:
        settings = EnvSettings.for_time_scale(cfg.time_scale.k, replicas=cfg.replicas)
        env = LocalEnvironment.up(cfg.env_name, settings)
        owns = True
    ledger = FaultLedger(env.root / "faults.jsonl")
    ctx = DrillContext(config=cfg, env=env, owns_env=owns, ledger=ledger)
    try:
        leftovers = [e for e in ledger.recover(env) if not e.error]
        if leftovers:
            ctx.timeline.mark("leftover_faults_reverted", faults=[e.kind for e in leftovers])
        stale = active_run(env.root / "load")
        if stale is not None:
            stale.stop(grace_s=3)
        ctx.timeline.mark(
            "drill_start", environment=env.name, owns_environment=owns, time_scale=cfg.time_scale.k
        )
        ctx.load = env.start_load(LoadSpec(**cfg.load))
        ctx.sli = SliTail(ctx.load.run_dir)
        ctx.timeline.mark("load_started", run=ctx.load.run_id)
    except BaseException:
        cleanup_drill(ctx)
        raise
    set_current(ctx)
    return ctx


def finish_drill(ctx: DrillContext, journal: dict[str, Any] | None) -> Path:
    """Stop the load (after verification) and write the result file."""
    ctx.measurements["alerts_at_end"] = _alerts_at_end(ctx)
    if ctx.load is not None and ctx.load.running():
        ctx.load.stop()
        ctx.timeline.mark("load_stopped")
    return write_result(ctx, journal)


def _alerts_at_end(ctx: DrillContext) -> list[str] | None:
    """Alerts still firing when the drill ends (None when Prometheus cannot be asked)."""
    from chaosdrill.errors import DrillError
    from chaosdrill.probes.alerts import firing_alerts

    try:
        return sorted({a.name for a in firing_alerts(ctx.env.endpoints()) if a.state == "firing"})
    except DrillError:
        return None


def cleanup_drill(ctx: DrillContext) -> None:
    """Revert whatever is still open, stop the load, and take down an env the drill made."""
    with contextlib.suppress(Exception):
        ctx.ledger.recover(ctx.env, include_live=True)
    if ctx.load is not None:
        with contextlib.suppress(Exception):
            ctx.load.stop(grace_s=3)
    if ctx.owns_env:
        ctx.env.down()
    clear_current()
