"""The score of a drill: five parts, 100 points, a grade and a verdict (docs/scoring.md).

=============  ======  ====================================================================
part           points  how
=============  ======  ====================================================================
detection      30      the expected alert paged; full points at or under the MTTD target,
                       falling linearly to zero at twice the target
recovery       30      the same for MTTR
impact         20      the share of the month's error budget (99.9 % availability) the
                       drill burned, production-equivalent; zero at ``error_budget_limit_pct``
verification   10      the seed's verification checks, pro rata
hygiene        10      fault reverted (4), no alert left firing (3), every runbook step
                       succeeded (3)
=============  ======  ====================================================================

Any lost acknowledged write caps the grade (default: at D) and fails the drill. Every part
keeps the measured value, the target, the points and a sentence for each point lost. Times
are compared in production-equivalent seconds: the drill's timeline split into the time
the time scale compresses (x K) and program time (not scaled), chaosdrill.drill.timing.
A recovery that came before the response gets no recovery points.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError

__all__ = [
    "AVAILABILITY_SLO",
    "BUDGET_PERIOD_S",
    "GRADES",
    "DrillImpact",
    "DrillScore",
    "PlanScore",
    "ScorePart",
    "Scoring",
    "ScoringWeights",
    "aggregate",
    "drill_impact",
    "event_time",
    "grade_for",
    "score_drill",
]

AVAILABILITY_SLO = 0.999  # the seed's "Availability: Target > 99.9%"
BUDGET_PERIOD_S = 30 * 86400.0  # the error budget is a month's
#: lowest points of each grade, best first
GRADES: tuple[tuple[str, float], ...] = (("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0))
HYGIENE_SHARES = {"fault_reverted": 0.4, "no_stray_alerts": 0.3, "runbook_steps": 0.3}


@dataclass(frozen=True)
class ScoringWeights:
    """Points of each part; they add up to 100."""

    detection: float = 30.0
    recovery: float = 30.0
    impact: float = 20.0
    verification: float = 10.0
    hygiene: float = 10.0

    def __post_init__(self) -> None:
        values = [self.detection, self.recovery, self.impact, self.verification, self.hygiene]
        if any(v < 0 for v in values) or abs(sum(values) - 100.0) > 1e-6:
            raise InvalidInputError(
                f"expected five non-negative weights adding up to 100, got {values}",
                field="scoring.weights",
            )


@dataclass(frozen=True)
class Scoring:
    """How drills are scored: weights, the pass mark, the lost-write cap, the budget limit."""

    weights: ScoringWeights = field(default_factory=ScoringWeights)
    pass_mark: float = 70.0
    lost_write_cap: str = "D"
    error_budget_limit_pct: float = 10.0

    def __post_init__(self) -> None:
        if self.lost_write_cap not in ("A", "B", "C", "D", "F"):
            raise InvalidInputError(
                f"expected one of A, B, C, D, F, got {self.lost_write_cap!r}",
                field="scoring.lost_write_cap",
            )
        if not 0 <= self.pass_mark <= 100:
            raise InvalidInputError(
                f"expected 0 to 100, got {self.pass_mark!r}", field="scoring.pass_mark"
            )
        if not self.error_budget_limit_pct > 0:
            raise InvalidInputError(
                f"expected a positive percentage, got {self.error_budget_limit_pct!r}",
                field="scoring.error_budget_limit_pct",
            )


@dataclass(frozen=True)
class ScorePart:
    """One part of the score: what was measured against what target, and the points."""

    name: str
    points: float
    max_points: float
    measured: str
    target: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DrillScore:
    """A drill's score."""

    points: float
    grade: str
    passed: bool
    parts: tuple[ScorePart, ...]
    capped_by: str | None = None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``score`` of report.json)."""
        return {
            "points": self.points,
            "max_points": 100.0,
            "grade": self.grade,
            "passed": self.passed,
            "capped_by": self.capped_by,
            "reasons": list(self.reasons),
            "parts": [
                {
                    "name": p.name,
                    "points": p.points,
                    "max_points": p.max_points,
                    "measured": p.measured,
                    "target": p.target,
                    "reasons": list(p.reasons),
                }
                for p in self.parts
            ],
        }


@dataclass(frozen=True)
class DrillImpact:
    """What users felt between the fault and recovery (or the end of the drill).

    Attributes:
        requests: user requests completed in the window.
        failed: of those, failed.
        error_share: failed / requests (0 when there were none).
        worst_error_share: the worst SLO window's error share.
        worst_p95_ms: the worst whole second's p95 latency.
        window_s: the window in drill seconds.
        window_production_s: the window in production-equivalent seconds.
        budget_burned_pct: share of a month's error budget this would burn in production.
        enrollments_failed: enrollment writes that failed (from the load's ledger).
        enrollments_attempted: enrollment writes attempted.
        lost_writes: acknowledged writes that are gone.
    """

    requests: int
    failed: int
    error_share: float
    worst_error_share: float
    worst_p95_ms: float
    window_s: float
    window_production_s: float
    budget_burned_pct: float
    enrollments_failed: int
    enrollments_attempted: int
    lost_writes: int

    @classmethod
    def from_json(cls, o: JsonObject) -> DrillImpact:
        """Read it from report.json's ``impact`` (a bad value names its field)."""
        return cls(
            requests=o.integer("requests"),
            failed=o.integer("failed"),
            error_share=o.number("error_share"),
            worst_error_share=o.number("worst_error_share"),
            worst_p95_ms=o.number("worst_p95_ms"),
            window_s=o.number("window_s"),
            window_production_s=o.number("window_production_s"),
            budget_burned_pct=o.number("budget_burned_pct"),
            enrollments_failed=o.integer("enrollments_failed"),
            enrollments_attempted=o.integer("enrollments_attempted"),
            lost_writes=o.integer("lost_writes"),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form (report.json's ``impact``), keys in field order."""
        return dict(self.__dict__)


def grade_for(points: float) -> str:
    """A-F for a number of points out of 100."""
    return next((g for g, low in GRADES if points >= low - 1e-9), "F")


def event_time(result: DrillResult, name: str) -> float | None:
    """Monotonic time of the first timeline event ``name`` of a drill result, if any."""
    event = result.event(name)
    return None if event is None else event.t


def drill_impact(result: DrillResult) -> DrillImpact:
    """Users' impact of a drill from its client SLIs, ledger and integrity check."""
    k = float(result.time_scale or 1.0)
    t_inject = event_time(result, "t_inject")
    t_end = event_time(result, "t_recovered") or event_time(result, "t_reverted")
    sli = result.load.sli if result.load is not None else ()
    if t_end is None and sli:
        t_end = max(p.second + 1 for p in sli)
    if t_inject is None or t_end is None:
        inside = []
        window = 0.0
    else:
        inside = [p for p in sli if p.second + 1 > t_inject and p.second < t_end]
        window = max(0.0, t_end - t_inject)
    requests = sum(p.requests for p in inside)
    failed = sum(p.failures for p in inside)
    share = failed / requests if requests else 0.0
    win = max(1, round(60.0 / k))  # one production minute of seconds
    worst = 0.0
    for i in range(len(inside)):
        chunk = inside[i : i + win]
        n = sum(p.requests for p in chunk)
        if n:
            worst = max(worst, sum(p.failures for p in chunk) / n)
    worst_p95 = max((float(p.p95_ms) for p in inside if p.requests), default=0.0)
    budget_s = (1 - AVAILABILITY_SLO) * BUDGET_PERIOD_S
    # production-equivalent: program time counts once (a result without a timing: x K)
    timing = result.timing
    production = window * k if timing is None else timing.production_after(window)
    integrity = result.measurements.integrity
    return DrillImpact(
        requests=requests,
        failed=failed,
        error_share=round(share, 6),
        worst_error_share=round(worst, 6),
        worst_p95_ms=round(worst_p95, 1),
        window_s=round(window, 3),
        window_production_s=round(production, 3),
        budget_burned_pct=round(100.0 * share * production / budget_s, 3),
        enrollments_failed=integrity.failed + integrity.indeterminate if integrity else 0,
        enrollments_attempted=integrity.attempts if integrity else 0,
        lost_writes=len(integrity.lost) if integrity else 0,
    )


def _timed_points(weight: float, measured: float | None, target: float) -> tuple[float, str | None]:
    """Full points at or under target, falling linearly to zero at twice the target."""
    if measured is None:
        return 0.0, None
    if measured <= target:
        return weight, None
    share = max(0.0, (2 * target - measured) / target)
    return round(weight * share, 2), f"{measured - target:.0f} s over"


def _detection(result: DrillResult, weight: float) -> ScorePart:
    det = result.measurements.detection
    alert = (det.alert if det else "") or "the expected alert"
    target = float(result.targets.production.mttd_s)
    mttd = result.production_equivalent.mttd_s
    if det is None or not det.paged or mttd is None:
        why = f"{alert} never paged" if det else "detection was not reached"
        return ScorePart("detection", 0.0, weight, "no page", f"<= {target:.0f} s", (why,))
    points, over = _timed_points(weight, float(mttd), target)
    reasons = (f"{alert} paged after {mttd:.0f} s; target {target:.0f} s",) if over else ()
    return ScorePart(
        "detection", points, weight, f"{mttd:.0f} s (MTTD)", f"<= {target:.0f} s", reasons
    )


def _recovery(result: DrillResult, weight: float) -> ScorePart:
    rec = result.measurements.recovery
    target = float(result.targets.production.mttr_s)
    mttr = result.production_equivalent.mttr_s
    if rec is None or not rec.recovered or mttr is None:
        why = (
            "steady state did not return and hold within the recovery timeout"
            if rec
            else "recovery was not reached"
        )
        return ScorePart("recovery", 0.0, weight, "not recovered", f"<= {target:.0f} s", (why,))
    if rec.kind == "before_response":
        return ScorePart(
            "recovery",
            0.0,
            weight,
            f"{mttr:.0f} s (MTTR), recovered before the response",
            f"<= {target:.0f} s",
            (
                "recovered before the response: the users' SLOs were met again before the "
                "runbook began, so the runbook was not what restored health",
            ),
        )
    points, over = _timed_points(weight, float(mttr), target)
    reasons = (f"recovered after {mttr:.0f} s; target {target:.0f} s",) if over else ()
    measured = f"{mttr:.0f} s (MTTR)"
    if rec.kind == "held":
        measured += ", the SLOs held through the fault: the time until the response removed it"
    return ScorePart("recovery", points, weight, measured, f"<= {target:.0f} s", reasons)


def _impact(impact: DrillImpact, weight: float, limit_pct: float) -> ScorePart:
    burned = impact.budget_burned_pct
    points = round(weight * max(0.0, 1 - burned / limit_pct), 2)
    reasons = []
    if burned > 0:
        reasons.append(
            f"{impact.failed} of {impact.requests} user requests failed over "
            f"{impact.window_production_s:.0f} s: {burned:.1f} % of the month's error budget"
        )
    if impact.lost_writes:
        reasons.append(f"{impact.lost_writes} acknowledged write(s) lost")
    measured = f"{burned:.1f} % of the monthly error budget, {impact.failed} failed requests"
    return ScorePart(
        "impact",
        points,
        weight,
        measured,
        f"0 % (zero points at {limit_pct:g} %)",
        tuple(reasons),
    )


def _verification(result: DrillResult, weight: float) -> ScorePart:
    checks = result.measurements.verification or ()
    if not checks:
        return ScorePart(
            "verification",
            0.0,
            weight,
            "not run",
            "every check passes",
            ("verification did not run",),
        )
    passed = [c.name for c in checks if c.ok]
    failed = [f"{c.name.replace('_', ' ')} failed: {c.detail}" for c in checks if not c.ok]
    points = round(weight * len(passed) / len(checks), 2)
    return ScorePart(
        "verification",
        points,
        weight,
        f"{len(passed)} of {len(checks)} checks passed",
        "every check passes",
        tuple(failed),
    )


def _hygiene(result: DrillResult, weight: float) -> ScorePart:
    m = result.measurements
    reasons: list[str] = []
    got = 0.0
    if m.revert is not None and m.revert.ok:
        got += HYGIENE_SHARES["fault_reverted"]
    else:
        left = ", ".join(m.revert.still_active if m.revert else ()) or "revert did not run"
        reasons.append(f"fault not reverted ({left})")
    stray = m.alerts_at_end.firing if m.alerts_at_end is not None else None
    if stray == ():
        got += HYGIENE_SHARES["no_stray_alerts"]
    elif stray is None:
        reasons.append("alerts at the end of the drill unknown (Prometheus not asked)")
    else:
        reasons.append(f"alerts still firing at the end: {', '.join(stray)}")
    books = m.runbooks or ()
    bad = [f"{b.name}: {s.name}" for b in books for s in b.steps if not s.ok]
    if books and not bad and all(b.ok for b in books):
        got += HYGIENE_SHARES["runbook_steps"]
    elif not books:
        reasons.append("no runbook ran")
    else:
        reasons.append(
            "runbook step(s) failed: " + "; ".join(bad) if bad else "a runbook did not finish"
        )
    measured = f"{3 - len(reasons)} of 3 hygiene checks"
    return ScorePart(
        "hygiene",
        round(weight * got, 2),
        weight,
        measured,
        "fault reverted, no alert left firing, every runbook step ok",
        tuple(reasons),
    )


def score_drill(
    result: DrillResult,
    scoring: Scoring | None = None,
    impact: DrillImpact | None = None,
) -> DrillScore:
    """Score one drill result (what ``chaosdrill run`` writes, read by ``DrillResult``).

    Args:
        result: a drill result (format version 1).
        scoring: weights, pass mark, lost-write cap, budget limit (default: the documented ones).
        impact: the result's ``drill_impact``, when the caller has it already.

    Returns:
        The score with its parts, grade and verdict.
    """
    sc = scoring or Scoring()
    w = sc.weights
    impact = impact or drill_impact(result)
    parts = (
        _detection(result, w.detection),
        _recovery(result, w.recovery),
        _impact(impact, w.impact, sc.error_budget_limit_pct),
        _verification(result, w.verification),
        _hygiene(result, w.hygiene),
    )
    points = round(sum(p.points for p in parts), 2)
    grade = grade_for(points)
    capped = None
    if impact.lost_writes:
        ceiling = 100.0 if sc.lost_write_cap == "A" else _next_grade_floor(sc.lost_write_cap) - 0.01
        points = min(points, round(ceiling, 2))
        grade = grade_for(points)
        capped = (
            f"{impact.lost_writes} lost acknowledged write(s) cap the grade at {sc.lost_write_cap}"
        )
    reasons: list[str] = []
    if points < sc.pass_mark:
        reasons.append(f"score {points:.0f} below the pass mark {sc.pass_mark:.0f}")
    if parts[0].measured == "no page":
        reasons.append(parts[0].reasons[0])
    if parts[1].measured == "not recovered":
        reasons.append(parts[1].reasons[0])
    if capped:
        reasons.append(capped)
    verdict = result.verdict
    if not verdict.passed:
        missed = [r for r in verdict.reasons if r not in reasons]
        failed = [k.replace("_", " ") for k, ok in verdict.checks.items() if not ok]
        reasons += missed or [f"drill checks failed: {', '.join(failed) or 'none recorded'}"]
    if not result.complete:
        reasons.append("the drill did not finish (incomplete)")
    return DrillScore(points, grade, not reasons, parts, capped, tuple(reasons))


def _next_grade_floor(grade: str) -> float:
    """The lowest points of the grade above ``grade`` (100 above A)."""
    order = [g for g, _ in GRADES] + ["F"]
    i = order.index(grade)
    return 100.0 if i == 0 else dict(GRADES)[order[i - 1]]


@dataclass(frozen=True)
class PlanScore:
    """A plan's score: the drills' mean, the grade, and the distribution of MTTD and MTTR."""

    points: float
    grade: str
    passed: bool
    drills: int
    drills_passed: int
    mttd_s: dict[str, float | int | None]
    mttr_s: dict[str, float | int | None]
    points_distribution: dict[str, float | int | None]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``summary.score`` of report.json)."""
        return dict(self.__dict__)


def _distribution(values: Sequence[float | None]) -> dict[str, float | int | None]:
    known = sorted(v for v in values if v is not None)
    if not known:
        return {"n": 0, "missing": len(values), "min": None, "median": None, "max": None}
    return {
        "n": len(known),
        "missing": len(values) - len(known),
        "min": known[0],
        "median": round(statistics.median(known), 3),
        "max": known[-1],
    }


def aggregate(
    results: Sequence[DrillResult], points: Sequence[float], passed: Sequence[bool]
) -> PlanScore:
    """Combine drills: mean points, grade of the mean, passed when every drill passed."""
    mean = round(statistics.fmean(points), 2) if points else 0.0
    prod = [r.production_equivalent for r in results]
    return PlanScore(
        points=mean,
        grade=grade_for(mean) if points else "F",
        passed=bool(points) and all(passed),
        drills=len(points),
        drills_passed=sum(passed),
        mttd_s=_distribution([p.mttd_s for p in prod]),
        mttr_s=_distribution([p.mttr_s for p in prod]),
        points_distribution=_distribution(list(points)),
    )
