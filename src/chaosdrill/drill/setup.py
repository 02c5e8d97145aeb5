"""Setting a drill up from an experiment and taking it down again.

``start_drill``: from the drill's settings (a checked ``DrillSpec``), attach to (or bring up)
the environment and hold it (one drill per environment at a time: another drill's hold
refuses this one before anything is touched), re-time it for the drill's time scale, revert
faults a killed drill left behind, start the load. ``finish_drill``: stop the load, write the
result (marked as stopped when a signal stopped the drill). ``cleanup_drill``: revert anything
still open, take down an environment the drill brought up itself and release the hold; stop
signals wait until it is done.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import DrillContext, clear_current, set_current
from chaosdrill.drill.measurements import AlertsAtEnd
from chaosdrill.drill.phases import note_stop, recover_hint
from chaosdrill.drill.result import write_result
from chaosdrill.environments import hold_environment
from chaosdrill.environments.holding import Claim
from chaosdrill.faults.ledger import FaultLedger, default_ledger_path
from chaosdrill.faults.signals import held, revert_abandoned
from chaosdrill.load.sli import SliTail
from chaosdrill.scenarios.spec import DrillSpec

__all__ = ["cleanup_drill", "finish_drill", "recover_leftovers", "start_drill"]

logger = logging.getLogger(__name__)


def start_drill(
    spec: DrillSpec,
    result_path: Path | None = None,
    *,
    claim: Claim | None = None,
    sealed: bool = False,
) -> DrillContext:
    """Environment held and at the drill's time scale, leftovers reverted, load running.

    Args:
        spec: the resolved (and so already checked) drill.
        result_path: where to write the result (default: a new run folder's drills/01-...).
        claim: what the hold says (default: a drill named for its experiment); the hold,
            the load and the fault's ledger entry carry its label.
        sealed: a training session's drill: its fault is written to the ledger sealed.

    Raises:
        EnvironmentBusyError: another drill holds the environment; nothing was changed.
    """
    claim = claim or Claim("drill", Path(spec.experiment).stem)
    held = hold_environment(
        spec.env_name, claim, time_scale=spec.time_scale.k, replicas=spec.replicas
    )
    env, owns = held.env, held.owns
    ledger = FaultLedger(default_ledger_path(env))
    ctx = DrillContext(
        spec=spec,
        env=env,
        owns_env=owns,
        ledger=ledger,
        hold=held.hold,
        result_path=result_path,
        sealed=sealed,
        label=claim.label if sealed else "",
    )
    try:
        if held.hold.cleared is not None:
            gone = held.hold.cleared
            ctx.timeline.mark("dead_holder_cleared", holder=gone.to_json(), was=gone.describe())
        if not owns:  # one brought up here already runs at the drill's time scale
            env.apply_time_scale(spec.time_scale.k)
        recover_leftovers(ctx)
        stale = env.active_load()
        if stale is not None and stale.drill_owner() is None:  # a live drill's is refused below
            stale.stop(grace_s=3)
        ctx.timeline.mark(
            "drill_start", environment=env.name, owns_environment=owns, time_scale=spec.time_scale.k
        )
        ctx.load = env.start_load(spec.load, drill=ctx.owner_label)
        ctx.sli = SliTail(ctx.load.run_dir)
        ctx.timeline.mark("load_started", run=ctx.load.run_id)
    except BaseException:
        cleanup_drill(ctx)
        raise
    set_current(ctx)
    return ctx


def recover_leftovers(ctx: DrillContext) -> None:
    """Revert the faults earlier drills left open; report (not fail on) those that stay.

    A leftover that cannot be reverted (a kind this version does not know, a drill still
    running elsewhere) is marked on the timeline and logged as a warning; it is not this
    drill's fault, so the drill's own revert verdict does not count it.
    """
    handled = ctx.ledger.recover(ctx.env)
    repaired = ctx.env.reconcile()
    if repaired:
        ctx.timeline.mark("environment_reconciled", changes=repaired)
    reverted = [e.kind for e in handled if not e.error]
    if reverted:
        ctx.timeline.mark("leftover_faults_reverted", faults=reverted)
    stuck = [e for e in handled if e.error]
    if stuck:
        ctx.timeline.mark(
            "leftover_faults_not_reverted",
            faults=[{"id": e.id, "kind": e.kind, "error": e.error} for e in stuck],
        )
    for e in stuck:
        logger.warning(
            "a fault an earlier drill left open could not be reverted: ledger entry %s (%s): "
            "%s; if it can never be reverted, close it with "
            "`chaosdrill env recover --discard %s --reason TEXT`",
            e.id,
            e.label,
            e.error,
            e.id,
        )


def finish_drill(ctx: DrillContext, journal: dict[str, Any] | None) -> Path:
    """Stop the load (after verification) and write the result file.

    A drill stopped by a signal (or whose journal says Chaos Toolkit interrupted it) gets
    the reason as its first failure, and its result is not complete.
    """
    note_stop(ctx, journal)
    ctx.measurements.alerts_at_end = _alerts_at_end(ctx)
    if ctx.load is not None and ctx.load.running():
        ctx.load.stop()
        ctx.timeline.mark("load_stopped")
    return write_result(ctx, journal)


def _alerts_at_end(ctx: DrillContext) -> AlertsAtEnd:
    """Alerts still firing when the drill ends (``firing`` None: Prometheus cannot be asked)."""
    from chaosdrill.errors import DrillError
    from chaosdrill.probes.alerts import firing_alerts

    try:
        names = {a.name for a in firing_alerts(ctx.env.endpoints()) if a.state == "firing"}
    except DrillError:
        return AlertsAtEnd(None)
    return AlertsAtEnd(tuple(sorted(names)))


def cleanup_drill(ctx: DrillContext) -> None:
    """Revert what this drill left open, stop the load, take down an env it made, let go.

    Stop signals wait until this is done. After an abandoned revert (a third Ctrl-C), or
    while a runbook's operation still runs, only the load is stopped: the environment stays
    up for ``chaosdrill env recover``. The hold is released last, whatever happened before.
    """
    from chaosdrill.runbooks.operation import running

    try:
        with held(recover_hint(ctx)):
            leave = revert_abandoned() or bool(running())
            if not leave:
                with contextlib.suppress(Exception):
                    ctx.ledger.recover(ctx.env, include_live=True, only=ctx.fault_entries)
            if ctx.load is not None:
                with contextlib.suppress(Exception):
                    ctx.load.stop(grace_s=3)
            if ctx.owns_env and not leave:
                ctx.env.down()
    finally:
        if ctx.hold is not None:
            with contextlib.suppress(Exception):
                ctx.hold.release()
        clear_current()
