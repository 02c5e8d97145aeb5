"""Signals to a running drill: a closed terminal and a double Ctrl-C during the revert.

SIGHUP (a closed terminal, a dropped SSH connection) must end a drill exactly like Ctrl-C;
a revert, once begun, must run to its end whatever arrives meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.environments.local.state import pg_home, state_root
from chaosdrill.errors import DrillError
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.faults.signals import SAME_PRESS_S
from chaosdrill.load import active_run
from tests.repo import EXPERIMENTS_DIR

from ..conftest import start_env, stop_env, unique_name, wait_for
from .test_drill_failures import experiment_copy

pytestmark = pytest.mark.e2e
K = 60


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("e2e-sig", **EnvSettings.for_time_scale(K).__dict__)
    try:
        yield environment
    finally:
        stop_env(environment)


def _drill(cmd_args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chaosdrill", "run", *cmd_args, "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _wait_for_open_entry(proc: subprocess.Popen[str], ledger: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (ledger.is_file() and FaultLedger(ledger).open_entries()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the drill never injected its fault"
        time.sleep(0.1)
    time.sleep(1.0)  # the fault is applied right after the ledger entry


def _processes_under(root: Path) -> list[str]:
    """Every live process whose command line names ``root`` or the database's directory."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(root) in cmdline or str(pg_home(root)) in cmdline:
            found.append(f"{proc.info['pid']}: {cmdline[:200]}")
    return found


def _only_result(reports: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    [run] = [p for p in reports.iterdir() if p.is_dir()]
    [result_file] = (run / "drills").glob("*.json")
    report = json.loads((run / "report.json").read_text())
    return json.loads(result_file.read_text()), report


def test_sighup_ends_a_drill_like_ctrl_c(tmp_path: Path) -> None:
    """A closed terminal mid-fault: reverted, ledger closed, load stopped, env down, result."""
    name = unique_name("e2e-hup")
    root = state_root() / "envs" / name
    reports = tmp_path / "reports"
    args = [str(EXPERIMENTS_DIR / "cache-outage.json"), "--name", name, "--time-scale", "30"]
    proc = _drill([*args, "--reports", str(reports)])
    try:
        _wait_for_open_entry(proc, root / "faults.jsonl", timeout=240)
        # the ledger goes with the environment's directory: keep it open to read it after
        ledger = open(root / "faults.jsonl", "rb")  # noqa: SIM115 - read after the unlink
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=240)
        events = [json.loads(line) for line in ledger.read().splitlines() if line.strip()]
        ledger.close()
        assert proc.returncode == 130, out + err
        opened = {e["id"] for e in events if e["event"] == "open"}
        closed = {e["id"] for e in events if e["event"] == "close"}
        assert opened and opened <= closed, events
        assert not root.exists(), "the environment the drill brought up is still there"
        assert _processes_under(root) == []  # no service, database, Redis or load left
        result, report = _only_result(reports)
        assert result["measurements"]["revert"]["ok"], result["measurements"]["revert"]
        assert not result["complete"]
        assert "SIGHUP" in result["failures"][0], result["failures"]
        assert "during revert" not in result["failures"][0]  # the phase it cut short
        assert not report["complete"] and "SIGHUP" in report["interrupted"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if root.exists():
            with contextlib.suppress(DrillError):
                LocalEnvironment.attach(name).down()


def _creating_index(env: LocalEnvironment) -> bool:
    rows = env.sql(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE query ILIKE 'CREATE INDEX CONCURRENTLY%' AND state = 'active'"
    )
    return bool(rows[0][0])


def test_a_double_signal_during_the_revert_still_completes_it(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    """Ctrl-C mid-fault, then SIGINT and SIGTERM 1 ms apart while the revert runs."""
    exp = experiment_copy(tmp_path, "missing-index", load={"rate": 20})
    reports = tmp_path / "reports"
    args = [str(exp), "--name", env.name, "--time-scale", str(K), "--hold", "600"]
    proc = _drill([*args, "--reports", str(reports)])
    # a writer's open transaction: CREATE INDEX CONCURRENTLY waits for it, so the revert
    # is still running when the next signals arrive
    blocker = psycopg.connect(env.database_dsn(), application_name="test-revert-blocker")
    try:
        _wait_for_open_entry(proc, env.root / "faults.jsonl", timeout=90)
        assert make_fault("missing-index").is_active(env)
        blocker.execute("LOCK TABLE enrollments IN ROW EXCLUSIVE MODE")
        proc.send_signal(signal.SIGINT)  # the stop: the drill starts reverting
        wait_for(lambda: _creating_index(env), timeout=60)
        time.sleep(2 * SAME_PRESS_S)  # a second press of Ctrl-C, not the first one again
        proc.send_signal(signal.SIGINT)
        time.sleep(0.001)
        proc.send_signal(signal.SIGTERM)
        time.sleep(2.0)
        assert proc.poll() is None, proc.communicate()  # still reverting
        blocker.rollback()  # the revert can go on now
        out, err = proc.communicate(timeout=120)
    finally:
        blocker.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    assert "reverting the fault first" in err, err
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None
    result, report = _only_result(reports)
    revert = result["measurements"]["revert"]
    assert revert is not None and revert["ok"], revert
    assert result["verdict"]["checks"]["fault_reverted"]
    assert not result["complete"] and "SIGINT" in result["failures"][0]
    assert not report["complete"]


def test_a_plans_drill_runs_in_its_own_session(env: LocalEnvironment, tmp_path: Path) -> None:
    """Ctrl-C at the terminal reaches the plan only; it forwards the stop to its drill."""
    from .test_drill_failures import plan_file

    exp = experiment_copy(tmp_path, "missing-index", load={"rate": 20})
    plan = plan_file(tmp_path, env, exp)
    plan.write_text(plan.read_text().replace("hold_s: 200", "hold_s: 600"))
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaosdrill",
            "run",
            "--plan",
            str(plan),
            "--reports",
            str(reports),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job
    )
    try:
        _wait_for_open_entry(proc, env.root / "faults.jsonl", timeout=90)
        [child] = psutil.Process(proc.pid).children()
        assert os.getsid(child.pid) != os.getsid(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None
    result, report = _only_result(reports)
    assert result["measurements"]["revert"]["ok"]
    assert not report["complete"]


def test_sighup_ends_a_stock_chaos_run_like_ctrl_c(env: LocalEnvironment, tmp_path: Path) -> None:
    """The stock CLI with a closed terminal: Chaos Toolkit leaves SIGHUP to Python's default
    (die at once); the control's stop handlers make it interrupt the run and revert."""
    from .test_drills import chaos_cmd

    cmd = chaos_cmd(env, tmp_path, "cache-outage", k=K, hold_s=600, reports=tmp_path / "reports")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_open_entry(proc, env.root / "faults.jsonl", timeout=120)
        assert make_fault("cache-outage").is_active(env)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != -signal.SIGHUP, "died on SIGHUP without reverting"
    assert not make_fault("cache-outage").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted", journal["status"]
    [ext] = [e for e in journal.get("extensions", []) if e.get("name") == "chaosdrill"]
    result = json.loads(Path(ext["result"]).read_text())
    assert result["measurements"]["revert"]["ok"], result["measurements"]["revert"]
    assert not result["complete"] and "SIGHUP" in result["failures"][0], result["failures"]
