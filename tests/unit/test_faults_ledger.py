"""The fault ledger's file handling, recovery order and signal handling (no processes).

Recovery and ``applied`` are exercised here with a *fake* fault that records calls instead
of touching a system; tests/integration/test_faults.py runs them against real faults.
"""

from __future__ import annotations

import json
import os
import signal
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from chaosdrill.environments.base import Environment
from chaosdrill.errors import InvalidInputError
from chaosdrill.faults import REGISTRY, Fault, FaultLedger, applied, exit_signals, make_fault
from chaosdrill.faults.ledger import LEDGER_FILE, default_ledger_path

CALLS: list[tuple[str, str]] = []
# the fakes below never touch the environment; a drill names it in its recovery hint
ENV = cast(Environment, types.SimpleNamespace(name="unit", reconcile=list))


class FakeFault(Fault):
    """A fake fault: records inject/revert; ``fail`` makes revert raise."""

    kind = "fake-recorder"
    scenario = "test"
    description = "records calls, touches nothing"
    defaults: ClassVar[dict[str, Any]] = {"label": "", "fail": False, "signal": 0}

    def inject(self, env: Environment) -> None:
        CALLS.append(("inject", self.params["label"]))

    def revert(self, env: Environment) -> None:
        if self.params["signal"]:
            os.kill(os.getpid(), self.params["signal"])
        if self.params["fail"]:
            raise RuntimeError(f"cannot revert {self.params['label']}")
        CALLS.append(("revert", self.params["label"]))

    def is_active(self, env: Environment) -> bool:
        return False


@pytest.fixture(autouse=True)
def fake_registered() -> Iterator[None]:
    make_fault("missing-index")  # the built-ins first, so ours is not overwritten
    REGISTRY[FakeFault.kind] = FakeFault
    CALLS.clear()
    try:
        yield
    finally:
        REGISTRY.pop(FakeFault.kind, None)


@pytest.fixture
def ledger(tmp_path: Path) -> FaultLedger:
    return FaultLedger(tmp_path / "sub" / LEDGER_FILE)


def fake(label: str, **params: Any) -> Fault:
    return make_fault(FakeFault.kind, {"label": label, **params})


def test_open_then_close(ledger: FaultLedger) -> None:
    assert ledger.open_entries() == []
    first = ledger.open(fake("a"), drill_id="drill-1")
    second = ledger.open(fake("b"))
    (a, b) = ledger.open_entries()
    assert (a.id, a.kind, a.params["label"], a.drill_id, a.pid) == (
        first,
        "fake-recorder",
        "a",
        "drill-1",
        os.getpid(),
    )
    assert a.opened_at > 0 and a.is_open and b.id == second
    ledger.close(first, "reverted")
    assert [e.id for e in ledger.open_entries()] == [second]
    closed = ledger.entries()[0]
    assert (closed.outcome, closed.is_open) == ("reverted", False)
    assert closed.closed_at is not None and closed.closed_at >= closed.opened_at


def test_every_event_is_one_json_line(ledger: FaultLedger) -> None:
    entry_id = ledger.open(fake("a"))
    ledger.close(entry_id)
    lines = ledger.path.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["open", "close"]
    assert events[0]["params"] == {"label": "a", "fail": False, "signal": 0}
    assert {"kind", "wall", "pid", "drill_id"} <= set(events[0])
    assert events[1]["outcome"] == "reverted"


def test_a_new_ledger_object_reads_what_another_wrote(ledger: FaultLedger) -> None:
    entry_id = ledger.open(fake("a"))
    again = FaultLedger(ledger.path)
    assert [e.id for e in again.open_entries()] == [entry_id]
    again.close(entry_id, "reverted")
    assert ledger.open_entries() == []


def test_a_torn_last_line_is_skipped_and_the_next_event_starts_a_new_line(
    ledger: FaultLedger,
) -> None:
    kept = ledger.open(fake("kept"))
    with open(ledger.path, "ab") as fh:
        fh.write(b'{"event": "open", "id": "torn", "kind": "fake-rec')  # a crash mid-write
    assert [e.id for e in ledger.open_entries()] == [kept]
    after = ledger.open(fake("after"))
    assert [e.id for e in ledger.open_entries()] == [kept, after]
    assert ledger.path.read_bytes().count(b"\n") == 3


def test_unreadable_lines_and_unknown_ids_are_ignored(ledger: FaultLedger) -> None:
    ledger.path.parent.mkdir(parents=True)
    ledger.path.write_text(
        "not json\n[1, 2]\n"
        + json.dumps({"event": "close", "id": "never-opened", "outcome": "x"})
        + "\n\n"
    )
    assert ledger.entries() == []
    entry_id = ledger.open(fake("a"))
    assert [e.id for e in ledger.open_entries()] == [entry_id]


def test_closing_an_unknown_entry_is_refused(ledger: FaultLedger) -> None:
    with pytest.raises(InvalidInputError, match="no ledger entry 'nope'"):
        ledger.close("nope")


def test_recover_reverts_newest_first_and_closes(ledger: FaultLedger) -> None:
    ids = [ledger.open(fake(label)) for label in ("first", "second", "third")]
    ledger.close(ids[1])
    recovered = ledger.recover(ENV)
    assert CALLS == [("revert", "third"), ("revert", "first")]
    assert [(e.id, e.outcome, e.error) for e in recovered] == [
        (ids[2], "reverted by recovery", None),
        (ids[0], "reverted by recovery", None),
    ]
    assert ledger.open_entries() == []
    assert ledger.recover(ENV) == []


def test_a_revert_that_fails_is_reported_and_left_open(ledger: FaultLedger) -> None:
    bad = ledger.open(fake("bad", fail=True))
    good = ledger.open(fake("good"))
    recovered = ledger.recover(ENV)
    assert [(e.id, e.error) for e in recovered] == [
        (good, None),
        (bad, "RuntimeError: cannot revert bad"),
    ]
    assert [e.id for e in ledger.open_entries()] == [bad]


def test_an_entry_of_an_unknown_kind_is_left_open(ledger: FaultLedger) -> None:
    entry_id = ledger.open(fake("x"))
    REGISTRY.pop(FakeFault.kind)
    (entry,) = ledger.recover(ENV)
    assert entry.id == entry_id and entry.error and "unknown fault" in entry.error
    assert [e.id for e in ledger.open_entries()] == [entry_id]


def test_entries_of_a_live_process_are_left_alone(ledger: FaultLedger) -> None:
    entry_id = ledger.open(fake("theirs"))
    lines = ledger.path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {os.getppid()}')
    ledger.path.write_text(lines)  # as if our parent process (alive) had opened it
    (entry,) = ledger.recover(ENV)
    assert entry.error == f"opened by process {os.getppid()}, which is still running"
    assert CALLS == []
    assert [e.id for e in ledger.open_entries()] == [entry_id]
    (forced,) = ledger.recover(ENV, include_live=True)
    assert forced.outcome == "reverted by recovery"


def test_default_path_is_under_the_environment_root(tmp_path: Path) -> None:
    class Rooted:
        root = tmp_path

    assert default_ledger_path(cast(Environment, Rooted())) == tmp_path / "faults.jsonl"


def test_applied_injects_then_reverts_and_closes(ledger: FaultLedger) -> None:
    with applied(ledger, fake("ok"), ENV, drill_id="d") as fault:
        assert fault.params["label"] == "ok"
        assert CALLS == [("inject", "ok")]
        (entry,) = ledger.open_entries()
    assert CALLS == [("inject", "ok"), ("revert", "ok")]
    assert ledger.entries()[0].outcome == "reverted"
    assert entry.drill_id == "d"


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)])
def test_applied_reverts_whatever_ends_the_block(ledger: FaultLedger, error: BaseException) -> None:
    with pytest.raises(type(error)), applied(ledger, fake("x"), ENV):
        raise error
    assert CALLS[-1] == ("revert", "x")
    assert ledger.entries()[0].outcome == f"reverted after {type(error).__name__}"


def test_applied_leaves_the_entry_open_when_revert_fails(ledger: FaultLedger) -> None:
    with (
        pytest.raises(RuntimeError, match="cannot revert"),
        applied(ledger, fake("x", fail=True), ENV),
    ):
        pass
    assert len(ledger.open_entries()) == 1


def test_exit_signals_raise_and_restore_the_handlers() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(SystemExit) as info, exit_signals():
        os.kill(os.getpid(), signal.SIGTERM)
    assert info.value.code == 143
    with pytest.raises(KeyboardInterrupt), exit_signals():
        os.kill(os.getpid(), signal.SIGINT)
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_signal_during_revert_waits_until_the_revert_is_done(ledger: FaultLedger) -> None:
    fault = fake("slow", signal=signal.SIGTERM)  # SIGTERM arrives while reverting
    with pytest.raises(SystemExit), exit_signals(), applied(ledger, fault, ENV):
        pass
    assert CALLS == [("inject", "slow"), ("revert", "slow")]
    assert ledger.open_entries() == []


# an entry that can never be reverted -----------------------------------------------------
def poison(ledger: FaultLedger, drill_id: str = "old-drill") -> str:
    """An open entry of a kind this version does not know (as after an upgrade)."""
    event = {
        "event": "open",
        "id": "deadbeef" * 4,
        "kind": "retired-fault-kind",
        "params": {"x": 1},
        "drill_id": drill_id,
        "wall": 1.0,
        "pid": os.getpid(),
    }
    ledger.path.parent.mkdir(parents=True, exist_ok=True)
    with open(ledger.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")
    return str(event["id"])


def test_a_discarded_entry_is_closed_with_who_when_and_why(ledger: FaultLedger) -> None:
    bad = poison(ledger)
    (failed,) = ledger.recover(ENV)
    assert failed.id == bad and failed.error is not None and "retired-fault-kind" in failed.error
    assert [e.id for e in ledger.open_entries()] == [bad]  # stays open: every recovery fails

    gone = ledger.discard(bad[:8], "kind removed in 2.0; nothing of it is left", by="alice")
    assert (gone.id, gone.outcome, gone.closed_by) == (bad, "discarded", "alice")
    assert ledger.open_entries() == [] and ledger.recover(ENV) == []
    (entry,) = FaultLedger(ledger.path).entries()  # read back from the file
    assert (entry.outcome, entry.closed_by, entry.reason) == (
        "discarded",
        "alice",
        "kind removed in 2.0; nothing of it is left",
    )
    assert entry.closed_at is not None and entry.closed_at > entry.opened_at
    assert json.loads(ledger.path.read_text().splitlines()[-1])["by"] == "alice"


def test_discard_records_the_os_user_and_needs_a_reason_and_an_open_id(
    ledger: FaultLedger,
) -> None:
    import pwd

    bad = poison(ledger)
    with pytest.raises(InvalidInputError, match="reason"):
        ledger.discard(bad, "  ")
    with pytest.raises(InvalidInputError, match="no open entry"):
        ledger.discard("feedface", "typo")
    assert ledger.discard(bad, "gone").closed_by == pwd.getpwuid(os.getuid()).pw_name
    with pytest.raises(InvalidInputError, match="no open entry"):
        ledger.discard(bad, "twice")


def test_recover_only_touches_the_entries_named(ledger: FaultLedger) -> None:
    bad = poison(ledger)
    mine = ledger.open(fake("mine"))
    (entry,) = ledger.recover(ENV, only=[mine])
    assert (entry.id, entry.outcome) == (mine, "reverted by recovery")
    assert [e.id for e in ledger.open_entries()] == [bad]


def test_a_drills_revert_verdict_ignores_another_drills_open_entry(ledger: FaultLedger) -> None:
    from chaosdrill.drill import phases
    from chaosdrill.drill.context import DrillContext
    from chaosdrill.scenarios.spec import load_spec
    from tests.repo import EXPERIMENTS_DIR

    spec = load_spec(EXPERIMENTS_DIR / "cache-outage.json")
    ctx = DrillContext(spec=spec, env=ENV, owns_env=False, ledger=ledger)
    bad = poison(ledger, drill_id="another-drill")
    ctx.fault_entries.append(ledger.open(fake("mine"), drill_id=spec.experiment))

    assert phases.revert(ctx) is True
    assert ctx.failures == [] and ctx.measurements.revert is not None
    assert ctx.measurements.revert.reverted == ("fake-recorder",)
    assert ctx.measurements.revert.still_active == ()
    assert [e.id for e in ledger.open_entries()] == [bad]  # not this drill's to close

    stuck = ledger.open(fake("stuck", fail=True))  # this drill's own entry that fails: counted
    ctx.fault_entries.append(stuck)
    assert phases.revert(ctx) is False
    assert ctx.measurements.revert.still_active == ("fake-recorder",)


def test_a_drill_reverts_nothing_while_a_runbook_operation_still_runs(
    ledger: FaultLedger,
) -> None:
    import threading

    from chaosdrill.drill import phases
    from chaosdrill.drill.context import DrillContext
    from chaosdrill.drill.setup import cleanup_drill
    from chaosdrill.runbooks.operation import Operation
    from chaosdrill.scenarios.spec import load_spec
    from tests.repo import EXPERIMENTS_DIR

    spec = load_spec(EXPERIMENTS_DIR / "cache-outage.json")
    ctx = DrillContext(spec=spec, env=ENV, owns_env=True, ledger=ledger)
    entry = ledger.open(fake("mine"), drill_id=spec.experiment)
    ctx.fault_entries.append(entry)
    gate = threading.Event()
    rollout = Operation("rollback", lambda: gate.wait(10))
    try:
        assert phases.revert(ctx) is False
        cleanup_drill(ctx)  # neither reverts nor takes the environment down (it has no down)
    finally:
        gate.set()
        assert rollout.wait(5)
    assert CALLS == [] and [e.id for e in ledger.open_entries()] == [entry]
    assert ctx.measurements.revert is not None
    assert ctx.measurements.revert.still_active == ("fake-recorder",)
    assert ctx.failures == [
        "fault(s) not reverted: fake-recorder: a runbook's rollback is still running; wait "
        "for it to finish, then run `chaosdrill env recover --name unit`"
    ]
    deferred = ctx.timeline.first("revert_deferred")
    assert deferred is not None and deferred.detail["operations"] == ["rollback"]
    assert phases.revert(ctx) is True  # once it ended, the revert runs
    assert CALLS == [("revert", "mine")]


def test_set_up_reports_a_leftover_it_cannot_revert_and_does_not_fail_the_drill(
    ledger: FaultLedger, caplog: pytest.LogCaptureFixture
) -> None:
    from chaosdrill.drill import phases
    from chaosdrill.drill.context import DrillContext
    from chaosdrill.drill.setup import recover_leftovers
    from chaosdrill.scenarios.spec import load_spec
    from tests.repo import EXPERIMENTS_DIR

    bad = poison(ledger)
    ledger.open(fake("left"))  # a leftover that does revert
    ctx = DrillContext(
        spec=load_spec(EXPERIMENTS_DIR / "cache-outage.json"),
        env=ENV,
        owns_env=False,
        ledger=ledger,
    )
    with caplog.at_level("WARNING", logger="chaosdrill.drill.setup"):
        recover_leftovers(ctx)
    reverted, stuck = (
        ctx.timeline.first("leftover_faults_reverted"),
        ctx.timeline.first("leftover_faults_not_reverted"),
    )
    assert reverted is not None and reverted.detail["faults"] == ["fake-recorder"]
    assert stuck is not None
    (detail,) = stuck.detail["faults"]
    assert (detail["id"], detail["kind"]) == (bad, "retired-fault-kind") and detail["error"]
    assert f"--discard {bad}" in caplog.text
    assert ctx.failures == []
    assert phases.revert(ctx) is True  # the new drill opened nothing: nothing of its own left
