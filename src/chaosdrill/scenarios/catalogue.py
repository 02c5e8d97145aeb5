"""The catalogue a drill spec is checked against: scenarios, runbooks and alert rules.

Each part is read once, when first asked for, so resolving several drills (a plan) reads
every file once.
"""

from __future__ import annotations

from chaosdrill.runbooks.model import Runbook
from chaosdrill.scenarios.model import Scenario
from chaosdrill.workspace import Entry, Workspace, current

__all__ = ["Catalogue"]


class Catalogue:
    """Scenarios, runbooks and alert names of a workspace (default: the one in force).

    A name resolves in the workspace first, then in the built-in catalogue
    (:mod:`chaosdrill.workspace`); :meth:`resolved` says which file each name used.
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace or current()
        self._alerts: frozenset[str] | None = None
        self._alert_files: dict[str, Entry] | None = None
        self._runbooks: dict[str, Runbook] = {}
        self._scenarios: dict[str, Scenario] = {}
        self.used: dict[tuple[str, str], Entry] = {}

    def where(self, kind: str) -> str:
        """Where files of ``kind`` are looked for (for a message)."""
        from chaosdrill.workspace import KINDS

        k = KINDS[kind]
        dirs = [str(d / k.pattern) for d, _ in self.workspace.dirs(k.directory)]
        return " or ".join(dirs) or f"{k.directory}/{k.pattern}"

    def alert_names(self) -> frozenset[str]:
        """Every alert the rule files (``probes/*.rules.yml``, resolved) define."""
        from chaosdrill.monitoring.rules import alert_names

        if self._alerts is None:
            self._alerts = frozenset(alert_names(self.workspace.paths("rules")))
        return self._alerts

    def alert(self, name: str) -> Entry | None:
        """The rule file that defines alert ``name`` (recorded in :attr:`used`), or None."""
        from chaosdrill.monitoring.rules import alert_names

        if self._alert_files is None:  # each rule file read once
            self._alert_files = {}
            for entry in self.workspace.entries("rules").values():
                try:
                    names = alert_names([entry.path])
                except Exception:  # a broken file is reported by its own check
                    continue
                for alert in names:
                    self._alert_files.setdefault(alert, entry)
        file = self._alert_files.get(name)
        if file is None:
            return None
        self.used["alert", name] = found = Entry(name, file.path, file.source)
        return found

    def runbook_names(self) -> list[str]:
        """The names of the runbooks (workspace and built-in)."""
        return list(self.workspace.entries("runbooks"))

    def runbook(self, name: str) -> Runbook | None:
        """The runbook ``name`` (checked by its loader), or None when there is none."""
        from chaosdrill.runbooks.loader import load_runbook

        if name not in self._runbooks:
            entry = self.workspace.find("runbooks", name)
            if entry is None:
                return None
            self.used["runbook", name] = entry
            self._runbooks[name] = load_runbook(entry.path)
        return self._runbooks[name]

    def scenario_ids(self) -> list[str]:
        """The ids (file names) of the scenarios (workspace and built-in)."""
        return list(self.workspace.entries("scenarios"))

    def scenario(self, scenario_id: str) -> Scenario | None:
        """The scenario ``scenario_id`` (checked by its loader), or None when there is none."""
        from chaosdrill.scenarios.loader import load_scenario

        if scenario_id not in self._scenarios:
            entry = self.workspace.find("scenarios", scenario_id)
            if entry is None:
                return None
            self.used["scenario", scenario_id] = entry
            self._scenarios[scenario_id] = load_scenario(entry.path)
        return self._scenarios[scenario_id]
