"""The scenario model: a symptom class an on-call engineer sees, and its severity model.

A scenario's investigation steps and common causes, and the severity model that maps
measured impact to P1-P4.

Scenarios are built from their YAML files by :mod:`chaosdrill.scenarios.loader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "Cause",
    "Impact",
    "Investigation",
    "Scenario",
    "Severity",
    "SeverityLevel",
    "SeverityModel",
]


@dataclass(frozen=True)
class Investigation:
    """One investigation step of the seed: its command and the chaosdrill equivalent."""

    purpose: str
    seed: str
    chaosdrill: str
    note: str = ""


@dataclass(frozen=True)
class Cause:
    """A common cause of a scenario and the runbooks that fix it."""

    id: str
    description: str
    runbooks: tuple[str, ...]
    seed: str = ""
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Impact:
    """Measured impact of an incident: the inputs of the severity model.

    Attributes:
        availability: share of user requests answered successfully (0..1).
        error_rate: share of user requests that failed (0..1).
        p95_latency_s: 95th percentile latency of user requests, seconds.
        data_loss: any acknowledged write lost or any data corrupted.
        revenue_per_hour: revenue lost per hour (USD) at the measured failure rate.
    """

    availability: float = 1.0
    error_rate: float = 0.0
    p95_latency_s: float = 0.0
    data_loss: bool = False
    revenue_per_hour: float = 0.0


@dataclass(frozen=True)
class SeverityLevel:
    """Thresholds of one level (P1-P3); the level applies when any threshold is met."""

    level: str
    availability_below: float | None = None
    error_rate_above: float | None = None
    p95_latency_s_above: float | None = None
    data_loss: bool = False
    revenue_per_hour_above: float | None = None

    def reasons(self, impact: Impact) -> list[str]:
        """The thresholds ``impact`` meets, in words (empty: the level does not apply)."""
        out = []
        if self.availability_below is not None and impact.availability < self.availability_below:
            out.append(f"availability {impact.availability:.1%} < {self.availability_below:.1%}")
        if self.error_rate_above is not None and impact.error_rate > self.error_rate_above:
            out.append(f"error rate {impact.error_rate:.1%} > {self.error_rate_above:.1%}")
        if self.p95_latency_s_above is not None and impact.p95_latency_s > self.p95_latency_s_above:
            out.append(f"p95 latency {impact.p95_latency_s:.2f} s > {self.p95_latency_s_above} s")
        if self.data_loss and impact.data_loss:
            out.append("data lost or corrupted")
        rev = self.revenue_per_hour_above
        if rev is not None and impact.revenue_per_hour > rev:
            out.append(f"revenue impact ${impact.revenue_per_hour:,.0f}/h > ${rev:,.0f}/h")
        return out


@dataclass(frozen=True)
class Severity:
    """A severity decision: the level and the thresholds that decided it."""

    level: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SeverityModel:
    """How measured impact maps to P1-P4 (the seed's severity table, per scenario)."""

    levels: tuple[SeverityLevel, ...]
    floor: str = "P4"
    note: str = ""

    def classify(self, impact: Impact) -> Severity:
        """The most severe level whose thresholds ``impact`` meets, never below ``floor``."""
        for level in self.levels:
            reasons = level.reasons(impact)
            if reasons:
                return Severity(level.level, tuple(reasons))
        if self.floor != "P4":
            return Severity(self.floor, (f"at least {self.floor} for this scenario",))
        return Severity("P4", ("no threshold of P1-P3 met",))


@dataclass(frozen=True)
class Scenario:
    """A symptom class an on-call engineer sees (the seed's Common Incident Scenarios)."""

    id: str
    title: str
    description: str
    symptoms: tuple[str, ...]
    alerts: tuple[str, ...]
    investigation: tuple[Investigation, ...]
    common_causes: tuple[Cause, ...]
    runbooks: tuple[str, ...]
    severity: SeverityModel
    source: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
