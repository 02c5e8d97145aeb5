"""The score model: on target, late, no page, failed runbook, lost writes, weights."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError
from chaosdrill.scoring.score import (
    Scoring,
    ScoringWeights,
    aggregate,
    drill_impact,
    grade_for,
    score_drill,
)

DATA = Path(__file__).parent.parent / "data" / "drills"


def real(name: str) -> dict[str, Any]:
    """A result written by a real drill (tests/data/drills, made with `chaosdrill run`)."""
    return json.loads((DATA / f"{name}.json").read_text())


def part(score: Any, name: str) -> Any:
    return next(p for p in score.parts if p.name == name)


def with_times(result: dict[str, Any], mttd: float | None, mttr: float | None) -> dict[str, Any]:
    """A real result with its production-equivalent MTTD/MTTR set (a derived variant)."""
    r = copy.deepcopy(result)
    r["production_equivalent"]["mttd_s"] = mttd
    r["production_equivalent"]["mttr_s"] = mttr
    return r


def test_a_real_passing_drill_scores_full_detection_and_recovery() -> None:
    result = real("bad-release")
    score = score_drill(DrillResult.from_json(result))
    assert part(score, "detection").points == 30 and part(score, "recovery").points == 30
    assert part(score, "verification").points == 10 and part(score, "hygiene").points == 10
    assert 0 < part(score, "impact").points < 20  # some requests did fail
    assert score.passed and score.grade == grade_for(score.points) and score.reasons == ()
    assert sum(p.points for p in score.parts) == pytest.approx(score.points)


def test_late_detection_loses_points_linearly_to_zero_at_twice_the_target() -> None:
    base = real("bad-release")
    target = base["targets"]["production"]["mttd_s"]  # 300
    mttr = base["production_equivalent"]["mttr_s"]
    on = part(score_drill(DrillResult.from_json(with_times(base, target, mttr))), "detection")
    late = part(
        score_drill(DrillResult.from_json(with_times(base, 1.5 * target, mttr))), "detection"
    )
    gone = part(
        score_drill(DrillResult.from_json(with_times(base, 2.5 * target, mttr))), "detection"
    )
    assert on.points == 30 and late.points == pytest.approx(15) and gone.points == 0
    assert late.reasons == (f"HighErrorRate paged after 450 s; target {target:.0f} s",)
    assert on.reasons == ()


def test_late_recovery_loses_points_and_the_sentence_says_by_how_much() -> None:
    base = real("primary-crash")
    target = base["targets"]["production"]["mttr_s"]
    rec = part(score_drill(DrillResult.from_json(with_times(base, 100, target * 1.25))), "recovery")
    assert rec.points == pytest.approx(22.5)
    assert rec.reasons == (f"recovered after {target * 1.25:.0f} s; target {target:.0f} s",)


def test_missing_detection_scores_zero_and_fails_the_drill() -> None:
    r = copy.deepcopy(real("bad-release"))
    r["measurements"]["detection"] = {"alert": "HighErrorRate", "paged": False, "mttd_s": None}
    r["production_equivalent"]["mttd_s"] = None
    score = score_drill(DrillResult.from_json(r))
    det = part(score, "detection")
    assert det.points == 0 and det.measured == "no page"
    assert det.reasons == ("HighErrorRate never paged",)
    assert not score.passed and "HighErrorRate never paged" in score.reasons


def test_a_real_failed_runbook_loses_recovery_and_fails() -> None:
    score = score_drill(DrillResult.from_json(real("bad-release-wrong-runbook")))
    assert part(score, "recovery").points == 0
    assert part(score, "verification").points < 10
    hygiene = part(score, "hygiene")
    assert any("still firing" in r for r in hygiene.reasons), hygiene.reasons
    assert not score.passed and score.grade == "F"


def test_a_failed_runbook_step_costs_hygiene() -> None:
    r = copy.deepcopy(real("bad-release"))
    r["measurements"]["runbooks"][0]["steps"][1]["ok"] = False
    hygiene = part(score_drill(DrillResult.from_json(r)), "hygiene")
    assert hygiene.points == pytest.approx(7.0)
    assert any("Roll back to the previous version" in x for x in hygiene.reasons)


def test_lost_writes_cap_the_grade_and_fail_the_drill() -> None:
    r = copy.deepcopy(real("primary-crash"))
    r["measurements"]["integrity"]["lost"] = ["r1.1.7", "r1.1.8"]
    uncapped = score_drill(DrillResult.from_json(real("primary-crash")))
    capped = score_drill(DrillResult.from_json(r))
    assert uncapped.grade == "A"
    assert capped.grade == "D" and capped.points <= 69.99
    assert capped.capped_by == "2 lost acknowledged write(s) cap the grade at D"
    assert not capped.passed
    assert any("2 acknowledged write(s) lost" in x for x in part(capped, "impact").reasons)
    assert score_drill(DrillResult.from_json(r), Scoring(lost_write_cap="F")).grade == "F"


def test_impact_uses_the_error_budget_of_a_999_month() -> None:
    result = real("bad-release")
    impact = drill_impact(DrillResult.from_json(result))
    share = impact.failed / impact.requests
    budget = 0.001 * 30 * 86400
    assert impact.budget_burned_pct == pytest.approx(
        100 * share * impact.window_production_s / budget, rel=1e-3
    )
    points = part(score_drill(DrillResult.from_json(result)), "impact").points
    assert points == pytest.approx(20 * (1 - impact.budget_burned_pct / 10), abs=0.01)


def test_weights_are_configurable_and_must_add_up_to_100() -> None:
    heavy = Scoring(
        weights=ScoringWeights(detection=60, recovery=20, impact=10, verification=5, hygiene=5)
    )
    score = score_drill(DrillResult.from_json(real("leaky-feature")), heavy)
    assert part(score, "detection").max_points == 60
    with pytest.raises(InvalidInputError, match="adding up to 100"):
        ScoringWeights(detection=50)
    with pytest.raises(InvalidInputError, match="scoring.lost_write_cap"):
        Scoring(lost_write_cap="E")


def test_an_unfinished_drill_is_not_a_pass() -> None:
    r = copy.deepcopy(real("bad-release"))
    r["complete"] = False
    assert not score_drill(DrillResult.from_json(r)).passed


@pytest.mark.parametrize(
    ("points", "grade"),
    [(100, "A"), (90, "A"), (89.99, "B"), (80, "B"), (70, "C"), (60, "D"), (59.9, "F"), (0, "F")],
)
def test_grades(points: float, grade: str) -> None:
    assert grade_for(points) == grade


def test_a_plan_aggregates_mean_and_distribution() -> None:
    results = [real(n) for n in ("bad-release", "primary-crash", "bad-release-wrong-runbook")]
    scores = [score_drill(DrillResult.from_json(r)) for r in results]
    plan = aggregate(
        [DrillResult.from_json(r) for r in results],
        [s.points for s in scores],
        [s.passed for s in scores],
    )
    assert plan.points == pytest.approx(sum(s.points for s in scores) / 3, abs=0.01)
    assert not plan.passed and plan.drills_passed == 2
    mttrs = sorted(r["production_equivalent"]["mttr_s"] for r in results[:2])
    assert plan.mttr_s["min"] == mttrs[0] and plan.mttr_s["max"] == mttrs[1]
    assert plan.mttr_s["missing"] == 1 and plan.mttd_s["n"] == 3
