"""The drill's phases: steady -> inject -> detect -> respond -> recover -> verify -> revert.

Each phase marks the timeline and stores what it measured in ``ctx.measurements`` (typed
parts of ``Measurements``). A phase
that does not reach its goal records why in ``ctx.failures`` and returns False; the drill
goes on (a late page still tells us something) and the fault is always reverted. A fault
that cannot be injected aborts the drill (:func:`abort`): nothing else runs against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.measurements import (
    Check,
    Detection,
    Integrity,
    OperationWaitRun,
    Recovery,
    Revert,
    RunbookRun,
    RunbookStepRun,
    SteadyState,
)
from chaosdrill.errors import DrillError, OperationError
from chaosdrill.faults import make_fault
from chaosdrill.faults.signals import held, revert_abandoned, stop_reason
from chaosdrill.probes.alerts import firing_alerts
from chaosdrill.probes.integrity import check_integrity
from chaosdrill.probes.smoke import smoke_drive

__all__ = [
    "abort",
    "detect",
    "inject",
    "note_stop",
    "recover",
    "recover_hint",
    "respond",
    "revert",
    "slo_met",
    "steady_state",
    "verify",
]

ERROR_SLO = 0.05  # the seed's "error rate > 5 %"
LATENCY_SLO_MS = 1000.0  # p95 above 1 s is high latency
POLL_S = 0.1


SAMPLE_LAG_S = 1.5  # a second's samples reach the files within ~1.25 s of its end


def slo_met(ctx: DrillContext, now: float | None = None) -> tuple[bool | None, str]:
    """Whether the last SLO window meets the SLOs, from the users' side and /health.

    Returns None (not False) when the window holds no request yet: no data is not a breach.
    """
    now = (time.monotonic() if now is None else now) - SAMPLE_LAG_S
    if ctx.sli is None:
        return False, "no load is running"
    ctx.sli.poll()
    requests, failures, p95 = ctx.sli.window(now - ctx.spec.slo_window_s, now)
    if requests == 0:
        return None, "no requests completed in the window"
    share = failures / requests
    try:
        health = httpx.get(f"{ctx.env.endpoints().service_url}/health", timeout=2).status_code
    except httpx.HTTPError:
        health = 0
    ok = share <= ERROR_SLO and p95 <= LATENCY_SLO_MS and health == 200
    return ok, f"{requests} req, errors {share:.1%}, p95 {p95:.0f} ms, /health {health}"


def _wait(pred: Callable[[], tuple[bool | None, str]], timeout: float) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    ok, why = pred()
    while not ok and time.monotonic() < deadline:
        time.sleep(POLL_S)
        ok, why = pred()
    return bool(ok), why


def _critical_alerts(ctx: DrillContext) -> list[str]:
    return sorted(
        {
            a.name
            for a in firing_alerts(ctx.env.endpoints())
            if a.state == "firing" and a.labels.get("severity") == "critical"
        }
    )


def steady_state(ctx: DrillContext, timeout: float | None = None) -> bool:
    """Wait until the SLOs hold for a whole window and no critical alert fires."""
    ctx.phase = "steady state"
    window = ctx.spec.slo_window_s
    budget = timeout if timeout is not None else max(30.0, 6 * window)

    def holds() -> tuple[bool | None, str]:
        ok, why = slo_met(ctx)
        if not ok:
            return ok, why
        firing = _critical_alerts(ctx)
        return (not firing, f"critical alerts firing: {', '.join(firing)}" if firing else why)

    time.sleep(window)  # a full window of traffic first
    ok, why = _wait(holds, budget)
    ctx.timeline.mark("steady_state_verified" if ok else "steady_state_not_met", detail=why)
    ctx.measurements.steady_state = SteadyState(met=ok, detail=why)
    if not ok:
        ctx.failures.append(f"steady state not met before the fault: {why}")
    return ok


def inject(ctx: DrillContext, kind: str, params: dict[str, Any] | None = None) -> str:
    """Write the fault to the ledger, then apply it (``t_inject``).

    When applying it fails, the drill is aborted with that error as its first reason and
    the fault is reverted at once (through the ledger); the error is raised again.
    """
    ctx.phase = "inject"
    fault = make_fault(kind, params)
    try:
        fault = fault.bind(ctx.env)
    except Exception as exc:
        abort(ctx, f"the fault {kind} could not be prepared: {type(exc).__name__}: {exc}")
        raise
    entry = ctx.ledger.open(fault, drill_id=ctx.spec.experiment)
    ctx.fault_entries.append(entry)
    ctx.timeline.mark("t_inject", fault=fault.to_dict())
    try:
        fault.inject(ctx.env)
    except Exception as exc:
        abort(ctx, f"the fault {kind} could not be injected: {type(exc).__name__}: {exc}")
        revert(ctx)
        raise
    ctx.timeline.mark("fault_applied")
    return entry


def abort(ctx: DrillContext, reason: str) -> None:
    """End the drill early: ``reason`` becomes its first failure; later phases are skipped."""
    if ctx.aborted is None:
        ctx.aborted = reason
        ctx.failures.insert(0, reason)
        ctx.timeline.mark("drill_aborted", reason=reason)


def detect(ctx: DrillContext, alert: str) -> bool:
    """Wait for the expected alert to page; record MTTD and Prometheus' view of it."""
    ctx.phase = "detect"
    t_inject = ctx.timeline.first("t_inject")
    assert t_inject is not None, "detect before inject"
    deadline = t_inject.t + ctx.spec.detection_timeout_s
    seen_pending = seen_firing = None
    while time.monotonic() < deadline:
        for a in firing_alerts(ctx.env.endpoints()):
            if a.name != alert:
                continue
            if seen_pending is None:
                seen_pending = a.active_at
            if a.state == "firing" and seen_firing is None:
                seen_firing = time.monotonic()
                ctx.timeline.mark("t_alert_firing", alert=alert, active_at=a.active_at)
        pages = [
            p
            for p in ctx.env.pages(alertname=alert, since_monotonic=t_inject.t)
            if p.status == "firing"
        ]
        if pages:
            page = pages[0]
            ctx.timeline.mark(
                "t_page", t=page.received_monotonic, alert=alert, starts_at=page.starts_at
            )
            ctx.measurements.detection = Detection(
                alert=alert,
                paged=True,
                mttd_s=round(page.received_monotonic - t_inject.t, 3),
                prometheus_active_at=seen_pending,
                webhook_starts_at=page.starts_at,
            )
            return True
        time.sleep(POLL_S)
    ctx.measurements.detection = Detection(
        alert=alert, paged=False, mttd_s=None, prometheus_active_at=seen_pending
    )
    ctx.failures.append(
        f"{alert} did not page within {ctx.spec.detection_timeout_s:.0f} s of the fault "
        f"(Prometheus {'saw it ' + str(seen_pending) if seen_pending else 'never saw it'})"
    )
    ctx.timeline.mark("detection_failed", alert=alert)
    return False


def respond(ctx: DrillContext, runbook: str, params: dict[str, Any] | None = None) -> bool:
    """Run the runbook (auto mode) and time each step.

    A step whose operation outlived its timeout failed; the executor waited for the
    operation before it returned (the wait is on the timeline and in the run). When the
    operation is still running after the grace, the environment is not settled: the drill is
    aborted (no recovery, verification or later runbook acts beside it) and the revert is
    left to ``chaosdrill env recover`` once the operation ended.
    """
    from chaosdrill.paths import RUNBOOKS_DIR
    from chaosdrill.runbooks.executor import run_runbook
    from chaosdrill.runbooks.loader import load_runbook

    ctx.phase = f"respond: {runbook}"
    if ctx.timeline.first("t_response_start") is None:
        ctx.timeline.mark("t_response_start", runbook=runbook)
    book = load_runbook(RUNBOOKS_DIR / f"{runbook}.yaml")

    def on_step(step: Any) -> None:
        ctx.timeline.mark(
            "runbook_step",
            runbook=runbook,
            step=step.name,
            ok=step.ok,
            duration_s=round(step.duration_s, 3),
        )

    result = run_runbook(
        book, ctx.env, params=params, time_scale=ctx.spec.time_scale.k, on_step=on_step
    )
    steps = [
        RunbookStepRun(
            name=s.name,
            ok=s.ok,
            duration_s=round(s.duration_s, 3),
            output=s.output,
            error=s.error,
        )
        for s in result.steps
    ]
    wait = None
    if (w := result.operation_wait) is not None:
        wait = OperationWaitRun(
            w.step, w.operation, round(w.waited_s, 3), w.grace_s, w.finished, w.error
        )
        ctx.timeline.mark("runbook_operation_wait", t=w.ended, runbook=runbook, **wait.to_json())
    ok = all(s.ok for s in steps) and len(steps) >= sum(
        1 for st in book.steps if getattr(st, "when", None) is None
    )
    ctx.measurements.add_runbook(
        RunbookRun(name=runbook, ok=ok, steps=tuple(steps), operation_wait=wait)
    )
    ctx.timeline.mark("t_response_end", runbook=runbook, ok=ok)
    if not ok:
        failed = next((s for s in steps if not s.ok), None)
        ctx.failures.append(
            f"runbook {runbook} failed at step "
            f"{failed.name if failed else '?'}: "
            f"{failed.error if failed else 'not every step ran'}"
        )
    if wait is not None and not wait.finished:
        abort(ctx, _unsettled(ctx, runbook, wait))
    return ok


def _unsettled(ctx: DrillContext, runbook: str, wait: OperationWaitRun) -> str:
    return (
        f"the environment is not settled: {wait.operation} of runbook {runbook} (step "
        f"{wait.step!r}) was still running {wait.grace_s:g} s after the step's timeout; "
        f"nothing more was run or reverted beside it. Wait for it to finish, then run "
        f"`{recover_hint(ctx)}`"
    )


def recover(ctx: DrillContext, alert: str) -> bool:
    """Wait until the SLOs are met (mitigated) and hold for the hold period (recovered)."""
    ctx.phase = "recover"
    t_inject = ctx.timeline.first("t_inject")
    assert t_inject is not None
    deadline = time.monotonic() + ctx.spec.recovery_timeout_s
    hold_start: float | None = None
    why = "no measurement yet"
    while time.monotonic() < deadline:
        ok, why = slo_met(ctx)
        now = time.monotonic()
        if ok is None:
            time.sleep(POLL_S)  # no sample yet: neither a breach nor a success
            continue
        if ok:
            if ctx.timeline.first("t_mitigated") is None:
                ctx.timeline.mark("t_mitigated", t=now - SAMPLE_LAG_S, detail=why)
            if hold_start is None:
                hold_start = now - SAMPLE_LAG_S  # the end of the first window that met the SLOs
            if now - hold_start >= ctx.spec.hold_s:
                ctx.timeline.mark("t_recovered", t=hold_start, hold_s=ctx.spec.hold_s)
                break
        else:
            hold_start = None
        time.sleep(POLL_S)
    recovered = ctx.timeline.first("t_recovered")
    resolved = _resolved_page(ctx, alert, t_inject.t)
    ctx.measurements.recovery = Recovery(
        recovered=recovered is not None,
        mttr_s=round(recovered.t - t_inject.t, 3) if recovered else None,
        time_to_mitigate_s=ctx.timeline.since("t_inject", "t_mitigated"),
        resolved_page=resolved,
        hold_s=ctx.spec.hold_s,
    )
    if recovered is None:
        ctx.failures.append(
            f"steady state did not return and hold for {ctx.spec.hold_s:.0f} s within "
            f"{ctx.spec.recovery_timeout_s:.0f} s of the fault: {why}"
        )
        ctx.timeline.mark("recovery_failed", detail=why)
    return recovered is not None


def _resolved_page(ctx: DrillContext, alert: str, since: float) -> bool:
    deadline = time.monotonic() + max(2.0, 2 * ctx.spec.time_scale.group_wait_s)
    while True:
        pages = [
            p
            for p in ctx.env.pages(alertname=alert, since_monotonic=since)
            if p.status == "resolved"
        ]
        if pages:
            ctx.timeline.mark("t_resolved", t=pages[0].received_monotonic, alert=alert)
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)


def verify(ctx: DrillContext) -> bool:
    """The seed's five verification checks."""
    ctx.phase = "verify"
    checks: list[Check] = []
    url = ctx.env.endpoints().service_url
    try:
        status = httpx.get(f"{url}/health", timeout=5).status_code
        checks.append(Check("service_responding", status == 200, f"/health {status}"))
    except httpx.HTTPError as exc:
        checks.append(Check("service_responding", False, repr(exc)))
    ok, why = slo_met(ctx)
    checks.append(Check("error_rate_normal", bool(ok), why))
    report = None
    if ctx.load is not None:
        promotion = ctx.env.last_promotion(since_monotonic=ctx.timeline.origin)
        try:
            report = check_integrity(ctx.env, ctx.load, promotion)
        except OperationError as exc:  # e.g. a lock the fault still holds: timed out
            checks.append(Check("data_integrity", False, f"could not be checked: {exc}"))
    if report is not None:
        checks.append(
            Check(
                "data_integrity",
                report.passed,
                report.summary(),
                lost=len(report.lost),
                rpo_s=report.rpo_seconds,
            )
        )
        ctx.measurements.integrity = Integrity(
            attempts=report.attempts,
            ok=report.ok,
            failed=report.failed,
            indeterminate=report.indeterminate,
            lost=tuple(report.lost),
            recovered=len(report.recovered),
            unexpected=tuple(report.unexpected),
            duplicates=tuple(report.duplicates),
            rpo_s=report.rpo_seconds,
            wal_gap_bytes=report.wal_gap_bytes,
        )
    steps = smoke_drive(ctx.env, include_page=False)
    checks.append(
        Check(
            "critical_flows",
            all(s.ok for s in steps),
            "; ".join(f"{s.name}: {s.detail}" for s in steps if not s.ok)
            or f"{len(steps)} flows ok",
        )
    )
    if ctx.spec.scenario == "memory-leak":
        checks.append(_memory_flat(ctx))
    held = ctx.timeline.first("t_recovered") is not None
    checks.append(
        Check(
            "monitored_hold",
            held,
            f"held {ctx.spec.hold_s:.1f} s" if held else "steady state did not hold",
        )
    )
    ctx.measurements.verification = tuple(checks)
    passed = all(c.ok for c in checks)
    ctx.timeline.mark("verification_done", passed=passed)
    for c in checks:
        if not c.ok:
            ctx.failures.append(f"verification {c.name} failed: {c.detail}")
    return passed


def _rss(ctx: DrillContext) -> dict[str, int]:
    return {u.name: u.rss_bytes for u in ctx.env.top()}


def _memory_flat(ctx: DrillContext) -> Check:
    """Memory of every replica stays flat under load after the fix (< 20 MiB growth)."""
    window = max(3.0, ctx.spec.slo_window_s)
    before = _rss(ctx)
    time.sleep(window)
    after = _rss(ctx)
    growth = {n: after[n] - before[n] for n in after if n in before}
    worst = max(growth.values(), default=0)
    return Check(
        "memory_flat",
        bool(growth) and worst < 20 * 2**20,
        f"largest RSS growth over {window:.0f} s: {worst / 2**20:.1f} MiB",
        growth_bytes=growth,
    )


def note_stop(ctx: DrillContext, journal: dict[str, Any] | None = None) -> None:
    """Record that the drill was stopped before its end, if it was (once), and in which phase.

    Stopped: a stop signal arrived (chaosdrill.faults.signals), or ``journal`` says Chaos
    Toolkit interrupted the experiment.
    """
    interrupted = journal is not None and journal.get("status") == "interrupted"
    reason = stop_reason() or ("interrupted" if interrupted else None)
    if reason is None or ctx.stopped is not None:
        return
    ctx.stopped = reason
    ctx.failures.insert(0, f"the drill was stopped ({reason}) during {ctx.phase}")
    ctx.timeline.mark("drill_stopped", reason=reason, phase=ctx.phase)


def recover_hint(ctx: DrillContext) -> str:
    """The command that finishes a revert left unfinished (printed when one is abandoned)."""
    return f"chaosdrill env recover --name {ctx.env.name}"


def revert(ctx: DrillContext) -> bool:
    """Revert every fault this drill opened (idempotent); True when none is left active.

    Only this drill's own ledger entries (``ctx.fault_entries``) are reverted and judged:
    an entry another drill left open is set-up's to report, not this drill's failure.
    Once begun, the revert runs to its end: stop signals wait until it is done, and only a
    third Ctrl-C abandons it (chaosdrill.faults.signals.held). After an abandoned revert
    nothing more is reverted in this process; ``chaosdrill env recover`` finishes it. Nor
    is anything reverted while a runbook's operation still runs (its grace ran out): the
    faults stay open in the ledger for ``chaosdrill env recover``.
    """
    note_stop(ctx)  # before the phase changes: a stop names the phase it cut short
    ctx.phase = "revert"
    if revert_abandoned():
        return False
    if _operations_running(ctx):
        return False
    with held(recover_hint(ctx)):
        return _revert(ctx)


def _operations_running(ctx: DrillContext) -> bool:
    """Whether a runbook's operation still runs (then the revert is left undone, and said so)."""
    from chaosdrill.runbooks.operation import running

    ops = running()
    if not ops:
        return False
    names = ", ".join(op.what for op in ops)
    left = tuple(e.kind for e in ctx.ledger.open_entries(ctx.fault_entries))
    ctx.measurements.revert = Revert(reverted=(), still_active=left, ok=not left)
    ctx.timeline.mark("revert_deferred", operations=[op.what for op in ops], faults=list(left))
    if left:
        ctx.failures.append(
            f"fault(s) not reverted: {', '.join(left)}: a runbook's {names} is still running; "
            f"wait for it to finish, then run `{recover_hint(ctx)}`"
        )
    return True


def _revert(ctx: DrillContext) -> bool:
    reverted = ctx.ledger.recover(ctx.env, include_live=True, only=ctx.fault_entries)
    still = []
    for entry in reverted:
        try:
            if make_fault(entry.kind, entry.params).is_active(ctx.env):
                still.append(entry.kind)
        except DrillError as exc:
            still.append(f"{entry.kind} ({exc})")
    open_left = [e.kind for e in ctx.ledger.open_entries(ctx.fault_entries)]
    ok = not still and not open_left
    ctx.timeline.mark("t_reverted", faults=[e.kind for e in reverted], ok=ok)
    ctx.measurements.revert = Revert(
        reverted=tuple(e.kind for e in reverted), still_active=(*still, *open_left), ok=ok
    )
    if not ok:
        ctx.failures.append(f"fault(s) still active after revert: {', '.join(still + open_left)}")
    return ok
