"""report.json read into typed values and written back: every report of the committed drill
results round-trips exactly (byte-identical JSON), and a bad file names the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError
from chaosdrill.report import Report, ReportSettings, build_report
from chaosdrill.report.types import read_report
from tests.repo import ROOT as PROJECT_ROOT

DATA = Path(__file__).parent.parent / "data"
SCHEMA = json.loads((PROJECT_ROOT / "src/chaosdrill/schemas/report.schema.json").read_text())
RESULTS = sorted(
    p for p in DATA.glob("*/*.json") if "chaosdrill_result_version" in json.loads(p.read_text())
)


def _result(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _typed(r: dict[str, Any]) -> DrillResult:
    return DrillResult.from_json(r)


def _partial(r: dict[str, Any]) -> dict[str, Any]:
    """A result cut short just after the fault, as a killed drill leaves it."""
    r = copy.deepcopy(r)
    names = [e["name"] for e in r["timeline"]]
    r["timeline"] = r["timeline"][: names.index("t_inject") + 2]
    r["measurements"] = {}
    r["complete"] = False
    r["journal"] = {"status": "interrupted"}
    return r


def _as_file(report: Report) -> dict[str, Any]:
    """What report.json holds: the report written as JSON and read back."""
    return dict(json.loads(json.dumps(report.to_json(), indent=2)))


def _plan_file() -> dict[str, Any]:
    rep = build_report(
        [(_typed(_result(p)), str(p)) for p in RESULTS[:4]],
        run_id="RUN",
        settings=ReportSettings(name="quarterly", roles={"scribe": "Ada"}),
    )
    return _as_file(rep)


def test_there_are_results_to_round_trip() -> None:
    assert len(RESULTS) >= 10


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_drill_report_round_trips_exactly(path: Path) -> None:
    for result in (_result(path), _partial(_result(path))):
        data = _as_file(build_report([(_typed(result), str(path))], run_id="RUN"))
        jsonschema.validate(data, SCHEMA)
        again = Report.from_json(data, source="report.json").to_json()
        assert again == data
        assert json.dumps(again, indent=2) == json.dumps(data, indent=2)  # same key order


def test_a_plan_report_interrupted_part_way_round_trips(tmp_path: Path) -> None:
    results: list[tuple[DrillResult, str | None]] = [
        (_typed(_result(p)), str(p)) for p in RESULTS[:3]
    ]
    results.append((_typed(_partial(_result(RESULTS[3]))), None))
    rep = build_report(results, run_id="RUN", interrupted="interrupted (Ctrl-C) during drill 4")
    data = _as_file(rep)
    assert not data["complete"] and data["drills"][3]["complete"] is False
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data, indent=2))
    back = read_report(tmp_path)  # a run's folder reads its report.json
    assert back == Report.from_json(data)
    assert back.interrupted == "interrupted (Ctrl-C) during drill 4"
    assert back.drills[3].incomplete_reasons == tuple(data["drills"][3]["incomplete_reasons"])
    assert back.to_json() == data


def test_attributes_carry_the_json_values() -> None:
    data = _plan_file()
    rep = Report.from_json(data)
    d, raw = rep.drills[1], data["drills"][1]
    assert rep.plan.roles == {"scribe": "Ada"} and rep.summary.grade == data["summary"]["grade"]
    assert d.times.mttr.production_s == raw["times"]["mttr"]["production_s"]
    assert [p.name for p in d.score.parts] == [p["name"] for p in raw["score"]["parts"]]
    assert d.markers.to_json() == raw["markers"]
    assert {n: c.ok for n, c in d.verification.items()} == {
        n: c["ok"] for n, c in raw["verification"].items()
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("drills", 1, "score", "grade"), "E", "drills[1].score.grade"),
        (
            ("drills", 0, "times", "mttd", "production_s"),
            "fast",
            "drills[0].times.mttd.production_s",
        ),
        (("summary", "passed"), "yes", "summary.passed"),
        (("drills", 2, "timeline", 0, "t_s"), None, "drills[2].timeline[0].t_s"),
        (("plan", "mode"), "manual", "plan.mode"),
        (("chaosdrill_report_version",), 2, "chaosdrill_report_version"),
    ],
)
def test_a_bad_value_names_the_file_and_field(
    path: tuple[str | int, ...], value: Any, field: str
) -> None:
    data = _plan_file()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InvalidInputError) as err:
        Report.from_json(data, source="reports/RUN/report.json")
    assert err.value.field == field and err.value.source == "reports/RUN/report.json"
    assert str(err.value).startswith(f"reports/RUN/report.json field {field!r}")


def test_a_missing_field_and_an_unknown_one_are_refused() -> None:
    data = _plan_file()
    del data["drills"][0]["impact"]["lost_writes"]
    with pytest.raises(InvalidInputError, match="missing") as err:
        Report.from_json(data)
    assert err.value.field == "drills[0].impact.lost_writes"
    data = _plan_file()
    data["summary"]["mean"] = 1
    with pytest.raises(InvalidInputError, match="unknown field") as err:
        Report.from_json(data)
    assert err.value.field == "summary.mean"


def test_a_file_that_is_not_json_gives_its_line(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{\n  "run_id": "x",\n  oops\n}\n')
    with pytest.raises(InvalidInputError) as err:
        read_report(path)
    assert err.value.source == str(path) and err.value.line == 3
