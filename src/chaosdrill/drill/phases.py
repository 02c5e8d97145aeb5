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
from datetime import datetime
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
from chaosdrill.drill.users import (
    LATENCY_SLO_MS,
    first_impact,
    first_meeting,
    grid_step,
    last_breach,
    meets,
)
from chaosdrill.errors import DrillError, InvalidInputError, OperationError
from chaosdrill.faults import make_fault
from chaosdrill.faults.signals import held, revert_abandoned, stop_reason
from chaosdrill.load.sli import WindowSli
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

POLL_S = 0.1
#: a request's sample reaches the files within ~1.25 s of its completion (whole seconds are
#: flushed every 0.25 s), so windows are judged up to this long before now
SAMPLE_LAG_S = 1.5
#: how often the recovery looks whether the drill's faults are still in effect
FAULT_POLL_S = 0.2


def _health(ctx: DrillContext) -> int:
    try:
        return httpx.get(f"{ctx.env.endpoints().service_url}/health", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _describe(w: WindowSli, health: int | None = None) -> str:
    text = f"{w.requests} req, errors {w.error_share:.1%}, p95 {w.p95_ms:.0f} ms"
    return text if health is None else f"{text}, /health {health}"


def slo_met(ctx: DrillContext, now: float | None = None) -> tuple[bool | None, str]:
    """Whether the last SLO window meets the SLOs, from the users' side and /health.

    Returns None (not False) when the window holds no request yet: no data is not a breach.
    """
    end = (time.monotonic() if now is None else now) - SAMPLE_LAG_S
    if ctx.sli is None:
        return False, "no load is running"
    ctx.sli.poll()
    w = ctx.sli.sli(end - ctx.spec.slo_window_s, end, LATENCY_SLO_MS)
    if w.requests == 0:
        return None, "no requests completed in the window"
    health = _health(ctx)
    return bool(meets(w)) and health == 200, _describe(w, health)


def _wait(pred: Callable[[], tuple[bool | None, str]], timeout: float) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    ok, why = pred()
    while not ok and time.monotonic() < deadline:
        time.sleep(POLL_S)
        ok, why = pred()
    return bool(ok), why


def _critical_alerts(ctx: DrillContext) -> list[str]:
    """Critical alerts firing, and the drill's expected alert pending or firing at all.

    The expected alert must be quiet before the fault: one already pending (a replica's
    memory still climbing after its start) would page for something the fault did not do.
    """
    expected = ctx.spec.alert
    return sorted(
        {
            a.name if a.name != expected else f"{a.name} ({a.state}, the expected alert)"
            for a in firing_alerts(ctx.env.endpoints())
            if (a.state == "firing" and a.labels.get("severity") == "critical")
            or (expected and a.name == expected)
        }
    )


def steady_state(ctx: DrillContext, timeout: float | None = None) -> bool:
    """Wait until the SLOs hold for a whole window and no alert stands in the way.

    No critical alert may fire, and the drill's expected alert may be neither pending nor
    firing.
    """
    ctx.phase = "steady state"
    window = ctx.spec.slo_window_s
    budget = timeout if timeout is not None else max(30.0, 6 * window)

    def holds() -> tuple[bool | None, str]:
        ok, why = slo_met(ctx)
        if not ok:
            return ok, why
        firing = _critical_alerts(ctx)
        return (not firing, f"alerts in the way: {', '.join(firing)}" if firing else why)

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
    entry = ctx.ledger.open(fault, drill_id=ctx.owner_label, sealed=ctx.sealed)
    ctx.fault_entries.append(entry)
    ctx.faults.append(fault)
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


def _monotonic_of(rfc3339: str) -> float | None:
    """A wall-clock timestamp from Prometheus or Alertmanager on the monotonic clock."""
    try:
        epoch = datetime.fromisoformat(rfc3339).timestamp()
    except ValueError:
        return None
    return epoch - (time.time() - time.monotonic())


def _mark_pending(
    ctx: DrillContext, alert: str, active_at: str, t_inject: float, first_seen: str | None
) -> None:
    """Mark ``t_alert_pending`` at the activeAt of the pending that fired.

    An earlier pending that went away again is kept as ``first_active_at``.
    """
    at = _monotonic_of(active_at)
    ctx.timeline.mark(
        "t_alert_pending",
        t=at if at is not None and at >= t_inject else None,
        alert=alert,
        active_at=active_at,
        first_active_at=first_seen,
    )


def detect(ctx: DrillContext, alert: str) -> bool:
    """Wait for the expected alert to page; record MTTD and Prometheus' view of it.

    On the timeline: ``t_alert_pending`` at Prometheus' activeAt of the alert that fired
    (the evaluation that found the rule true and stayed true until ``for:`` passed),
    ``t_alert_firing`` when the alerts API first showed it firing, ``t_page`` when the pager
    received Alertmanager's webhook.
    """
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
                _mark_pending(ctx, alert, a.active_at, t_inject.t, seen_pending)
                ctx.timeline.mark("t_alert_firing", alert=alert, active_at=a.active_at)
        pages = [
            p
            for p in ctx.env.pages(alertname=alert, since_monotonic=t_inject.t)
            if p.status == "firing"
        ]
        if pages:
            page = pages[0]
            if seen_firing is None and seen_pending is not None:  # paged before a look saw it
                _mark_pending(ctx, alert, seen_pending, t_inject.t, seen_pending)
            # Alertmanager keeps a group once it has one: a group that paged before the
            # fault sends at its next group_interval tick, not after group_wait
            before = [
                p for p in ctx.env.pages(alertname=alert) if p.received_monotonic < t_inject.t
            ]
            ctx.timeline.mark(
                "t_page",
                t=page.received_monotonic,
                alert=alert,
                starts_at=page.starts_at,
                group_existed=bool(before),
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


def faults_cleared(ctx: DrillContext) -> bool:
    """Whether none of this drill's faults is in effect any more (marks ``t_fault_cleared``).

    A fault whose state cannot be read (its ``is_active`` raised) counts as still in effect.
    Once cleared, stays cleared: the mark is the first look that found every fault gone.
    """
    if ctx.timeline.first("t_fault_cleared") is not None:
        return True
    if not ctx.faults:
        return False
    for fault in ctx.faults:
        try:
            if fault.is_active(ctx.env):
                return False
        except Exception:
            return False
    ctx.timeline.mark("t_fault_cleared", faults=[f.kind for f in ctx.faults])
    return True


def respond(ctx: DrillContext, runbook: str, params: dict[str, Any] | None = None) -> bool:
    """Run the runbook (auto mode) and time each step.

    A step whose operation outlived its timeout failed; the executor waited for the
    operation before it returned (the wait is on the timeline and in the run). When the
    operation is still running after the grace, the environment is not settled: the drill is
    aborted (no recovery, verification or later runbook acts beside it) and the revert is
    left to ``chaosdrill env recover`` once the operation ended.
    """
    from chaosdrill.runbooks.executor import run_runbook
    from chaosdrill.runbooks.loader import load_runbook
    from chaosdrill.workspace import current

    ctx.phase = f"respond: {runbook}"
    if ctx.timeline.first("t_response_start") is None:
        ctx.timeline.mark("t_response_start", runbook=runbook)
    entry = current().find("runbooks", runbook)
    if entry is None:
        raise InvalidInputError(
            f"no runbook named {runbook!r} in the workspace or the built-in catalogue",
            source="runbook",
            field="runbook",
        )
    book = load_runbook(entry.path)
    ctx.timeline.mark(
        "runbook_resolved", runbook=runbook, file=str(entry.path), source=entry.source
    )

    def on_step(step: Any) -> None:
        wait = step.window_wait
        ctx.timeline.mark(
            "runbook_step",
            t=step.ended,
            runbook=runbook,
            step=step.name,
            ok=step.ok,
            duration_s=round(step.duration_s, 3),
            started=step.started,
            window_wait=None if wait is None else [wait[0], wait[1]],
        )
        if ctx.timeline.first("t_fault_cleared") is None:
            faults_cleared(ctx)  # which step removed the fault (marked at its end or later)

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
        RunbookRun(
            name=runbook,
            ok=ok,
            steps=tuple(steps),
            operation_wait=wait,
            file=str(entry.path),
            source=entry.source,
        )
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
    """Wait until the fault is gone and the users' SLOs are met (mitigated) and hold (recovered).

    Recovery needs three things: the response has begun (``t_response_start``), none of the
    drill's faults is in effect (``is_active``, marked ``t_fault_cleared``), and a whole SLO
    window ending after both met the SLOs. The users' own view is kept beside it: when the
    SLOs held through the fault (``held``), or came back before the response began
    (``before_response``: the runbook was not what restored health), the recovery says so.
    """
    ctx.phase = "recover"
    t_inject = ctx.timeline.first("t_inject")
    assert t_inject is not None
    window = ctx.spec.slo_window_s
    deadline = time.monotonic() + ctx.spec.recovery_timeout_s
    hold_start: float | None = None
    scanned: float | None = None
    why = "no measurement yet"
    next_fault_look = 0.0
    started = ctx.timeline.first("t_response_start")
    while time.monotonic() < deadline:
        now = time.monotonic()
        if started is None:
            why = "no response (runbook) ran"
            break
        cleared = ctx.timeline.first("t_fault_cleared")
        if cleared is None and now >= next_fault_look:
            next_fault_look = now + FAULT_POLL_S
            if faults_cleared(ctx):
                cleared = ctx.timeline.first("t_fault_cleared")
        if cleared is None:
            why = f"the fault is still in effect ({', '.join(f.kind for f in ctx.faults)})"
            time.sleep(POLL_S)
            continue
        ok, why = slo_met(ctx, now)  # also asks /health, now
        end = now - SAMPLE_LAG_S
        lower = max(cleared.t, started.t)
        if ok is None or end < lower or ctx.sli is None:
            time.sleep(POLL_S)
            continue
        if not ok:
            hold_start, scanned = None, end
        else:
            begin = lower if scanned is None else max(lower, scanned)
            if hold_start is None:
                hold_start = first_meeting(ctx.sli, begin, end, window) or end
            broke = last_breach(ctx.sli, max(hold_start, begin), end, window)
            if broke is not None:  # the windows since the last look broke them again
                hold_start = first_meeting(ctx.sli, broke, end, window) or end
            if ctx.timeline.first("t_mitigated") is None:
                ctx.timeline.mark("t_mitigated", t=hold_start, detail=why)
            scanned = end
            if end - hold_start >= ctx.spec.hold_s:
                ctx.timeline.mark("t_recovered", t=hold_start, hold_s=ctx.spec.hold_s)
                break
        time.sleep(POLL_S)
    recovered = ctx.timeline.first("t_recovered")
    kind, users_back = _users_view(ctx, t_inject.t, recovered.t if recovered else None)
    resolved = _resolved_page(ctx, alert, t_inject.t)
    cleared = ctx.timeline.first("t_fault_cleared")
    ctx.measurements.recovery = Recovery(
        recovered=recovered is not None,
        mttr_s=round(recovered.t - t_inject.t, 3) if recovered else None,
        time_to_mitigate_s=ctx.timeline.since("t_inject", "t_mitigated"),
        resolved_page=resolved,
        hold_s=ctx.spec.hold_s,
        kind=kind,
        users_recovered_s=None if users_back is None else round(users_back - t_inject.t, 3),
        fault_cleared_s=None if cleared is None else round(cleared.t - t_inject.t, 3),
    )
    if recovered is None:
        ctx.failures.append(
            f"steady state did not return and hold for {ctx.spec.hold_s:.0f} s within "
            f"{ctx.spec.recovery_timeout_s:.0f} s of the fault: {why}"
        )
        ctx.timeline.mark("recovery_failed", detail=why)
    elif kind == "before_response":
        ctx.failures.append(RECOVERED_BEFORE_RESPONSE)
    return recovered is not None


RECOVERED_BEFORE_RESPONSE = (
    "recovered before the response: the users' SLOs were met again before the runbook "
    "began, so the runbook was not what restored health"
)
SLOS_HELD = "the SLOs held through the fault: no user saw it"


def _step_end(ctx: DrillContext, first: float, last_bad: float) -> float | None:
    """Seconds (<= 0) from the users' last bad request to their errors' end as a full step.

    From the response's start, the runbook's work can taper the errors off (a rollback
    replacing replicas one by one): that tail is replaced by the step of the full share
    (the share over the SLO window before the response) with as many bad requests. None:
    no response, or no errors before it to judge the full share by.
    """
    started = ctx.timeline.first("t_response_start")
    if ctx.sli is None or started is None or not first < started.t < last_bad:
        return None

    def share(a: float, b: float) -> float:
        done = ctx.sli.requests(a, b) if ctx.sli is not None else []
        bad = sum(1 for r in done if r.failed or r.ms > LATENCY_SLO_MS)
        return bad / len(done) if done else 0.0

    full = share(max(first, started.t - ctx.spec.slo_window_s), started.t)
    tail = share(started.t, last_bad)
    if full <= 0:
        return None
    end = started.t + (last_bad - started.t) * min(1.0, tail / full)
    return round(end - last_bad, 3)


def _users_view(
    ctx: DrillContext, t_inject: float, recovered: float | None
) -> tuple[str | None, float | None]:
    """How the users saw it (``held``, ``before_response``, ``restored``), and when.

    The second value is when their SLOs were met again (None: never broken, or not again by
    the end). When they were, the timeline gets ``t_last_bad_request`` (the last request
    that failed or was slow in a window that broke the SLOs) and ``t_users_ok`` (the end of
    the first window after it that met them).
    """
    if ctx.sli is None:
        return None, None
    ctx.sli.poll()
    window = ctx.spec.slo_window_s
    end = recovered if recovered is not None else time.monotonic() - SAMPLE_LAG_S
    impact = first_impact(ctx.sli, t_inject, end, window)
    if impact is None:
        return ("held" if recovered is not None else None), None
    broke = last_breach(ctx.sli, impact.breach, end, window) or impact.breach
    # the hold may begin at the very first window after the breach: look one step past it
    back = first_meeting(ctx.sli, broke, max(end, broke) + grid_step(window), window)
    if back is not None and ctx.timeline.first("t_users_ok") is None:
        bad = [
            r.end
            for r in ctx.sli.requests(broke - window, broke)
            if r.failed or r.ms > LATENCY_SLO_MS
        ]
        if bad:
            last = max(bad)
            ctx.timeline.mark(
                "t_last_bad_request", t=last, equivalent_s=_step_end(ctx, impact.first, last)
            )
        ctx.timeline.mark("t_users_ok", t=back)
    started = ctx.timeline.first("t_response_start")
    if back is not None and started is not None and back < started.t:
        return "before_response", back
    return ("restored" if recovered is not None else None), back


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
    target = ctx.env.target()
    health = target.health_path
    try:
        status = httpx.get(f"{url}{health}", timeout=5).status_code
        checks.append(Check("service_responding", status == 200, f"{health} {status}"))
    except httpx.HTTPError as exc:
        checks.append(Check("service_responding", False, repr(exc)))
    ok, why = slo_met(ctx)
    checks.append(Check("error_rate_normal", bool(ok), why))
    report = None
    # the data-integrity check reads the reference target's enrollments against the load's
    # ledger of them; a workspace's target keeps no such ledger, so it is not checked
    if ctx.load is not None and target.reference:
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
