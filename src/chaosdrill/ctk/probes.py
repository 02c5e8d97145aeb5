"""Chaos Toolkit probes: steady state, the page, recovery, the seed's verification.

After an aborted drill (a fault that could not be injected) the page, recovery and
verification probes skip, answering why.
"""

from __future__ import annotations

from typing import Any

from chaosdrill.drill import phases
from chaosdrill.drill.context import current

__all__ = ["steady_state_met", "verify", "wait_for_page", "wait_for_recovery"]


def steady_state_met() -> bool:
    """True when SLOs hold for a window under load and no critical alert fires."""
    ctx = current()
    if ctx.timeline.first("t_inject") is not None:
        ok, _ = phases.slo_met(ctx)  # after the method: a quick look, no waiting
        return bool(ok)
    return phases.steady_state(ctx)


def wait_for_page(alert: str) -> dict[str, Any]:
    """Wait for the expected alert at the pager; return MTTD and Prometheus' view."""
    ctx = current()
    if ctx.aborted is not None:
        return {"skipped": ctx.aborted}
    phases.detect(ctx, alert)
    detection = ctx.measurements.detection
    assert detection is not None, "detect records the page or its absence"
    return detection.to_json()


def wait_for_recovery(alert: str) -> dict[str, Any]:
    """Wait until SLOs are met and hold for the hold period; return MTTR."""
    ctx = current()
    if ctx.aborted is not None:
        return {"skipped": ctx.aborted}
    phases.recover(ctx, alert)
    recovery = ctx.measurements.recovery
    assert recovery is not None, "recover records its outcome"
    return recovery.to_json()


def verify() -> dict[str, Any]:
    """The seed's five verification checks."""
    ctx = current()
    if ctx.aborted is not None:
        return {"skipped": ctx.aborted}
    phases.verify(ctx)
    checks = ctx.measurements.verification
    assert checks is not None, "verify records its checks"
    return {c.name: c.to_json() for c in checks}
