"""One drill per environment at a time: a second one is refused and the first left alone.

The first drill runs in the background (``chaosdrill run``, as in tests/e2e/test_drill_signals.py)
with a runbook that does not fix its fault, so the fault, the load and the re-timed rules
stay as they are while every other way of starting a drill is tried against it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosdrill.environments.holding import HOLDER_FILE, Claim, current_holder
from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.load import active_run

from ..conftest import start_env, stop_env
from ..e2e.test_drill_failures import experiment_copy, plan_file

pytestmark = pytest.mark.integration
K = 60


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("hold", **EnvSettings.for_time_scale(K).__dict__)
    try:
        yield environment
    finally:
        stop_env(environment)


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaosdrill", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def _flat(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


def _start_drill(env: LocalEnvironment, tmp_path: Path, **changes: object) -> subprocess.Popen[str]:
    """`chaosdrill run` of missing-index in the background, once its fault is in effect."""
    exp = experiment_copy(tmp_path, "missing-index", load={"rate": 20}, **changes)
    cmd = [
        *(sys.executable, "-m", "chaosdrill", "run", str(exp), "--name", env.name),
        *("--time-scale", str(K), "--hold", "600", "--recovery-timeout", "36000"),
        *("--reports", str(tmp_path / "first"), "--quiet"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = FaultLedger(env.root / "faults.jsonl")
    deadline = time.monotonic() + 120
    while not ledger.open_entries():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the drill never injected its fault"
        time.sleep(0.1)
    time.sleep(1.0)  # the fault is applied right after the ledger entry
    assert make_fault("missing-index").is_active(env)
    return proc


def _rules(env: LocalEnvironment) -> dict[str, str]:
    return {p.name: p.read_text() for p in (env.root / "prometheus" / "rules").glob("*.yml")}


def _pytest_session(env: LocalEnvironment, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A pytest session whose test asks for the plugin's ``chaosdrill_env`` on ``env``."""
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "test_on_env.py").write_text("def test_uses_it(chaosdrill_env):\n    pass\n")
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "test_on_env.py", "-q", "-p", "no:cacheprovider"),
            *("--rootdir", str(folder), "--chaosdrill-env", env.name),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(900)
def test_a_second_drill_is_refused_and_the_first_is_left_alone(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    # a runbook that does not create the index: the fault stays in effect until the end
    first = _start_drill(env, tmp_path, runbook="check-environment")
    held_by = f"held by drill 'missing-index' (pid {first.pid},"
    try:
        ledger = FaultLedger(env.root / "faults.jsonl")
        entries = ledger.open_entries()
        load = active_run(env.root / "load")
        assert load is not None and load.running()
        rules, monitoring = _rules(env), env.monitoring()
        assert monitoring.time_scale == K
        (tmp_path / "second").mkdir()
        second = experiment_copy(tmp_path / "second", "cache-outage")

        run = _cli("run", str(second), "--name", env.name, "--time-scale", "30", "--quiet")
        assert run.returncode == 3, _flat(run)
        assert held_by in _flat(run) and f"kill -TERM {first.pid}" in _flat(run)
        plan = plan_file(tmp_path / "second", env, second)
        by_plan = _cli("run", "--plan", str(plan), "--reports", str(tmp_path / "p"), "--quiet")
        assert by_plan.returncode == 3 and held_by in _flat(by_plan), _flat(by_plan)
        gate = _cli("gate", str(plan), "--reports", str(tmp_path / "g"), "--quiet")
        assert gate.returncode == 3 and held_by in _flat(gate), _flat(gate)
        journal = tmp_path / "journal.json"
        chaos = subprocess.run(
            [
                *(str(Path(sys.executable).parent / "chaos"), "run"),
                *("--journal-path", str(journal), "--var", f"chaosdrill_env={env.name}"),
                *("--var", "chaosdrill_time_scale=30", str(second)),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert chaos.returncode != 0 and held_by in _flat(chaos), _flat(chaos)
        assert json.loads(journal.read_text())["status"] == "interrupted"
        session = _pytest_session(env, tmp_path)
        assert session.returncode == 1, _flat(session)
        assert "EnvironmentBusyError" in session.stdout and held_by in _flat(session)

        # what `env` does while a drill holds it
        down = _cli("env", "down", "--name", env.name)
        assert down.returncode == 3 and held_by in _flat(down), _flat(down)
        assert env.alive()
        recover = _cli("env", "recover", "--name", env.name)
        assert held_by in _flat(recover) and "left alone" in recover.stdout
        assert "still runs" in recover.stdout  # its load run
        assert "NOT reverted" not in recover.stdout  # its fault is its own to revert
        assert recover.returncode == 0, _flat(recover)
        status = _cli("env", "status", "--name", env.name)
        assert held_by in _flat(status), _flat(status)

        # the first drill: its fault, its ledger entry, its load and its rules as they were
        assert first.poll() is None
        assert make_fault("missing-index").is_active(env)
        assert ledger.open_entries() == entries
        still = active_run(env.root / "load")
        assert still is not None and still.run_id == load.run_id and still.running()
        assert _rules(env) == rules and env.monitoring() == monitoring
        holder = current_holder(env.root)
        assert holder is not None and holder.pid == first.pid
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=180)
    assert first.returncode == 130, out + err
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert current_holder(env.root) is None and not (env.root / HOLDER_FILE).exists()


def test_env_recover_clears_the_hold_of_a_holder_that_is_gone(env: LocalEnvironment) -> None:
    ghost = subprocess.Popen(["sleep", "60"])
    Claim("drill", "ghost", pid=ghost.pid).take(env.root, env.name)
    os.kill(ghost.pid, signal.SIGKILL)
    ghost.wait()
    assert (env.root / HOLDER_FILE).exists()
    recover = _cli("env", "recover", "--name", env.name)
    assert recover.returncode == 0, _flat(recover)
    assert f"cleared the hold of drill 'ghost' (pid {ghost.pid}," in _flat(recover)
    assert "no longer running" in recover.stdout
    assert not (env.root / HOLDER_FILE).exists()
    status = _cli("env", "status", "--name", env.name)
    assert "held by no drill" in status.stdout


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_the_next_drill_clears_the_hold_of_one_killed_with_kill_9(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    first = _start_drill(env, tmp_path)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    assert current_holder(env.root) is None and (env.root / HOLDER_FILE).exists()
    (tmp_path / "second").mkdir()
    second = experiment_copy(tmp_path / "second", "bad-release")
    reports = tmp_path / "second-reports"
    run = _cli(
        *("run", str(second), "--name", env.name, "--time-scale", str(K), "--hold", "200"),
        *("--reports", str(reports), "--quiet"),
        timeout=480,
    )
    assert run.returncode in (0, 1), _flat(run)  # it ran: neither refused nor crashed
    [result_file] = reports.glob("*/drills/*.json")
    events = {e["name"]: e for e in json.loads(result_file.read_text())["timeline"]}
    cleared = events["dead_holder_cleared"]["detail"]["holder"]
    assert cleared["pid"] == first.pid and cleared["label"] == "missing-index"
    assert "missing-index" in events["leftover_faults_reverted"]["detail"]["faults"]
    assert not make_fault("missing-index").is_active(env)
    assert current_holder(env.root) is None and not (env.root / HOLDER_FILE).exists()
