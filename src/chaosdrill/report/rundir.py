"""One run id and one folder layout for every way a drill runs.

Every entry point (``chaosdrill run X.json``, a plan or ``--all``, the gate, the pytest
plugin, the stock ``chaos run``) writes one run to ``reports/<run-id>/``::

    reports/<run-id>/
        report.json report.md report.html junit.xml comms.md postmortem.md
        drills/<NN>-<experiment>.json   the result of the run's NN-th drill
        drills/<NN>-<experiment>.log    its process' output (drills run in a child process)

The run id is the UTC time and a name (the plan's, or the experiment's for a single
drill); a second run with the same id in the same folder gets a ``-2``, ``-3`` suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chaosdrill.paths import reports_dir

__all__ = ["RunDir", "new_run_id"]


def new_run_id(name: str) -> str:
    """A sortable, unique-enough id: UTC time and ``name`` (only letters, digits, - and _)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{''.join(c if c.isalnum() or c in '-_' else '-' for c in name)}"


@dataclass(frozen=True)
class RunDir:
    """``reports/<run-id>/`` of one run, and the names of the files in it."""

    reports: Path
    run_id: str

    @classmethod
    def create(cls, reports: Path | None, name: str, run_id: str | None = None) -> RunDir:
        """Make the run's folder (and its drills/) under ``reports`` (default: reports/).

        A given ``run_id`` is used as it is (its folder may exist: the gate names it first);
        a new one gets a numeric suffix when another run took that id already.
        """
        root = reports if reports is not None else reports_dir()
        root.mkdir(parents=True, exist_ok=True)
        if run_id is not None:
            run = cls(root, run_id)
            run.drills.mkdir(parents=True, exist_ok=True)
            return run
        base = new_run_id(name)
        for n in range(1, 1000):
            candidate = base if n == 1 else f"{base}-{n}"
            try:
                (root / candidate).mkdir()
            except FileExistsError:
                continue
            run = cls(root, candidate)
            run.drills.mkdir()
            return run
        raise FileExistsError(f"{root}: no free run folder for {base}")

    @property
    def path(self) -> Path:
        """The run's folder: the reports sit here."""
        return self.reports / self.run_id

    @property
    def drills(self) -> Path:
        """The folder of the run's drill results and logs."""
        return self.path / "drills"

    def remove_if_empty(self) -> None:
        """Remove the run's folder if nothing was written in it (a run that never started)."""
        for folder in (self.drills, self.path):
            try:
                folder.rmdir()
            except OSError:
                return

    def drill_result(self, index: int, experiment: Path | str) -> Path:
        """The result file of the run's ``index``-th drill (1-based)."""
        return self.drills / f"{index:02d}-{Path(experiment).stem}.json"

    def drill_log(self, index: int, experiment: Path | str) -> Path:
        """The log of the process that ran the ``index``-th drill."""
        return self.drills / f"{index:02d}-{Path(experiment).stem}.log"
