"""What the terminals show during a session: the pager, the status, the facilitator's view.

Trainee views (:func:`pager_text`, :func:`status_text`, :func:`next_hint`) are built from
what a responder may see (pages, the session's public record, the trainees' own events)
and never read the sealed cause, except :func:`next_hint`, which gives away a part of it
on purpose. :func:`facilitator_text` reads the cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chaosdrill.training.debrief import ROLES
from chaosdrill.training.log import RUNNER_KINDS, Event, SealedCause
from chaosdrill.training.session import Session, SessionInfo

__all__ = ["facilitator_text", "live", "mask", "next_hint", "pager_text", "status_text"]


def mask(text: str, sealed: SealedCause) -> str:
    """``text`` with every sealed word replaced (for an error a trainee sees)."""
    import re

    for word in sealed.words():
        text = re.sub(re.escape(word), "<sealed>", text, flags=re.I)
    return text


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def _since(events: list[Event], kind: str) -> Event | None:
    return next((e for e in events if e.kind == kind), None)


def live(render: Callable[[], str], *, once: bool, interval: float) -> None:
    """Print ``render()`` once, or redraw it every ``interval`` s until Ctrl-C."""
    from rich.live import Live
    from rich.text import Text

    from chaosdrill.cli.application import app

    if once:
        app.console.print(render(), markup=False)
        return
    try:
        with Live(Text(render()), console=app.console, auto_refresh=False) as view:
            while True:
                time.sleep(interval)
                view.update(Text(render()), refresh=True)
    except KeyboardInterrupt:
        pass


def pager_text(environment: Any, session: Session) -> str:
    """The pager's screen: each page, its re-sends and escalations, and where to look."""
    ep = environment.endpoints()
    events: list[Event] = []
    info: SessionInfo | None = None
    if session.exists():
        info = session.info()
        events = session.log.events()
    since = info.started_wall if info is not None else None
    pages = environment.pages()
    lines = [f"PAGER  environment {environment.name}  {time.strftime('%H:%M:%S')}", ""]
    shown = 0
    for p in pages:
        if since is not None and _wall_of(p.received_wall) < since:
            continue
        shown += 1
        summary = p.annotations.get("summary", "")
        sev = p.labels.get("severity", "")
        lines.append(
            f"{'FIRING ' if p.status == 'firing' else 'RESOLVED'} {p.alertname:<24} "
            f"[{sev}] {p.received_wall[11:19]}  {summary}"
        )
    if not shown:
        lines.append("no page yet")
    acks = [e for e in events if e.kind == "ack"]
    resent = [e for e in events if e.kind == "resent"]
    escalated = [e for e in events if e.kind == "escalated"]
    if resent and not acks:
        lines.append(f"RE-SENT {len(resent)} time(s): acknowledge with `chaosdrill pager ack`")
    for e in escalated:
        lines.append(
            f"ESCALATED to {e.detail.get('role')} ({e.detail.get('person')}) at "
            f"{time.strftime('%H:%M:%S', time.localtime(e.t))}"
        )
    for e in acks:
        lines.append(
            f"acknowledged {e.detail.get('alert')} by {e.who} at "
            f"{time.strftime('%H:%M:%S', time.localtime(e.t))}"
        )
    lines += [
        "",
        f"service       {ep.service_url}",
        f"prometheus    {ep.prometheus_url}/alerts",
        f"alertmanager  {ep.alertmanager_url}",
        f"pager         {ep.pager_url}/pages",
    ]
    return "\n".join(lines)


def _wall_of(rfc3339: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(rfc3339).timestamp()
    except ValueError:
        return 0.0


def status_text(session: Session, info: SessionInfo) -> str:
    """Elapsed time, what has been done and what the session still expects."""
    events = session.log.events()
    running = session.running()
    injected = _since(events, "injected")
    state = info.status if running or info.status == "ended" else "runner gone"
    lines = [
        f"session {info.id} on {info.env_name}: {state}"
        + (f" ({info.end_reason})" if info.end_reason else ""),
        f"elapsed {_clock(time.time() - info.started_wall)} (time scale {info.time_scale:g})",
    ]
    if injected is not None and info.status != "ended":
        left = injected.t + info.time_limit_s - time.time()
        lines.append(f"time left {_clock(left)}")
    paged = _since(events, "paged")
    ack = _since(events, "ack")
    roles = {e.detail.get("role"): e.detail.get("name") for e in events if e.kind == "role"}
    severity = next((e for e in reversed(events) if e.kind == "severity"), None)
    updates = [e for e in events if e.kind == "update"]
    ops = [e for e in events if e.kind == "op"]
    lines += [
        "",
        "done:",
        f"  paged        {'yes, ' + str(paged.detail.get('alert')) if paged else 'not yet'}",
        f"  acknowledged {('by ' + ack.who) if ack else 'no'}",
        f"  roles        {', '.join(f'{r}={n}' for r, n in roles.items()) or 'none'}",
        f"  severity     {severity.detail.get('level') if severity else 'not declared'}",
        f"  updates      {len(updates)}",
        f"  notes        {sum(1 for e in events if e.kind == 'note')}",
        f"  diagnoses    {sum(1 for e in events if e.kind == 'diagnose')}",
        f"  hints        {sum(1 for e in events if e.kind == 'hint')}",
        f"  operations   {len(ops)}",
        "",
        "still expected:",
    ]
    expected = []
    if paged and not ack:
        expected.append("acknowledge the page (chaosdrill pager ack)")
    missing = [r for r in ROLES if r not in roles]
    if missing:
        expected.append(f"name the roles: {', '.join(missing)} (chaosdrill incident role)")
    if severity is None:
        expected.append("declare the severity (chaosdrill incident severity P1..P4)")
    if not updates:
        expected.append("send the initial update (chaosdrill incident update)")
    elif not any(e.detail.get("status") == "resolved" for e in updates):
        expected.append("keep the updates coming; send the resolution notice at the end")
    if not any(e.kind == "diagnose" for e in events):
        expected.append("diagnose the cause (chaosdrill incident diagnose CAUSE)")
    if not any(e.kind == "resolve" for e in events):
        expected.append("fix it, then resolve (chaosdrill incident resolve)")
    lines += [f"  - {x}" for x in expected] or ["  nothing"]
    return "\n".join(lines)


def facilitator_text(session: Session) -> str:
    """The facilitator's view: the cause, the ground-truth timeline, the trainees' actions."""
    info = session.info()
    cause = session.log.unseal()
    events = session.log.events()
    t0 = next((e.t for e in events if e.kind == "injected"), info.started_wall)
    lines = [
        f"FACILITATOR  session {info.id} on {info.env_name}: {info.status}"
        + (f" ({info.end_reason})" if info.end_reason else ""),
        f"cause: {cause.title} (experiment {cause.experiment}, fault {cause.kind}, "
        f"scenario {cause.scenario}) params {dict(cause.params)}",
        f"elapsed {_clock(time.time() - info.started_wall)}; times below from the fault, "
        f"x{info.time_scale:g} = production",
        "",
        "ground truth:",
    ]
    for e in events:
        if e.kind in RUNNER_KINDS:
            extra = " ".join(f"{k}={v}" for k, v in e.detail.items())
            lines.append(f"  {_clock(e.t - t0)} {e.kind} {extra}".rstrip())
    lines += ["", "trainees:"]
    for e in events:
        if e.kind not in RUNNER_KINDS:
            extra = " ".join(f"{k}={v}" for k, v in e.detail.items() if k != "fields")
            lines.append(f"  {_clock(e.t - t0)} {e.who}: {e.kind} {extra}".rstrip())
    return "\n".join(lines)


def next_hint(session: Session, info: SessionInfo) -> tuple[int, str, float]:
    """The next hint's level, text and cost (a third hint and later repeat the last)."""
    from chaosdrill.faults.base import REGISTRY
    from chaosdrill.plans.model import load_plan
    from chaosdrill.scenarios.catalogue import Catalogue
    from chaosdrill.scenarios.settings import SpecOverrides
    from chaosdrill.scenarios.spec import load_spec

    cause = session.log.unseal()
    taken = sum(1 for e in session.log.events() if e.kind == "hint")
    level = min(taken + 1, 3)
    costs = load_plan(info.plan).training.scoring.hint_costs
    cost = costs[min(taken, len(costs) - 1)] if costs else 0.0
    if level == 1:
        scenario = Catalogue().scenario(cause.scenario)
        title = scenario.title if scenario is not None else cause.scenario
        text = f"the symptom is {title.lower()}: look at what the users see first"
    elif level == 2:
        fault = REGISTRY.get(cause.kind)
        text = f"look at {getattr(fault, 'subsystem', '') or 'the service'}"
    else:
        spec = load_spec(_path(cause), SpecOverrides(env_name=info.env_name))
        text = (
            f"the runbook is {spec.runbook.name} (docs/runbooks/{spec.runbook.name}.md): "
            f"`chaosdrill runbook run {spec.runbook.name} --name {info.env_name}`"
        )
    return level, text, cost


def _path(cause: SealedCause) -> Any:
    from pathlib import Path

    return Path(cause.path)
