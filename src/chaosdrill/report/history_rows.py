"""What the run history answers with: runs, drills, trend points and comparisons.

:class:`RunRow` and :class:`DrillRow` are recorded runs and their drills, :class:`TrendPoint`
one scenario's drill in one run (``History.trend``), and :class:`Comparison` two runs side
by side (``History.compare``), drill by drill (:class:`DrillChange`), each number before and
after (:class:`Delta`).

Each drill row keeps how its production-equivalent times were computed (``timing_method``:
``split-v1``, or the old way, drill seconds x K: ``drill x K``, or None for a row recorded
before the history kept the method). Times computed different ways are not compared: a
:class:`Delta` between them is marked not comparable and has no delta and no direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chaosdrill.report.timing_types import OLD_METHOD

__all__ = [
    "Comparison",
    "Delta",
    "Direction",
    "DrillChange",
    "DrillRow",
    "RunRow",
    "TrendPoint",
    "is_old_method",
    "method_of",
]

#: which way a number moved; "incomparable": the two were computed different ways
Direction = Literal["better", "worse", "same", "incomparable"]


def method_of(timing_method: str | None) -> str:
    """The method a row's times were computed by: ``OLD_METHOD`` or the split's name.

    None (a row recorded before the history kept the method) is the old way, "drill x K".
    """
    return OLD_METHOD if timing_method is None else timing_method


def is_old_method(timing_method: str | None) -> bool:
    """The times were computed the old way, drill seconds x K.

    None (a row recorded before the history kept the method) is the old way too.
    """
    return method_of(timing_method) == OLD_METHOD


@dataclass(frozen=True)
class RunRow:
    """One recorded run.

    Attributes:
        seq: insertion order (1, 2, ...); the only order runs are sorted by.
        run_id: the run's id (its directory under reports/).
        plan: the plan's name ("ad hoc" for single drills).
        kind: "drill" or "plan".
        generated_at: when the report was built (a wall-clock label, UTC ISO 8601).
        complete: every drill finished and the run was not interrupted.
        passed: the run's verdict.
        points: mean points of its drills.
        grade: A-F of ``points``.
        worst_severity: the most severe level of its drills ("P1" ...), if any.
        report_dir: where its outputs were written, when known.
    """

    seq: int
    run_id: str
    plan: str
    kind: str
    generated_at: str | None
    complete: bool
    passed: bool
    points: float | None
    grade: str | None
    worst_severity: str | None
    report_dir: str | None


@dataclass(frozen=True)
class DrillRow:
    """One drill of a recorded run; times are production-equivalent seconds unless noted.

    Attributes:
        run_id: the run it belongs to.
        position: 0-based place in the run.
        drill_id: the drill's id in the report (its cause, ``-2`` etc. for repeats).
        scenario: scenario name.
        cause: cause name.
        alert: the alert expected to page.
        mttd_s: time to detect, production-equivalent (None: never paged).
        mttr_s: time to recover, production-equivalent (None: not recovered).
        mttd_drill_s: time to detect in drill seconds.
        mttr_drill_s: time to recover in drill seconds.
        time_scale: the drill's time scale K.
        points: the drill's score out of 100.
        grade: A-F.
        passed: the score's verdict.
        paged: the expected alert reached the pager (None: unknown).
        runbook_ok: every runbook succeeded (None: no runbook ran).
        lost_writes: acknowledged writes lost.
        severity: severity level ("P1" ...).
        complete: the drill finished.
        timing_method: how ``mttd_s`` and ``mttr_s`` were computed: ``split-v1``, or the
            old way, drill seconds x K (``drill x K``; None: recorded before the history
            kept the method).
    """

    run_id: str
    position: int
    drill_id: str
    scenario: str
    cause: str
    alert: str | None
    mttd_s: float | None
    mttr_s: float | None
    mttd_drill_s: float | None
    mttr_drill_s: float | None
    time_scale: float
    points: float | None
    grade: str | None
    passed: bool
    paged: bool | None
    runbook_ok: bool | None
    lost_writes: int
    severity: str | None
    complete: bool
    timing_method: str | None

    @property
    def old_timing(self) -> bool:
        """Its times were computed the old way (drill seconds x K)."""
        return is_old_method(self.timing_method)


@dataclass(frozen=True)
class TrendPoint:
    """One scenario's drill in one run (``History.trend``).

    ``timing_method`` is the drill's, as in :class:`DrillRow` (None: the old way).
    """

    scenario: str
    run_id: str
    generated_at: str | None
    plan: str
    drill_id: str
    cause: str
    mttd_s: float | None
    mttr_s: float | None
    points: float | None
    grade: str | None
    passed: bool
    timing_method: str | None

    @property
    def old_timing(self) -> bool:
        """Its times were computed the old way (drill seconds x K)."""
        return is_old_method(self.timing_method)


@dataclass(frozen=True)
class Delta:
    """A number before and after; ``delta`` is after - before when both are known.

    ``comparable`` is False when the two were computed different ways (times of the old way,
    drill seconds x K, against split ones): then there is no delta and no direction.
    """

    before: float | None
    after: float | None
    comparable: bool = True

    @property
    def delta(self) -> float | None:
        """The change, after - before (None: either is unknown, or they are not comparable)."""
        if self.before is None or self.after is None or not self.comparable:
            return None
        return round(self.after - self.before, 3)

    def direction(self, *, lower_is_better: bool) -> Direction:
        """Better, worse or the same; an unknown value (no page, no recovery) is the worst.

        "incomparable" when the two were computed different ways.
        """
        if not self.comparable:
            return "incomparable"
        if self.before == self.after:
            return "same"
        if self.before is None:
            return "better"
        if self.after is None:
            return "worse"
        improved = self.after < self.before if lower_is_better else self.after > self.before
        return "better" if improved else "worse"

    def to_dict(self) -> dict[str, float | bool | None]:
        """JSON form (with ``comparable: false`` when they are not comparable)."""
        out: dict[str, float | bool | None] = {
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
        }
        if not self.comparable:
            out["comparable"] = False
        return out


@dataclass(frozen=True)
class DrillChange:
    """A drill present in both runs of a comparison.

    Attributes:
        drill_id: its id in run B (the later one, as a rule).
        drill_id_before: its id in run A.
        matched_by: "id" (same drill id) or "cause" (ids differ, the cause is the same).
        scenario: scenario name (run B's).
        cause: cause name.
        mttd_s: production-equivalent MTTD before and after (not comparable when the two
            runs computed it different ways).
        mttr_s: production-equivalent MTTR before and after (likewise).
        points: score before and after (comparable, but it rests on the times: see
            ``times_comparable``).
        grade_before: grade in run A.
        grade_after: grade in run B.
        passed_before: verdict in run A.
        passed_after: verdict in run B.
        severity_before: severity level in run A.
        severity_after: severity level in run B.
        timing_method_before: how run A computed its times (None: the old way).
        timing_method_after: how run B computed its times (None: the old way).
    """

    drill_id: str
    drill_id_before: str
    matched_by: Literal["id", "cause"]
    scenario: str
    cause: str
    mttd_s: Delta
    mttr_s: Delta
    points: Delta
    grade_before: str | None
    grade_after: str | None
    passed_before: bool
    passed_after: bool
    severity_before: str | None
    severity_after: str | None
    timing_method_before: str | None
    timing_method_after: str | None

    @property
    def severity_changed(self) -> bool:
        """The severity level differs between the runs."""
        return self.severity_before != self.severity_after

    @property
    def times_comparable(self) -> bool:
        """Both runs computed the drill's times the same way (MTTD and MTTR are compared)."""
        return method_of(self.timing_method_before) == method_of(self.timing_method_after)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "drill_id": self.drill_id,
            "drill_id_before": self.drill_id_before,
            "matched_by": self.matched_by,
            "scenario": self.scenario,
            "cause": self.cause,
            "mttd_s": self.mttd_s.to_dict(),
            "mttr_s": self.mttr_s.to_dict(),
            "points": self.points.to_dict(),
            "grade": {"before": self.grade_before, "after": self.grade_after},
            "passed": {"before": self.passed_before, "after": self.passed_after},
            "severity": {
                "before": self.severity_before,
                "after": self.severity_after,
                "changed": self.severity_changed,
            },
            "timing_method": {
                "before": method_of(self.timing_method_before),
                "after": method_of(self.timing_method_after),
                "comparable": self.times_comparable,
            },
        }


@dataclass(frozen=True)
class Comparison:
    """Two runs side by side (``History.compare``): A is "before", B is "after".

    Attributes:
        run_a: the first run.
        run_b: the second run.
        drills: drills present in both, in run B's order.
        only_in_a: drills of run A with no match in run B.
        only_in_b: drills of run B with no match in run A.
        points: the runs' overall points.
    """

    run_a: RunRow
    run_b: RunRow
    drills: tuple[DrillChange, ...]
    only_in_a: tuple[DrillRow, ...]
    only_in_b: tuple[DrillRow, ...]
    points: Delta

    @property
    def severity_changed(self) -> bool:
        """The worst severity of the runs differs."""
        return self.run_a.worst_severity != self.run_b.worst_severity

    @property
    def times_comparable(self) -> bool:
        """Each drill present in both runs had its times computed the same way in both."""
        return all(d.times_comparable for d in self.drills)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        a, b = self.run_a, self.run_b
        return {
            "run_a": a.__dict__,
            "run_b": b.__dict__,
            "overall": {
                "points": self.points.to_dict(),
                "grade": {"before": a.grade, "after": b.grade},
                "passed": {"before": a.passed, "after": b.passed},
                "complete": {"before": a.complete, "after": b.complete},
                "worst_severity": {
                    "before": a.worst_severity,
                    "after": b.worst_severity,
                    "changed": self.severity_changed,
                },
                "times_comparable": self.times_comparable,
            },
            "drills": [d.to_dict() for d in self.drills],
            "only_in_a": [_drill_dict(d) for d in self.only_in_a],
            "only_in_b": [_drill_dict(d) for d in self.only_in_b],
        }


def _drill_dict(d: DrillRow) -> dict[str, Any]:
    """A drill row's JSON form: its fields and ``old_timing``."""
    return {**d.__dict__, "old_timing": d.old_timing}
