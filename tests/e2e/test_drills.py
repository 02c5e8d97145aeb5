"""Whole drills at a high time scale: the alert pages, the runbook restores, the fault goes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import jsonschema
import pytest
import xmlschema

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.faults import make_fault
from chaosdrill.faults.ledger import FaultLedger
from tests.repo import EXPERIMENTS_DIR
from tests.repo import ROOT as PROJECT_ROOT

from ..conftest import start_env, stop_env

pytestmark = pytest.mark.e2e
K = 20  # drills run 20x faster than production: MTTD target 15 s, MTTR target 90 s
HOLD = 200  # production seconds of hold (10 s at K)
CAUSES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.json"))
GATE_PLAN = PROJECT_ROOT / "drills" / "ci-gate.yaml"
GATE_CAUSES = ["bad-release", "primary-crash"]  # the drills of ci-gate.yaml
SCHEMAS = PROJECT_ROOT / "src" / "chaosdrill" / "schemas"


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
        "--name",
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
        if ln.startswith("chaosdrill-report: ")
    ]
    assert (
        found
    ), f"no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(Path(found[-1]).read_text())
    [result_path] = [d["result_path"] for d in report["drills"]]
    assert Path(result_path) == Path(found[-1]).parent / "drills" / f"01-{experiment.stem}.json"
    return proc.returncode, json.loads(Path(result_path).read_text())


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


@dataclass
class GateRun:
    """The shipped CI-gate plan, run once on the module's environment."""

    code: int
    output: str
    out_dir: Path
    report: dict  # type: ignore[type-arg]
    step_summary: str

    def result(self, cause: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        d = next(d for d in self.report["drills"] if d["cause"] == cause)
        result = json.loads(Path(d["result_path"]).read_text())
        return (0 if d["score"]["passed"] else 1), result


@pytest.fixture(scope="module")
def gate_run(env: LocalEnvironment, tmp_path_factory: pytest.TempPathFactory) -> GateRun:
    """`chaosdrill gate drills/ci-gate.yaml` (K = 20, hold 200 s, like this module)."""
    reports = tmp_path_factory.mktemp("gate")
    summary = reports / "step-summary.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaosdrill",
            "gate",
            str(GATE_PLAN),
            "--name",
            env.name,
            "--reports",
            str(reports),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "COLUMNS": "200"},
    )
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, (proc.stdout[-3000:], proc.stderr[-3000:])
    report = json.loads((runs[0] / "report.json").read_text())
    text = summary.read_text() if summary.exists() else ""
    return GateRun(proc.returncode, proc.stdout + proc.stderr, runs[0], report, text)


def test_the_gate_passes_on_the_shipped_plan(gate_run: GateRun) -> None:
    assert gate_run.code == 0, gate_run.output[-3000:]
    assert "gate PASSED" in gate_run.output
    assert [d["cause"] for d in gate_run.report["drills"]] == GATE_CAUSES
    for name in (
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
        "comms.md",
        "postmortem.md",
        "gate.md",
        "gate.json",
    ):
        assert (gate_run.out_dir / name).stat().st_size > 0, name
    junit = (gate_run.out_dir / "junit.xml").read_text()
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(junit)
    assert junit.count("<testcase ") == 3 and 'failures="0"' in junit  # 2 drills + plan gates
    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.validate(gate_run.report, schema)
    assert "## chaosdrill gate ci-gate: PASSED (exit 0)" in gate_run.step_summary
    assert "first run" in gate_run.step_summary  # a fresh history: no baseline yet
    from chaosdrill.report.history import History

    [row] = History(gate_run.out_dir.parent / "history.sqlite").runs("ci-gate")
    assert row.passed and row.run_id == gate_run.report["run_id"]
    for d in gate_run.report["drills"]:
        series = d["series"]["prometheus"]
        assert series["error_rate"]["series"][0]["points"], d["id"]
        assert len(series["database_up"]["series"]) == 2, d["id"]
        assert d["alerts_at_end"] == [], d["id"]


def test_the_gate_fails_when_mttr_exceeds_its_bound(gate_run: GateRun, tmp_path: Path) -> None:
    """The same real run judged by a plan whose MTTR bound it misses (``--from``)."""
    plan = tmp_path / "tight.yaml"
    plan.write_text(
        GATE_PLAN.read_text()
        .replace("max_mttr_s: 1800", "max_mttr_s: 60")
        .replace("experiments/", f"{EXPERIMENTS_DIR}/")
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaosdrill",
            "gate",
            str(plan),
            "--from",
            str(gate_run.out_dir),
            "--reports",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    mttr = gate_run.report["drills"][0]["times"]["mttr"]["production_s"]
    message = f"bad-release: MTTR {mttr:.0f} s exceeds the gate's 60 s by {mttr - 60:.0f} s"
    assert message in proc.stdout
    assert message in (gate_run.out_dir / "gate.md").read_text()


@pytest.mark.parametrize("cause", CAUSES)
def test_drill(
    env: LocalEnvironment, cause: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    secret = None
    if cause in GATE_CAUSES:  # already run by the CI gate on this environment
        code, result = request.getfixturevalue("gate_run").result(cause)
    elif cause == "connection-limit":  # as a role of its own, with a password to look for
        code, result, secret = _drill_with_password(env, cause, tmp_path)
    else:
        code, result = drill(env, EXPERIMENTS_DIR / f"{cause}.json", tmp_path)
    checks = result["verdict"]["checks"]
    assert result["failures"] == [] and code == 0, (checks, result["failures"])
    assert result["mttd_s"] is not None and result["mttd_s"] <= result["targets"]["mttd_s"]
    assert result["mttr_s"] is not None and result["mttr_s"] <= result["targets"]["mttr_s"]
    _assert_timing(result)
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
    if secret is not None:  # in no ledger, result, report or log
        inject = next(e for e in result["timeline"] if e["name"] == "t_inject")
        assert inject["detail"]["fault"]["params"]["password"] == "<redacted>"
        written = [env.root / "faults.jsonl", *(tmp_path / "reports").rglob("*")]
        assert any(p.name == "postmortem.md" for p in written)
        assert any(p.name == "report.html" for p in written)
        for path in [*written, *env.state.logs.glob("*")]:
            if path.is_file():
                assert secret not in path.read_text(errors="replace"), path


def _assert_timing(result: dict) -> None:  # type: ignore[type-arg]
    """The split production figures, the floor and the recovery's order of events."""
    pe, timing = result["production_equivalent"], result["timing"]
    mttd, mttr = result["mttd_s"], result["mttr_s"]
    # program time is not scaled, the monitoring pipeline is: between x1 and xK
    assert mttd <= pe["mttd_s"] <= mttd * K + 1e-3, (mttd, pe)
    assert mttr <= pe["mttr_s"] <= mttr * K + 1e-3, (mttr, pe)
    assert timing["method"] == "split-v1" and timing["time_scale"] == K
    # the reported floor is never above the measured MTTD, in drill or production seconds
    floor = timing["floor"]
    assert floor["drill_s"] <= mttd, (floor, mttd)
    assert floor["production_s"] <= pe["mttd_s"], (floor, pe)
    # recovery counts only after the response began and once the fault was gone
    recovery = result["measurements"]["recovery"]
    assert recovery["kind"] in ("restored", "held"), recovery
    assert mttr >= mttd and pe["mttr_s"] >= pe["mttd_s"]
    t = {e["name"]: e["t"] for e in reversed(result["timeline"])}
    assert t["t_recovered"] >= t["t_mitigated"] >= max(t["t_response_start"], t["t_fault_cleared"])


def _drill_with_password(
    env: LocalEnvironment, cause: str, tmp_path: Path
) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """The cause's drill as a role made for it, with a unique ``password`` for its fault.

    The environment has no credentials for the role, so the fault must send the password
    it was given; a member of ``revenue``, so that it may evict the service's backends.
    """
    secret = f"pw-{os.urandom(8).hex()}"
    role = f"drill_{os.urandom(4).hex()}"
    env.sql(f"create role {role} login password '{secret}' in role revenue")
    experiment = json.loads((EXPERIMENTS_DIR / f"{cause}.json").read_text())
    [inject] = [a for a in experiment["method"] if a["provider"].get("func") == "inject_fault"]
    inject["provider"]["arguments"]["params"].update(user=role, password=secret)
    path = tmp_path / "experiments" / f"{cause}.json"
    path.parent.mkdir()
    path.write_text(json.dumps(experiment))
    try:
        code, result = drill(env, path, tmp_path / "reports")
    finally:
        env.sql(f"drop role {role}")
    return code, result, secret


def chaos_cmd(
    env: LocalEnvironment,
    tmp_path: Path,
    cause: str,
    *extra: str,
    k: float = K,
    hold_s: float = HOLD,
    reports: Path | None = None,
) -> list[str]:
    """The stock ``chaos run`` command line of one experiment (journal in ``tmp_path``)."""
    chaos = Path(sys.executable).parent / "chaos"
    return [
        str(chaos),
        "--log-file",
        str(tmp_path / "chaostoolkit.log"),
        "run",
        *extra,
        "--journal-path",
        str(tmp_path / "journal.json"),
        "--var",
        f"chaosdrill_env={env.name}",
        "--var",
        f"chaosdrill_time_scale={k:g}",
        "--var",
        f"chaosdrill_hold_s={hold_s:g}",
        "--var",
        f"chaosdrill_reports={reports or tmp_path}",
        str(EXPERIMENTS_DIR / f"{cause}.json"),
    ]


def _chaos_run(
    env: LocalEnvironment, tmp_path: Path, cause: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """The stock ``chaos run`` of one experiment at the tests' time scale."""
    cmd = chaos_cmd(env, tmp_path, cause, *extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def test_a_recovery_before_the_page_is_not_reported_as_one(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    """Redis stopped (the service falls back to the database): users barely notice.

    Written from docs/faults.md as a new user would (mode stop, alert CacheDown, runbook
    warm-cache). The users' SLOs may hold all along; recovery still waits for the runbook
    to bring Redis back, so MTTR is never below MTTD, and the report says why.
    """
    experiment = json.loads((EXPERIMENTS_DIR / "cache-outage.json").read_text())
    experiment["extensions"][0].update(alert="CacheDown")
    for activity in experiment["method"]:
        args = activity["provider"].get("arguments", {})
        if activity["provider"].get("func") == "inject_fault":
            args["params"] = {"mode": "stop"}
        if "alert" in args:
            args["alert"] = "CacheDown"
    path = tmp_path / "cache-stop.json"
    path.write_text(json.dumps(experiment))
    code, result = drill(env, path, tmp_path / "reports")
    recovery = result["measurements"]["recovery"]
    assert recovery["recovered"], result["failures"]
    assert result["mttr_s"] >= result["mttd_s"], (result["mttd_s"], result["mttr_s"])
    t = {e["name"]: e["t"] for e in reversed(result["timeline"])}
    assert t["t_fault_cleared"] >= t["t_response_start"] >= t["t_page"]
    assert t["t_mitigated"] >= t["t_fault_cleared"]
    assert recovery["fault_cleared_s"] == pytest.approx(
        t["t_fault_cleared"] - t["t_inject"], abs=1e-3
    )
    assert recovery["kind"] in ("held", "restored")
    if recovery["kind"] == "held":  # the report says so beside MTTR
        report = json.loads(next((tmp_path / "reports").rglob("report.json")).read_text())
        [part] = [p for p in report["drills"][0]["score"]["parts"] if p["name"] == "recovery"]
        assert "the SLOs held through the fault" in part["measured"], part
    assert code == 0, result["failures"]
    assert not make_fault("cache-outage", {"mode": "stop"}).is_active(env)


def test_the_stock_chaos_cli_runs_the_same_drill(env: LocalEnvironment, tmp_path: Path) -> None:
    proc = _chaos_run(env, tmp_path, "primary-crash")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed"
    [ext] = [e for e in journal.get("extensions", []) if e.get("name") == "chaosdrill"]
    result = json.loads(Path(ext["result"]).read_text())
    assert result["chaosdrill_result_version"] == 1 and result["cause"] == "primary-crash"
    assert result["verdict"]["passed"], result["verdict"]
    assert result["journal"]["status"] == "completed"
    report = json.loads(Path(ext["report"]).read_text())  # the stock CLI gets the reports too
    assert report["kind"] == "drill" and report["summary"]["passed"]
    for name in ("report.md", "report.html", "junit.xml", "comms.md", "postmortem.md"):
        assert (Path(ext["report"]).parent / name).is_file(), name
    run = Path(ext["report"]).parent  # the run folder every entry point writes
    assert Path(ext["result"]) == run / "drills" / "01-primary-crash.json"
    assert run.parent == tmp_path and run.name.endswith("-primary-crash")
    assert_healthy(env)


def test_skipped_rollbacks_still_revert_before_the_result_says_so(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    proc = _chaos_run(env, tmp_path, "cache-outage", "--rollback-strategy", "never")
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert not journal.get("rollbacks"), journal.get("rollbacks")  # Chaos Toolkit skipped them
    [ext] = [e for e in journal.get("extensions", []) if e.get("name") == "chaosdrill"]
    result = json.loads(Path(ext["result"]).read_text())
    revert = result["measurements"]["revert"]
    assert revert is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert revert["reverted"] == ["cache-outage"] and revert["ok"], revert
    assert result["verdict"]["checks"]["fault_reverted"]
    names = [e["name"] for e in result["timeline"]]
    # the revert the result reports happened before the result was written, by the control
    assert names.index("rollbacks_not_played") < names.index("t_reverted")
    assert not make_fault("cache-outage", {"mode": "freeze"}).is_active(env)
    assert_healthy(env)


def test_a_workspace_runbook_that_overrides_a_builtin_one_is_the_one_that_runs(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    """The workspace's rollback-deployment (one step renamed) runs; reports go to its reports/."""
    from tests.repo import RUNBOOKS_DIR, make_workspace

    builtin = (RUNBOOKS_DIR / "rollback-deployment.yaml").read_text()
    ours = builtin.replace(
        "- name: Roll back to the previous version", "- name: Roll back (ours)", 1
    )
    assert ours != builtin
    ws = make_workspace(tmp_path / "team", {"runbooks/rollback-deployment.yaml": ours})
    proc = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "run", "bad-release", "--name", env.name,
         "--time-scale", str(K), "--hold", str(HOLD), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**os.environ, "CHAOSDRILL_WORKSPACE": str(ws)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run] = [p for p in (ws / "reports").iterdir() if p.is_dir()]  # the workspace's reports/
    result = json.loads((run / "drills" / "01-bad-release.json").read_text())
    [book] = result["measurements"]["runbooks"]
    assert book["name"] == "rollback-deployment"
    assert (book["source"], book["file"]) == (
        "workspace",
        str(ws / "runbooks" / book["file"].split("/")[-1]),
    )
    assert "Roll back (ours)" in [s["name"] for s in book["steps"]]
    report = json.loads((run / "report.json").read_text())
    assert report["drills"][0]["runbooks"][0]["source"] == "workspace"
    assert "(workspace)" in (run / "report.md").read_text()
    assert_healthy(env)
