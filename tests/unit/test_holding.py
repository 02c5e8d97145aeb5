"""The owner record of an environment: one holder at a time, while its process lives."""

from __future__ import annotations

import json
import logging
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from chaosdrill.environments.holding import (
    HOLDER_FILE,
    Claim,
    Hold,
    Holder,
    clear_dead,
    current_holder,
    refuse_if_held,
)
from chaosdrill.errors import EnvironmentBusyError, Exit, InvalidInputError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "envs" / "demo"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not this one (a child of it): stands for another drill."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _record(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / HOLDER_FILE).read_text())
    return data


def _dead(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


def test_a_hold_records_its_process_and_is_released(root: Path) -> None:
    hold = Claim("drill", "bad-release").take(root)
    me = psutil.Process()
    record = _record(root)
    assert record["kind"] == "drill" and record["label"] == "bad-release"
    assert record["pid"] == me.pid and record["create_time"] == me.create_time()
    assert record["host"] == socket.gethostname() and record["within"] is None
    assert stat.S_IMODE((root / HOLDER_FILE).stat().st_mode) == 0o600
    assert current_holder(root) == hold.holder
    hold.release()
    assert not (root / HOLDER_FILE).exists() and current_holder(root) is None
    hold.release()  # twice is fine


def test_another_process_is_refused_with_the_holder_named(
    root: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    held = Claim("drill", "bad-release", pid=sleeper.pid).take(root, "demo")
    before = (root / HOLDER_FILE).read_text()
    with pytest.raises(EnvironmentBusyError) as caught:
        Claim("drill", "cache-outage").take(root, "demo")
    message = str(caught.value)
    assert f"drill 'bad-release' (pid {sleeper.pid}, since " in message
    assert "chaosdrill env recover --name demo" in message
    assert caught.value.exit_code == Exit.RUNTIME
    assert caught.value.holder == held.holder
    assert (root / HOLDER_FILE).read_text() == before  # nothing was changed
    with pytest.raises(EnvironmentBusyError):
        refuse_if_held(root, "demo")


def test_a_drill_runs_under_its_parents_hold_and_gives_it_back(
    root: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    plan = Claim("plan", "quarterly").take(root)  # this process; the sleeper is its child
    drill = Claim("drill", "bad-release", pid=sleeper.pid).take(root)
    assert drill.holder.within == plan.holder
    assert current_holder(root) == drill.holder
    assert "within plan 'quarterly'" in drill.holder.describe()
    sibling = subprocess.Popen(["sleep", "60"])  # another child of the plan: not the drill's
    try:
        with pytest.raises(EnvironmentBusyError, match="drill 'bad-release'"):
            Claim("drill", "cache-outage", pid=sibling.pid).take(root)
    finally:
        _dead(sibling)
    drill.release()
    assert current_holder(root) == plan.holder  # the plan's record is back
    plan.release()
    assert current_holder(root) is None


def test_a_holder_killed_with_kill_9_is_cleared_by_the_next_take(
    root: Path, sleeper: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    gone = Claim("drill", "bad-release", pid=sleeper.pid).take(root).holder
    _dead(sleeper)
    assert current_holder(root) is None
    with caplog.at_level(logging.WARNING):
        hold = Claim("drill", "cache-outage").take(root)
    assert hold.cleared == gone and hold.holder.within is None
    assert f"pid {sleeper.pid}" in caplog.text and "no longer running" in caplog.text
    assert _record(root)["label"] == "cache-outage"


def test_a_reused_pid_is_not_the_holder(root: Path, sleeper: subprocess.Popen[bytes]) -> None:
    real = Holder.of_process("drill", "bad-release", sleeper.pid)
    older = replace(real, create_time=real.create_time - 3600)  # that pid, another process
    (root / HOLDER_FILE).write_text(json.dumps(older.to_json()))
    assert real.alive() and not older.alive()
    assert current_holder(root) is None
    assert Claim("drill", "cache-outage").take(root).cleared == older


def test_a_process_that_ended_but_was_not_reaped_is_not_the_holder() -> None:
    proc = subprocess.Popen(["sleep", "0.2"])
    holder = Holder.of_process("drill", "bad-release", proc.pid)
    assert holder.alive()
    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:  # not proc.poll(): it reaps
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        assert not holder.alive()
    finally:
        proc.wait()


def test_a_torn_record_is_named_and_replaced(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    (root / HOLDER_FILE).write_text('{"kind": "drill", "label": "bad-rel')
    with caplog.at_level(logging.WARNING):
        assert current_holder(root) is None
        hold = Claim("drill", "cache-outage").take(root)
    assert "torn or not a holder record" in caplog.text and HOLDER_FILE in caplog.text
    assert _record(root)["label"] == "cache-outage"
    hold.release()
    (root / HOLDER_FILE).write_text(json.dumps({"kind": "drill", "pid": "12"}))
    assert current_holder(root) is None


def test_clear_dead_leaves_a_live_holder_and_clears_a_dead_one(
    root: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    plan = Claim("plan", "quarterly").take(root)
    drill = Claim("drill", "bad-release", pid=sleeper.pid).take(root)
    assert clear_dead(root) is None and current_holder(root) == drill.holder
    _dead(sleeper)
    assert clear_dead(root) == drill.holder  # the drill is gone, the plan is not
    assert current_holder(root) == plan.holder
    assert clear_dead(root) is None
    plan.release()
    ghost = subprocess.Popen(["sleep", "60"])
    Claim("drill", "ghost", pid=ghost.pid).take(root)
    _dead(ghost)
    assert clear_dead(root) is not None
    assert not (root / HOLDER_FILE).exists()


def test_a_hold_on_an_environment_taken_down_releases_quietly(root: Path) -> None:
    hold = Claim("drill", "bad-release").take(root)
    for path in root.iterdir():
        path.unlink()
    root.rmdir()
    hold.release()
    assert not root.exists()  # not made again by the release
    assert clear_dead(root) is None and current_holder(root) is None
    refuse_if_held(root)


def test_another_hosts_holder_counts_as_live(root: Path) -> None:
    holder = replace(Holder.of_process("training", "on-call 1"), host="elsewhere", pid=1)
    (root / HOLDER_FILE).write_text(json.dumps(holder.to_json()))
    assert current_holder(root) == holder
    assert "on host elsewhere" in holder.describe()


def test_a_hold_for_another_process_and_its_release_from_there(
    root: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    """A training session started in the background: its starter takes the hold for it."""
    taken = Claim("training", "on-call 1", pid=sleeper.pid).take(root)
    assert current_holder(root) == taken.holder and taken.holder.pid == sleeper.pid
    record = current_holder(root)
    assert record is not None
    Hold(root, record).release()  # what the session's own process does at its end
    assert current_holder(root) is None


def test_an_unknown_kind_or_a_missing_process_is_refused(root: Path) -> None:
    with pytest.raises(InvalidInputError, match="expected one of drill, plan"):
        Claim("chaos", "x").take(root)
    proc = subprocess.Popen(["true"])
    proc.wait()
    with pytest.raises(InvalidInputError, match=f"no process {proc.pid}"):
        Claim("training", "x", pid=proc.pid).take(root)
    assert not (root / HOLDER_FILE).exists()


def test_the_record_reads_back_what_it_wrote() -> None:
    plan = Holder.of_process("plan", "quarterly")
    drill = Holder.of_process("drill", "bad-release", within=plan)
    assert Holder.from_json(json.loads(json.dumps(drill.to_json()))) == drill
    for junk in ([], {"kind": "drill"}, {**plan.to_json(), "pid": True}):
        with pytest.raises(ValueError, match="holder record|JSON object"):
            Holder.from_json(junk)
