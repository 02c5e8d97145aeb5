"""The state of one drill: environment, clock, load, fault ledger, and what was measured.

One drill runs per process (Chaos Toolkit's own rule), so the context is a process-wide
singleton set up by the chaosdrill control and read by the activities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosdrill.drill.measurements import Measurements
from chaosdrill.drill.model import DrillResult
from chaosdrill.environments import Environment
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.load import LoadRun
from chaosdrill.load.sli import SliTail
from chaosdrill.scenarios.spec import DrillSpec
from chaosdrill.timeline import Timeline
from chaosdrill.timescale import TimeScale

__all__ = [
    "DrillConfig",
    "DrillContext",
    "clear_current",
    "current",
    "current_or_none",
    "set_current",
]


@dataclass(frozen=True)
class DrillConfig:
    """What the experiment file and the command line ask of the drill."""

    experiment: str
    title: str
    scenario: str
    cause: str
    alert: str
    runbook: str
    runbook_params: dict[str, Any]
    env_name: str
    time_scale: TimeScale
    reports_dir: Path
    hold_production_s: float
    load: dict[str, Any] = field(default_factory=dict)
    replicas: int = 2
    recovery_timeout_production_s: float | None = None
    spec: DrillSpec | None = field(default=None, compare=False, repr=False)
    #: where to write the result (default: drills/01-<experiment>.json of a new run folder)
    result_path: Path | None = None

    @classmethod
    def from_spec(cls, spec: DrillSpec, result_path: Path | None = None) -> DrillConfig:
        """The settings of a resolved (and so already checked) drill spec."""
        return cls(
            experiment=spec.experiment,
            title=spec.title,
            scenario=spec.scenario,
            cause=spec.cause,
            alert=spec.alert,
            runbook=spec.runbook.name,
            runbook_params=dict(spec.runbook.params),
            env_name=spec.env_name,
            time_scale=spec.time_scale,
            reports_dir=spec.reports_dir,
            hold_production_s=spec.hold_production_s,
            load=spec.load_settings,
            replicas=spec.replicas,
            recovery_timeout_production_s=spec.recovery_timeout_production_s,
            spec=spec,
            result_path=result_path,
        )

    @property
    def hold_s(self) -> float:
        """Hold period in drill seconds."""
        return self.time_scale.drill(self.hold_production_s)

    @property
    def detection_timeout_s(self) -> float:
        """How long to wait for the page before calling detection failed."""
        return max(3 * self.time_scale.mttd_target_s, 10.0)

    @property
    def recovery_timeout_s(self) -> float:
        """How long to wait for steady state to return (and hold): twice the MTTR target."""
        if self.recovery_timeout_production_s is not None:
            return self.time_scale.drill(self.recovery_timeout_production_s) + self.hold_s
        return max(2 * self.time_scale.mttr_target_s, 30.0) + self.hold_s

    @property
    def slo_window_s(self) -> float:
        """Window of client SLIs judged for steady state (drill seconds, at least 2)."""
        return self.slo_window_for(self.time_scale)

    @staticmethod
    def slo_window_for(time_scale: TimeScale) -> float:
        """One production minute of client SLIs, at least 2 drill seconds."""
        return max(2.0, time_scale.drill(60.0))


@dataclass
class DrillContext:
    """Everything a drill's activities share."""

    config: DrillConfig
    env: Environment
    owns_env: bool
    ledger: FaultLedger
    timeline: Timeline = field(default_factory=Timeline)
    load: LoadRun | None = None
    sli: SliTail | None = None
    measurements: Measurements = field(default_factory=Measurements)
    failures: list[str] = field(default_factory=list)
    fault_entries: list[str] = field(default_factory=list)
    phase: str = "setup"
    result_path: Path | None = None
    #: the result as written (kept so the run path never reads its own file back)
    result: DrillResult | None = None
    aborted: str | None = None


_CURRENT: DrillContext | None = None


def current() -> DrillContext:
    """The drill of this process (set by the chaosdrill control)."""
    if _CURRENT is None:
        raise RuntimeError(
            "no chaosdrill drill is set up in this process: the experiment needs the "
            "chaosdrill control (controls: [{name: chaosdrill, provider: {type: python, "
            "module: chaosdrill.ctk.control}}])"
        )
    return _CURRENT


def current_or_none() -> DrillContext | None:
    """The drill of this process, or None when none is set up."""
    return _CURRENT


def set_current(ctx: DrillContext) -> None:
    """Make ``ctx`` the drill of this process."""
    global _CURRENT
    _CURRENT = ctx


def clear_current() -> None:
    """Forget the drill of this process."""
    global _CURRENT
    _CURRENT = None
