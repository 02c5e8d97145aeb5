"""``chaosdrill run``'s live view: snapshots rendered, and snapshots collected from a drill.

The rendering tests draw hand-made snapshots on a 120-column console without colour. The
collector's tests run it against a drill context with a fake environment, load samples
written to files as the load writes them, a timeline marked by hand, and a fake clock.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chaosdrill.cli import live
from chaosdrill.cli.live import (
    AlertLine,
    Collector,
    HoldProgress,
    LiveSnapshot,
    LiveView,
    Mttd,
    PhaseLine,
    RunbookProgress,
    UsersPoint,
    render,
    sparkline,
)
from chaosdrill.drill.context import DrillContext
from chaosdrill.environments.base import Endpoints, MonitoringSettings
from chaosdrill.errors import OperationError
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.load.sli import SliTail
from chaosdrill.pager import Page
from chaosdrill.probes.alerts import FiringAlert
from chaosdrill.scenarios.settings import SpecOverrides
from chaosdrill.scenarios.spec import load_spec
from tests.repo import EXPERIMENTS_DIR


def shown(snap: LiveSnapshot | LiveView, width: int = 120) -> str:
    """What the view prints, as plain text with single spaces."""
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(render(snap) if isinstance(snap, LiveSnapshot) else snap)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return re.sub(r"[ \t]+", " ", re.sub(r"[│┃┏┓┗┛┡┩└┘┳┻╇╈┼┬┴┌┐├┤]", " ", out))


def snapshot(**kw: Any) -> LiveSnapshot:
    base: dict[str, Any] = {
        "title": "bad-release (high-error-rate)",
        "phase": "detect",
        "time_scale": 30.0,
        "since_fault_s": 9.4,
        "window_s": 2.0,
    }
    return LiveSnapshot(**{**base, **kw})


# -- rendering -----------------------------------------------------------------------------


def test_the_phases_reached_with_drill_and_production_seconds_and_their_clock() -> None:
    snap = snapshot(
        phases=(
            PhaseLine("fault applied", "06:55:02", 0.5, 0.5, "program"),
            PhaseLine("alert pending", "06:55:08", 6.0, 160.3, "scaled"),
            PhaseLine("page received (MTTD)", "06:55:10", 8.3, 229.3, "scaled"),
        )
    )
    out = shown(snap)
    assert "phase at (UTC) drill production clock" in out
    assert "\nfault applied 06:55:02 0.5 s 0.5 s program \n" in out
    assert "\nalert pending 06:55:08 6.0 s 160 s scaled x30\n" in out
    assert "\npage received (MTTD) 06:55:10 8.3 s 229 s scaled x30\n" in out
    assert "response begun" not in out and "before the fault" not in out
    assert "bad-release (high-error-rate) x30 | detect | fault +9.4 s" in out


def test_the_phases_in_the_order_they_were_reached() -> None:
    snap = snapshot(
        phases=(
            PhaseLine("fault applied", "06:55:05", 3.3, 3.3, "program"),
            PhaseLine("first impact on users", "06:55:04", 2.2, 2.2, "program"),
        )
    )
    out = shown(snap)
    assert out.index("first impact on users") < out.index("fault applied")


def test_no_phase_before_the_fault() -> None:
    out = shown(snapshot(since_fault_s=None, phase="steady state"))
    assert "\nbefore the fault " in out and "fault +" not in out


@pytest.mark.parametrize(
    ("mttd", "expected"),
    [
        (
            Mttd("HighErrorRate", True, 8.3, 229.3, 300.0, 95.0, "HighErrorRate"),
            "MTTD HighErrorRate: 8.3 s drill = 229 s production, within the 300 s target\n"
            " detection floor 95 s production (HighErrorRate); MTTD 134 s above it\n",
        ),
        (
            Mttd("HighErrorRate", True, 12.0, 340.0, 300.0, 95.0, "HighErrorRate", "MTTD slow"),
            "MTTD HighErrorRate: 12.0 s drill = 340 s production, over the 300 s target\n"
            " detection floor 95 s production (HighErrorRate); MTTD 245 s above it\n"
            " MTTD slow\n",
        ),
        (
            Mttd("HighErrorRate", False, 5.0, 150.2, 300.0, 95.0, "HighErrorRate"),
            "MTTD HighErrorRate: no page yet, 5.0 s (~150 s production) so far; target 300 s\n"
            " detection floor 95 s production (HighErrorRate)\n",
        ),
        (
            Mttd("HighErrorRate", False, 30.0, 899.6, 300.0, gave_up=True),
            "MTTD HighErrorRate: no page: the drill stopped waiting after 30.0 s (~900 s "
            "production; target 300 s)\n",
        ),
        (
            Mttd("DatabaseDown", False, 5.0, 150.2, 300.0),
            "MTTD DatabaseDown: no page yet, 5.0 s (~150 s production) so far; target 300 s\n",
        ),
    ],
)
def test_mttd_against_its_target_and_the_floor(mttd: Mttd, expected: str) -> None:
    out = shown(snapshot(mttd=mttd))
    assert expected in out
    assert ("MTTD slow" in out) is (mttd.slow is not None)


def test_the_users_history_as_sparklines_with_the_last_window() -> None:
    ok, bad = UsersPoint(40, 0.0, 120.0, True), UsersPoint(40, 0.5, 3000.0, False)
    empty = UsersPoint(0, 0.0, 0.0, None)
    snap = snapshot(users=(empty, *[ok] * 4, *[bad] * 5), users_now=bad)
    out = shown(snap)
    assert "users (SLO window 2 s, a point a second): 40 requests, SLOs broken" in out
    assert "errors ▁▁▁▁█████ 50.0% (SLO 5%)" in out  # no request in the first second
    assert "p95 ▁▁▁▁█████ 3000 ms (SLO 1 s)" in out
    recovered = shown(snapshot(users=(bad, ok), users_now=ok))
    assert "0.0% (SLO 5%)" in recovered and "SLOs met" in recovered


def test_sparkline_scales_to_its_top_and_marks_what_breaks_the_limit() -> None:
    line = sparkline([0.0, 0.05, 0.1, None, 0.2], top=0.2, limit=0.05)
    assert line.plain == "▁▃▅ █"
    assert [str(s.style) for s in line.spans] == ["green", "green", "red", "red"]


def test_no_samples_yet_says_so() -> None:
    assert "no load samples yet" in shown(snapshot())
    empty = shown(snapshot(users_now=UsersPoint(0, 0.0, 0.0, None)))
    assert "no request completed in the last window" in empty


def test_alerts_pending_firing_and_paged() -> None:
    snap = snapshot(
        alerts=(
            AlertLine("HighErrorRate", "firing", "paged at 8.3 s; resolved at 80.1 s", True),
            AlertLine("HighLatency", "pending", ""),
            AlertLine("ServiceDown", "", "paged at 9.0 s"),
        )
    )
    out = shown(snap)
    assert (
        "alerts HighErrorRate (expected) Prometheus: firing pager: paged at 8.3 s; resolved "
        "at 80.1 s\n"
    ) in out
    assert " HighLatency Prometheus: pending pager: no page \n" in out
    assert " ServiceDown Prometheus: inactive pager: paged at 9.0 s \n" in out


def test_the_runbook_step_in_progress_and_the_last_one_run() -> None:
    running = RunbookProgress(
        "rollback-deployment", 2, 5, True, "Monitor the rollback", "Roll back", True, 4.2
    )
    out = shown(snapshot(runbook=running))
    assert (
        "runbook rollback-deployment step 3/5 running: Monitor the rollback; "
        "last: Roll back ok in 4.2 s"
    ) in out
    failed = RunbookProgress("add-index", 1, None, False, None, "Create the index", False, 0.3)
    assert "runbook add-index 1/? steps run; last: Create the index FAILED in 0.3 s" in shown(
        snapshot(runbook=failed)
    )
    assert "runbook" not in shown(snapshot())


def test_the_hold_progress_bar() -> None:
    out = shown(snapshot(hold=HoldProgress("holding", 12.0, 20.0, 600.0)))
    line = next(x for x in out.splitlines() if x.startswith("hold"))
    assert line.endswith("12.0 / 20.0 s (60%, 600 s production) holding")
    assert line.split()[1] == "━" * 14  # 60 % of 24 columns filled (no colour: no rest)
    done = shown(snapshot(hold=HoldProgress("held", 20.0, 20.0, 600.0)))
    assert "20.0 / 20.0 s (100%, 600 s production) held" in done
    waiting = shown(
        snapshot(hold=HoldProgress("waiting", 0.0, 20.0, 600.0, "the fault is still in effect"))
    )
    assert "0.0 / 20.0 s (0%, 600 s production) waiting: the fault is still in effect" in waiting


def test_a_whole_drill_fits_an_80_by_24_terminal() -> None:
    from chaosdrill.drill.timing import PHASES

    snap = snapshot(
        phase="respond: rollback-deployment",
        phases=tuple(PhaseLine(label, "06:55:02", 9.9, 999.0, "scaled") for _, label in PHASES),
        mttd=Mttd("HighErrorRate", True, 8.3, 229.3, 300.0, 95.0, "HighErrorRate"),
        users=(UsersPoint(40, 0.0, 120.0, True),) * 30,
        users_now=UsersPoint(40, 0.0, 120.0, True),
        alerts=(
            AlertLine("HighErrorRate", "firing", "paged at 8.3 s", True),
            AlertLine("HighLatency", "pending", ""),
        ),
        runbook=RunbookProgress("rollback-deployment", 2, 5, True, "Monitor the rollback"),
        hold=HoldProgress("holding", 12.0, 20.0, 600.0),
    )
    lines = shown(snap, width=80).splitlines()
    assert len(lines) <= 24, "\n".join(lines)
    assert lines[-1].startswith("hold ")


def test_failures_and_failed_lookups_are_shown() -> None:
    snap = snapshot(
        failures=("a", "runbook failed", "HighErrorRate did not page"),
        notes=("Prometheus: connection refused",),
    )
    out = shown(snap)
    assert "runbook failed\nHighErrorRate did not page" in out and "\na\n" not in out
    assert "Prometheus: connection refused" in out


def test_the_view_before_a_drill_and_when_a_snapshot_cannot_be_drawn() -> None:
    view = LiveView()
    assert re.search(r"setting the drill up \.\.\. \d+ s", shown(view))
    view.snapshot = snapshot(phases=(None,))  # type: ignore[arg-type]  # not a PhaseLine
    assert "live view: 'NoneType' object has no attribute" in shown(view)


# -- collecting from a drill ---------------------------------------------------------------

T0 = 1000.0  # the fake clock's seconds (monotonic)
INJECT, APPLIED = 1010.0, 1010.2
BAD_FROM, BAD_TO = 1011, 1020  # whole seconds in which every request fails


def write_samples(
    path: Path, until: int, bad: tuple[int, int] = (BAD_FROM, BAD_TO), start: int = int(T0)
) -> None:
    """Append the load's sample lines of seconds [start, until): 20 requests a second.

    A request completes every 50 ms (25 ms into the second first) in 50 ms, or fails in
    20 ms in the seconds of ``bad``.
    """
    lines = []
    for s in range(start, until):
        failing = bad[0] <= s < bad[1]
        ms = [20.0 if failing else 50.0] * 20
        lines.append(
            {
                "second": s,
                "wall": s + 1.7e9,
                "flow": "enroll",
                "failures": 20 if failing else 0,
                "ms": ms,
                "t": [25 + 50 * i for i in range(20)],
                "f": list(range(20)) if failing else [],
            }
        )
    with path.open("a") as fh:
        fh.write("".join(json.dumps(x) + "\n" for x in lines))


class FakeEnv:
    """The few reads the collector makes, counted; ``fail`` names the ones that raise."""

    name = "fake"
    backend = "fake"

    def __init__(self) -> None:
        self.pages_list: list[Page] = []
        self.calls: dict[str, int] = {"pages": 0, "monitoring": 0}
        self.fail: set[str] = set()

    def endpoints(self) -> Endpoints:
        return Endpoints("http://s", "http://prom", "http://am", "http://p", "http://lb")

    def monitoring(self) -> MonitoringSettings:
        self.calls["monitoring"] += 1
        return MonitoringSettings(0.5, 0.5, 1.0, 30.0)

    def pages(self, alertname: str | None = None, since_monotonic: float | None = None) -> Any:
        self.calls["pages"] += 1
        if "pages" in self.fail:
            raise OperationError("pager store: database is locked")
        return [p for p in self.pages_list if p.received_monotonic >= (since_monotonic or 0)]


def page(at: float, status: str = "firing") -> Page:
    return Page(1, 1, "", at, "pager", "HighErrorRate", status, None, None, None, {}, {})


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def alerts(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Prometheus' alerts as the collector reads them: ``result`` (or ``error``), calls counted."""
    state: dict[str, Any] = {"calls": 0, "result": [], "error": None}

    def firing(endpoints: Endpoints) -> list[FiringAlert]:
        state["calls"] += 1
        if state["error"] is not None:
            raise state["error"]
        return list(state["result"])

    monkeypatch.setattr("chaosdrill.probes.alerts.firing_alerts", firing)
    return state


@pytest.fixture
def drill(tmp_path: Path) -> tuple[DrillContext, FakeEnv, Clock]:
    """bad-release at time scale 30 (SLO window 2 s, hold 20 s), the fault at 1010."""
    spec = load_spec(
        EXPERIMENTS_DIR / "bad-release.json", SpecOverrides(time_scale=30, hold_production_s=600)
    )
    env = FakeEnv()
    ctx = DrillContext(spec, env, False, FaultLedger(tmp_path / "ledger.jsonl"))  # type: ignore[arg-type]
    ctx.sli = SliTail(tmp_path)
    ctx.phase = "detect"
    ctx.timeline.mark("t_inject", t=INJECT)
    ctx.timeline.mark("fault_applied", t=APPLIED)
    return ctx, env, Clock(1017.0)


def test_the_timeline_forms_with_the_first_impact_mttd_and_floor_without_marking_it(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, env, clock = drill
    write_samples(tmp_path / "sli-1.jsonl", until=1016)
    collector = Collector(ctx, clock=clock)
    clock.t = 1015.0
    waiting = collector.collect()
    assert [p.label for p in waiting.phases] == ["fault applied", "first impact on users"]
    impact = waiting.phases[1]
    assert impact.drill_s == pytest.approx(1.005)  # sent 20 ms before 1011.025
    assert waiting.mttd is not None and not waiting.mttd.paged
    assert waiting.mttd.drill_s == pytest.approx(5.0)
    assert waiting.mttd.production_s > 100  # the pipeline's time, scaled
    assert waiting.mttd.floor_s is not None and waiting.mttd.floor_rule == "HighErrorRate"

    for name, t in (("t_alert_pending", 1014.0), ("t_alert_firing", 1015.5), ("t_page", 1016.0)):
        ctx.timeline.mark(name, t=t)
    env.pages_list = [page(1016.0)]
    alerts["result"] = [FiringAlert("HighErrorRate", "firing", "", {})]
    before = [e.name for e in ctx.timeline.events]
    clock.t = 1017.6
    paged = collector.collect()
    assert [p.label for p in paged.phases] == [
        "fault applied",
        "first impact on users",
        "alert pending",
        "alert firing",
        "page received (MTTD)",
    ]
    mttd = paged.mttd
    assert mttd is not None and mttd.paged and mttd.drill_s == pytest.approx(6.0)
    assert mttd.target_s == 300.0 and mttd.floor_s is not None
    assert mttd.production_s == paged.phases[-1].production_s > mttd.drill_s
    assert paged.alerts == (AlertLine("HighErrorRate", "firing", "paged at 6.0 s", True),)
    assert [e.name for e in ctx.timeline.events] == before  # the view only reads
    assert ctx.timeline.first("t_first_impact") is None
    out = shown(paged)
    assert "first impact on users" in out and "within the 300 s target" in out


def test_before_the_fault_is_applied_the_time_so_far_is_a_programs(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, _, clock = drill
    ctx.timeline = type(ctx.timeline)()  # the fault injected, its injection not returned yet
    ctx.timeline.mark("t_inject", t=INJECT)
    clock.t = 1011.6
    mttd = Collector(ctx, clock=clock).collect().mttd
    assert mttd is not None and mttd.production_s == mttd.drill_s == pytest.approx(1.6)


def test_a_detection_that_gave_up_stops_counting(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, _, clock = drill
    write_samples(tmp_path / "sli-1.jsonl", until=1016)
    ctx.timeline.mark("detection_failed", t=1013.0, alert="HighErrorRate")
    clock.t = 1025.0
    mttd = Collector(ctx, clock=clock).collect().mttd
    assert mttd is not None and mttd.gave_up and not mttd.paged
    assert mttd.drill_s == pytest.approx(3.0)


def test_the_users_history_one_point_a_second(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, _, clock = drill
    write_samples(tmp_path / "sli-1.jsonl", until=1040, bad=(1011, 1020))
    clock.t = 1040.0
    snap = Collector(ctx, clock=clock).collect()
    assert len(snap.users) == live.HISTORY_POINTS
    # the points are the windows (s - 2, s] ending at 1009 ... 1038
    meets = [p.meets for p in snap.users]
    assert meets == [True] * 3 + [False] * 10 + [True] * 17
    assert snap.users[5].error_share == 1.0 and snap.users[5].requests == 40
    assert snap.users_now is not None and snap.users_now.meets is True


def test_lookups_at_most_once_a_second_and_failures_as_short_text(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, env, clock = drill
    write_samples(tmp_path / "sli-1.jsonl", until=1016)
    alerts["error"] = OperationError("Prometheus alerts API: connection refused")
    env.fail.add("pages")
    collector = Collector(ctx, clock=clock)
    assert env.calls["monitoring"] == 1
    for t in (1017.0, 1017.3, 1017.9):
        clock.t = t
        snap = collector.collect()
    assert alerts["calls"] == 1 and env.calls["pages"] == 1
    assert snap.notes == (
        "Prometheus alerts API: connection refused",
        "pager store: database is locked",  # names its source: not said twice
    )
    assert snap.alerts == (AlertLine("HighErrorRate", "?", "", True),)  # not known
    clock.t = 1018.0
    collector.collect()
    assert alerts["calls"] == 2 and env.calls["pages"] == 2
    assert env.calls["monitoring"] == 1  # read once, on the drill's thread
    out = shown(snap)
    assert "Prometheus alerts API: connection refused" in out
    assert "HighErrorRate (expected) Prometheus: ? pager: no page" in out


def test_a_failing_part_does_not_stop_the_others(
    tmp_path: Path,
    drill: tuple[DrillContext, FakeEnv, Clock],
    alerts: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, _, clock = drill
    write_samples(tmp_path / "sli-1.jsonl", until=1016)
    collector = Collector(ctx, clock=clock)

    def broken(*args: Any, **kw: Any) -> Any:
        raise ValueError("no timing today")

    monkeypatch.setattr(live, "compute_timing", broken)
    snap = collector.collect()
    assert snap.notes == ("timing: no timing today",) and snap.phases == ()
    assert snap.users_now is not None and snap.hold is not None


def test_the_runbook_step_from_the_phase_and_the_steps_on_the_timeline(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, _, clock = drill
    collector = Collector(ctx, clock=clock)
    assert collector.collect().runbook is None
    ctx.phase = "respond: rollback-deployment"
    ctx.timeline.mark("t_response_start", t=1016.5, runbook="rollback-deployment")
    ctx.timeline.mark(
        "runbook_step",
        t=1016.8,
        runbook="rollback-deployment",
        step="Check rollout history",
        ok=True,
        duration_s=0.3,
        started=1016.5,
    )
    r = collector.collect().runbook
    assert r == RunbookProgress(
        "rollback-deployment",
        1,
        5,
        True,
        "Roll back to the previous version",
        "Check rollout history",
        True,
        0.3,
    )
    ctx.phase = "recover"
    done = collector.collect().runbook
    assert done is not None and not done.running and done.done == 1 and done.current is None


def test_the_hold_from_mitigated_starting_over_when_a_window_breaks(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, _, clock = drill
    samples = tmp_path / "sli-1.jsonl"
    write_samples(samples, until=1029)
    collector = Collector(ctx, clock=clock)
    clock.t = 1019.0
    hold = collector.collect().hold
    assert hold is not None and hold.state == "waiting"
    assert hold.note == "starts once the response has begun, the fault is gone, the SLOs met"
    ctx.timeline.mark("t_response_start", t=1016.5)
    assert collector.collect().hold.note == "the fault is still in effect"  # type: ignore[union-attr]
    ctx.timeline.mark("t_fault_cleared", t=1019.5)
    ctx.timeline.mark("t_mitigated", t=1022.0)
    clock.t = 1030.0  # windows judged up to 1028.5
    hold = collector.collect().hold
    assert hold == HoldProgress("holding", pytest.approx(6.5), 20.0, 600.0)  # type: ignore[arg-type]

    write_samples(samples, until=1040, bad=(1029, 1030), start=1029)  # it fails again
    clock.t = 1031.0  # the window (1027.5, 1029.5]: half of its requests failed
    assert collector.collect().hold.state == "broken"  # type: ignore[union-attr]
    clock.t = 1034.0  # the window (1030.5, 1032.5] meets them again: the hold starts over
    hold = collector.collect().hold
    assert hold is not None and hold.state == "holding" and hold.elapsed_s == 0.0
    clock.t = 1036.0
    assert collector.collect().hold.elapsed_s == pytest.approx(2.0)  # type: ignore[union-attr]
    ctx.timeline.mark("t_recovered", t=1031.5)
    assert collector.collect().hold == HoldProgress("held", 20.0, 20.0, 600.0)


def test_the_views_reader_forgets_only_what_it_no_longer_needs(tmp_path: Path) -> None:
    write_samples(tmp_path / "sli-1.jsonl", until=1040)
    tail = live._Tail(tmp_path)
    tail.poll()
    before = tail.sli(1020.0, 1039.0)
    tail.trim(1020.0)
    assert tail.sli(1020.0, 1039.0) == before
    assert tail.requests(0.0, 1020.0) == [] and min(tail.seconds) == 1020


def test_the_view_collects_and_redraws_once_a_second_on_its_own_thread(
    tmp_path: Path, drill: tuple[DrillContext, FakeEnv, Clock], alerts: dict[str, Any]
) -> None:
    ctx, _, _ = drill
    write_samples(tmp_path / "sli-1.jsonl", until=1016)
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system=None)
    view = LiveView(period_s=0.05)
    with view.shown(console):
        thread = view._thread
        assert thread is not None and thread is not threading.current_thread()
        time.sleep(0.2)
        assert view.snapshot is None  # nothing to collect before the drill is set up
        view.attach(ctx)
        for _ in range(100):
            if view.snapshot is not None:
                break
            time.sleep(0.02)
        time.sleep(0.1)
    assert view.snapshot is not None and view.snapshot.phase == "detect"
    assert not thread.is_alive()
    drawn = out.getvalue()
    assert "setting the drill up ..." in drawn and "bad-release (high-error-rate)" in drawn
