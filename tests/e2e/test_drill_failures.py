"""Drills that must fail, and drills that are interrupted: the fault is reverted every time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.load import active_run
from chaosdrill.paths import EXPERIMENTS_DIR, PROBES_DIR

from ..conftest import start_env, stop_env
from .test_drills import drill

pytestmark = pytest.mark.e2e
K = 60


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("e2e-fail", **EnvSettings.for_time_scale(K).__dict__)
    try:
        yield environment
    finally:
        stop_env(environment)


def experiment_copy(tmp_path: Path, cause: str, **changes: object) -> Path:
    data = json.loads((EXPERIMENTS_DIR / f"{cause}.json").read_text())
    ext = data["extensions"][0]
    for key, value in changes.items():
        ext[key] = value
    if "runbook" in changes:
        for activity in data["method"]:
            if activity["provider"]["func"] == "run_runbook":
                activity["provider"]["arguments"] = {"name": changes["runbook"], "params": {}}
    path = tmp_path / f"{cause}.json"
    path.write_text(json.dumps(data))
    return path


def test_a_runbook_that_does_not_fix_the_cause_is_a_recovery_failure(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    exp = experiment_copy(tmp_path, "bad-release", runbook="scale-service")
    code, result = drill(env, exp, tmp_path, "--recovery-timeout", "300")
    assert code == 1
    checks = result["verdict"]["checks"]
    assert checks["detected"] and not checks["recovered"]
    assert any("did not return" in f for f in result["failures"]), result["failures"]
    assert checks["fault_reverted"]
    assert not make_fault("bad-release").is_active(env)
    assert env.deployment_status().version == "1.0.0"


def test_an_alert_that_cannot_fire_is_a_detection_failure(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    probes = tmp_path / "probes"
    shutil.copytree(PROBES_DIR, probes)
    rules = probes / "service.rules.yml"
    text = rules.read_text()
    assert "> 0.05" in text
    rules.write_text(text.replace("> 0.05", "> 2", 1))  # a share can never pass 200 %
    code, result = drill(
        env,
        EXPERIMENTS_DIR / "bad-release.json",
        tmp_path,
        extra_env={"CHAOSDRILL_PROBES_DIR": str(probes)},
    )
    assert code == 1
    assert not result["verdict"]["checks"]["detected"]
    assert result["mttd_s"] is None
    assert any("HighErrorRate did not page" in f for f in result["failures"])
    assert result["verdict"]["checks"]["fault_reverted"]
    assert not make_fault("bad-release").is_active(env)


def _start(env: LocalEnvironment, tmp_path: Path) -> subprocess.Popen[str]:
    exp = experiment_copy(tmp_path, "missing-index", load={"rate": 20})
    cmd = [
        sys.executable,
        "-m",
        "chaosdrill",
        "run",
        str(exp),
        "--env",
        env.name,
        "--time-scale",
        str(K),
        "--hold",
        "600",
        "--reports",
        str(tmp_path),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = FaultLedger(env.root / "faults.jsonl")
    deadline = time.monotonic() + 90
    while not ledger.open_entries():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the drill never injected its fault"
        time.sleep(0.1)
    time.sleep(1.0)  # the fault is applied right after the ledger entry
    assert make_fault("missing-index").is_active(env)
    return proc


def test_sigterm_mid_fault_reverts(env: LocalEnvironment, tmp_path: Path) -> None:
    proc = _start(env, tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None


def test_kill_9_mid_fault_then_env_recover_reverts(env: LocalEnvironment, tmp_path: Path) -> None:
    proc = _start(env, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert make_fault("missing-index").is_active(env)  # left behind by the kill
    res = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "recover", "--name", env.name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 fault(s) reverted" in res.stdout
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None
