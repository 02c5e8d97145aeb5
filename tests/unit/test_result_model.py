"""DrillResult: the typed drill result reads and writes result format version 1 unchanged.

The committed results under tests/data were written by real drills (``chaosdrill run``);
each must read back to exactly the same JSON. Partial results (an interrupted drill, a
journal without a result) must read too, and a malformed one must name its file and field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.cli.report import result_from_journal
from chaosdrill.drill.measurements import AlertsAtEnd, Check, Measurements
from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError
from chaosdrill.scoring.score import score_drill

DATA = Path(__file__).resolve().parents[1] / "data"
RESULT_FILES = sorted(
    p
    for p in DATA.rglob("*.json")
    if '"chaosdrill_result_version"' in p.read_text(encoding="utf-8", errors="replace")
)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_are_committed_results_of_every_kind() -> None:
    names = {p.relative_to(DATA).parts[0] for p in RESULT_FILES}
    assert {"drills", "history", "results"} <= names
    assert len(RESULT_FILES) >= 13


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_every_committed_result_round_trips(path: Path) -> None:
    data = load(path)
    result = DrillResult.from_json(data, source=str(path))
    assert result.to_json() == data
    assert json.loads(json.dumps(result.to_json())) == data


def test_typed_parts_hold_the_measured_values() -> None:
    data = load(DATA / "drills" / "primary-crash.json")
    r = DrillResult.from_json(data)
    m = r.measurements
    assert r.experiment == data["experiment"] and r.time_scale == data["time_scale"]
    assert r.targets.production.mttd_s == data["targets"]["production"]["mttd_s"]
    assert (
        m.detection is not None and m.detection.paged is data["measurements"]["detection"]["paged"]
    )
    assert (
        m.recovery is not None and m.recovery.mttr_s == data["measurements"]["recovery"]["mttr_s"]
    )
    assert [c.name for c in m.verification or ()] == list(data["measurements"]["verification"])
    integrity = m.check("data_integrity")
    assert integrity is not None and integrity.lost == len(
        data["measurements"]["integrity"]["lost"]
    )
    assert r.load is not None and len(r.load.sli) == len(data["load"]["sli"])
    assert r.event("t_inject") is not None and r.event("no-such-event") is None
    assert (
        m.runbooks is not None
        and m.runbooks[0].steps[0].name == (data["measurements"]["runbooks"][0]["steps"][0]["name"])
    )


def interrupted() -> dict[str, Any]:
    """A real result cut short after the fault: later parts missing, as a killed drill."""
    r = copy.deepcopy(load(DATA / "drills" / "bad-release.json"))
    names = [e["name"] for e in r["timeline"]]
    r["timeline"] = r["timeline"][: names.index("t_inject") + 2]
    r["measurements"] = {"steady_state": r["measurements"]["steady_state"]}
    r["complete"] = False
    r["mttd_s"] = r["mttr_s"] = None
    r["production_equivalent"] = {k: None for k in r["production_equivalent"]}
    del r["series"], r["load"], r["environment"], r["written_at"]
    r["journal"] = None
    return r


def test_a_partial_result_loads_and_keeps_what_is_missing_missing() -> None:
    data = interrupted()
    r = DrillResult.from_json(data, source="partial.json")
    assert r.to_json() == data
    m = r.measurements
    assert m.steady_state is not None
    assert (m.detection, m.recovery, m.verification, m.revert, m.alerts_at_end) == (None,) * 5
    assert r.series is None and r.load is None and r.environment is None
    score = score_drill(r)
    assert not score.passed and "the drill did not finish (incomplete)" in score.reasons


def test_a_result_made_from_a_journal_alone_loads() -> None:
    journal = {
        "chaoslib-version": "1.0",
        "status": "interrupted",
        "experiment": {
            "title": "t",
            "extensions": [{"name": "chaosdrill", "scenario": "database-down", "cause": "c"}],
        },
    }
    data = result_from_journal(journal)
    r = DrillResult.from_json(data, source="journal.json")
    assert r.cause == "c" and r.journal == journal and not r.complete
    assert r.measurements.to_json() == {} and r.timeline == ()
    # documented normalisation: unknown keys dropped, missing figures written as null
    out = r.to_json()
    assert "alert" not in out and out["production_equivalent"]["mttd_s"] is None
    assert {k: v for k, v in out.items() if k != "production_equivalent"} == {
        k: v for k, v in data.items() if k not in ("alert", "production_equivalent")
    }


def test_alerts_unknown_and_alerts_not_recorded_stay_apart() -> None:
    asked_none = Measurements(alerts_at_end=AlertsAtEnd(None)).to_json()
    assert asked_none == {"alerts_at_end": None}
    assert Measurements().to_json() == {}
    assert Measurements(alerts_at_end=AlertsAtEnd(("A",))).to_json() == {"alerts_at_end": ["A"]}
    check = Check("memory_flat", True, "flat", growth_bytes={"app-1": 3})
    assert check.to_json() == {"ok": True, "detail": "flat", "growth_bytes": {"app-1": 3}}


def set_path(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize(
    "path, value, field",
    [
        (("measurements", "detection", "paged"), "yes", "measurements.detection.paged"),
        (("measurements", "recovery", "mttr_s"), "long", "measurements.recovery.mttr_s"),
        (("measurements", "integrity", "lost"), [1], "measurements.integrity.lost"),
        (("measurements", "verification", "data_integrity"), [], "measurements.verification."),
        (("measurements", "runbooks", 0, "steps", 0, "ok"), None, "measurements.runbooks[0]"),
        (("timeline", 2, "t"), None, "timeline[2].t"),
        (("load", "sli", 0, "requests"), "10", "load.sli[0].requests"),
        (("targets", "production", "mttd_s"), "300", "targets.production.mttd_s"),
        (("verdict", "checks", "detected"), "no", "verdict.checks"),
        (("chaosdrill_result_version",), 2, "chaosdrill_result_version"),
        (("journal",), [1], "journal"),
        (("series", "error_rate", "series", 0, "points", 0), "x", "series.error_rate.series[0]"),
    ],
)
def test_a_malformed_result_names_file_and_field(
    path: tuple[Any, ...], value: Any, field: str
) -> None:
    data = load(DATA / "drills" / "bad-release.json")
    set_path(data, path, value)
    with pytest.raises(InvalidInputError) as info:
        DrillResult.from_json(data, source="bad.json")
    assert info.value.source == "bad.json"
    assert info.value.field is not None and info.value.field.startswith(field), info.value.field
    assert "bad.json" in str(info.value)


def test_a_result_missing_a_required_part_or_not_an_object() -> None:
    data = load(DATA / "drills" / "bad-release.json")
    del data["targets"]
    with pytest.raises(InvalidInputError) as info:
        DrillResult.from_json(data, source="r.json")
    assert info.value.field == "targets"
    with pytest.raises(InvalidInputError, match="expected a JSON object"):
        DrillResult.from_json([1, 2], source="r.json")
