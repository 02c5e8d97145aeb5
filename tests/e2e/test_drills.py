"""Whole drills at a high time scale: the alert pages, the runbook restores, the fault goes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.paths import EXPERIMENTS_DIR

from ..conftest import start_env, stop_env

pytestmark = pytest.mark.e2e
K = 20  # drills run 20x faster than production: MTTD target 15 s, MTTR target 90 s
HOLD = 200  # production seconds of hold (10 s at K)
CAUSES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    from chaosdrill.environments.local import EnvSettings

    environment = start_env("e2e", **EnvSettings.for_time_scale(K).__dict__)
    try:
        yield environment
    finally:
        stop_env(environment)


def drill(
    env: LocalEnvironment,
    experiment: Path,
    reports: Path,
    *extra: str,
    extra_env: dict[str, str] | None = None,
) -> tuple[int, dict]:  # type: ignore[type-arg]
    cmd = [
        sys.executable,
        "-m",
        "chaosdrill",
        "run",
        str(experiment),
        "--env",
        env.name,
        "--time-scale",
        str(K),
        "--hold",
        str(HOLD),
        "--reports",
        str(reports),
        "--quiet",
        *extra,
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(extra_env or {})},
    )
    found = [
        ln.split(": ", 1)[1]
        for ln in proc.stderr.splitlines()
        if ln.startswith("chaosdrill-result: ")
    ]
    assert (
        found
    ), f"no result (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads(Path(found[-1]).read_text())


def assert_healthy(env: LocalEnvironment) -> None:
    url = env.endpoints().service_url
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    r = httpx.post(
        f"{url}/api/enrollments",
        json={"course_id": 9, "student_email": "after@example.org"},
        timeout=5,
    )
    assert r.status_code == 201
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert not any(p.is_running() for p in _load_processes(env))


def _load_processes(env: LocalEnvironment) -> list:  # type: ignore[type-arg]
    from chaosdrill.load import latest_run

    run = latest_run(env.root / "load")
    return run.processes() if run else []


@pytest.mark.parametrize("cause", CAUSES)
def test_drill(env: LocalEnvironment, cause: str, tmp_path: Path) -> None:
    code, result = drill(env, EXPERIMENTS_DIR / f"{cause}.json", tmp_path)
    checks = result["verdict"]["checks"]
    assert result["failures"] == [] and code == 0, (checks, result["failures"])
    assert result["mttd_s"] is not None and result["mttd_s"] <= result["targets"]["mttd_s"]
    assert result["mttr_s"] is not None and result["mttr_s"] <= result["targets"]["mttr_s"]
    assert result["production_equivalent"]["mttd_s"] == pytest.approx(result["mttd_s"] * K)
    assert checks["fault_reverted"] and checks["verification_passed"]
    assert not make_fault(cause).is_active(env)
    names = [e["name"] for e in result["timeline"]]
    for mark in ("t_inject", "t_page", "t_mitigated", "t_recovered", "t_reverted"):
        assert mark in names, names
    # the page came within one evaluation interval plus Alertmanager's group wait of the
    # moment Prometheus fired (the webhook's startsAt), with 1 s for delivery
    page = next(e for e in result["timeline"] if e["name"] == "t_page")
    starts_at = datetime.fromisoformat(result["measurements"]["detection"]["webhook_starts_at"])
    received = datetime.fromisoformat(page["wall"])
    lag = (received - starts_at).total_seconds()
    settings = env.state.settings
    assert -0.5 <= lag <= settings.evaluation_interval_s + settings.group_wait_s + 1.0, lag
    assert_healthy(env)


def test_the_stock_chaos_cli_runs_the_same_drill(env: LocalEnvironment, tmp_path: Path) -> None:
    chaos = Path(sys.executable).parent / "chaos"
    cmd = [
        str(chaos),
        "--log-file",
        str(tmp_path / "chaostoolkit.log"),
        "run",
        "--journal-path",
        str(tmp_path / "journal.json"),
        "--var",
        f"chaosdrill_env={env.name}",
        "--var",
        f"chaosdrill_time_scale={K}",
        "--var",
        f"chaosdrill_hold_s={HOLD}",
        "--var",
        f"chaosdrill_reports={tmp_path}",
        str(EXPERIMENTS_DIR / "primary-crash.json"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed"
    [ext] = [e for e in journal.get("extensions", []) if e.get("name") == "chaosdrill"]
    result = json.loads(Path(ext["result"]).read_text())
    assert result["chaosdrill_result_version"] == 1 and result["cause"] == "primary-crash"
    assert result["verdict"]["passed"], result["verdict"]
    assert result["journal"]["status"] == "completed"
    assert_healthy(env)
