"""Chaos Toolkit actions: inject a fault, run a runbook, revert the faults."""

from __future__ import annotations

from typing import Any

from chaosdrill.drill import phases
from chaosdrill.drill.context import current, current_or_none

__all__ = ["inject_fault", "revert_faults", "run_runbook"]


def inject_fault(kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the fault to the ledger, then apply it to the drill's environment.

    A failing injection aborts the drill (the later chaosdrill activities skip) and fails
    this activity.
    """
    ctx = current()
    entry = phases.inject(ctx, kind, params)
    return {"fault": kind, "ledger_entry": entry}


def run_runbook(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a runbook in auto mode; every step is timed (skipped when the drill aborted)."""
    ctx = current()
    if ctx.aborted is not None:
        return {"name": name, "skipped": ctx.aborted}
    phases.respond(ctx, name, params)
    runs = ctx.measurements.runbooks
    assert runs, "respond records its run"
    return runs[-1].to_json()


def revert_faults() -> dict[str, Any]:
    """Revert every fault of this drill (idempotent; used as the experiment's rollback).

    With no drill set up (the control refused the experiment), nothing was injected and
    there is nothing to revert.
    """
    ctx = current_or_none()
    if ctx is None:
        return {"reverted": [], "still_active": [], "ok": True, "skipped": "no drill set up"}
    phases.revert(ctx)
    revert = ctx.measurements.revert
    assert revert is not None, "revert records what it did"
    return revert.to_json()
