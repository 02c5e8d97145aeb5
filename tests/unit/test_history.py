"""The run history (SQLite): recording, reading back, trends, comparisons, the CI baseline.

Reports are built by ``build_report`` from real drill results in tests/data/history/ (written
by ``chaosdrill run`` at time scale 30). Where a trend needs more runs, the variants are
derived from a real result with only its MTTD/MTTR (drill seconds and the matching
production-equivalent) or its journal status changed; everything else is as measured.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import sqlite3
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError, RuntimeFailure
from chaosdrill.report import Report, ReportSettings, build_report
from chaosdrill.report import history as history_module
from chaosdrill.report.history import SCHEMA_VERSION, Delta, History

DATA = Path(__file__).resolve().parents[1] / "data" / "history"
#: a real drill result written since times were split (method split-v1)
SPLIT = Path(__file__).resolve().parents[1] / "data" / "results" / "bad-release-split.json"


@cache
def _raw(name: str) -> str:
    return (DATA / f"{name}.json").read_text()


def result(name: str) -> dict[str, Any]:
    """A fresh copy of a real drill result: bad-release-pass, bad-release-not-recovered,
    primary-crash, leaky-feature."""
    return dict(json.loads(_raw(name)))


def variant(
    res: dict[str, Any], *, mttd_s: float | None = None, mttr_s: float | None = None
) -> dict[str, Any]:
    """A real result with its MTTD/MTTR replaced (production seconds), for a trend.

    Choose values that are whole multiples of K/1000 s (K = 30 here): the report derives
    production seconds from the drill seconds stored with 3 decimals.
    """
    out = copy.deepcopy(res)
    k = float(out["time_scale"])
    for key, value in (("mttd_s", mttd_s), ("mttr_s", mttr_s)):
        if value is not None:
            out[key] = round(value / k, 3)
            out["production_equivalent"][key] = value
    return out


def split_result() -> dict[str, Any]:
    """A fresh copy of a real bad-release result timed split-v1 (MTTD 84.952 s)."""
    return dict(json.loads(SPLIT.read_text()))


def report(run_id: str, *results: dict[str, Any], plan: str = "quarterly") -> Report:
    return build_report(
        [(DrillResult.from_json(r), f"/results/{r['cause']}.json") for r in results],
        run_id=run_id,
        settings=ReportSettings(name=plan),
    )


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "reports" / "history.sqlite")


def test_record_and_read_back(history: History, tmp_path: Path) -> None:
    rep = report("run-1", result("bad-release-pass"), result("primary-crash"))
    history.record(rep, tmp_path / "reports" / "run-1")

    (run,) = history.runs()
    assert run.run_id == "run-1"
    assert (run.plan, run.kind, run.generated_at) == ("quarterly", "plan", rep.generated_at)
    assert (run.complete, run.passed) == (True, True)
    assert (run.points, run.grade) == (rep.summary.points, rep.summary.grade)
    assert run.worst_severity == "P1"
    assert run.report_dir == str((tmp_path / "reports" / "run-1").resolve())

    drills = history.drills("run-1")
    assert [d.drill_id for d in drills] == ["bad-release", "primary-crash"]
    crash, d = drills[1], rep.drills[1]
    assert (crash.scenario, crash.cause, crash.alert) == (
        "database-down",
        "primary-crash",
        "DatabaseDown",
    )
    assert crash.mttd_s == d.times.mttd.production_s == 113.55
    assert crash.mttr_s == d.times.mttr.production_s == 213.72
    assert (crash.mttd_drill_s, crash.mttr_drill_s, crash.time_scale) == (3.785, 7.124, 30.0)
    assert (crash.points, crash.grade, crash.passed) == (95.31, "A", True)
    assert (crash.paged, crash.runbook_ok, crash.lost_writes) == (True, True, 0)
    assert (crash.severity, crash.complete, crash.position) == ("P1", True, 1)


def test_a_failed_drill_keeps_its_unknowns(history: History) -> None:
    history.record(report("run-f", result("bad-release-not-recovered")))
    (d,) = history.drills("run-f")
    assert d.mttd_s == 150.42 and d.mttr_s is None and d.mttr_drill_s is None
    assert (d.passed, d.grade, d.paged) == (False, "F", True)
    (run,) = history.runs()
    assert (run.kind, run.passed, run.complete) == ("drill", False, True)


def test_recording_the_same_run_id_replaces_it_in_place(history: History) -> None:
    history.record(report("run-1", result("bad-release-pass"), result("primary-crash")))
    history.record(report("run-2", result("leaky-feature")))
    history.record(report("run-1", result("bad-release-not-recovered")))

    assert [r.run_id for r in history.runs()] == ["run-1", "run-2"]
    assert history.runs()[0].passed is False
    assert [d.drill_id for d in history.drills("run-1")] == ["bad-release"]
    assert history.drills("run-1")[0].mttr_s is None


def test_runs_filters_by_plan_and_keeps_the_latest(history: History) -> None:
    for i in range(4):
        plan = "quarterly" if i % 2 == 0 else "ci"
        history.record(report(f"run-{i}", result("primary-crash"), plan=plan))
    assert [r.run_id for r in history.runs(plan="quarterly")] == ["run-0", "run-2"]
    assert [r.run_id for r in history.runs(limit=3)] == ["run-1", "run-2", "run-3"]
    assert [r.seq for r in history.runs()] == [1, 2, 3, 4]


def test_last_passing_skips_failed_and_incomplete_runs(history: History) -> None:
    assert history.last_passing("quarterly") is None  # no history file yet
    interrupted = result("bad-release-pass")
    interrupted["journal"]["status"] = "interrupted"  # passes on points, but is incomplete
    history.record(report("pass-1", result("bad-release-pass")))
    history.record(report("other-plan", result("bad-release-pass"), plan="nightly"))
    history.record(report("failed", result("bad-release-not-recovered")))
    history.record(report("incomplete", interrupted))
    runs = {r.run_id: r for r in history.runs()}
    assert runs["failed"].passed is False
    assert (runs["incomplete"].passed, runs["incomplete"].complete) == (True, False)

    baseline = history.last_passing("quarterly")
    assert baseline is not None and baseline.run_id == "pass-1"

    history.record(report("pass-2", result("primary-crash")))
    assert getattr(history.last_passing("quarterly"), "run_id", None) == "pass-2"
    assert getattr(history.last_passing("quarterly", before="pass-2"), "run_id", None) == "pass-1"
    assert getattr(history.last_passing("quarterly", before="failed"), "run_id", None) == "pass-1"
    assert history.last_passing("quarterly", before="pass-1") is None
    assert getattr(history.last_passing("nightly"), "run_id", None) == "other-plan"
    with pytest.raises(InvalidInputError, match="unknown run id 'pass-3'"):
        history.last_passing("quarterly", before="pass-3")


def test_trend_follows_insertion_order_not_the_wall_clock(history: History) -> None:
    base, crash = result("bad-release-pass"), result("primary-crash")
    for i, mttd in enumerate((150.0, 165.0, 180.0, 195.0)):
        rep = report(f"run-{i}", variant(base, mttd_s=mttd), crash)
        label = f"2026-01-{30 - i:02d}T00:00:00+00:00"  # labels run backwards
        history.record(dataclasses.replace(rep, generated_at=label))

    points = history.trend()
    assert [p.scenario for p in points] == ["database-down"] * 4 + ["high-error-rate"] * 4
    errors = [p for p in points if p.scenario == "high-error-rate"]
    assert [p.run_id for p in errors] == ["run-0", "run-1", "run-2", "run-3"]
    assert [p.mttd_s for p in errors] == [150.0, 165.0, 180.0, 195.0]
    assert errors[0].generated_at == "2026-01-30T00:00:00+00:00"
    assert {(p.cause, p.plan, p.drill_id) for p in errors} == {
        ("bad-release", "quarterly", "bad-release")
    }

    only = history.trend(scenario="high-error-rate", limit=2)
    assert [(p.run_id, p.mttd_s) for p in only] == [("run-2", 180.0), ("run-3", 195.0)]
    assert history.trend(scenario="no-such-scenario") == []
    assert history.trend(plan="nightly") == []


def test_trend_limit_counts_runs_per_scenario(history: History) -> None:
    history.record(report("a", result("primary-crash")))
    history.record(report("b", result("leaky-feature")))
    history.record(report("c", result("leaky-feature")))
    points = history.trend(limit=1)
    assert [(p.scenario, p.run_id) for p in points] == [
        ("database-down", "a"),
        ("memory-leak", "c"),
    ]


def test_compare_deltas_and_drills_on_one_side(history: History) -> None:
    history.record(report("run-a", result("bad-release-pass"), result("primary-crash")))
    slower = variant(result("bad-release-not-recovered"), mttd_s=201.0)
    history.record(report("run-b", slower, result("leaky-feature")))

    c = history.compare("run-a", "run-b")
    assert (c.run_a.run_id, c.run_b.run_id) == ("run-a", "run-b")
    (d,) = c.drills
    assert (d.drill_id, d.matched_by, d.scenario) == ("bad-release", "id", "high-error-rate")
    assert (d.mttd_s.before, d.mttd_s.after, d.mttd_s.delta) == (156.6, 201.0, 44.4)
    assert (d.mttr_s.before, d.mttr_s.after, d.mttr_s.delta) == (221.22, None, None)
    assert d.mttr_s.direction(lower_is_better=True) == "worse"
    assert d.points.before == 95.2 and d.points.after is not None and d.points.after < 50
    assert (d.grade_before, d.grade_after, d.passed_before, d.passed_after) == (
        "A",
        "F",
        True,
        False,
    )
    assert not d.severity_changed
    assert [r.drill_id for r in c.only_in_a] == ["primary-crash"]
    assert [r.drill_id for r in c.only_in_b] == ["leaky-feature"]
    assert (c.points.before, c.points.after) == (c.run_a.points, c.run_b.points)
    assert c.points.direction(lower_is_better=False) == "worse"

    as_json = c.to_dict()
    json.dumps(as_json)
    assert as_json["overall"]["passed"] == {"before": True, "after": False}
    assert as_json["drills"][0]["mttd_s"]["delta"] == 44.4


def test_compare_falls_back_to_the_cause_and_sees_severity_change(history: History) -> None:
    history.record(report("run-a", result("bad-release-pass")))
    later = report("run-b", variant(result("bad-release-pass"), mttd_s=120.0)).to_json()
    later["drills"][0]["id"] = "bad-release-canary"  # the drill was renamed in the plan
    later["drills"][0]["severity"]["level"] = "P2"
    later["summary"]["worst_severity"] = "P2"
    history.record(Report.from_json(later))

    c = history.compare("run-a", "run-b")
    (d,) = c.drills
    assert (d.drill_id, d.drill_id_before, d.matched_by) == (
        "bad-release-canary",
        "bad-release",
        "cause",
    )
    assert d.mttd_s.direction(lower_is_better=True) == "better"
    assert (d.severity_before, d.severity_after, d.severity_changed) == ("P1", "P2", True)
    assert c.severity_changed
    assert c.only_in_a == () and c.only_in_b == ()


def test_unknown_run_id_names_the_closest_ones(history: History) -> None:
    with pytest.raises(InvalidInputError, match="history is empty"):
        history.compare("run-1", "run-2")
    for run_id in ("20260101T000000", "20260102T000000", "ci-7"):
        history.record(report(run_id, result("primary-crash")))
    with pytest.raises(InvalidInputError) as info:
        history.compare("20260101T000000", "20260103T000000")
    message = str(info.value)
    assert "unknown run id '20260103T000000'" in message
    assert "closest known: 20260102T000000, 20260101T000000" in message
    with pytest.raises(InvalidInputError, match="unknown run id 'x'; latest known: ci-7"):
        history.drills("x")


def test_a_newer_schema_is_refused(history: History) -> None:
    history.record(report("run-1", result("primary-crash")))
    with sqlite3.connect(history.path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    for call in (
        history.runs,
        lambda: history.trend(),
        lambda: history.record(report("run-2", result("primary-crash"))),
    ):
        with pytest.raises(
            InvalidInputError,
            match=rf"schema version {SCHEMA_VERSION + 1} is newer .*\({SCHEMA_VERSION}\)",
        ):
            call()
    with sqlite3.connect(history.path) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    conn.close()


def test_schema_and_pragmas(history: History) -> None:
    history.record(report("run-1", result("primary-crash")))
    with sqlite3.connect(history.path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert "timing_method" in [r[1] for r in conn.execute("PRAGMA table_info(drills)")]
    conn.close()


#: the tables as chaosdrill wrote them at schema version 1, before drills.timing_method
SCHEMA_V1 = (
    """CREATE TABLE schema_version (version INTEGER NOT NULL)""",
    """CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL,
    kind TEXT NOT NULL,
    generated_at TEXT,
    complete INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    points REAL,
    grade TEXT,
    worst_severity TEXT,
    report_dir TEXT
)""",
    "CREATE INDEX runs_plan ON runs(plan, seq)",
    """CREATE TABLE drills (
    run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    drill_id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    cause TEXT NOT NULL,
    alert TEXT,
    mttd_s REAL,
    mttr_s REAL,
    mttd_drill_s REAL,
    mttr_drill_s REAL,
    time_scale REAL NOT NULL,
    points REAL,
    grade TEXT,
    passed INTEGER NOT NULL,
    paged INTEGER,
    runbook_ok INTEGER,
    lost_writes INTEGER NOT NULL,
    severity TEXT,
    complete INTEGER NOT NULL,
    PRIMARY KEY (run_seq, position)
)""",
    "CREATE INDEX drills_scenario ON drills(scenario, run_seq)",
    "INSERT INTO schema_version (version) VALUES (1)",
    "INSERT INTO runs (run_id, plan, kind, generated_at, complete, passed, points, grade,"
    " worst_severity, report_dir) VALUES ('old-1', 'quarterly', 'plan',"
    " '2026-01-10T10:04:00+00:00', 1, 1, 95.25, 'A', 'P1', NULL)",
    "INSERT INTO drills VALUES (1, 0, 'bad-release', 'high-error-rate', 'bad-release',"
    " 'HighErrorRate', 156.6, 221.22, 5.22, 7.374, 30.0, 95.2, 'A', 1, 1, 1, 0, 'P1', 1)",
    "INSERT INTO drills VALUES (1, 1, 'primary-crash', 'database-down', 'primary-crash',"
    " 'DatabaseDown', 113.55, 213.72, 3.785, 7.124, 30.0, 95.31, 'A', 1, 1, 1, 0, 'P1', 1)",
)


def _columns(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [r[1] for r in conn.execute("PRAGMA table_info(drills)")]


def _versions(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]


@pytest.fixture
def v1_history(tmp_path: Path) -> History:
    """A history written at schema version 1: one run of two drills, timed the old way."""
    path = tmp_path / "history.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for statement in SCHEMA_V1:
            conn.execute(statement)
    return History(path)


def test_a_version_1_history_is_read_as_it_is_with_its_times_the_old_way(
    v1_history: History,
) -> None:
    crash = v1_history.drills("old-1")[1]
    assert (crash.drill_id, crash.mttd_s, crash.mttr_s) == ("primary-crash", 113.55, 213.72)
    assert [(d.timing_method, d.old_timing) for d in v1_history.drills("old-1")] == [
        (None, True),
        (None, True),
    ]
    points = v1_history.trend()
    assert [(p.run_id, p.timing_method, p.old_timing) for p in points] == [
        ("old-1", None, True),
        ("old-1", None, True),
    ]
    assert [r.run_id for r in v1_history.runs()] == ["old-1"]
    assert getattr(v1_history.last_passing("quarterly"), "run_id", None) == "old-1"
    # reading changed nothing: the file is migrated by the next write, not by readers
    assert _versions(v1_history.path) == [1] and "timing_method" not in _columns(v1_history.path)


def test_a_version_1_history_migrates_in_place_on_the_next_write(v1_history: History) -> None:
    v1_history.record(report("new-1", split_result()))

    assert _versions(v1_history.path) == [1, SCHEMA_VERSION]
    assert _columns(v1_history.path)[-1] == "timing_method"
    assert [r.run_id for r in v1_history.runs()] == ["old-1", "new-1"]
    assert [d.timing_method for d in v1_history.drills("old-1")] == [None, None]
    (new,) = v1_history.drills("new-1")
    assert (new.timing_method, new.old_timing, new.mttd_s) == ("split-v1", False, 84.952)
    with closing(sqlite3.connect(v1_history.path)) as conn:
        assert conn.execute(
            "SELECT timing_method FROM drills ORDER BY run_seq, position"
        ).fetchall() == [
            (None,),
            (None,),
            ("split-v1",),
        ]
    # a second write finds it migrated and leaves the version alone
    v1_history.record(report("new-2", result("primary-crash")))
    assert _versions(v1_history.path) == [1, SCHEMA_VERSION]
    assert v1_history.drills("new-2")[0].timing_method == "drill x K"


def test_each_drill_records_how_its_times_were_computed(history: History) -> None:
    rep = report("run-1", split_result(), result("primary-crash"))
    assert [d.timing_method for d in rep.drills] == ["split-v1", "drill x K"]
    history.record(rep)
    split, old = history.drills("run-1")
    assert (split.timing_method, split.old_timing) == ("split-v1", False)
    assert (old.timing_method, old.old_timing) == ("drill x K", True)

    # a report.json written before the field: no timing_method, the old way, stored NULL
    earlier = report("run-0", result("primary-crash")).to_json()
    del earlier["drills"][0]["timing_method"]
    history.record(Report.from_json(earlier))
    (d,) = history.drills("run-0")
    assert (d.timing_method, d.old_timing) == (None, True)
    assert {(p.run_id, p.timing_method) for p in history.trend(scenario="database-down")} == {
        ("run-0", None),
        ("run-1", "drill x K"),
    }
    assert [p.old_timing for p in history.trend(scenario="high-error-rate")] == [False]


def test_compare_does_not_set_old_way_times_against_split_ones(history: History) -> None:
    history.record(report("old", result("bad-release-pass"), result("primary-crash")))
    history.record(report("new", split_result(), result("primary-crash")))

    c = history.compare("old", "new")
    bad, crash = c.drills
    assert (bad.timing_method_before, bad.timing_method_after) == ("drill x K", "split-v1")
    assert not bad.times_comparable and not c.times_comparable
    for delta in (bad.mttd_s, bad.mttr_s):
        assert delta.before is not None and delta.after is not None  # both shown
        assert not delta.comparable and delta.delta is None
        assert delta.direction(lower_is_better=True) == "incomparable"
    assert (bad.mttd_s.before, bad.mttd_s.after) == (156.6, 84.952)
    assert bad.points.comparable and bad.points.delta is not None  # the score is compared
    # both runs timed primary-crash the old way: compared as before
    assert crash.times_comparable and crash.mttd_s.comparable and crash.mttd_s.delta == 0.0

    as_json = c.to_dict()
    json.dumps(as_json)
    d = as_json["drills"][0]
    assert d["mttd_s"] == {"before": 156.6, "after": 84.952, "delta": None, "comparable": False}
    assert d["timing_method"] == {"before": "drill x K", "after": "split-v1", "comparable": False}
    assert as_json["drills"][1]["timing_method"]["comparable"] is True
    assert as_json["overall"]["times_comparable"] is False


def test_a_history_locked_too_long_is_a_runtime_failure(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.record(report("run-1", result("primary-crash")))
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(history.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with pytest.raises(RuntimeFailure, match="locked by another process"):
            history.record(report("run-2", result("primary-crash")))
        assert [r.run_id for r in history.runs()] == ["run-1"]  # readers are not blocked
    finally:
        holder.rollback()
        holder.close()
    history.record(report("run-2", result("primary-crash")))
    assert len(history.runs()) == 2


def test_reading_a_missing_history_creates_nothing(tmp_path: Path) -> None:
    h = History(tmp_path / "nowhere" / "history.sqlite")
    assert h.runs() == [] and h.trend() == [] and h.last_passing("x") is None
    assert not (tmp_path / "nowhere").exists()


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_text("not sqlite at all " * 100)
    with pytest.raises(InvalidInputError, match="not a usable chaosdrill history"):
        History(path).runs()


def test_a_report_without_run_id_or_drills_never_reaches_the_history(history: History) -> None:
    rep = report("run-1", result("primary-crash")).to_json()
    for bad, where in (
        ({**rep, "run_id": ""}, "run_id"),
        ({**rep, "drills": None}, "drills"),
        ({**rep, "drills": [{"scenario": "x"}]}, r"drills\[0\]"),
    ):
        with pytest.raises(InvalidInputError, match=where):
            history.record(Report.from_json(bad))
    assert history.runs() == []


def test_default_path_is_under_the_reports_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSDRILL_REPORTS", str(tmp_path / "r"))
    assert History.default().path == tmp_path / "r" / "history.sqlite"


def test_delta_direction() -> None:
    assert Delta(100.0, 120.0).direction(lower_is_better=True) == "worse"
    assert Delta(100.0, 120.0).direction(lower_is_better=False) == "better"
    assert Delta(None, 120.0).direction(lower_is_better=True) == "better"
    assert Delta(100.0, None).direction(lower_is_better=False) == "worse"
    assert Delta(None, None).direction(lower_is_better=True) == "same"
    assert Delta(1.0, 1.0).delta == 0.0 and Delta(None, 1.0).delta is None


_RUNS_PER_PROCESS = 15


def _record_many(path: str, prefix: str, reports: list[Report], go: Any) -> None:
    go.wait(10)
    h = History(Path(path))
    for i in range(_RUNS_PER_PROCESS):
        rep = reports[i % len(reports)]
        h.record(dataclasses.replace(rep, run_id=f"{prefix}-{i}"))


def test_two_processes_recording_at_once_both_land(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"  # neither finds a schema: both race to create it too
    reps = [
        report("x", result("bad-release-pass"), result("primary-crash")),
        report("y", result("leaky-feature")),
    ]
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [
        ctx.Process(target=_record_many, args=(str(path), name, reps, go)) for name in ("a", "b")
    ]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]

    h = History(path)
    runs = h.runs()
    assert len(runs) == 2 * _RUNS_PER_PROCESS
    assert sorted(r.seq for r in runs) == list(range(1, 2 * _RUNS_PER_PROCESS + 1))
    for prefix in ("a", "b"):
        mine = [r.run_id for r in runs if r.run_id.startswith(prefix + "-")]
        assert mine == [f"{prefix}-{i}" for i in range(_RUNS_PER_PROCESS)]  # each in order
    assert len(h.drills("a-0")) == 2 and len(h.drills("b-1")) == 1
