"""The session runner: the background process that runs one training session to its end.

``chaosdrill train start`` draws and seals the cause, writes ``session.json`` and starts
this process (``python -m chaosdrill.training.runner ENV``) in a session of its own, so
closing the trainee's terminal does not end it. The runner then does what a drill does,
with a person in the runbook's place:

1. holds the environment (bringing it up if it is not up), starts the user load and waits
   for the steady state (chaosdrill.drill.setup, chaosdrill.drill.phases);
2. injects the cause through the fault ledger, *sealed* (chaosdrill.faults.ledger);
3. waits for the expected alert to page, exactly as a drill measures MTTD;
4. while the trainees work: re-sends an unacknowledged page every ``training.resend_s``,
   escalates it along the plan's path, and ends the session at ``incident resolve``, at
   the time limit, or at ``chaosdrill train stop`` (SIGTERM);
5. measures the recovery and verifies as a drill does (the first trainee operation is the
   response's start), reverts the fault through the ledger whatever happened, and writes
   the drill's result, the run's reports and the debrief into a run folder.

Killed with kill -9, it leaves its fault in the ledger and its hold behind a dead pid:
the next drill or ``chaosdrill env recover`` reverts it, as for any drill.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.phases import detect, inject, note_stop, recover, revert, steady_state, verify
from chaosdrill.drill.setup import cleanup_drill, finish_drill, start_drill
from chaosdrill.environments.holding import Claim
from chaosdrill.faults.signals import StopRequested, held, stop_signals
from chaosdrill.training.log import Event
from chaosdrill.training.session import Session, SessionInfo

__all__ = ["main", "run_session"]

logger = logging.getLogger(__name__)

POLL_S = 0.25


def _wall(monotonic: float) -> float:
    """A monotonic time on the wall clock (the event log's clock)."""
    return monotonic + (time.time() - time.monotonic())


def _monotonic(wall: float) -> float:
    return wall - (time.time() - time.monotonic())


def run_session(session: Session) -> None:
    """Run the session recorded in ``session`` to its end (see the module's docstring)."""
    from chaosdrill.plans.model import load_plan
    from chaosdrill.report.rundir import RunDir
    from chaosdrill.scenarios.settings import SpecOverrides
    from chaosdrill.scenarios.spec import load_spec

    info = session.info()
    cause = session.log.unseal()
    plan = load_plan(info.plan)
    targets = plan.targets
    overrides = SpecOverrides(
        env_name=info.env_name,
        time_scale=info.time_scale,
        hold_production_s=info.hold_production_s,
        recovery_timeout_production_s=plan.training.recovery_check_s,
        mttd_target_s=targets.mttd_s,
        mttr_target_s=targets.mttr_s,
        load=dict(plan.load) if plan.load else None,
    )
    path = Path(cause.path)
    spec = load_spec(path, overrides)
    folder = RunDir.create(None, plan.name, None)
    session.update(run_dir=str(folder.path))
    with stop_signals():
        ctx = start_drill(
            spec,
            result_path=folder.drill_result(1, path),
            claim=Claim("training", f"session {info.id}"),
            sealed=True,
        )
        reason = "ended"
        try:
            reason = _run(ctx, session, info)
        except StopRequested:
            with held():
                note_stop(ctx)
                reason = "stopped (chaosdrill train stop)"
        finally:
            with held():
                _finish(ctx, session, reason, folder.path, plan)


def _run(ctx: DrillContext, session: Session, info: SessionInfo) -> str:
    """Steady state, the fault, the page, and the trainees' time; why the session ended."""
    log = session.log
    session.update(status="steady")
    log.record("started", session=info.id, time_scale=info.time_scale)
    if not steady_state(ctx):
        logger.warning("steady state not met before the fault; injecting all the same")
    inject(ctx, ctx.spec.fault.kind, dict(ctx.spec.fault.params))
    t_inject = ctx.timeline.first("t_inject")
    assert t_inject is not None
    log.record("injected", at=_wall(t_inject.t))
    session.update(status="injected", alert=ctx.spec.alert)
    deadline = t_inject.t + info.time_limit_s
    paged_at: float | None = None
    if detect(ctx, ctx.spec.alert):
        paged_at = _record_page(ctx, session)
    return _watch(ctx, session, info, deadline, paged_at)


def _record_page(ctx: DrillContext, session: Session) -> float:
    """Write the ``paged`` event from the drill's ``t_page``; return its monotonic time."""
    page = ctx.timeline.first("t_page")
    assert page is not None
    found = [p for p in ctx.env.pages(alertname=ctx.spec.alert) if p.received_monotonic == page.t]
    summary = found[0].annotations.get("summary", "") if found else ""
    severity = found[0].labels.get("severity", "") if found else ""
    session.log.record(
        "paged", at=_wall(page.t), alert=ctx.spec.alert, summary=summary, severity=severity
    )
    return page.t


def _acked(events: list[Event]) -> bool:
    return any(e.kind == "ack" for e in events)


def _watch(
    ctx: DrillContext,
    session: Session,
    info: SessionInfo,
    deadline: float,
    paged_at: float | None,
) -> str:
    """Until resolve or the time limit: late pages, re-sends and escalations."""
    log = session.log
    resent = 0
    escalated: set[str] = set()
    while True:
        now = time.monotonic()
        events = log.events()
        if any(e.kind == "resolve" for e in events):
            return "resolved (incident resolve)"
        if now >= deadline:
            return f"time limit ({info.time_limit_s:g} s at this time scale)"
        if paged_at is None:
            got = [
                p
                for p in ctx.env.pages(alertname=ctx.spec.alert)
                if p.status == "firing" and p.received_monotonic >= ctx.timeline.origin
            ]
            if got:  # a page after the detection window: late, but a page
                ctx.timeline.mark("t_page_late", t=got[0].received_monotonic)
                paged_at = got[0].received_monotonic
                log.record(
                    "paged",
                    at=_wall(paged_at),
                    alert=ctx.spec.alert,
                    summary=got[0].annotations.get("summary", ""),
                    severity=got[0].labels.get("severity", ""),
                    late=True,
                )
        elif not _acked(events):
            since = now - paged_at
            due = int(since // info.resend_s) if info.resend_s > 0 else 0
            while resent < due:
                resent += 1
                log.record("resent", alert=ctx.spec.alert, n=resent)
            for role, person, after in info.escalation:
                if role not in escalated and since >= float(after):
                    escalated.add(role)
                    log.record("escalated", role=role, person=person, after_s=float(after))
        time.sleep(POLL_S)


def _first_op(events: list[Event]) -> Event | None:
    return next((e for e in events if e.kind == "op"), None)


def _finish(ctx: DrillContext, session: Session, reason: str, folder: Path, plan: Any) -> None:
    """Recovery and verification as a drill does, the revert, the reports, the debrief."""
    log = session.log
    session.update(status="ending", end_reason=reason)
    try:
        events = log.events()
        started = ctx.timeline.first("t_inject") is not None
        if started and ctx.stopped is None and ctx.aborted is None:
            first = _first_op(events)
            if first is not None:
                ctx.timeline.mark("t_response_start", t=_monotonic(first.t), by=first.who)
            recover(ctx, ctx.spec.alert)
            verify(ctx)
        revert(ctx)
        for name, kind in (("t_mitigated", "mitigated"), ("t_recovered", "recovered")):
            mark = ctx.timeline.first(name)
            if mark is not None:
                log.record(kind, at=_wall(mark.t))
        finish_drill(ctx, None)
        log.record("ended", reason=reason)
        _reports(ctx, session, folder, plan)
    except BaseException as exc:
        session.update(error=f"{type(exc).__name__}: {exc}")
        logger.error("the session could not be finished:\n%s", traceback.format_exc())
        if not log.events() or log.events()[-1].kind != "ended":
            with contextlib.suppress(Exception):
                log.record("ended", reason=f"{reason}; then an error: {type(exc).__name__}")
        raise
    finally:
        cleanup_drill(ctx)
        session.update(status="ended")


def _reports(ctx: DrillContext, session: Session, folder: Path, plan: Any) -> None:
    """The run's reports (as every drill's), and the session's files and debrief beside."""
    import shutil

    from chaosdrill.plans.run import report_settings
    from chaosdrill.report.writer import write_reports
    from chaosdrill.training.debrief_view import build_debrief, write_debrief

    assert ctx.result is not None and ctx.result_path is not None
    settings = dataclasses.replace(report_settings(plan), mode="training")
    written = write_reports(
        [(ctx.result, str(ctx.result_path))],
        folder,
        run_id=folder.name,
        settings=settings,
        record_history=False,  # a person's times are not the automatic responder's
        interrupted=ctx.stopped,
    )
    out = folder / "training"
    out.mkdir(mode=0o700, exist_ok=True)
    for name in ("events.jsonl", "sealed.json", "session.json"):
        src = session.directory / name
        if src.exists():
            shutil.copy2(src, out / name)
    if not any(e.kind == "injected" for e in session.log.events()):
        session.update(error="ended before the fault was injected: nothing to debrief")
        return
    drill = written.report.drills[0] if written.report.drills else None
    measured = drill.severity.level if drill is not None else None
    drill_times = None
    if drill is not None:
        drill_times = {
            "mttd_s": drill.times.mttd.production_s,
            "mttr_s": drill.times.mttr.production_s,
            "points": drill.score.points,
            "report": str(written.path),
        }
    result = build_debrief(session, severity_measured=measured, plan=plan, drill_report=drill_times)
    write_debrief(result, out)


def main(argv: list[str] | None = None) -> int:
    """``python -m chaosdrill.training.runner ENV``: run that environment's session."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m chaosdrill.training.runner ENV_NAME", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "chaostoolkit"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    session = Session(args[0])
    try:
        run_session(session)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            session.update(status="ended", error=f"{type(exc).__name__}: {exc}")
        logger.error("the session failed:\n%s", traceback.format_exc())
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
