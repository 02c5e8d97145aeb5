"""Severity (P1-P4), revenue impact and escalation of a drill, per the seed's tables.

The seed's severity table, as code (``LEVELS``): what each level means, its revenue band,
its response time and who it escalates to. A drill's level comes from its scenario's
thresholds (scenarios/*.yaml ``severity``: availability, error rate, p95 latency, data loss,
revenue per hour) applied to what was measured; any lost acknowledged write is P1 whatever
the scenario says. The seed's escalation triggers (P1 lasting > 15 min, P2 lasting > 1 h)
are evaluated on the production-equivalent timeline; the escalation path (Team Lead 15 min,
Engineering Manager 30 min, VP Engineering 1 h, CTO 2 h) names who would have been reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaosdrill.drill.model import DrillResult
from chaosdrill.scenarios.model import Impact, SeverityModel
from chaosdrill.scoring.score import DrillImpact, event_time

__all__ = [
    "ESCALATION_PATH",
    "ESCALATION_TRIGGERS",
    "LEVELS",
    "Escalation",
    "LevelInfo",
    "Revenue",
    "SeverityDecision",
    "classify",
    "escalation",
    "revenue_per_hour",
]


@dataclass(frozen=True)
class LevelInfo:
    """One row of the seed's severity table."""

    level: str
    name: str
    meaning: str
    revenue_band: str
    response_time_s: float
    escalates_to: tuple[str, ...]  # role keys (see ``ROLE_TITLES``)


LEVELS: dict[str, LevelInfo] = {
    "P1": LevelInfo(
        "P1",
        "Critical",
        "system completely down or unavailable; data loss or corruption",
        "> $10,000/hour",
        5 * 60,
        ("vp_engineering", "cto"),
    ),
    "P2": LevelInfo(
        "P2",
        "High",
        "major functionality impaired; significant performance degradation",
        "$1,000-$10,000/hour",
        15 * 60,
        ("engineering_manager",),
    ),
    "P3": LevelInfo(
        "P3",
        "Medium",
        "minor functionality affected; moderate performance impact",
        "$100-$1,000/hour",
        60 * 60,
        ("team_lead",),
    ),
    "P4": LevelInfo(
        "P4", "Low", "cosmetic issues or minor bugs", "no revenue impact", 24 * 3600, ()
    ),
}

#: the seed's "Escalation Triggers": a level and how long the incident may last before it
ESCALATION_TRIGGERS: dict[str, float] = {"P1": 15 * 60, "P2": 60 * 60}

#: the seed's "Escalation Path": role key and when it is reached (seconds into the incident)
ESCALATION_PATH: tuple[tuple[str, float], ...] = (
    ("team_lead", 15 * 60),
    ("engineering_manager", 30 * 60),
    ("vp_engineering", 60 * 60),
    ("cto", 2 * 3600),
)

ROLE_TITLES: dict[str, str] = {
    "incident_commander": "Incident Commander",
    "technical_lead": "Technical Lead",
    "communications_lead": "Communications Lead",
    "scribe": "Scribe",
    "team_lead": "Team Lead",
    "engineering_manager": "Engineering Manager",
    "vp_engineering": "VP Engineering",
    "cto": "CTO",
}


@dataclass(frozen=True)
class Revenue:
    """Production traffic and price, to turn failed enrollments into dollars per hour."""

    enrollments_per_hour: float = 1200.0
    average_price_usd: float = 114.10  # the reference catalogue's mean course price


@dataclass(frozen=True)
class SeverityDecision:
    """The level, why, and the measured inputs."""

    level: str
    reasons: tuple[str, ...]
    impact: Impact
    revenue_per_hour: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``severity`` of a drill in report.json)."""
        info = LEVELS[self.level]
        return {
            "level": self.level,
            "name": info.name,
            "meaning": info.meaning,
            "revenue_band": info.revenue_band,
            "reasons": list(self.reasons),
            "revenue_per_hour_usd": round(self.revenue_per_hour, 2),
            "availability": round(self.impact.availability, 4),
            "error_rate": round(self.impact.error_rate, 4),
            "p95_latency_s": round(self.impact.p95_latency_s, 3),
            "data_loss": self.impact.data_loss,
        }


def revenue_per_hour(result: DrillResult, impact: DrillImpact, revenue: Revenue) -> float:
    """Revenue lost per hour while the incident lasted, at production traffic.

    The share of enrollments that failed during the incident (failed enrollments over the
    enrollments the load would have made in that window) times the production enrollment
    rate and the average price.
    """
    run_s = _load_seconds(result)
    if not impact.enrollments_failed or not impact.window_s or not run_s:
        return 0.0
    expected = impact.enrollments_attempted * min(1.0, impact.window_s / run_s)
    share = min(1.0, impact.enrollments_failed / max(expected, 1.0))
    return share * revenue.enrollments_per_hour * revenue.average_price_usd


def _load_seconds(result: DrillResult) -> float:
    start = event_time(result, "load_started")
    end = event_time(result, "load_stopped") or event_time(result, "t_reverted")
    return max(0.0, end - start) if start is not None and end is not None else 0.0


def classify(
    result: DrillResult,
    impact: DrillImpact,
    model: SeverityModel | None,
    revenue: Revenue | None = None,
) -> SeverityDecision:
    """P1-P4 from measured impact, the scenario's thresholds and the revenue bands."""
    rev = revenue_per_hour(result, impact, revenue or Revenue())
    measured = Impact(
        availability=1.0 - impact.worst_error_share,
        error_rate=impact.worst_error_share,
        p95_latency_s=impact.worst_p95_ms / 1000.0,
        data_loss=impact.lost_writes > 0,
        revenue_per_hour=rev,
    )
    if model is None:
        from chaosdrill.scenarios.model import SeverityLevel

        model = SeverityModel(
            (
                SeverityLevel(
                    "P1", availability_below=0.5, data_loss=True, revenue_per_hour_above=10000
                ),
                SeverityLevel("P2", error_rate_above=0.05, revenue_per_hour_above=1000),
                SeverityLevel("P3", error_rate_above=0.01, revenue_per_hour_above=100),
            )
        )
    decided = model.classify(measured)
    level, reasons = decided.level, list(decided.reasons)
    if measured.data_loss and level != "P1":
        level, reasons = "P1", [f"{impact.lost_writes} acknowledged write(s) lost", *reasons]
    return SeverityDecision(level, tuple(reasons), measured, rev)


@dataclass(frozen=True)
class Escalation:
    """Who the incident would have been escalated to, and why."""

    level: str
    duration_s: float | None
    triggered: tuple[str, ...]
    notify: tuple[tuple[str, str, float | None], ...]  # (role key, person, at seconds)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``escalation`` of a drill in report.json)."""
        return {
            "level": self.level,
            "duration_production_s": self.duration_s,
            "triggered": list(self.triggered),
            "notify": [
                {"role": ROLE_TITLES.get(r, r), "role_key": r, "person": who, "at_s": at}
                for r, who, at in self.notify
            ],
        }


def escalation(
    level: str, duration_production_s: float | None, roles: Mapping[str, str] | None = None
) -> Escalation:
    """The seed's escalation for an incident of ``level`` lasting ``duration_production_s``.

    The level's own escalation (P1: VP Engineering and CTO; P2: Engineering Manager; P3:
    Team Lead) is always named. A trigger (P1 > 15 min, P2 > 1 h; an incident that never
    ended counts as lasting forever) adds every step of the escalation path whose time had
    come.
    """
    people = {**ROLE_TITLES, **(roles or {})}
    notify: dict[str, float | None] = {r: None for r in LEVELS[level].escalates_to}
    triggered: list[str] = []
    limit = ESCALATION_TRIGGERS.get(level)
    lasting = float("inf") if duration_production_s is None else duration_production_s
    if limit is not None and lasting > limit:
        shown = "did not end" if duration_production_s is None else f"lasted {lasting:.0f} s"
        triggered.append(f"{level} incident lasting > {limit / 60:.0f} min ({shown})")
        for role, at in ESCALATION_PATH:
            if lasting > at:
                notify[role] = at
    return Escalation(
        level,
        duration_production_s,
        tuple(triggered),
        tuple((r, people.get(r, r), at) for r, at in notify.items()),
    )
