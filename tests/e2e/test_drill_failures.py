"""Drills that must fail, and drills that are interrupted: the fault is reverted every time."""

from __future__ import annotations

import json
import os
import re
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
from tests.repo import EXPERIMENTS_DIR, PROBES_DIR, make_workspace
from tests.repo import ROOT as PROJECT_ROOT

from ..conftest import start_env, stop_env

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


def plan_file(tmp_path: Path, env: LocalEnvironment, experiment: Path, **gates: object) -> Path:
    """A one-drill plan on this module's environment (K = 60, hold 200 s)."""
    gate_lines = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in gates.items())
    default = "  min_score: 70\n"
    path = tmp_path / "plan.yaml"
    path.write_text(
        "version: 1\n"
        "name: failing-gate\n"
        f"environment: {{backend: local, name: {env.name}}}\n"
        f"time_scale: {K}\n"
        "hold_s: 200\n"
        f"drills:\n  - experiment: {experiment}\n"
        "baseline: {source: none}\n"
        f"gates:\n{gate_lines or default}"
    )
    return path


def gate(
    plan: Path, tmp_path: Path, extra_env: dict[str, str] | None = None
) -> tuple[int, str, dict, dict]:  # type: ignore[type-arg]
    """Run `chaosdrill gate PLAN`; return exit code, output, the report and the drill result."""
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaosdrill",
            "gate",
            str(plan),
            "--reports",
            str(reports),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(extra_env or {})},
    )
    [run] = [p for p in reports.iterdir() if p.is_dir()]
    report = json.loads((run / "report.json").read_text())
    result = json.loads(Path(report["drills"][0]["result_path"]).read_text())
    return (
        proc.returncode,
        proc.stdout + proc.stderr + (run / "gate.md").read_text(),
        report,
        result,
    )


def test_a_runbook_that_does_not_fix_the_cause_fails_the_gate(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    exp = experiment_copy(tmp_path, "bad-release", runbook="scale-service")
    plan = plan_file(tmp_path, env, exp, max_mttr_s=600, alerts_must_page=["HighErrorRate"])
    # an MTTR target of 10 min: the drill gives up waiting for recovery after twice that
    plan.write_text(
        plan.read_text().replace("hold_s: 200", "hold_s: 600\ntargets: {mttd_s: 300, mttr_s: 600}")
    )
    code, output, report, result = gate(plan, tmp_path)
    assert code == 1, output[-3000:]
    checks = result["verdict"]["checks"]
    # scaling does not remove a bad release: either steady state never returns, or (by
    # chance, in a quiet spell of enrollments) it returns past the MTTR bound; the
    # enrollment flow still fails verification either way
    assert checks["detected"] and not checks["mttr_within_target"], (checks, result["failures"])
    assert re.search(
        r"bad-release: MTTR(: never recovered| \d+ s exceeds the gate's 600 s)", output
    )
    assert "bad-release: the drill failed" in output
    assert not checks["verification_passed"]
    assert not report["drills"][0]["score"]["passed"]
    assert checks["fault_reverted"]
    assert not make_fault("bad-release").is_active(env)
    assert env.deployment_status().version == "1.0.0"


def test_an_alert_that_cannot_fire_fails_the_gate(env: LocalEnvironment, tmp_path: Path) -> None:
    text = (PROBES_DIR / "service.rules.yml").read_text()
    assert "> 0.05" in text
    # a workspace rule file of a built-in one's name overrides it: a share never passes 200 %
    ws = make_workspace(
        tmp_path / "ws", {"probes/service.rules.yml": text.replace("> 0.05", "> 2", 1)}
    )
    plan = plan_file(
        tmp_path, env, EXPERIMENTS_DIR / "bad-release.json", alerts_must_page=["HighErrorRate"]
    )
    code, output, report, result = gate(plan, tmp_path, extra_env={"CHAOSDRILL_WORKSPACE": str(ws)})
    assert code == 1, output[-3000:]
    assert "HighErrorRate never paged (bad-release)" in output
    assert not result["verdict"]["checks"]["detected"]
    assert result["mttd_s"] is None
    assert any("HighErrorRate did not page" in f for f in result["failures"])
    assert result["verdict"]["checks"]["fault_reverted"]
    assert not make_fault("bad-release").is_active(env)


def test_the_gate_exits_3_when_the_environment_cannot_come_up(tmp_path: Path) -> None:
    """Prometheus refuses a rule file it cannot parse, so the environment never comes up."""
    broken = (PROBES_DIR / "cache.rules.yml").read_text()
    ws = make_workspace(
        tmp_path / "ws",
        {
            "probes/cache.rules.yml": broken.replace(
                'redis_up{job="redis"} == 0', 'redis_up{job="redis" == 0', 1
            )
        },
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        (PROJECT_ROOT / "drills" / "ci-gate.yaml")
        .read_text()
        .replace("name: ci-gate, replicas", "name: e2e-broken, replicas")
        .replace("experiments/", f"{EXPERIMENTS_DIR}/")
    )
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "gate", str(plan), "--reports", str(reports)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "CHAOSDRILL_WORKSPACE": str(ws), "COLUMNS": "200"},
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "prometheus" in proc.stdout.lower()
    [run] = [p for p in reports.iterdir() if p.is_dir()]
    junit = (run / "junit.xml").read_text()
    assert "<failure" in junit and "prometheus" in junit.lower()
    assert "(exit 3)" in (run / "gate.md").read_text()
    assert not Path("/var/lib/chaosdrill/envs/e2e-broken").exists()


def _start(env: LocalEnvironment, tmp_path: Path, *, plan: bool = False) -> subprocess.Popen[str]:
    exp = experiment_copy(tmp_path, "missing-index", load={"rate": 20})
    if plan:  # the same drill as a plan: `chaosdrill run --plan`
        path = plan_file(tmp_path, env, exp)
        path.write_text(path.read_text().replace("hold_s: 200", "hold_s: 600"))
        cmd = [
            sys.executable,
            "-m",
            "chaosdrill",
            "run",
            "--plan",
            str(path),
            "--reports",
            str(tmp_path / "reports"),
            "--quiet",
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "chaosdrill",
            "run",
            str(exp),
            "--name",
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


def test_sigterm_to_a_plan_mid_fault_reverts_and_writes_a_partial_report(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    proc = _start(env, tmp_path, plan=True)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None
    [run] = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    report = json.loads((run / "report.json").read_text())
    assert not report["complete"] and report["interrupted"].startswith(
        "interrupted (signal SIGTERM)"
    )
    assert "INCOMPLETE" in (run / "report.md").read_text()


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
    out = " ".join(res.stdout.split())
    assert f"cleared the hold of drill 'missing-index' (pid {proc.pid}," in out  # it is gone
    assert not (env.root / "holder.json").exists()
    assert not make_fault("missing-index").is_active(env)
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert active_run(env.root / "load") is None


def test_a_fault_whose_injection_raises_ends_the_drill_with_that_reason_first(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    """Nothing runs against a fault that was never applied: no page wait, no runbook."""
    from chaosdrill.drill.engine import run_drill
    from chaosdrill.environments.base import Environment
    from chaosdrill.faults.base import REGISTRY, Fault, register
    from chaosdrill.scenarios.settings import SpecOverrides

    class RefusedFault(Fault):
        kind = "refused-by-the-environment"
        scenario = "high-error-rate"
        description = "a fault whose injection fails on the live system"

        def inject(self, env: Environment) -> None:
            raise RuntimeError("the environment refused the fault")

        def revert(self, env: Environment) -> None:
            pass

        def is_active(self, env: Environment) -> bool:
            return False

    register(RefusedFault)
    try:
        data = json.loads((EXPERIMENTS_DIR / "bad-release.json").read_text())
        data["method"][0]["provider"]["arguments"] = {"kind": RefusedFault.kind, "params": {}}
        path = tmp_path / "refused.json"
        path.write_text(json.dumps(data))
        start = time.monotonic()
        outcome = run_drill(
            path,
            SpecOverrides(env_name=env.name, time_scale=K, hold_production_s=60, reports=tmp_path),
        )
        elapsed = time.monotonic() - start
    finally:
        REGISTRY.pop(RefusedFault.kind, None)
    result = outcome.result
    assert not outcome.passed
    reasons = result.verdict.reasons
    assert "could not be injected" in reasons[0] and "refused the fault" in reasons[0]
    measurements = result.measurements
    assert measurements.detection is None and measurements.runbooks is None
    assert measurements.revert is not None and measurements.revert.ok
    assert FaultLedger(env.root / "faults.jsonl").open_entries() == []
    assert elapsed < 60  # no wait for a page (3 MTTD targets) nor for recovery
