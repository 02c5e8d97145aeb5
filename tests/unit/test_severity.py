"""Severity P1-P4 against each row of the seed's table, revenue impact, and escalation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.drill.model import DrillResult
from chaosdrill.scenarios.loader import load_scenario
from chaosdrill.scoring.score import DrillImpact, drill_impact
from chaosdrill.scoring.severity import LEVELS, Revenue, classify, escalation, revenue_per_hour
from tests.repo import SCENARIOS_DIR

DATA = Path(__file__).parent.parent / "data" / "drills"


def impact(**kw: Any) -> DrillImpact:
    base = dict(
        requests=1000,
        failed=0,
        error_share=0.0,
        worst_error_share=0.0,
        worst_p95_ms=50.0,
        window_s=10.0,
        window_production_s=300.0,
        budget_burned_pct=0.0,
        enrollments_failed=0,
        enrollments_attempted=100,
        lost_writes=0,
    )
    base.update(kw)
    return DrillImpact(**base)  # type: ignore[arg-type]


# a result whose load ran 20 s: the incident window (10 s) would see half its enrollments
RESULT = DrillResult.from_json(
    {
        "chaosdrill_result_version": 1,
        "experiment": "experiments/x.json",
        "targets": {"production": {"mttd_s": 300.0, "mttr_s": 1800.0}},
        "timeline": [{"name": "load_started", "t": 0.0}, {"name": "load_stopped", "t": 20.0}],
    }
)
MODEL = load_scenario(SCENARIOS_DIR / "high-error-rate.yaml").severity
REVENUE = Revenue(enrollments_per_hour=1000, average_price_usd=100)  # $100,000/hour at most


def level(**kw: Any) -> tuple[str, tuple[str, ...]]:
    d = classify(RESULT, impact(**kw), MODEL, REVENUE)
    return d.level, d.reasons


def test_p1_system_down() -> None:
    got, why = level(worst_error_share=1.0)
    assert got == "P1" and any("availability 0.0%" in r for r in why)


def test_p1_data_loss_whatever_the_scenario() -> None:
    got, why = level(lost_writes=1)
    assert got == "P1" and any("data lost" in r or "write(s) lost" in r for r in why)


def test_p1_revenue_above_10000_an_hour() -> None:
    # 20 of the 50 enrollments expected in the window failed: 40 % of $100,000/hour
    got, why = level(enrollments_failed=20, worst_error_share=0.02)
    assert got == "P1" and why == ("revenue impact $40,000/h > $10,000/h",)


def test_p2_revenue_between_1000_and_10000() -> None:
    got, why = level(enrollments_failed=2)  # 4 % of $100,000 = $4,000/h
    assert got == "P2" and why == ("revenue impact $4,000/h > $1,000/h",)


def test_p2_major_functionality_impaired() -> None:
    got, why = level(worst_error_share=0.2)
    assert got == "P2" and why == ("error rate 20.0% > 5.0%",)


def test_p3_revenue_between_100_and_1000() -> None:
    rev = Revenue(enrollments_per_hour=100, average_price_usd=100)  # $10,000/hour at most
    d = classify(RESULT, impact(enrollments_failed=2), MODEL, rev)  # 4 % -> $400/h
    assert d.level == "P3" and d.reasons == ("revenue impact $400/h > $100/h",)


def test_p3_minor_functionality() -> None:
    assert level(worst_error_share=0.02)[0] == "P3"


def test_p4_no_revenue_impact() -> None:
    got, why = level()
    assert got == "P4" and why == ("no threshold of P1-P3 met",)


def test_revenue_per_hour_from_a_real_drill() -> None:
    result = DrillResult.from_json(json.loads((DATA / "bad-release.json").read_text()))
    imp = drill_impact(result)
    rev = revenue_per_hour(result, imp, REVENUE)
    assert imp.enrollments_failed > 0
    assert 0 < rev <= 100_000


def test_the_seed_table_is_complete() -> None:
    assert list(LEVELS) == ["P1", "P2", "P3", "P4"]
    assert LEVELS["P1"].escalates_to == ("vp_engineering", "cto")
    assert LEVELS["P2"].escalates_to == ("engineering_manager",)
    assert LEVELS["P4"].escalates_to == ()


def test_p1_lasting_more_than_15_minutes_escalates_along_the_path() -> None:
    esc = escalation("P1", 40 * 60, {"team_lead": "Ada", "cto": "Grace"})
    assert esc.triggered == ("P1 incident lasting > 15 min (lasted 2400 s)",)
    notified = {r: (who, at) for r, who, at in esc.notify}
    assert notified["team_lead"] == ("Ada", 900)
    assert notified["engineering_manager"] == ("Engineering Manager", 1800)
    assert notified["vp_engineering"] == ("VP Engineering", None)  # from the level, not yet by time
    assert notified["cto"] == ("Grace", None)


def test_p1_resolved_within_15_minutes_escalates_only_by_level() -> None:
    esc = escalation("P1", 10 * 60)
    assert esc.triggered == ()
    assert [r for r, _, _ in esc.notify] == ["vp_engineering", "cto"]


@pytest.mark.parametrize(("duration", "fired"), [(59 * 60, False), (61 * 60, True)])
def test_p2_lasting_more_than_an_hour(duration: float, fired: bool) -> None:
    esc = escalation("P2", duration)
    assert bool(esc.triggered) is fired
    roles = [r for r, _, _ in esc.notify]
    assert roles[0] == "engineering_manager"
    assert ("vp_engineering" in roles) is fired


def test_an_incident_that_never_ended_escalates_all_the_way() -> None:
    esc = escalation("P1", None)
    assert esc.triggered == ("P1 incident lasting > 15 min (did not end)",)
    assert {r for r, _, at in esc.notify if at is not None} == {
        "team_lead",
        "engineering_manager",
        "vp_engineering",
        "cto",
    }


def test_p3_and_p4_have_no_time_trigger() -> None:
    assert escalation("P3", 5 * 3600).triggered == ()
    assert escalation("P4", 5 * 3600).notify == ()


def test_lost_writes_in_a_real_result_make_it_p1() -> None:
    result = json.loads((DATA / "primary-crash.json").read_text())
    lost = copy.deepcopy(result)
    lost["measurements"]["integrity"]["lost"] = ["x"]
    typed = DrillResult.from_json(lost)
    assert classify(typed, drill_impact(typed), MODEL).level == "P1"
