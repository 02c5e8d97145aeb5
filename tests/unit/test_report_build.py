"""The report is built as typed values: what ``build_report`` makes is exactly what its own
report.json reads back as, duplicate causes get distinct ids, and improvements follow the
score's reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdrill.drill.model import DrillResult
from chaosdrill.report import Report, ReportSettings, build_report, drill_report
from chaosdrill.report.drill_types import Score, ScorePart
from chaosdrill.report.improvements import improvements
from chaosdrill.report.types import DrillSection

DATA = Path(__file__).parent.parent / "data"
RESULTS = sorted(
    p for p in DATA.glob("*/*.json") if "chaosdrill_result_version" in json.loads(p.read_text())
)


def _result(path: Path) -> DrillResult:
    return DrillResult.from_json(json.loads(path.read_text()))


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_built_report_equals_its_report_json_read_back(path: Path) -> None:
    rep = build_report([(_result(path), str(path))], run_id="RUN")
    data = json.loads(json.dumps(rep.to_json()))
    assert Report.from_json(data, source="report.json") == rep


def test_a_plan_report_equals_its_report_json_read_back() -> None:
    settings = ReportSettings(name="quarterly", roles={"scribe": "Ada"})
    rep = build_report([(_result(p), None) for p in RESULTS], run_id="RUN", settings=settings)
    assert Report.from_json(json.loads(json.dumps(rep.to_json()))) == rep
    assert rep.kind == "plan"
    assert rep.summary.drills == len(RESULTS) == len(rep.drills)
    assert rep.plan.roles == {"scribe": "Ada"}


def test_drill_report_is_a_drill_section_of_the_result() -> None:
    result = _result(DATA / "drills" / "primary-crash.json")
    d = drill_report(result, result_path="x.json")
    assert isinstance(d, DrillSection)
    assert (d.scenario, d.cause, d.result_path) == (result.scenario, result.cause, "x.json")
    assert d.times.mttd.drill_s == result.mttd_s
    assert [e.name for e in d.timeline] == [e.name for e in result.timeline if e.name != "activity"]


def test_the_same_cause_twice_gets_distinct_ids() -> None:
    result = _result(DATA / "drills" / "bad-release.json")
    rep = build_report([(result, None)] * 3, run_id="RUN")
    base = rep.drills[0].id
    assert [d.id for d in rep.drills] == [base, f"{base}-2", f"{base}-3"]
    assert rep.summary.incomplete_drills == ()


def test_improvements_follow_the_reasons_of_each_part() -> None:
    parts = (
        ScorePart("detection", 0.0, 30.0, "no page", "<= 60 s", ("HighErrorRate never paged",)),
        ScorePart("recovery", 30.0, 30.0, "10 s (MTTR)", "<= 600 s", ()),
        ScorePart("impact", 10.0, 20.0, "", "", ("2 acknowledged write(s) lost", "3 failed")),
    )
    score = Score(40.0, 100.0, "F", False, None, (), parts)
    lines = improvements(score, "HighErrorRate", ["rollback"])
    assert len(lines) == 3
    assert lines[0].startswith("Detection: HighErrorRate never paged. Check that the HighError")
    assert lines[1].startswith("Data: 2 acknowledged write(s) lost. Review replication")
    assert lines[2].startswith("Impact: 3 failed. Shorten the time to mitigate")
    assert (
        "Review the runbook"
        in improvements(
            Score(
                0.0, 100.0, "F", False, None, (), (ScorePart("recovery", 0, 30, "", "", ("x",)),)
            ),
            None,
            [],
        )[0]
    )
