"""Training sessions without an environment: the sealed ledger entry, the plan's settings,
operation recording, the trainee views' masking and the incident commands' checks."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import SEALED_LABEL, FaultLedger
from chaosdrill.training.log import SealedCause
from chaosdrill.training.recording import recording
from chaosdrill.training.session import Session, SessionInfo
from chaosdrill.training.views import mask, status_text

CAUSE = SealedCause(
    "missing-index",
    "missing-index",
    "High latency: a missing index under a traffic peak",
    "high-latency",
    {"index": "enrollments_course_id_idx"},
    path="experiments/missing-index.json",
    cause="missing-index",
)


def test_a_sealed_ledger_entry_keeps_its_cause_in_a_0600_file_and_still_reverts(
    tmp_path: Path,
) -> None:
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    fault = make_fault("missing-index")
    entry_id = ledger.open(fault, drill_id="session abc", sealed=True)
    line = ledger.path.read_text()
    assert "missing-index" not in line and "enrollments" not in line
    assert json.loads(line)["kind"] == "sealed"
    payload = tmp_path / "sealed" / f"{entry_id}.json"
    assert stat.S_IMODE(payload.stat().st_mode) == 0o600
    assert stat.S_IMODE(payload.parent.stat().st_mode) == 0o700
    (entry,) = ledger.open_entries()
    # the entry reverts from its file; what is printed is the label
    assert entry.sealed and entry.kind == "missing-index"
    assert entry.params == fault.to_dict()["params"]
    assert entry.label == SEALED_LABEL
    assert entry.fault().kind == "missing-index"
    # an unsealed entry is as before
    other = ledger.open(make_fault("bad-release"))
    assert [e.label for e in ledger.open_entries([other])] == ["bad-release"]


def test_a_sealed_entry_whose_file_is_gone_fails_its_revert_without_naming_the_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    entry_id = ledger.open(make_fault("missing-index"), sealed=True)
    (tmp_path / "sealed" / f"{entry_id}.json").unlink()
    (entry,) = ledger.recover(env=object(), include_live=True)  # type: ignore[arg-type]
    assert entry.error is not None and entry.is_open
    assert "missing-index" not in caplog.text and SEALED_LABEL in caplog.text


def _plan(tmp_path: Path, training: str) -> Path:
    path = tmp_path / "plan.yaml"
    head = "version: 1\nname: practice\nmode: training\ndrills:\n  - random: {count: 1}\n"
    path.write_text(head + "training:\n" + textwrap.indent(textwrap.dedent(training), "  "))
    return path


def test_a_plan_configures_the_session_and_its_score(tmp_path: Path) -> None:
    from chaosdrill.plans.model import load_plan

    plan = load_plan(
        _plan(
            tmp_path,
            """\
            resend_s: 60
            time_limit_s: 1200
            escalation: {team_lead: 300}
            scoring:
              weights: {response: 25, diagnosis: 10}
              hint_costs: [2, 4]
            """,
        )
    )
    t = plan.training
    assert (t.resend_s, t.time_limit_s, t.recovery_check_s) == (60.0, 1200.0, 300.0)
    assert t.escalation == {
        "team_lead": 300.0,
        "engineering_manager": 1800.0,
        "vp_engineering": 3600.0,
        "cto": 7200.0,
    }
    assert t.scoring.weights["response"] == 25.0 and t.scoring.hint_costs == (2.0, 4.0)


@pytest.mark.parametrize(
    ("training", "field"),
    [
        ("scoring: {weights: {response: 50}}", "training.scoring.weights"),
        ("resend_s: -1", "training.resend_s"),
        ("escalation: {intern: 60}", "training.escalation"),
        ("time_limit: 60", "training"),
    ],
)
def test_a_bad_training_section_is_refused_with_its_field(
    tmp_path: Path, training: str, field: str
) -> None:
    from chaosdrill.plans.model import load_plan

    with pytest.raises(InvalidInputError) as err:
        load_plan(_plan(tmp_path, training))
    assert field in str(err.value)
    assert "plan.yaml" in str(err.value)


class FakeEnvironment:
    """A fake environment (no processes): records the calls made to it."""

    name = "train-unit"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def rollback(self, to_revision: int | None = None) -> int:
        self.calls.append(("rollback", (to_revision,)))
        return 1

    def sql(self, statement: str, node: str | None = None, timeout_s: float | None = None) -> list:
        raise RuntimeError("refused")

    def endpoints(self) -> str:
        return "endpoints"


@pytest.fixture()
def running_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Session:
    """A session of FakeEnvironment's name whose runner is this test's process."""
    monkeypatch.setenv("CHAOSDRILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHAOSDRILL_TRAINEE", "dana")
    session = Session("train-unit")
    me = psutil.Process(os.getpid())
    session.write(
        SessionInfo(
            id="s1",
            env_name="train-unit",
            plan="plan.yaml",
            plan_name="training",
            time_scale=1.0,
            seed=None,
            scenario=None,
            started_wall=me.create_time(),
            time_limit_s=600.0,
            resend_s=300.0,
            escalation=[],
            status="injected",
            runner_pid=me.pid,
            runner_create_time=me.create_time(),
        )
    )
    session.log.seal(CAUSE)
    return session


def test_operations_are_recorded_with_who_ran_them_and_their_effect(
    running_session: Session,
) -> None:
    fake = FakeEnvironment()
    env = recording(fake, "ops deployment rollback")
    assert env is not fake
    assert env.rollback() == 1
    assert env.endpoints() == "endpoints"  # not an operation: not recorded
    with pytest.raises(RuntimeError):
        env.sql("CREATE INDEX x ON enrollments (course_id)")
    ops = [e for e in running_session.log.events() if e.kind == "op"]
    assert [(e.who, e.detail["op"], e.detail["effect"]) for e in ops] == [
        ("dana", "rollback", "ok"),
        ("dana", "sql", "failed: RuntimeError"),
    ]
    assert ops[0].detail["command"] == "ops deployment rollback"
    assert ops[1].detail["args"] == "CREATE INDEX x ON enrollments (course_id)"
    assert fake.calls == [("rollback", (None,))]


def test_without_a_running_session_nothing_is_recorded(
    running_session: Session,
) -> None:
    running_session.update(status="ended")
    fake = FakeEnvironment()
    assert recording(fake) is fake


def test_the_status_view_never_shows_the_cause(running_session: Session) -> None:
    running_session.log.record("injected")
    running_session.log.record("diagnose", who="dana", cause="missing-index")
    text = status_text(running_session, running_session.info())
    assert "diagnoses    1" in text
    assert "missing-index" not in text and CAUSE.title not in text


def test_mask_hides_every_sealed_word() -> None:
    text = "failed: experiment MISSING-INDEX (High latency: a missing index under a traffic peak)"
    assert mask(text, CAUSE) == "failed: experiment <sealed> (<sealed>)"


def test_trainee_commands_need_a_session_and_check_their_arguments(
    running_session: Session,
) -> None:
    from chaosdrill.cli.main import main

    with pytest.raises(SystemExit) as bad_role:
        main(["incident", "role", "intern", "dana", "--name", "train-unit"])
    assert bad_role.value.code == 2
    with pytest.raises(SystemExit) as bad_cause:
        main(["incident", "diagnose", "gremlins", "--name", "train-unit"])
    assert bad_cause.value.code == 2
    with pytest.raises(SystemExit) as no_session:
        main(["incident", "note", "hello", "--name", "nobody-here"])
    assert no_session.value.code == 2
    with pytest.raises(SystemExit) as no_page:
        main(["pager", "ack", "--name", "train-unit"])
    assert no_page.value.code == 2
    with pytest.raises(SystemExit) as sealed_debrief:
        main(["train", "debrief", "--name", "train-unit"])
    assert sealed_debrief.value.code == 2
    main(
        [
            "incident",
            "update",
            "--status",
            "investigating",
            "--name",
            "train-unit",
            "--field",
            "eta=30 min",
            "Severity: P2\nImpact: slow pages",
        ]
    )
    (update,) = [e for e in running_session.log.events() if e.kind == "update"]
    assert update.detail["fields"] == {
        "status": "investigating",
        "severity": "P2",
        "impact": "slow pages",
        "eta": "30 min",
    }
    kinds = [e.kind for e in running_session.log.events()]
    assert kinds == ["update"]  # the refused commands wrote nothing


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--experiment", "gremlins"], "no experiment named 'gremlins'"),
        (["--scenario", "solar-flare"], "no experiment of scenario 'solar-flare'"),
        (["--plan", "no-such-plan"], "no-such-plan"),
    ],
)
def test_a_bad_session_is_refused_before_anything_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    from chaosdrill.cli.main import main
    from chaosdrill.training.session import session_dir

    monkeypatch.setenv("CHAOSDRILL_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as refused:
        main(["train", "start", "--name", "train-bad", *args])
    assert refused.value.code == 2
    assert says in capsys.readouterr().err.replace("\n", " ")
    assert not session_dir("train-bad").exists()
    assert not (tmp_path / "home" / "envs").exists()
