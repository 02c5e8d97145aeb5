"""The names a file may use from the others: runbooks, scenarios and alerts.

Names are looked up in the directories next to the file's own (``../runbooks``,
``../probes``, ...), then in the workspace's, then in the built-in catalogue
(:mod:`chaosdrill.workspace`); :func:`unknown_name` says which name is missing and which
were expected, and :attr:`References.resolved` which file each name used resolved to.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.scenarios.catalogue import Catalogue
from chaosdrill.validate.problem import display
from chaosdrill.workspace import Entry, Workspace, current

__all__ = ["References", "unknown_name"]


_ALERT_LINE = re.compile(r"^\s*-?\s*alert:\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


class References:
    """Runbooks, scenarios and alerts known next to a file and in the project.

    Every file is loaded once per validation: the check of a runbook and the runbooks a
    scenario names share one load.
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace or current()
        self.extra: dict[tuple[str, str], Entry] = {}  # names resolved outside the catalogue
        self._models: dict[tuple[str, Path], tuple[Any, InvalidInputError | None]] = {}
        self._alerts: dict[Path, set[str]] = {}
        self._lock = threading.Lock()  # rule files are loaded by the promtool threads too
        self._catalogue: Catalogue | None = None

    @property
    def catalogue(self) -> Catalogue:
        """The project's catalogue, which ``chaosdrill run`` checks experiments against.

        One for the whole validation, so each runbook, scenario and rule file is read once
        however many experiments name it.
        """
        if self._catalogue is None:
            self._catalogue = Catalogue(self.workspace)
        return self._catalogue

    @property
    def resolved(self) -> dict[tuple[str, str], Entry]:
        """(kind, name) -> the file it resolved to, for every name the files checked used."""
        used = dict(self._catalogue.used) if self._catalogue is not None else {}
        return dict(sorted({**used, **self.extra}.items()))

    def note_experiments(self, plan: Any) -> None:
        """Record where each experiment a plan names resolved to."""
        from chaosdrill.plans.model import PlanDrill, RandomPick

        for drill in plan.drills:
            found = [drill.experiment] if isinstance(drill, PlanDrill) else []
            if isinstance(drill, RandomPick):
                found = list(drill.pool)
            for path in found:
                self.extra["experiment", path.stem] = Entry(
                    path.stem, path, self.workspace.source_of(path)
                )

    def load(self, kind: str, file: Path) -> tuple[Any, InvalidInputError | None]:
        """The model of a runbook, scenario or rule file, or the error loading it."""
        from chaosdrill.monitoring.rules import load_rule_file
        from chaosdrill.runbooks.loader import load_runbook
        from chaosdrill.scenarios.loader import load_scenario

        loaders: dict[str, Callable[[str], Any]] = {
            "runbook": load_runbook,
            "scenario": load_scenario,
            "rules": load_rule_file,
        }
        key = (kind, file.resolve())
        with self._lock:
            return self._load(key, loaders[kind], file)

    def _load(
        self,
        key: tuple[str, Path],
        loader: Callable[[str], Any],
        file: Path,
    ) -> tuple[Any, InvalidInputError | None]:
        if key not in self._models:
            shown = display(file)
            try:
                self._models[key] = (loader(shown), None)
            except InvalidInputError as exc:
                self._models[key] = (None, exc)
            except Exception as exc:  # never let one file stop the others
                self._models[key] = (None, InvalidInputError(f"could not be read: {exc!r}"))
        return self._models[key]

    def _dirs(self, path: Path, name: str) -> list[Path]:
        """``name`` next to the file's own directory, the workspace's, the built-in one."""
        candidates = [path.absolute().parent.parent / name]
        candidates += [d for d, _ in self.workspace.dirs(name)]
        out: list[Path] = []
        for directory in candidates:
            if directory.is_dir() and all(directory.resolve() != d.resolve() for d in out):
                out.append(directory)
        return out

    def _named(self, path: Path, kind: str, directory: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for found in reversed(self._dirs(path, directory)):
            for file in sorted(found.glob("*.yaml")):
                out[file.stem] = self.load(kind, file)[0]
        return out

    def runbooks(self, path: Path) -> dict[str, Any]:
        """Runbook name -> Runbook (None when it does not load) for a file at ``path``."""
        return self._named(path, "runbook", "runbooks")

    def scenarios(self, path: Path) -> dict[str, Any]:
        """Scenario id -> Scenario (None when it does not load) for a file at ``path``."""
        return self._named(path, "scenario", "scenarios")

    def alerts(self, path: Path) -> set[str]:
        """Alert names of the rule files next to a file at ``path`` and of the project."""
        names: set[str] = set()
        for directory in self._dirs(path, "probes"):
            key = directory.resolve()
            if key not in self._alerts:
                found: set[str] = set()
                for file in sorted(directory.glob("*.rules.yml")):
                    rule_file, error = self.load("rules", file)
                    if error is None:
                        found |= {rule.name for rule in rule_file.alerts}
                    else:  # a broken file: still take the names it spells out
                        with contextlib.suppress(OSError):
                            found |= set(_ALERT_LINE.findall(file.read_text(errors="replace")))
                self._alerts[key] = found
            names |= self._alerts[key]
        return names


def unknown_name(what: str, name: Any, known: Iterable[str], where: str) -> str:
    """The message for a name that is not known: the known ones and a close match."""
    names = sorted(known)
    shown = ", ".join(names) if names else "none found"
    hint = difflib.get_close_matches(str(name), names, n=1)
    guess = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"no {what} named {name!r} {where}{guess}; expected one of: {shown}"
