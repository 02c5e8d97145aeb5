"""The live view of ``chaosdrill run``: where a drill's time goes, while it goes.

Three parts, so that the view never slows the drill nor changes what it records:

- :class:`LiveSnapshot`: what the view shows at one moment (a frozen dataclass of plain
  values); :func:`render` draws it, a pure function (the tests render snapshots made by
  hand, without an environment).
- :class:`Collector`: makes snapshots of a running drill. It only reads: the drill's
  timeline (a copy), its phase and failures, Prometheus' alerts, the pager, and the load's
  sample files through a reader of its own (the drill's ``SliTail`` is not shared across
  threads). Every remote lookup is made at most once a second and cached; one that fails
  shows a short text instead of its figures. The users' first impact is computed here as
  the drill goes (``chaosdrill.drill.users``), never marked on the drill's timeline: the
  report's figures, computed at the end, are the final ones.
- :class:`LiveView`: the renderable rich's ``Live`` refreshes from its own thread. A
  thread of its own collects a snapshot once a second; ``__rich__`` only draws the last one.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from chaosdrill.drill import users
from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.phases import SAMPLE_LAG_S
from chaosdrill.drill.result import rule_files, rules_of
from chaosdrill.drill.timing import Timing, compute_timing, production_at
from chaosdrill.load.sli import SliTail
from chaosdrill.timeline import Event

__all__ = [
    "HISTORY_POINTS",
    "AlertLine",
    "Collector",
    "HoldProgress",
    "LiveSnapshot",
    "LiveView",
    "Mttd",
    "PhaseLine",
    "RunbookProgress",
    "UsersPoint",
    "render",
    "sparkline",
]

#: how many points the users' history keeps (one a second)
HISTORY_POINTS = 30
#: the most often a lookup is made (seconds)
PERIOD_S = 1.0
#: how often the view's reader of the load's samples forgets what it no longer needs
TRIM_EVERY_S = 10.0
#: grid windows judged per snapshot at most while looking for the first impact
SCAN_BUDGET = 5000
BARS = "▁▂▃▄▅▆▇█"
#: columns of the hold's progress bar
HOLD_BAR = 24

T = TypeVar("T")


# -- the snapshot --------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseLine:
    """One phase reached: when (UTC), seconds since the fault (drill, production), clock."""

    label: str
    at: str
    drill_s: float
    production_s: float
    clock: str  # "scaled" or "program"


@dataclass(frozen=True)
class Mttd:
    """The detection: MTTD once paged (else the time so far), its target and its floor.

    Seconds since the fault; ``production_s``, ``target_s`` and ``floor_s`` are
    production-equivalent. ``gave_up``: the drill stopped waiting for the page after
    ``drill_s``.
    """

    alert: str
    paged: bool
    drill_s: float
    production_s: float
    target_s: float
    floor_s: float | None = None
    floor_rule: str = ""
    slow: str | None = None
    gave_up: bool = False


@dataclass(frozen=True)
class UsersPoint:
    """The users' SLO window ending at one moment: requests, error share, p95, SLOs met."""

    requests: int
    error_share: float
    p95_ms: float
    meets: bool | None  # None: no request in the window


@dataclass(frozen=True)
class AlertLine:
    """One alert: its state in Prometheus and at the pager since the fault."""

    name: str
    prometheus: str  # "pending", "firing", "" (neither) or "?" (Prometheus not answering)
    pager: str  # e.g. "paged at 8.3 s", "resolved at 80.1 s", or ""
    expected: bool = False


@dataclass(frozen=True)
class RunbookProgress:
    """The runbook being run (or the last one run): steps finished of how many, which next."""

    name: str
    done: int
    total: int | None
    running: bool
    current: str | None = None
    last: str | None = None
    last_ok: bool | None = None
    last_s: float | None = None


@dataclass(frozen=True)
class HoldProgress:
    """The hold period: drill seconds held so far of ``hold_s``, and what it waits for."""

    state: str  # "waiting", "holding", "broken", "held", "not held"
    elapsed_s: float
    hold_s: float
    production_hold_s: float
    note: str = ""


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the live view shows at one moment (rendered by :func:`render`)."""

    title: str
    phase: str
    time_scale: float
    since_fault_s: float | None = None
    phases: tuple[PhaseLine, ...] = ()
    mttd: Mttd | None = None
    window_s: float = 0.0
    users: tuple[UsersPoint, ...] = ()  # oldest first, one a second
    users_now: UsersPoint | None = None
    alerts: tuple[AlertLine, ...] = ()
    runbook: RunbookProgress | None = None
    hold: HoldProgress | None = None
    failures: tuple[str, ...] = ()
    #: lookups that failed, as short texts ("Prometheus: not answering")
    notes: tuple[str, ...] = ()


# -- rendering (pure) ----------------------------------------------------------------------


def sparkline(values: Sequence[float | None], top: float, limit: float) -> Text:
    """Values as bars scaled to ``top``; above ``limit`` red, else green; None a blank."""
    out = Text()
    for v in values:
        if v is None:
            out.append(" ")
            continue
        level = 0 if top <= 0 else min(len(BARS) - 1, max(0, round(v / top * (len(BARS) - 1))))
        out.append(BARS[level], style="red" if v > limit else "green")
    return out


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 100 else f"{s:.0f} s"


def _phases(snap: LiveSnapshot) -> RenderableType:
    k = f"{snap.time_scale:g}"
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("phase", style="bold")
    table.add_column("at (UTC)")
    table.add_column("drill", justify="right")
    table.add_column("production", justify="right")
    table.add_column("clock")
    for p in sorted(snap.phases, key=lambda p: p.drill_s):  # stable: ties in PHASES order
        clock = f"scaled x{k}" if p.clock == "scaled" else p.clock
        table.add_row(p.label, p.at, _seconds(p.drill_s), _seconds(p.production_s), clock)
    if not snap.phases:
        table.add_row("before the fault", "", "", "", "")
    return table


def _mttd(m: Mttd) -> Text:
    text = Text()
    within = m.production_s <= m.target_s
    if m.paged:
        text.append(f"MTTD {m.alert}: ", style="bold")
        text.append(
            f"{_seconds(m.drill_s)} drill = {m.production_s:.0f} s production, "
            f"{'within' if within else 'over'} the {m.target_s:.0f} s target",
            style="green" if within else "red",
        )
    elif m.gave_up:
        text.append(f"MTTD {m.alert}: ", style="bold")
        text.append(
            f"no page: the drill stopped waiting after {_seconds(m.drill_s)} "
            f"(~{m.production_s:.0f} s production; target {m.target_s:.0f} s)",
            style="red",
        )
    else:
        text.append(f"MTTD {m.alert}: ", style="bold")
        text.append(
            f"no page yet, {_seconds(m.drill_s)} (~{m.production_s:.0f} s production) so far; "
            f"target {m.target_s:.0f} s",
            style="yellow" if within else "red",
        )
    if m.floor_s is not None:
        text.append(f"\n  detection floor {m.floor_s:.0f} s production ({m.floor_rule or m.alert})")
        if m.paged:
            text.append(f"; MTTD {m.production_s - m.floor_s:.0f} s above it")
    if m.slow:
        text.append(f"\n  {m.slow}", style="yellow")
    return text


def _users(snap: LiveSnapshot) -> RenderableType:
    errors = [p.error_share if p.requests else None for p in snap.users]
    p95 = [p.p95_ms if p.requests else None for p in snap.users]
    top_e = max([users.ERROR_SLO * 2, *(v for v in errors if v is not None)])
    top_l = max([users.LATENCY_SLO_MS * 2, *(v for v in p95 if v is not None)])
    grid = Table.grid(padding=(0, 1))
    grid.add_column()
    grid.add_column(width=HISTORY_POINTS)
    grid.add_column()
    now = snap.users_now
    e_now = "" if now is None or not now.requests else f"{now.error_share:.1%}"
    l_now = "" if now is None or not now.requests else f"{now.p95_ms:.0f} ms"
    e_slo, l_slo = f"{users.ERROR_SLO:.0%}", f"{users.LATENCY_SLO_MS / 1000:g} s"
    grid.add_row("errors", sparkline(errors, top_e, users.ERROR_SLO), f"{e_now} (SLO {e_slo})")
    grid.add_row("p95", sparkline(p95, top_l, users.LATENCY_SLO_MS), f"{l_now} (SLO {l_slo})")
    title = Text(f"users (SLO window {snap.window_s:g} s, a point a second): ", style="bold")
    if now is None:
        title.append("no load samples yet", style="yellow")
    elif now.meets is None:
        title.append("no request completed in the last window", style="yellow")
    else:
        title.append(
            f"{now.requests} requests, {'SLOs met' if now.meets else 'SLOs broken'}",
            style="green" if now.meets else "red",
        )
    return Group(title, grid)


def _alerts(snap: LiveSnapshot) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    for _ in range(4):
        grid.add_column()
    style = {"pending": "yellow", "firing": "red", "?": "yellow"}
    for i, a in enumerate(snap.alerts):
        name = f"{a.name} (expected)" if a.expected else a.name
        grid.add_row(
            Text("alerts" if i == 0 else "", style="bold"),
            Text(name, style="bold" if a.expected else ""),
            Text(f"Prometheus: {a.prometheus or 'inactive'}", style=style.get(a.prometheus, "")),
            Text(
                f"pager: {a.pager or 'no page'}", style="red" if a.pager.startswith("paged") else ""
            ),
        )
    return grid


def _runbook(r: RunbookProgress) -> Text:
    text = Text()
    text.append(f"runbook {r.name} ", style="bold")
    total = "?" if r.total is None else str(r.total)
    if r.running:
        text.append(f"step {r.done + 1}/{total} running", style="cyan")
        if r.current:
            text.append(f": {r.current}")
    else:
        text.append(f"{r.done}/{total} steps run")
    if r.last is not None:
        took = "" if r.last_s is None else f" in {r.last_s:.1f} s"
        text.append("; last: ")
        text.append(
            f"{r.last} {'ok' if r.last_ok else 'FAILED'}{took}",
            style="green" if r.last_ok else "red",
        )
    return text


def _hold(h: HoldProgress) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    grid.add_column()
    grid.add_column(width=HOLD_BAR)
    grid.add_column()
    share = 0.0 if h.hold_s <= 0 else min(1.0, h.elapsed_s / h.hold_s)
    figures = (
        f"{h.elapsed_s:.1f} / {h.hold_s:.1f} s ({share:.0%}, "
        f"{h.production_hold_s:.0f} s production) {h.state}"
    )
    if h.note:
        figures += f": {h.note}"
    grid.add_row(
        Text("hold", style="bold"),
        ProgressBar(
            total=max(h.hold_s, 1e-9), completed=min(h.elapsed_s, h.hold_s), width=HOLD_BAR
        ),
        Text(figures, style={"held": "green", "broken": "red", "not held": "red"}.get(h.state, "")),
    )
    return grid


def render(snap: LiveSnapshot) -> RenderableType:
    """The live view of one snapshot (a pure function of it)."""
    head = Text()
    head.append(snap.title, style="bold")
    head.append(f" x{snap.time_scale:g} | ")
    head.append(snap.phase, style="cyan")
    if snap.since_fault_s is not None:
        head.append(f" | fault +{snap.since_fault_s:.1f} s")
    parts: list[RenderableType] = [head, _phases(snap)]
    if snap.mttd is not None:
        parts.append(_mttd(snap.mttd))
    parts.append(_users(snap))
    parts.append(_alerts(snap))
    if snap.runbook is not None:
        parts.append(_runbook(snap.runbook))
    if snap.hold is not None:
        parts.append(_hold(snap.hold))
    if snap.failures:
        parts.append(Text("\n".join(snap.failures[-2:]), style="red"))
    if snap.notes:
        parts.append(Text("; ".join(snap.notes), style="dim yellow"))
    return Group(*parts)


# -- collecting ----------------------------------------------------------------------------


def _short(exc: BaseException, limit: int = 80) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Every(Generic[T]):
    """A lookup made at most once per ``period_s``; its last value, or why it failed."""

    what: str
    fn: Callable[[], T]
    period_s: float = PERIOD_S
    value: T | None = None
    error: str | None = None
    at: float | None = None

    def get(self, now: float) -> T | None:
        """The cached value, looked up again when older than the period (None: it failed)."""
        if self.at is None or now - self.at >= self.period_s:
            self.at = now
            try:
                self.value, self.error = self.fn(), None
            except Exception as exc:  # a failing lookup shows a short text, never raises
                why = _short(exc)
                self.value, self.error = (
                    None,
                    why if why.startswith(self.what) else f"{self.what}: {why}",
                )
        return self.value


class _Tail(SliTail):
    """The view's own reader of the load's sample files, which forgets what it no longer needs.

    The drill's ``ctx.sli`` is read and sorted by the drill's thread; the view reads the
    same files with this one, so it never touches the drill's.
    """

    def trim(self, before: float) -> None:
        """Forget the requests that completed at or before ``before``."""
        self._order()
        i = bisect.bisect_right(self._ends, before)
        if i:
            del self._requests[:i]
            del self._ends[:i]
        for second in [s for s in self.seconds if s + 1 <= before]:
            del self.seconds[second]
            self.failures.pop(second, None)


@functools.lru_cache(maxsize=16)
def _runbook_steps(path: str | None) -> tuple[str, ...] | None:
    """A runbook file's step names (None: there is none, or it cannot be read)."""
    from chaosdrill.runbooks.loader import load_runbook

    try:
        return tuple(s.name for s in load_runbook(path).steps) if path else None
    except Exception:
        return None


def _clock_of(event: Event | None, t: float) -> str:
    """HH:MM:SS (UTC) of an event, or of monotonic ``t`` when the event has no wall label."""
    if event is not None and len(event.wall) >= 19:
        return event.wall[11:19]
    offset = time.time() - time.monotonic()
    return datetime.fromtimestamp(t + offset, UTC).strftime("%H:%M:%S")


@dataclass
class _Impact:
    """The users' first impact as the view found it, and the shares since (counted as read)."""

    impact: users.Impact
    counted_to: float
    n: int = 0
    failed: int = 0
    slow: int = 0


@dataclass
class _State:
    """What the collector carries from one snapshot to the next."""

    scan_i: int = 0
    impact: _Impact | None = None
    points: dict[int, UsersPoint] = field(default_factory=dict)
    hold_from: float | None = None
    hold_seen: bool = False
    trimmed_at: float = 0.0


class Collector:
    """Snapshots of a running drill; reads only, every lookup at most once a second.

    Made on the drill's thread (it reads the monitoring settings and the alert's rules
    once, there); :meth:`collect` then runs on the view's thread.
    """

    def __init__(self, ctx: DrillContext, clock: Callable[[], float] = time.monotonic) -> None:
        from chaosdrill.probes.alerts import firing_alerts

        self.ctx = ctx
        self.clock = clock
        ts = ctx.spec.time_scale
        try:
            m = ctx.env.monitoring()
            self._scrape_s, self._slower = m.scrape_interval_s, dict(m.slower_jobs)
        except Exception:
            self._scrape_s, self._slower = ts.scrape_interval_s, {}
        alert = ctx.spec.alert
        try:
            self._rules = rules_of(alert, rule_files()) if alert else ()
        except Exception:
            self._rules = ()
        self._tail = _Tail(ctx.sli.run_dir) if ctx.sli is not None else None
        self._t_inject: float | None = None
        self.alerts = _Every("Prometheus", lambda: firing_alerts(ctx.env.endpoints()))
        self.pages = _Every("pager", lambda: ctx.env.pages(since_monotonic=self._t_inject or 0.0))
        self._state = _State()

    # the users -----------------------------------------------------------------------
    def _read(self, now: float, notes: list[str]) -> float | None:
        """Read the load's new samples; the end of the last window that can be judged."""
        if self._tail is None:
            return None
        try:
            self._tail.poll()
        except Exception as exc:
            notes.append(f"load samples: {_short(exc)}")
        return now - SAMPLE_LAG_S

    def _window(self, end: float) -> UsersPoint:
        assert self._tail is not None
        window = self.ctx.spec.slo_window_s
        w = self._tail.sli(end - window, end, users.LATENCY_SLO_MS)
        return UsersPoint(w.requests, w.error_share, w.p95_ms, users.meets(w))

    def _history(self, end: float) -> tuple[UsersPoint, ...]:
        """One point a second: the SLO window ending at each of the last whole seconds."""
        last = math.floor(end)
        points = self._state.points
        for s in range(last - HISTORY_POINTS + 1, last + 1):
            if s not in points:
                points[s] = self._window(float(s))
        for s in [s for s in points if s <= last - HISTORY_POINTS]:
            del points[s]
        return tuple(points[s] for s in sorted(points))

    def _first_impact(self, t_inject: float, end: float, page: float | None) -> _Impact | None:
        """The users' first impact after the fault, looked for a grid window at a time."""
        assert self._tail is not None
        st = self._state
        window = self.ctx.spec.slo_window_s
        step = users.grid_step(window)
        budget = SCAN_BUDGET
        while st.impact is None and budget > 0:
            t = t_inject + st.scan_i * step
            if t > end:
                break
            budget -= 1
            if users.meets(self._tail.sli(t - window, t, users.LATENCY_SLO_MS)) is False:
                found = users.first_impact(self._tail, t_inject, t, window)
                if found is not None:
                    st.impact = _Impact(found, found.first)
                    break
            st.scan_i += 1
        got = st.impact
        if got is not None:  # the shares of the requests sent since, until the page
            until = end if page is None else min(end, page)
            if until > got.counted_to:
                for r in self._tail.requests(got.counted_to, until):
                    if r.start >= got.impact.first:
                        got.n += 1
                        got.failed += r.failed
                        got.slow += r.ms > users.LATENCY_SLO_MS
                got.counted_to = until
        return got

    def _trim(self, now: float, end: float) -> None:
        st = self._state
        if self._tail is None or now - st.trimmed_at < TRIM_EVERY_S:
            return
        st.trimmed_at = now
        window = self.ctx.spec.slo_window_s
        keep = end - HISTORY_POINTS - window - 2.0
        if self._t_inject is not None and st.impact is None:  # first_impact reads from the fault
            keep = min(keep, self._t_inject - window - 1.0)
        if st.impact is not None:
            keep = min(keep, st.impact.counted_to - 1.0)
        self._tail.trim(keep)

    # the rest --------------------------------------------------------------------------
    def _timing(self, events: list[Event], impact: _Impact | None) -> Timing:
        if impact is not None and not any(e.name == "t_first_impact" for e in events):
            i = impact.impact
            detail = {
                "seen_s": round(i.seen - i.first, 3),
                "breach_s": round(i.breach - i.first, 3),
                "share": round(impact.failed / impact.n, 4) if impact.n else i.share,
                "slow_share": round(impact.slow / impact.n, 4) if impact.n else i.slow_share,
            }
            events = sorted([*events, Event("t_first_impact", i.first, "", detail)], key=_t)
        return compute_timing(
            events,
            self.ctx.spec.time_scale,
            self._rules,
            scrape_s=self._scrape_s,
            slower_jobs=self._slower,
        )

    def _alerts(self, now: float, t_inject: float | None, notes: list[str]) -> list[AlertLine]:
        expected = self.ctx.spec.alert
        states: dict[str, str] = {}
        for a in self.alerts.get(now) or []:
            if states.get(a.name) != "firing":
                states[a.name] = a.state
        unknown = self.alerts.error is not None  # shown as "?", not as inactive
        if self.alerts.error:
            notes.append(self.alerts.error)
        pager: dict[str, str] = {}
        if t_inject is not None:
            for p in self.pages.get(now) or []:
                at = p.received_monotonic - t_inject
                if p.status == "firing" and p.alertname not in pager:
                    pager[p.alertname] = f"paged at {at:.1f} s"
                elif p.status == "resolved" and p.alertname in pager:
                    pager[p.alertname] = (
                        f"{pager[p.alertname].split(';')[0]}; resolved at {at:.1f} s"
                    )
            if self.pages.error:
                notes.append(self.pages.error)
        names = sorted({*states, *pager} - {expected})
        state = "?" if unknown else ""
        lines = [AlertLine(expected, states.get(expected, state), pager.get(expected, ""), True)]
        lines += [AlertLine(n, states.get(n, state), pager.get(n, "")) for n in names]
        return lines

    def _runbook(self, events: list[Event]) -> RunbookProgress | None:
        from chaosdrill.workspace import current

        phase = self.ctx.phase
        steps = [e for e in events if e.name == "runbook_step"]
        if phase.startswith("respond: "):
            name, running = phase.removeprefix("respond: "), True
        elif steps:
            name, running = str(steps[-1].detail.get("runbook", "")), False
        else:
            return None
        mine = [e for e in steps if e.detail.get("runbook") == name]
        entry = current().find("runbooks", name)
        names = _runbook_steps(str(entry.path) if entry else None)
        done = len(mine)
        last = mine[-1] if mine else None
        duration = last.detail.get("duration_s") if last is not None else None
        return RunbookProgress(
            name=name,
            done=done,
            total=None if names is None else len(names),
            running=running and (names is None or done < len(names)),
            current=names[done] if running and names is not None and done < len(names) else None,
            last=None if last is None else str(last.detail.get("step", "")),
            last_ok=None if last is None else bool(last.detail.get("ok")),
            last_s=float(duration) if isinstance(duration, int | float) else None,
        )

    def _hold(
        self, events: list[Event], end: float | None, now_w: UsersPoint | None
    ) -> HoldProgress:
        spec, st = self.ctx.spec, self._state
        hold_s, prod = spec.hold_s, spec.hold_production_s

        def first(name: str) -> Event | None:
            return next((e for e in events if e.name == name), None)

        if first("t_recovered") is not None:
            return HoldProgress("held", hold_s, hold_s, prod)
        if (failed := first("recovery_failed")) is not None:
            return HoldProgress("not held", 0.0, hold_s, prod, str(failed.detail.get("detail", "")))
        mitigated = first("t_mitigated")
        if mitigated is None or end is None:
            if first("t_response_start") is None:
                note = "starts once the response has begun, the fault is gone, the SLOs met"
            elif first("t_fault_cleared") is None:
                note = "the fault is still in effect"
            else:
                note = "waiting for a window that meets the SLOs"
            return HoldProgress("waiting", 0.0, hold_s, prod, note)
        if not st.hold_seen:
            st.hold_seen, st.hold_from = True, mitigated.t
        ok = None if now_w is None else now_w.meets
        if ok is False and st.hold_from is not None and end > st.hold_from:
            st.hold_from = None
        elif ok and st.hold_from is None:
            st.hold_from = end
        if st.hold_from is None:
            return HoldProgress(
                "broken", 0.0, hold_s, prod, "a window broke the SLOs: it starts over"
            )
        return HoldProgress("holding", min(hold_s, max(0.0, end - st.hold_from)), hold_s, prod)

    def collect(self) -> LiveSnapshot:
        """A snapshot of the drill now (never raises: a failing part shows a short text)."""
        now = self.clock()
        ctx, spec = self.ctx, self.ctx.spec
        notes: list[str] = []
        events = ctx.timeline.events
        inject = next((e for e in events if e.name == "t_inject"), None)
        page = next((e for e in events if e.name == "t_page"), None)
        self._t_inject = None if inject is None else inject.t
        end = self._read(now, notes)
        history: tuple[UsersPoint, ...] = ()
        now_w = impact = None
        if end is not None:
            try:
                history, now_w = self._history(end), self._window(end)
                if inject is not None:
                    impact = self._first_impact(inject.t, end, None if page is None else page.t)
                self._trim(now, end)
            except Exception as exc:
                notes.append(f"users: {_short(exc)}")
        phases: tuple[PhaseLine, ...] = ()
        mttd = None
        if inject is not None:
            try:
                timing = self._timing(events, impact)
                phases = self._phase_lines(events, timing, inject.t)
                mttd = self._mttd(events, timing, now, inject.t)
            except Exception as exc:
                notes.append(f"timing: {_short(exc)}")
        alerts: list[AlertLine] = []
        try:
            alerts = self._alerts(now, self._t_inject, notes)
        except Exception as exc:
            notes.append(f"alerts: {_short(exc)}")
        runbook = hold = None
        try:
            runbook = self._runbook(events)
        except Exception as exc:
            notes.append(f"runbook: {_short(exc)}")
        try:
            hold = self._hold(events, end, now_w) if inject is not None else None
        except Exception as exc:
            notes.append(f"hold: {_short(exc)}")
        return LiveSnapshot(
            title=f"{spec.cause} ({spec.scenario})",
            phase=ctx.phase,
            time_scale=spec.time_scale.k,
            since_fault_s=None if inject is None else now - inject.t,
            phases=phases,
            mttd=mttd,
            window_s=spec.slo_window_s,
            users=history,
            users_now=now_w,
            alerts=tuple(alerts),
            runbook=runbook,
            hold=hold,
            failures=tuple(ctx.failures[-2:]),
            notes=tuple(notes),
        )

    def _phase_lines(
        self, events: list[Event], timing: Timing, t_inject: float
    ) -> tuple[PhaseLine, ...]:
        lines = []
        for p in timing.phases:
            named = [e for e in events if e.name == p.event]
            event = (named[-1] if p.event == "t_response_end" else named[0]) if named else None
            at = _clock_of(event, t_inject + p.drill_s)  # no event: the view's first impact
            lines.append(PhaseLine(p.label, at, p.drill_s, p.production_s, p.clock))
        return tuple(lines)

    def _mttd(
        self, events: list[Event], timing: Timing, now: float, t_inject: float
    ) -> Mttd | None:
        spec = self.ctx.spec
        if not spec.alert:
            return None
        target = spec.time_scale.production.mttd_target_s
        floor = timing.floor
        page = timing.phase("t_page")
        failed = next((e for e in events if e.name == "detection_failed"), None)
        if page is not None:
            drill, prod, paged = page.drill_s, page.production_s, True
        else:
            until = now if failed is None else failed.t
            drill = until - t_inject
            if any(e.name == "fault_applied" for e in events):
                prod = production_at(timing.segments, until, timing.time_scale)
            else:  # the fault still being applied: a program's time
                prod = drill
            paged = False
        return Mttd(
            alert=spec.alert,
            paged=paged,
            drill_s=drill,
            production_s=prod,
            target_s=target,
            floor_s=None if floor is None else floor.production_s,
            floor_rule="" if floor is None else floor.rule,
            slow=timing.slow_detection if paged else None,
            gave_up=not paged and failed is not None,
        )


def _t(e: Event) -> float:
    return e.t


class LiveView:
    """The renderable of ``chaosdrill run``'s rich Live: the last snapshot, drawn cheaply.

    While :meth:`shown`, a thread of the view's own makes a snapshot once a second (once
    :meth:`attach` gave it the drill) and redraws the Live then: rich draws it once a second
    from that thread, never from the drill's; ``__rich__`` only draws the last snapshot.
    """

    def __init__(self, period_s: float = PERIOD_S) -> None:
        self.period_s = period_s
        self.snapshot: LiveSnapshot | None = None
        self._collector: Collector | None = None
        self._live: Live | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, ctx: DrillContext) -> None:
        """Show ``ctx``'s drill from now on (called on the drill's thread, once it is set up)."""
        self._collector = Collector(ctx)

    def start(self) -> None:
        """Start collecting (and redrawing, when shown) once a second."""
        self._started = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="chaosdrill-live-view", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            collector = self._collector
            if collector is not None:
                try:
                    self.snapshot = collector.collect()
                except Exception as exc:  # collect does not raise; if it ever did, say so
                    self.snapshot = LiveSnapshot(
                        title="live view",
                        phase=collector.ctx.phase,
                        time_scale=1.0,
                        notes=(f"live view: {_short(exc)}",),
                    )
            live = self._live
            if live is not None:
                with contextlib.suppress(Exception):
                    live.refresh()
            self._stop.wait(max(0.05, self.period_s - (time.monotonic() - began)))

    def close(self) -> None:
        """Stop collecting."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __rich__(self) -> RenderableType:
        snap = self.snapshot
        if snap is None:
            return Text(f"setting the drill up ... {time.monotonic() - self._started:.0f} s")
        try:
            return render(snap)
        except Exception as exc:  # never let the view raise into rich's rendering
            return Text(f"live view: {_short(exc)}")

    @contextlib.contextmanager
    def shown(self, console: Console) -> Iterator[None]:
        """Show the view on ``console`` (transient) for the duration of the block."""
        live = Live(self, console=console, auto_refresh=False, transient=True)
        with live:
            self._live = live
            self.start()
            try:
                yield
            finally:  # the thread ends before the Live does
                self.close()
                self._live = None
