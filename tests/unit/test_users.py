"""The users' view to the millisecond: SLO windows ending at any instant, first impact,
recovery, and how a recovery is told (held, before the response, restored)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaosdrill.drill import phases
from chaosdrill.drill.users import first_impact, first_meeting, last_breach, meets
from chaosdrill.load.sli import SliRecorder, SliTail, WindowSli
from chaosdrill.timeline import Timeline


def _write(run: Path, requests: list[tuple[float, float, bool]]) -> SliTail:
    """Sample lines as the load writes them: (completion time, ms, failed)."""
    by_second: dict[int, list[tuple[float, float, bool]]] = {}
    for r in requests:
        by_second.setdefault(int(r[0]), []).append(r)
    with open(run / "sli-1.jsonl", "a") as fh:
        for second, rs in sorted(by_second.items()):
            line = {
                "second": second,
                "wall": float(second),
                "flow": "browse",
                "failures": sum(1 for r in rs if r[2]),
                "ms": [r[1] for r in rs],
                "t": [round((r[0] - second) * 1000) for r in rs],
                "f": [i for i, r in enumerate(rs) if r[2]],
            }
            fh.write(json.dumps(line) + "\n")
    tail = SliTail(run)
    tail.poll()
    return tail


def _steady(start: float, end: float, *, every: float = 0.05, **bad: Any) -> list[Any]:
    """A request completing every ``every`` s; in [bad_from, bad_to) failing (or slow)."""
    out = []
    t = start
    while t < end:
        inside = bad.get("bad_from", 1e9) <= t < bad.get("bad_to", -1)
        slow = inside and bad.get("slow", False)
        out.append((round(t, 3), 1500.0 if slow else 20.0, inside and not slow))
        t += every
    return out


def test_meets_is_the_nearest_rank_p95_and_the_error_share() -> None:
    assert meets(WindowSli(0, 0, 0, 0.0)) is None
    assert meets(WindowSli(100, 5, 0, 10.0)) is True
    assert meets(WindowSli(100, 6, 0, 10.0)) is False
    assert meets(WindowSli(100, 0, 5, 10.0)) is True  # p95 is the 95th value: still fast
    assert meets(WindowSli(100, 0, 6, 10.0)) is False


def test_windows_end_anywhere_not_on_whole_seconds(tmp_path: Path) -> None:
    tail = _write(tmp_path, _steady(10.0, 20.0, bad_from=14.3, bad_to=30))
    w = tail.sli(13.25, 14.25)
    assert w.requests == 20 and w.failures == 0
    w = tail.sli(13.3, 14.3)  # (start, end]: the request completed at 14.3 is in
    assert w.requests == 20 and w.failures == 1
    w = tail.sli(13.8, 14.8)
    assert w.requests == 20 and w.failures == 11


def test_first_impact_is_the_first_bad_request_sent_before_the_breach(tmp_path: Path) -> None:
    tail = _write(tmp_path, _steady(10.0, 20.0, bad_from=14.3, bad_to=30, slow=True))
    impact = first_impact(tail, 14.0, 19.0, 1.0)
    assert impact is not None
    # the first slow request completed at 14.3 after 1.5 s: it was sent at 12.8, before
    # the fault, so the impact starts at the fault
    assert impact.first == pytest.approx(14.0)
    assert impact.seen == pytest.approx(14.3, abs=1e-3)
    assert 14.3 < impact.breach < 14.4  # the window broke once 6 % of it was slow
    # of the requests sent from 14.0: the 5 fast ones that completed by 14.25, then slow
    # ones (sent from 14.0, completing from 15.5)
    assert impact.slow_share == pytest.approx(71 / 76)
    assert first_impact(tail, 10.0, 14.2, 1.0) is None  # nothing yet: the SLOs held


def test_recovery_is_the_end_of_the_first_window_that_meets_again(tmp_path: Path) -> None:
    tail = _write(tmp_path, _steady(10.0, 25.0, bad_from=12.0, bad_to=15.0))
    # 40 requests in a 2 s window: it breaks while it holds 3 or more failures, that is
    # until its start passes the third-last failure (14.85)
    broke = last_breach(tail, 12.0, 24.0, 2.0)
    assert broke is not None and 16.8 < broke < 16.85
    back = first_meeting(tail, 15.0, 24.0, 2.0)
    assert back is not None and 16.85 <= back < 16.9


def test_old_sample_lines_count_at_the_middle_of_their_second(tmp_path: Path) -> None:
    (tmp_path / "sli-1.jsonl").write_text(
        json.dumps({"second": 7, "wall": 1.0, "flow": "x", "failures": 1, "ms": [10.0, 20.0]})
        + "\n"
    )
    tail = SliTail(tmp_path)
    tail.poll()
    assert [(r.end, r.failed) for r in tail.requests(0, 100)] == [(7.5, True), (7.5, False)]


def test_the_recorder_writes_each_request_s_completion_and_failure(tmp_path: Path) -> None:
    rec = SliRecorder(tmp_path / "sli-9.jsonl")
    rec.record("browse", 12.0, False)
    rec.record("browse", 30.0, True)
    rec.close()
    [line] = [json.loads(x) for x in (tmp_path / "sli-9.jsonl").read_text().splitlines()]
    assert len(line["t"]) == 2 and all(0 <= t <= 999 for t in line["t"])
    assert line["f"] == [1] and line["ms"] == [12.0, 30.0]


def _ctx(tail: SliTail, marks: dict[str, float]) -> Any:
    timeline = Timeline()
    for name, t in marks.items():
        timeline.mark(name, t=t)
    return SimpleNamespace(sli=tail, spec=SimpleNamespace(slo_window_s=1.0), timeline=timeline)


def test_users_whose_slos_held_through_the_fault(tmp_path: Path) -> None:
    tail = _write(tmp_path, _steady(10.0, 30.0))
    ctx = _ctx(tail, {"t_inject": 12.0, "t_response_start": 15.0})
    assert phases._users_view(ctx, 12.0, 20.0) == ("held", None)


def test_users_recovered_before_the_response_began(tmp_path: Path) -> None:
    tail = _write(tmp_path, _steady(10.0, 30.0, bad_from=12.0, bad_to=14.0))
    ctx = _ctx(tail, {"t_inject": 12.0, "t_response_start": 18.0})
    kind, back = phases._users_view(ctx, 12.0, 20.0)
    assert kind == "before_response"
    assert back is not None and 14.0 < back < 18.0


def test_users_restored_after_the_response(tmp_path: Path) -> None:
    tail = _write(tmp_path, _steady(10.0, 30.0, bad_from=12.0, bad_to=16.0))
    ctx = _ctx(tail, {"t_inject": 12.0, "t_response_start": 15.0})
    kind, back = phases._users_view(ctx, 12.0, 20.0)
    assert kind == "restored"
    assert back is not None and back > 16.0
