"""The state of one drill: environment, clock, load, fault ledger, and what was measured.

One drill runs per process (Chaos Toolkit's own rule), so the context is a process-wide
singleton set up by the chaosdrill control and read by the activities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chaosdrill.drill.measurements import Measurements
from chaosdrill.drill.model import DrillResult
from chaosdrill.drill.timing import Timing
from chaosdrill.environments import Environment
from chaosdrill.environments.holding import Hold
from chaosdrill.faults.base import Fault
from chaosdrill.faults.ledger import FaultLedger
from chaosdrill.load import LoadRun
from chaosdrill.load.sli import SliTail
from chaosdrill.scenarios.spec import DrillSpec
from chaosdrill.timeline import Timeline

__all__ = [
    "DrillContext",
    "clear_current",
    "current",
    "current_or_none",
    "set_current",
]


@dataclass
class DrillContext:
    """Everything a drill's activities share."""

    spec: DrillSpec
    env: Environment
    owns_env: bool
    ledger: FaultLedger
    #: the drill's hold on the environment (released at clean-up)
    hold: Hold | None = None
    timeline: Timeline = field(default_factory=Timeline)
    load: LoadRun | None = None
    sli: SliTail | None = None
    measurements: Measurements = field(default_factory=Measurements)
    failures: list[str] = field(default_factory=list)
    fault_entries: list[str] = field(default_factory=list)
    #: the faults this drill injected, as bound (for ``is_active`` during the recovery)
    faults: list[Fault] = field(default_factory=list)
    phase: str = "setup"
    #: where the result is written (None: drills/01-<experiment>.json of a new run folder)
    result_path: Path | None = None
    #: how the drill's times were measured (set when the result is built)
    timing: Timing | None = None
    #: the result once written (kept so the run path never reads its own file back)
    result: DrillResult | None = None
    aborted: str | None = None
    #: why the drill was stopped before its end (``"signal SIGHUP"``), if it was
    stopped: str | None = None
    #: a training session's drill: its fault goes into the ledger sealed, and what it
    #: leaves where trainees look (the hold, the load, the ledger) is named ``label``
    sealed: bool = False
    label: str = ""

    @property
    def owner_label(self) -> str:
        """The name the drill's hold, load and ledger entries carry."""
        return self.label or self.spec.experiment


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
