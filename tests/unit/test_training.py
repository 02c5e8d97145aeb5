"""On-call training: a session's event log, its sealed cause and the debrief's score."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.training import (
    TEMPLATE_FIELDS,
    ActionRule,
    SealedCause,
    SessionLog,
    TrainingScoring,
    debrief,
    leaks,
)

CAUSE = SealedCause(
    "bad-release",
    "bad-release",
    "High error rate: a bad release",
    "high-error-rate",
    {"failure_rate": 0.6},
)
HELPS = (ActionRule("rollback"),)
HARMS = (ActionRule("promote_replica"), ActionRule("sql", r"pg_terminate_backend"))
FIELDS = {f: f"the {f}" for f in TEMPLATE_FIELDS}


def _session(log: SessionLog, *, resolved: bool = True, harmful: bool = True) -> None:
    """A whole session: K = 1, times in seconds from 1000."""
    at = 1000.0
    log.record("started", at=at - 30)
    log.record("injected", at=at)
    log.record("paged", at=at + 60, alert="HighErrorRate")
    log.record("note", "margaret", at=at + 65, text="paged: HighErrorRate")
    log.record("ack", "ada", at=at + 90, alert="HighErrorRate")
    log.record("note", "margaret", at=at + 92, text="ada acknowledged")
    for role, name in [
        ("incident_commander", "ada"),
        ("technical_lead", "grace"),
        ("communications_lead", "linus"),
        ("scribe", "margaret"),
    ]:
        log.record("role", "ada", at=at + 95, role=role, name=name)
    log.record("severity", "ada", at=at + 100, level="P2")
    log.record("update", "linus", at=at + 120, status="investigating", fields=FIELDS)
    log.record("diagnose", "grace", at=at + 300, cause="primary-crash")
    log.record("hint", "grace", at=at + 400, level=1)
    log.record("diagnose", "grace", at=at + 500, cause="bad-release")
    if harmful:
        log.record("op", "grace", at=at + 550, op="promote_replica", args="")
    log.record("op", "grace", at=at + 600, op="rollback", args="")
    log.record("note", "margaret", at=at + 605, text="grace rolled back")
    log.record("update", "linus", at=at + 700, status="mitigating", fields=FIELDS)
    log.record("mitigated", at=at + 660)
    if resolved:
        log.record("recovered", at=at + 800)
        log.record("update", "linus", at=at + 820, status="resolved", fields=FIELDS)
        log.record("resolve", "ada", at=at + 830)
        log.record("note", "margaret", at=at + 835, text="resolved")
    log.record("ended", at=at + 900)


def test_a_whole_session_is_timed_and_scored_from_its_log(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    _session(log)
    d = debrief(log.events(), CAUSE, time_scale=1, severity_measured="P2", helps=HELPS, harms=HARMS)
    times = {p.name: p.drill_s for p in d.phases}
    assert times == {
        "mttd": 60.0,
        "mtta": 30.0,
        "diagnosis": 500.0,  # the right diagnosis, not the first one
        "time_to_mitigate": 660.0,
        "mttr": 800.0,
    }
    assert all(p.within_target for p in d.phases if p.target_s is not None)
    assert d.diagnoses == ((300.0, "primary-crash", False), (500.0, "bad-release", True))
    assert d.severity_declared == d.severity_measured == "P2" and d.severity_points == 10
    assert d.comms["initial_s"] == 60.0 and d.comms["longest_silence_s"] == 580.0
    assert d.comms["resolution_sent"] and d.comms_points == 15
    assert d.roles_points == 10 and d.roles["scribe"] == "margaret"
    assert all(c["score"] == 1 for c in d.role_checks.values())
    assert [(a.op, a.effect) for a in d.actions] == [
        ("promote_replica", "harmed"),
        ("rollback", "helped"),
    ]
    assert d.actions_points == -10  # a harmful action: no points for the fix, and 10 off
    assert d.hints == ((400.0, 1, 5.0),) and d.hint_cost == 5
    # 15 response + 20 diagnosis + 25 recovery + 10 severity + 15 comms + 10 roles - 10 - 5
    assert d.points == 80 and d.grade == "B"


def test_the_same_session_without_the_harm_and_at_a_time_scale(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    _session(log, harmful=False)
    d = debrief(
        log.events(), CAUSE, time_scale=10, severity_measured="P1", helps=HELPS, harms=HARMS
    )
    assert d.phase("mtta").production_s == 300.0 and d.phase("mtta").within_target
    # 500 drill s x 10 is over the 900 s target: the points fall linearly to 0 at twice it
    assert d.phase("diagnosis").production_s == 5000.0 and d.phase("diagnosis").points == 0
    assert d.phase("mttr").production_s == 8000.0 and not d.phase("mttr").within_target
    assert d.severity_points == 5  # one level off
    assert not d.comms["cadence_kept"]  # 580 s x 10 of silence
    assert d.actions_points == 5


def test_a_session_that_never_recovered_scores_no_recovery(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    _session(log, resolved=False)
    d = debrief(log.events(), CAUSE, time_scale=1, severity_measured="P2")
    assert d.phase("mttr").drill_s is None and d.phase("mttr").points == 0
    assert not d.comms["resolution_sent"]
    assert "the service did not recover during the session" in d.notes
    # the longest silence runs to the end of the session
    assert d.comms["longest_silence_s"] == 580.0


def test_template_fields_count_towards_the_comms_points(tmp_path: Path) -> None:
    full, bare = SessionLog(tmp_path / "a"), SessionLog(tmp_path / "b")
    _session(full)
    _session(bare)
    bare_events = [
        e
        if e.kind != "update"
        else type(e)(e.seq, e.t, e.kind, e.who, {"status": e.detail["status"]})
        for e in bare.events()
    ]
    a = debrief(full.events(), CAUSE, time_scale=1, severity_measured="P2")
    b = debrief(bare_events, CAUSE, time_scale=1, severity_measured="P2")
    assert a.comms["template_completeness"] == 1 and b.comms["template_completeness"] == 0
    assert b.comms_points == a.comms_points / 2


def test_hints_cost_more_the_more_they_give_away(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    log.record("injected", at=0)
    for level in (1, 2, 3, 3):
        log.record("hint", "ada", at=level, level=level)
    d = debrief(log.events(), CAUSE, time_scale=1, severity_measured=None)
    assert [c for _, _, c in d.hints] == [5, 10, 15, 15] and d.hint_cost == 45
    cheap = debrief(
        log.events(),
        CAUSE,
        time_scale=1,
        severity_measured=None,
        scoring=TrainingScoring(hint_costs=(1.0,)),
    )
    assert cheap.hint_cost == 4


def test_the_cause_is_sealed_in_a_private_file_and_in_no_event(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    log.seal(CAUSE)
    _session(log)
    assert stat.S_IMODE(os.stat(log.sealed_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log.directory).st_mode) == 0o700
    assert log.unseal() == CAUSE
    with pytest.raises(InvalidInputError, match="already has its cause"):
        log.seal(CAUSE)
    lines = [line for line in log.events_file.read_text().splitlines() if '"diagnose"' not in line]
    assert not leaks("\n".join(lines), CAUSE)  # only the trainee's own diagnosis names it
    assert leaks("Title: HIGH ERROR RATE: A BAD RELEASE", CAUSE) == [
        "High error rate: a bad release"
    ]


def test_unknown_events_and_reserved_fields_are_refused(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    with pytest.raises(InvalidInputError, match="unknown event 'paniced'"):
        log.record("paniced")
    with pytest.raises(InvalidInputError, match="reserved event fields: seq"):
        log.record("note", seq=3)
    assert not log.events_file.exists()


def _append(directory: str, n: int) -> None:
    log = SessionLog(Path(directory))
    for i in range(n):
        log.record("note", f"p{os.getpid()}", text=f"note {i}")


def test_terminals_writing_at_once_keep_one_order(tmp_path: Path) -> None:
    directory = tmp_path / "training"
    procs = [
        multiprocessing.get_context("spawn").Process(target=_append, args=(str(directory), 25))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    events = SessionLog(directory).events()
    assert len(events) == 100
    assert [e.seq for e in events] == list(range(100))
    assert len({e.who for e in events}) == 4


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    log.record("injected", at=1.0)
    with open(log.events_file, "a") as out:
        out.write(json.dumps({"seq": 1, "t": 2.0, "kind": "note"})[:-5])
    assert [e.kind for e in log.events()] == ["injected"]
    with pytest.raises(ValueError, match="no injection"):
        debrief([], CAUSE, time_scale=1, severity_measured=None)


def test_every_fault_declares_what_resolves_it_and_what_harms() -> None:
    from chaosdrill.faults import REGISTRY

    assert set(REGISTRY) >= {"bad-release", "primary-crash", "missing-index", "connection-limit"}
    for kind, cls in REGISTRY.items():
        assert cls.resolved_by, kind
        assert not set(cls.resolved_by) & set(cls.harms), kind
    crash, release = REGISTRY["primary-crash"], REGISTRY["bad-release"]
    # a failover is the fix for a crashed primary, and harm during a bad release
    assert any(r.applies("promote_replica", "") for r in crash.resolved_by)
    assert any(r.applies("promote_replica", "") for r in release.harms)
    index = REGISTRY["missing-index"].resolved_by
    assert any(
        r.applies("sql", "CREATE INDEX CONCURRENTLY x ON enrollments (course_id)") for r in index
    )
    assert not any(r.applies("sql", "select 1") for r in index)
    flag = REGISTRY["leaky-feature"].resolved_by
    assert any(r.applies("set_flag", "recommendations_cache false") for r in flag)
    assert not any(r.applies("set_flag", "recommendations_cache true") for r in flag)


def test_each_role_is_scored_by_its_checklist(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "training")
    log.record("injected", at=1000)
    log.record("paged", at=1060, alert="HighErrorRate")
    log.record("role", "ada", at=1070, role="incident_commander", name="ada")
    log.record("role", "grace", at=1071, role="technical_lead", name="grace")  # not by the IC
    log.record("role", "ada", at=1072, role="scribe", name="margaret")
    log.record("note", "margaret", at=1500, text="late")  # 440 s after the page: too late
    log.record("op", "grace", at=1400, op="rollback", args="")
    log.record("note", "margaret", at=1410, text="rolled back")  # 350 s after the page
    log.record("ended", at=1600)
    d = debrief(log.events(), CAUSE, time_scale=1, severity_measured="P2", helps=HELPS)
    c = d.role_checks
    # announced: no update went out; tasks assigned: the scribe, by the IC
    assert c["incident_commander"]["checks"] == {"announced": 0.0, "tasks_assigned": 1.0}
    assert c["incident_commander"]["score"] == 0.75
    assert c["technical_lead"]["score"] == 1.0
    assert c["communications_lead"] == {"filled": False, "checks": {"comms_sent": 0.0}, "score": 0}
    # milestones: the page (not noted in time), the rollback (noted): half covered
    assert c["scribe"]["checks"] == {"timeline_coverage": 0.5} and c["scribe"]["score"] == 0.75
    assert d.roles_points == round(10 * (0.75 + 1.0 + 0 + 0.75) / 4, 2)
