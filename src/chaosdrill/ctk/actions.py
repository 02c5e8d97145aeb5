"""Chaos Toolkit actions: inject a fault, run a runbook, revert the faults."""

from __future__ import annotations

from typing import Any

from chaosdrill.drill import phases
from chaosdrill.drill.context import current

__all__ = ["inject_fault", "revert_faults", "run_runbook"]


def inject_fault(kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the fault to the ledger, then apply it to the drill's environment."""
    ctx = current()
    entry = phases.inject(ctx, kind, params)
    return {"fault": kind, "ledger_entry": entry}


def run_runbook(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a runbook in auto mode; every step is timed."""
    ctx = current()
    phases.respond(ctx, name, params)
    runs = ctx.measurements.runbooks
    assert runs, "respond records its run"
    return runs[-1].to_json()


def revert_faults() -> dict[str, Any]:
    """Revert every fault of this drill (idempotent; used as the experiment's rollback)."""
    ctx = current()
    phases.revert(ctx)
    revert = ctx.measurements.revert
    assert revert is not None, "revert records what it did"
    return revert.to_json()
