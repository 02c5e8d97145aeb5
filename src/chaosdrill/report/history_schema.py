"""The run history's SQLite tables, and how reports and rows go in and out of them.

``runs`` has a row per run and ``drills`` a row per drill; :func:`run_values` and
:func:`drill_values` make the columns of a report and of one of its drills, :func:`run_row`
and :func:`drill_row` make a :class:`RunRow` and a :class:`DrillRow` of a selected row.

``SCHEMA`` creates the tables of the current version; ``MIGRATIONS`` bring a file of an
older version up to it, a version at a time. Version 2 added ``drills.timing_method`` (how
the drill's production-equivalent times were computed); rows recorded before it keep NULL
there, which means the old way (drill seconds x K). A file of version 1 is read as it is
(:func:`drill_columns` selects NULL for the missing column) until the next write migrates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaosdrill.report.history_rows import DrillRow, RunRow
from chaosdrill.report.types import DrillSection, Report

__all__ = [
    "DRILL_COLUMNS",
    "MIGRATIONS",
    "RUN_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "drill_columns",
    "drill_row",
    "drill_values",
    "run_row",
    "run_values",
    "timing_method_column",
]

#: the version ``SCHEMA`` creates and ``MIGRATIONS`` lead to
SCHEMA_VERSION = 2

#: the version that added ``drills.timing_method``
TIMING_METHOD_SINCE = 2

#: the tables of ``SCHEMA_VERSION`` (statements separated by ";")
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL,
    kind TEXT NOT NULL,
    generated_at TEXT,
    complete INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    points REAL,
    grade TEXT,
    worst_severity TEXT,
    report_dir TEXT
);
CREATE INDEX IF NOT EXISTS runs_plan ON runs(plan, seq);
CREATE TABLE IF NOT EXISTS drills (
    run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    drill_id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    cause TEXT NOT NULL,
    alert TEXT,
    mttd_s REAL,
    mttr_s REAL,
    mttd_drill_s REAL,
    mttr_drill_s REAL,
    time_scale REAL NOT NULL,
    points REAL,
    grade TEXT,
    passed INTEGER NOT NULL,
    paged INTEGER,
    runbook_ok INTEGER,
    lost_writes INTEGER NOT NULL,
    severity TEXT,
    complete INTEGER NOT NULL,
    timing_method TEXT,
    PRIMARY KEY (run_seq, position)
);
CREATE INDEX IF NOT EXISTS drills_scenario ON drills(scenario, run_seq);
"""

#: version -> the statements that bring a file of the version before up to it
MIGRATIONS: dict[int, tuple[str, ...]] = {
    TIMING_METHOD_SINCE: ("ALTER TABLE drills ADD COLUMN timing_method TEXT",),
}

#: the ``runs`` columns that ``run_row`` reads, in its order
RUN_COLUMNS = (
    "seq, run_id, plan, kind, generated_at, complete, passed, points, grade, worst_severity,"
    " report_dir"
)
_DRILL_COLUMNS_V1 = (
    "r.run_id, d.position, d.drill_id, d.scenario, d.cause, d.alert, d.mttd_s, d.mttr_s,"
    " d.mttd_drill_s, d.mttr_drill_s, d.time_scale, d.points, d.grade, d.passed, d.paged,"
    " d.runbook_ok, d.lost_writes, d.severity, d.complete"
)
#: the ``drills`` columns (joined with ``runs r``) that ``drill_row`` reads, in its order
DRILL_COLUMNS = _DRILL_COLUMNS_V1 + ", d.timing_method"


def timing_method_column(version: int) -> str:
    """What selects ``d.timing_method`` in a file of ``version`` (NULL before it existed)."""
    return "d.timing_method" if version >= TIMING_METHOD_SINCE else "NULL"


def drill_columns(version: int) -> str:
    """``DRILL_COLUMNS`` for a file of ``version``: NULL for a column it does not have yet."""
    return f"{_DRILL_COLUMNS_V1}, {timing_method_column(version)}"


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _opt_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def run_values(report: Report, report_dir: Path | None) -> tuple[Any, ...]:
    """The ``runs`` columns of a report (run_id through report_dir, without seq)."""
    s = report.summary
    return (
        report.run_id,
        report.plan.name or "ad hoc",
        report.kind,
        report.generated_at,
        report.complete,
        s.passed,
        _opt_float(s.points),
        s.grade,
        s.worst_severity,
        None if report_dir is None else str(Path(report_dir).resolve()),
    )


def drill_values(d: DrillSection) -> dict[str, Any]:
    """The ``drills`` columns of one drill of a report."""
    return {
        "drill_id": d.id,
        "scenario": d.scenario,
        "cause": d.cause,
        "alert": d.alert,
        "mttd_s": _opt_float(d.times.mttd.production_s),
        "mttr_s": _opt_float(d.times.mttr.production_s),
        "mttd_drill_s": _opt_float(d.times.mttd.drill_s),
        "mttr_drill_s": _opt_float(d.times.mttr.drill_s),
        "time_scale": float(d.time_scale or 1.0),
        "points": _opt_float(d.score.points),
        "grade": d.score.grade,
        "passed": d.score.passed,
        "paged": _opt_bool(d.verdict.checks.get("detected")),
        "runbook_ok": all(b.ok for b in d.runbooks) if d.runbooks else None,
        "lost_writes": d.impact.lost_writes,
        "severity": d.severity.level,
        "complete": d.complete,
        "timing_method": d.timing_method,
    }


def run_row(r: Sequence[Any]) -> RunRow:
    """A ``runs`` row selected with ``RUN_COLUMNS``."""
    return RunRow(
        seq=int(r[0]),
        run_id=r[1],
        plan=r[2],
        kind=r[3],
        generated_at=r[4],
        complete=bool(r[5]),
        passed=bool(r[6]),
        points=r[7],
        grade=r[8],
        worst_severity=r[9],
        report_dir=r[10],
    )


def drill_row(r: Sequence[Any]) -> DrillRow:
    """A ``drills`` row selected with ``DRILL_COLUMNS`` (or ``drill_columns``)."""
    return DrillRow(
        run_id=r[0],
        position=int(r[1]),
        drill_id=r[2],
        scenario=r[3],
        cause=r[4],
        alert=r[5],
        mttd_s=r[6],
        mttr_s=r[7],
        mttd_drill_s=r[8],
        mttr_drill_s=r[9],
        time_scale=float(r[10]),
        points=r[11],
        grade=r[12],
        passed=bool(r[13]),
        paged=_opt_bool(r[14]),
        runbook_ok=_opt_bool(r[15]),
        lost_writes=int(r[16]),
        severity=r[17],
        complete=bool(r[18]),
        timing_method=r[19],
    )
