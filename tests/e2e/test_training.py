"""On-call training sessions end to end: real terminals, a real environment, a real fault.

The first test plays a whole session through tmux: ``pager watch`` in one pane, a scripted
trainee typing in another. The others end a session at its time limit with the trainee
stuck, and kill a session's runner with SIGKILL so that ``env recover`` reverts its fault.
The sessions share one environment, brought up before them: each runner attaches to it
(and so leaves it up when its session ends).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.training.log import Event, SealedCause, leaks
from tests.conftest import start_env, stop_env, wait_for

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.timeout(900),
]

K = 30  # time scale: the page comes within seconds, the hold is 10 s


@pytest.fixture(scope="module")
def shared_env() -> Iterator[LocalEnvironment]:
    """The environment every session of this module runs on."""
    environment = start_env("train")
    try:
        yield environment
    finally:
        stop_env(environment)


@pytest.fixture()
def home(tmp_path: Path, shared_env: LocalEnvironment) -> Iterator[dict[str, str]]:
    """The variables of every command: a chaosdrill wrapper on PATH, reports in tmp_path."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "chaosdrill"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m chaosdrill "$@"\n')
    wrapper.chmod(0o755)
    variables = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "CHAOSDRILL_REPORTS": str(tmp_path / "reports"),
        "CHAOSDRILL_ENV": shared_env.name,
    }
    variables.pop("CHAOSDRILL_TRAINEE", None)
    yield variables
    # whatever happened, the session's runner is not left running, nor anything it held
    from chaosdrill.training.session import Session

    session = Session(variables["CHAOSDRILL_ENV"])
    if session.exists() and session.runner_alive():
        pid = session.info().runner_pid
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not session.runner_alive(), 120, 0.5)
    subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "recover"],
        env=variables,
        capture_output=True,
        timeout=300,
    )


def cli(variables: dict[str, str], *args: str, check: bool = True) -> str:
    """Run chaosdrill; its output (stdout and stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "chaosdrill", *args],
        env={**variables, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    out = done.stdout + done.stderr
    if check:
        assert done.returncode == 0, f"chaosdrill {' '.join(args)} exited {done.returncode}:\n{out}"
    return out


def session_dir(variables: dict[str, str]) -> Path:
    from chaosdrill.environments.local.state import state_root

    return state_root() / "training" / variables["CHAOSDRILL_ENV"]


def events_of(folder: Path) -> list[Event]:
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [Event.from_dict(json.loads(line)) for line in lines if line.strip()]


def first(events: list[Event], kind: str, **match: Any) -> Event:
    return next(
        e for e in events if e.kind == kind and all(e.detail.get(k) == v for k, v in match.items())
    )


def done(what: str) -> str:
    """A shell command printing ``WHAT-done``, typed so that the echo is not the line itself."""
    return f'echo "{what}-""done"'


class Tmux:
    """A tmux server of its own with one window of two panes."""

    def __init__(self, variables: dict[str, str], socket: str) -> None:
        self.variables = variables
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.variables,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def type(self, pane: str, line: str) -> None:
        self.run("send-keys", "-t", pane, "-l", line)
        self.run("send-keys", "-t", pane, "Enter")

    def screen(self, pane: str) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-", "-t", pane)

    def wait(self, pane: str, text: str, timeout: float) -> str:
        return str(wait_for(lambda: text in self.screen(pane) and self.screen(pane), timeout, 0.5))


def test_a_whole_session_through_real_terminals(home: dict[str, str], tmp_path: Path) -> None:
    socket = f"chaosdrill-{home['CHAOSDRILL_ENV']}"
    tmux = Tmux(home, socket)
    tmux.run(
        "new-session",
        "-d",
        "-s",
        "drill",
        "-x",
        "220",
        "-y",
        "60",
        "-c",
        str(tmp_path),
        "bash --norc",
    )
    trainee = "drill:0.0"
    try:
        tmux.type(trainee, "export CHAOSDRILL_TRAINEE=alice PS1='$ '")
        tmux.type(
            trainee,
            f"chaosdrill train start --experiment bad-release --time-scale {K} --hold 300",
        )
        tmux.wait(trainee, "the incident is live", 300)
        tmux.run("split-window", "-h", "-t", trainee, "chaosdrill pager watch --interval 0.5")
        pager = "drill:0.1"
        paged_screen = tmux.wait(pager, "FIRING  HighErrorRate", 120)
        steps = [
            "chaosdrill pager ack",
            "chaosdrill incident role ic alice",
            "chaosdrill incident role scribe alice",
            "chaosdrill --as bob incident role tl bob",
            "chaosdrill --as carol incident role comms carol",
            "chaosdrill incident severity P1",
            "chaosdrill --as carol incident update --status investigating "
            "--field affected=enrollments --field impact='checkout fails' 'Severity: P1'",
            "chaosdrill incident note 'paged, looking at the error rate'",
            "chaosdrill --as bob ops deployment history",
            "chaosdrill --as bob env alerts",
            "chaosdrill incident diagnose pool-exhaustion",
            "chaosdrill --as bob ops cache stop",
            "chaosdrill --as bob ops cache start",
            "chaosdrill train hint",
            "chaosdrill incident diagnose bad-release",
            "chaosdrill --as bob runbook run rollback-deployment",
            "chaosdrill train status",
        ]
        for i, step in enumerate(steps):
            tmux.type(trainee, f"{step}; {done(f'step-{i}')}")
            tmux.wait(trainee, f"step-{i}-done", 300)
        tmux.type(
            trainee,
            "chaosdrill --as carol incident update --status resolved 'Severity: P1\n"
            "Affected: enrollments\nImpact: none now\nStarted: at the page\n"
            "Actions: rolled back\nETA: resolved'; " + done("update"),
        )
        tmux.wait(trainee, "update-done", 60)
        tmux.type(trainee, "chaosdrill incident resolve; " + done("resolve"))
        tmux.wait(trainee, "resolve-done", 600)
        seen = "\n".join([paged_screen, tmux.screen(trainee), tmux.screen(pager)])
        tmux.type(trainee, "chaosdrill train debrief --json > debrief.json; " + done("debrief"))
        tmux.wait(trainee, "debrief-done", 120)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=30)

    info = json.loads((session_dir(home) / "session.json").read_text())
    folder = Path(info["run_dir"]) / "training"
    sealed = json.loads((folder / "sealed.json").read_text())
    cause = SealedCause(**sealed)
    # nothing the commands printed before the debrief names the cause (the typed lines,
    # "$ ...", hold the facilitator's --experiment and the trainee's own diagnoses)
    printed = "\n".join(line for line in seen.splitlines() if not line.startswith("$ "))
    assert "FIRING  HighErrorRate" in printed and "step-16-done" in printed
    assert leaks(printed, cause) == [], printed
    data = json.loads((folder / "debrief.json").read_text())
    assert data["cause"]["experiment"] == "bad-release"
    printed_debrief = json.loads((tmp_path / "debrief.json").read_text())  # the trainee's
    assert printed_debrief["points"] == data["points"] and printed_debrief["cause"] == data["cause"]
    assert data["end_reason"].startswith("resolved")
    events = events_of(folder)
    k = data["time_scale"]
    injected, paged = first(events, "injected"), first(events, "paged")
    ack = first(events, "ack")
    right = first(events, "diagnose", cause="bad-release")
    phase = {p["name"]: p for p in data["phases"]}
    assert phase["mttd"]["drill_s"] == pytest.approx(paged.t - injected.t, abs=0.01)
    assert phase["mtta"]["drill_s"] == pytest.approx(ack.t - paged.t, abs=0.01)
    assert phase["diagnosis"]["drill_s"] == pytest.approx(right.t - injected.t, abs=0.01)
    assert phase["mtta"]["production_s"] == pytest.approx((ack.t - paged.t) * k, abs=0.1)
    recovered = first(events, "recovered")
    assert phase["mttr"]["drill_s"] == pytest.approx(recovered.t - injected.t, abs=0.01)
    assert [d[2] for d in data["diagnoses"]] == [False, True]
    # the wrong action is classified and costs its points; the hint costs 5
    harmed = [a for a in data["actions"] if a["effect"] == "harmed"]
    assert [(a["who"], a["op"]) for a in harmed] == [("bob", "stop_cache")]
    assert any(a["effect"] == "helped" and a["op"] == "rollback" for a in data["actions"])
    assert data["actions_points"] == -10.0
    assert data["hint_cost"] == 5.0
    assert data["roles"] == {
        "incident_commander": "alice",
        "scribe": "alice",
        "technical_lead": "bob",
        "communications_lead": "carol",
    }
    assert data["comms"]["resolution_sent"] is True
    assert set(data["people"]) >= {"alice", "bob", "carol"}
    # the fault is reverted: the ledger has nothing open, the bad release is not running
    report = json.loads((Path(info["run_dir"]) / "report.json").read_text())
    drill = report["drills"][0]
    assert drill["verification"]["service_responding"]["ok"] is True
    result = json.loads(Path(drill["result_path"]).read_text())
    assert result["measurements"]["revert"]["ok"] is True
    assert data["drill_report"]["report"].endswith("report.json")


def _ledger(variables: dict[str, str]) -> FaultLedger:
    from chaosdrill.environments.local.state import state_root
    from chaosdrill.faults.ledger import LEDGER_FILE

    return FaultLedger(state_root() / "envs" / variables["CHAOSDRILL_ENV"] / LEDGER_FILE)


def test_time_limit_with_the_trainee_stuck(home: dict[str, str]) -> None:
    out = cli(
        home,
        "train",
        "start",
        "--experiment",
        "missing-index",
        "--time-scale",
        str(K),
        "--hold",
        "300",
        "--time-limit",
        "1500",  # 50 s at K 30: time enough to look at every view first
    )
    assert "the incident is live" in out
    folder = session_dir(home)
    cause = SealedCause(**json.loads((folder / "sealed.json").read_text()))
    # the trainee-facing views while the session runs: none names the cause
    views = [
        cli(home, "train", "status"),
        cli(home, "pager", "watch", "--once"),
        cli(home, "env", "status", check=False),
        cli(home, "env", "alerts"),
        cli(home, "env", "recover"),
        cli(home, "env", "logs", "app-1", "--tail", "0", check=False),
        cli(home, "ops", "deployment", "history"),
        cli(home, "ops", "db", "status"),
        cli(home, "incident", "diagnose", "missing-index"),
        cli(home, "train", "debrief", check=False),
    ]
    entries = _ledger(home).path.read_text()
    for text in [*views, entries]:
        assert leaks(text, cause) == [], text
    assert "reveals the cause" in views[-1]

    # stuck: the trainee looks around and never fixes it; the time limit ends the session
    def ended() -> dict[str, Any] | None:
        data: dict[str, Any] = json.loads((folder / "session.json").read_text())
        return data if data["status"] == "ended" else None

    info = wait_for(ended, 300, 1.0)
    assert info["end_reason"].startswith("time limit")
    data = json.loads((Path(info["run_dir"]) / "training" / "debrief.json").read_text())
    phase = {p["name"]: p for p in data["phases"]}
    assert phase["mttr"]["drill_s"] is None and phase["mttr"]["points"] == 0
    assert "the service did not recover during the session" in data["notes"]
    # nobody acknowledged: the page was re-sent every 10 s and escalated at 30 s (900 / K)
    events = events_of(Path(info["run_dir"]) / "training")
    paged = first(events, "paged")
    resent = [e for e in events if e.kind == "resent"]
    assert len(resent) >= 3 and resent[0].t - paged.t == pytest.approx(10, abs=1)
    team_lead = first(events, "escalated", role="team_lead")
    assert team_lead.detail["person"] == "team lead on duty"
    assert team_lead.t - paged.t == pytest.approx(30, abs=1)
    assert data["diagnoses"][0][2] is True  # right, but the index was never built
    report = json.loads((Path(info["run_dir"]) / "report.json").read_text())
    result = json.loads(Path(report["drills"][0]["result_path"]).read_text())
    assert result["measurements"]["revert"]["ok"] is True
    assert not _ledger(home).open_entries()


def test_a_killed_session_is_recovered_by_env_recover(home: dict[str, str]) -> None:
    cli(home, "train", "start", "--experiment", "bad-release", "--time-scale", str(K))
    folder = session_dir(home)
    info = json.loads((folder / "session.json").read_text())
    cause = SealedCause(**json.loads((folder / "sealed.json").read_text()))
    open_before = _ledger(home).open_entries()
    assert [e.sealed for e in open_before] == [True]
    assert open_before[0].kind == "bad-release"  # the ledger can still revert it
    os.kill(info["runner_pid"], signal.SIGKILL)
    wait_for(lambda: "runner gone" in cli(home, "train", "status"), 30, 0.5)
    out = cli(home, "env", "recover")
    assert leaks(out, cause) == [], out
    assert "1 fault(s) reverted" in out
    assert not _ledger(home).open_entries()
    env = LocalEnvironment.attach(home["CHAOSDRILL_ENV"])
    assert make_fault("bad-release").is_active(env) is False
    # the session ended without a debrief: said so, and a new session may start
    out = cli(home, "train", "debrief", check=False)
    assert "without a debrief" in out or "has ended" in out


def test_train_stop_ends_the_session_reverted_and_scored(home: dict[str, str]) -> None:
    cli(home, "train", "start", "--experiment", "cache-outage", "--time-scale", str(K))
    out = cli(home, "train", "stop")
    assert "ended: stopped" in out
    info = json.loads((session_dir(home) / "session.json").read_text())
    assert info["status"] == "ended" and info["end_reason"].startswith("stopped")
    data = json.loads(cli(home, "train", "debrief", "--json"))
    assert data["cause"]["experiment"] == "cache-outage"
    assert "the service did not recover during the session" in data["notes"]
    assert not _ledger(home).open_entries()
    env = LocalEnvironment.attach(home["CHAOSDRILL_ENV"])
    assert env.cache_status().up
