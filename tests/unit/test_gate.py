"""The CI gate's judgement on real drill reports: gates, regressions, baselines, outputs."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from click.testing import CliRunner

from chaosdrill.cli.main import cli
from chaosdrill.drill.model import DrillResult
from chaosdrill.plans.gate import evaluate, find_baseline, render_summary, write_outputs
from chaosdrill.plans.model import Baseline, Gates, load_plan
from chaosdrill.report import Report, build_report
from tests.repo import ROOT as PROJECT_ROOT

DATA = Path(__file__).parent.parent / "data" / "drills"
XSD = PROJECT_ROOT / "src" / "chaosdrill" / "schemas" / "junit.xsd"


def real(name: str) -> dict[str, Any]:
    """A result written by a real drill (`chaosdrill run`, kept in tests/data/drills)."""
    return json.loads((DATA / f"{name}.json").read_text())


def report_of(*results: dict[str, Any], run_id: str = "RUN", name: str = "ci-gate") -> Report:
    from chaosdrill.report.model import ReportSettings

    return build_report(
        [(DrillResult.from_json(r), None) for r in results],
        run_id=run_id,
        settings=ReportSettings(name=name),
    )


def slower(result: dict[str, Any], factor: float) -> dict[str, Any]:
    """A real result with MTTD and MTTR stretched by ``factor`` (a derived variant)."""
    r = copy.deepcopy(result)
    for key in ("mttd_s", "mttr_s"):
        r[key] = r[key] * factor
        r["production_equivalent"][key] = r["production_equivalent"][key] * factor
    return r


GATES = Gates(
    min_score=70,
    max_mttd_s=300,
    max_mttr_s=1800,
    alerts_must_page=("HighErrorRate", "DatabaseDown"),
)


def test_real_passing_drills_pass_every_gate() -> None:
    result = evaluate(report_of(real("bad-release"), real("primary-crash")), GATES)
    assert result.passed and result.exit_code == 0, result.findings


def test_a_broken_runbook_fails_the_gate_naming_drill_and_measure() -> None:
    result = evaluate(report_of(real("bad-release-wrong-runbook")), Gates(max_mttr_s=1800))
    assert result.exit_code == 1
    mttr = [f for f in result.findings if f.measure == "MTTR"]
    assert mttr and mttr[0].drill == "bad-release" and mttr[0].now == "never recovered"
    assert any(f.kind == "drill" for f in result.findings)


def test_an_alert_that_must_page_and_did_not() -> None:
    result = evaluate(report_of(real("bad-release")), GATES)
    assert [f.message for f in result.findings] == [
        "DatabaseDown never paged (no drill of this run expects it)"
    ]


def test_mttr_over_its_bound() -> None:
    rep = report_of(real("primary-crash"))
    mttr = rep.drills[0].times.mttr.production_s
    assert mttr is not None
    result = evaluate(rep, Gates(max_mttr_s=100))
    [f] = result.findings
    assert (
        f.message
        == f"primary-crash: MTTR {mttr:.0f} s exceeds the gate's 100 s by {mttr - 100:.0f} s"
    )


def test_lost_writes_and_failed_steps_fail_the_gate() -> None:
    r = copy.deepcopy(real("primary-crash"))
    r["measurements"]["integrity"]["lost"] = ["a"]
    r["measurements"]["runbooks"][0]["steps"][0]["ok"] = False
    r["measurements"]["runbooks"][0]["steps"][0]["error"] = "boom"
    measures = {f.measure for f in evaluate(report_of(r), Gates()).findings}
    assert {"lost writes", "runbook step"} <= measures


def test_regressions_against_a_baseline() -> None:
    base = report_of(real("bad-release"), real("primary-crash"), run_id="BASE")
    now = report_of(slower(real("bad-release"), 2.0), real("primary-crash"))
    result = evaluate(now, Gates(), base, Baseline(mttd_margin_pct=50, min_margin_s=60))
    regs = [f for f in result.findings if f.kind == "regression"]
    assert {f.measure for f in regs} == {"MTTD", "MTTR"}
    mttd = next(f for f in regs if f.measure == "MTTD")
    was = base.drills[0].times.mttd.production_s
    assert was is not None
    assert mttd.drill == "bad-release" and mttd.baseline == f"{was:.0f} s"
    assert "+100 %" in mttd.message and result.baseline_run == "BASE"
    # within the margin: no regression
    small = report_of(slower(real("bad-release"), 1.2), real("primary-crash"))
    assert evaluate(small, Gates(), base, Baseline()).passed


def test_a_baseline_computed_the_old_way_is_not_compared_without_saying_so() -> None:
    split = json.loads((DATA.parent / "results" / "bad-release-split.json").read_text())
    old_base = report_of(slower(real("bad-release"), 0.2), run_id="BASE")  # x K, and fast
    assert old_base.drills[0].old_timing and not report_of(split).drills[0].old_timing
    result = evaluate(report_of(split), Gates(), old_base, Baseline(min_margin_s=1))
    assert not [f for f in result.findings if f.measure in ("MTTD", "MTTR")]
    [note] = result.notes
    assert note.startswith("bad-release: MTTD and MTTR not compared with the baseline")
    assert "the baseline's production-equivalent times were computed the old way" in note
    assert "Not compared:" in render_summary(report_of(split), result, "ci-gate")
    assert result.to_dict()["notes"] == [note]
    # the same method on both sides: compared as before
    same = evaluate(report_of(slower(split, 3.0)), Gates(), report_of(split), Baseline())
    assert {f.measure for f in same.findings if f.kind == "regression"} >= {"MTTD"}
    assert same.notes == []


def test_a_page_that_no_longer_arrives_is_a_regression() -> None:
    base = report_of(real("bad-release"), run_id="BASE")
    r = copy.deepcopy(real("bad-release"))
    r["verdict"]["checks"]["detected"] = False
    regs = [f for f in evaluate(report_of(r), Gates(), base).findings if f.kind == "regression"]
    assert regs[0].measure == "page" and regs[0].baseline == "paged"


def test_the_baseline_is_the_last_passing_run_in_the_history(tmp_path: Path) -> None:
    from chaosdrill.report.history import History

    history = History(tmp_path / "history.sqlite")
    plan = load_plan(PROJECT_ROOT / "drills" / "ci-gate.yaml")
    assert find_baseline(plan, None, history.path)[0] is None
    good = report_of(real("bad-release"), run_id="R1")
    (tmp_path / "R1").mkdir()
    (tmp_path / "R1" / "report.json").write_text(json.dumps(good.to_json()))
    history.record(good, tmp_path / "R1")
    bad = report_of(real("bad-release-wrong-runbook"), run_id="R2")
    history.record(bad, tmp_path / "R2")
    baseline, note = find_baseline(plan, "R3", history.path)
    assert baseline is not None and baseline.run_id == "R1" and note == "last passing run R1"


def test_outputs_junit_summary_and_the_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    rep = report_of(real("primary-crash"))
    result = evaluate(rep, Gates(max_mttr_s=100))
    paths = write_outputs(tmp_path / "run", rep, result, "ci-gate")
    xmlschema.XMLSchema(str(XSD)).validate(str(paths["junit.xml"]))
    junit = paths["junit.xml"].read_text()
    assert "exceeds the gate's 100 s" in junit
    text = summary.read_text()
    assert (
        text.startswith("earlier step\n") and "## chaosdrill gate ci-gate: FAILED (exit 1)" in text
    )
    assert "| primary-crash | MTTR |" in render_summary(rep, result, "ci-gate")
    assert json.loads(paths["gate.json"].read_text())["exit_code"] == 1


def test_invalid_plan_exits_2_writes_junit_and_runs_nothing(tmp_path: Path) -> None:
    plan = tmp_path / "broken.yaml"
    plan.write_text("version: 1\nname: x\ntime_scale: 0\n")
    result = CliRunner().invoke(cli, ["gate", str(plan), "--reports", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert "broken.yaml" in result.output and "time_scale" in result.output
    [run_dir] = list((tmp_path / "r").iterdir())
    junit = (run_dir / "junit.xml").read_text()
    xmlschema.XMLSchema(str(XSD)).validate(junit)
    assert "time_scale" in junit and (run_dir / "gate.md").is_file()
    assert not any(p.name == "drills" for p in run_dir.iterdir())


def test_judging_an_existing_run_with_from(tmp_path: Path) -> None:
    run = tmp_path / "r" / "RUN"
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps(report_of(real("primary-crash")).to_json()))
    plan = tmp_path / "tight.yaml"
    text = (PROJECT_ROOT / "drills" / "ci-gate.yaml").read_text()
    plan.write_text(
        text.replace("max_mttr_s: 1800", "max_mttr_s: 60")
        .replace("experiments/", str(PROJECT_ROOT / "experiments") + "/")
        .replace("alerts_must_page: [HighErrorRate, DatabaseDown]", "alerts_must_page: []")
        .replace("source: history", "source: none")
    )
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    result = CliRunner(env=env).invoke(
        cli, ["gate", str(plan), "--reports", str(tmp_path / "r"), "--from", str(run)]
    )
    assert result.exit_code == 1, result.output
    assert "exceeds the gate's 60 s" in (run / "gate.md").read_text()
