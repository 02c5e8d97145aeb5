"""The catalogue a drill spec is checked against: scenarios, runbooks and alert rules.

Each part is read once, when first asked for, so resolving several drills (a plan) reads
every file once.
"""

from __future__ import annotations

from pathlib import Path

from chaosdrill import paths
from chaosdrill.runbooks.model import Runbook
from chaosdrill.scenarios.model import Scenario

__all__ = ["Catalogue"]


class Catalogue:
    """Scenarios, runbooks and alert names of the given directories (default: the project's)."""

    def __init__(
        self,
        *,
        scenarios_dir: Path | None = None,
        runbooks_dir: Path | None = None,
        probes_dir: Path | None = None,
    ) -> None:
        self.scenarios_dir = scenarios_dir or paths.SCENARIOS_DIR
        self.runbooks_dir = runbooks_dir or paths.RUNBOOKS_DIR
        self.probes_dir = probes_dir or paths.PROBES_DIR
        self._alerts: frozenset[str] | None = None
        self._runbooks: dict[str, Runbook] = {}
        self._scenarios: dict[str, Scenario] = {}

    def alert_names(self) -> frozenset[str]:
        """Every alert the rule files ``probes/*.rules.yml`` define."""
        from chaosdrill.monitoring.rules import RULE_FILE_GLOB, alert_names

        if self._alerts is None:
            self._alerts = frozenset(alert_names(sorted(self.probes_dir.glob(RULE_FILE_GLOB))))
        return self._alerts

    def runbook_names(self) -> list[str]:
        """The names of the runbooks on disk."""
        return sorted(p.stem for p in self.runbooks_dir.glob("*.yaml"))

    def runbook(self, name: str) -> Runbook | None:
        """The runbook ``name`` (checked by its loader), or None when there is none."""
        from chaosdrill.runbooks.loader import load_runbook

        if name not in self._runbooks:
            path = self.runbooks_dir / f"{name}.yaml"
            if "/" in name or not path.is_file():
                return None
            self._runbooks[name] = load_runbook(path)
        return self._runbooks[name]

    def scenario_ids(self) -> list[str]:
        """The ids (file names) of the scenarios on disk."""
        return sorted(p.stem for p in self.scenarios_dir.glob("*.yaml"))

    def scenario(self, scenario_id: str) -> Scenario | None:
        """The scenario ``scenario_id`` (checked by its loader), or None when there is none."""
        from chaosdrill.scenarios.loader import load_scenario

        if scenario_id not in self._scenarios:
            path = self.scenarios_dir / f"{scenario_id}.yaml"
            if "/" in scenario_id or not path.is_file():
                return None
            self._scenarios[scenario_id] = load_scenario(path)
        return self._scenarios[scenario_id]
