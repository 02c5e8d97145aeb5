"""Reports from real drill results: golden Markdown and terminal table, schemas, comms,
post-mortem, JUnit, and a partial drill that still renders."""

from __future__ import annotations

import copy
import dataclasses
import html
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from rich.console import Console

from chaosdrill.drill.model import DrillResult
from chaosdrill.report import Report, build_report
from chaosdrill.report.comms import render_comms
from chaosdrill.report.html import render_html
from chaosdrill.report.junit import render_junit
from chaosdrill.report.markdown import render_markdown
from chaosdrill.report.model import ReportSettings
from chaosdrill.report.postmortem import render_postmortem
from chaosdrill.report.terminal import summary_table
from tests.repo import ROOT as PROJECT_ROOT

DATA = Path(__file__).parent.parent / "data"
SCHEMAS = PROJECT_ROOT / "src" / "chaosdrill" / "schemas"
UPDATE = os.environ.get("CHAOSDRILL_UPDATE_GOLDEN") == "1"
NAMES = ("bad-release", "primary-crash", "leaky-feature", "bad-release-wrong-runbook")


def real(name: str) -> dict[str, Any]:
    """A result written by a real drill (`chaosdrill run`, kept in tests/data/drills)."""
    return json.loads((DATA / "drills" / f"{name}.json").read_text())


def partial() -> dict[str, Any]:
    """A real result cut short after the fault, as a killed drill leaves it."""
    r = copy.deepcopy(real("bad-release"))
    names = [e["name"] for e in r["timeline"]]
    r["timeline"] = r["timeline"][: names.index("t_inject") + 2]
    r["measurements"] = {"steady_state": r["measurements"]["steady_state"]}
    r["complete"] = False
    r["mttd_s"] = r["mttr_s"] = None
    r["production_equivalent"] = {k: None for k in r["production_equivalent"]}
    r["verdict"] = {"passed": False, "checks": {}, "reasons": []}
    r["journal"] = {"status": "interrupted"}
    return r


def normalise(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "<time>", text)
    return text


def make(results: list[dict[str, Any]], **kw: Any) -> Report:
    report = build_report([(DrillResult.from_json(r), None) for r in results], run_id="RUN", **kw)
    return dataclasses.replace(report, generated_at="2026-01-01T00:00:00+00:00")


@pytest.fixture(scope="module")
def plan_report() -> Report:
    settings = ReportSettings(
        name="quarterly",
        roles={"technical_lead": "Ada Lovelace", "communications_lead": "Grace Hopper"},
    )
    return make([real(n) for n in NAMES], settings=settings)


def golden(name: str, text: str) -> None:
    path = DATA / "golden" / name
    if UPDATE:
        path.write_text(text)
    assert normalise(text) == normalise(path.read_text()), f"{name} changed (see {path})"


def test_report_md_golden(plan_report: Report) -> None:
    golden("report.md", render_markdown(plan_report))


def test_terminal_summary_golden(plan_report: Report) -> None:
    console = Console(file=io.StringIO(), width=110, color_system=None, record=True)
    console.print(summary_table(plan_report))
    golden("summary.txt", console.export_text())


def test_report_json_matches_its_schema(plan_report: Report) -> None:
    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(json.dumps(plan_report.to_json())), schema)
    broken = plan_report.to_json()
    broken["drills"][0]["score"]["grade"] = "E"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_the_plan_summary_shows_the_distribution(plan_report: Report) -> None:
    s = plan_report.summary
    assert s.drills == 4 and s.drills_passed == 3 and not s.passed
    mttd = sorted(d.times.mttd.production_s or 0.0 for d in plan_report.drills)
    assert (s.mttd_s.min, s.mttd_s.max) == (mttd[0], mttd[-1])
    assert s.worst_severity == "P1"
    assert [d.id for d in plan_report.drills] == [
        "bad-release",
        "primary-crash",
        "leaky-feature",
        "bad-release-2",
    ]


def test_junit_has_one_case_per_drill_and_says_what_was_missed(
    plan_report: Report,
) -> None:
    text = render_junit(plan_report)
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd"))
    schema.validate(text)
    doc = schema.to_dict(text)
    suite = doc["testsuite"][0]
    assert suite["@tests"] == 4 and suite["@failures"] == 1 and suite["@errors"] == 0
    failed = [c for c in suite["testcase"] if "failure" in c]
    assert [c["@name"] for c in failed] == ["bad-release-2"]
    assert "MTTR: not measured (not recovered)" in failed[0]["failure"]["$"]


def test_junit_says_by_how_much_a_target_was_missed() -> None:
    r = copy.deepcopy(real("bad-release"))
    r["mttd_s"] = 412.0 / r["time_scale"]
    r["production_equivalent"]["mttd_s"] = 412.0
    r["verdict"]["passed"] = False
    text = render_junit(make([r]))
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(text)
    assert 'message="MTTD 412 s; target 300 s (112 s over)"' in text


def test_comms_fill_the_seed_template_from_the_timeline(plan_report: Report) -> None:
    text = render_comms(plan_report)
    assert "Sent to #incidents by Grace Hopper (Communications Lead)" in text
    first = re.split(r"\n## ", text)[1]
    assert "🚨 INCIDENT: Education Revenue Engine" in first
    assert "Severity: P1" in first and "Status: Investigating" in first
    assert "Status: Resolved" in first
    page = next(e for e in plan_report.drills[0].timeline if e.name == "t_page")
    assert f"page at T+0:0{int(round(page.production_s)) // 60}" in first
    assert "Resolution steps: rollback-deployment (ok)" in first
    failing = re.split(r"\n## ", text)[4]
    assert "Not sent: the service did not recover during the drill." in failing


def test_status_updates_every_15_minutes_for_a_long_incident() -> None:
    r = copy.deepcopy(real("bad-release"))
    r["time_scale"] = 600.0  # the same drill seconds, now 10x longer in production
    text = render_comms(make([r]))
    assert text.count("Status: Mitigating") >= 1


def test_postmortem_draft(plan_report: Report) -> None:
    text = render_postmortem(plan_report)
    assert text.count("### Root cause") == 4
    assert "Injected fault `bad-release`" in text
    assert "Unhandled exception" in text  # the seed's name of the cause
    failing = re.split(r"\n## ", text)[4]
    assert "| 1 | Recovery:" in failing and "Ada Lovelace" in failing
    assert "within 24 hours" in failing


def test_a_partial_drill_still_renders_marked_incomplete() -> None:
    report = make([partial()])
    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(report.to_json())), schema)
    d = report.drills[0]
    assert not report.complete and not d.complete
    assert "detection did not run" in d.incomplete_reasons
    assert "Chaos Toolkit status: interrupted" in d.incomplete_reasons
    assert "**INCOMPLETE**" in render_markdown(report)
    assert "INCOMPLETE" in render_postmortem(report)
    render_comms(report)
    text = render_junit(report)
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(text)
    assert "<error" in text


def test_an_interrupted_plan_is_incomplete_even_when_its_drills_finished() -> None:
    report = make([real("bad-release")], interrupted="interrupted (Ctrl-C) after 1 drill(s)")
    assert not report.complete and not report.summary.passed
    assert report.summary.reasons[0].startswith("interrupted")


def timed_out(finished: bool) -> dict[str, Any]:
    """A real result whose rollback step timed out; its rollback was then waited for."""
    r = copy.deepcopy(real("bad-release"))
    book = r["measurements"]["runbooks"][0]
    step = book["steps"][1]
    step.update(ok=False, error="rollback did not finish within the step's timeout (still running)")
    book["ok"] = False
    book["operation_wait"] = {
        "step": step["name"],
        "operation": "rollback",
        "waited_s": 1.5,
        "grace_s": 600.0,
        "finished": finished,
        "ok": finished,
        "error": None,
    }
    at = next(e for e in r["timeline"] if e.get("detail", {}).get("step") == step["name"])
    r["timeline"].append(
        {
            **copy.deepcopy(at),
            "name": "runbook_operation_wait",
            "t": at["t"] + 1.5,
            "detail": {"runbook": book["name"], **book["operation_wait"]},
        }
    )
    return r


@pytest.mark.parametrize("finished", [True, False])
def test_the_wait_for_an_operation_that_outlived_its_step_is_reported(finished: bool) -> None:
    data = timed_out(finished)
    assert DrillResult.from_json(data).to_json() == data
    report = make([data])
    as_file = json.loads(json.dumps(report.to_json()))
    jsonschema.validate(as_file, json.loads((SCHEMAS / "report.schema.json").read_text()))
    assert Report.from_json(as_file).to_json() == as_file
    [book] = report.drills[0].runbooks
    assert book.operation_wait is not None and book.operation_wait.finished is finished
    step = "'Roll back to the previous version'"
    ending = "it finished" if finished else "still running after the 600 s grace (not settled)"
    line = f"waited 1.5 s for rollback (step {step}): {ending}"
    assert f"Then the runbook {line}." in render_markdown(report)
    assert f"Runbook rollback-deployment then {line}." in render_postmortem(report)
    assert f"Then the runbook {line}." in html.unescape(render_html(report))
    label = "waited 1.5 s for rollback: " + ("finished" if finished else "still running")
    assert any(e.label.startswith(label) for e in report.drills[0].timeline)


def test_a_report_without_operation_waits_reads_as_none() -> None:
    report = make([real("bad-release")])
    data = json.loads(json.dumps(report.to_json()))
    assert all("operation_wait" not in b for b in data["drills"][0]["runbooks"])
    assert all(b.operation_wait is None for b in Report.from_json(data).drills[0].runbooks)
