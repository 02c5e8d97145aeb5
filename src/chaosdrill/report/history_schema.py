"""The run history's SQLite tables, and how reports and rows go in and out of them.

``runs`` has a row per run and ``drills`` a row per drill; :func:`_drill_values` makes the
``drills`` columns of one drill of a report, :func:`_run_row` and :func:`_drill_row` make a
:class:`RunRow` and a :class:`DrillRow` of a selected row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.report.history_rows import DrillRow, RunRow

__all__: list[str] = []

_SCHEMA = """
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
    PRIMARY KEY (run_seq, position)
);
CREATE INDEX IF NOT EXISTS drills_scenario ON drills(scenario, run_seq);
"""

_RUN_COLUMNS = (
    "seq, run_id, plan, kind, generated_at, complete, passed, points, grade, worst_severity,"
    " report_dir"
)
_DRILL_COLUMNS = (
    "r.run_id, d.position, d.drill_id, d.scenario, d.cause, d.alert, d.mttd_s, d.mttr_s,"
    " d.mttd_drill_s, d.mttr_drill_s, d.time_scale, d.points, d.grade, d.passed, d.paged,"
    " d.runbook_ok, d.lost_writes, d.severity, d.complete"
)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _get(obj: Mapping[str, Any], *keys: str) -> Any:
    """obj[k1][k2]... or None where any level is missing or not a mapping."""
    cur: Any = obj
    for key in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _drill_values(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``drills`` columns of one drill of a report."""
    if not isinstance(d, Mapping) or not isinstance(d.get("id"), str) or not d["id"]:
        raise InvalidInputError("expected a drill object with a non-empty 'id'", field=where)
    runbooks = d.get("runbooks") or []
    return {
        "drill_id": d["id"],
        "scenario": str(d.get("scenario") or ""),
        "cause": str(d.get("cause") or ""),
        "alert": d.get("alert"),
        "mttd_s": _opt_float(_get(d, "times", "mttd", "production_s")),
        "mttr_s": _opt_float(_get(d, "times", "mttr", "production_s")),
        "mttd_drill_s": _opt_float(_get(d, "times", "mttd", "drill_s")),
        "mttr_drill_s": _opt_float(_get(d, "times", "mttr", "drill_s")),
        "time_scale": float(d.get("time_scale") or 1.0),
        "points": _opt_float(_get(d, "score", "points")),
        "grade": _get(d, "score", "grade"),
        "passed": bool(_get(d, "score", "passed")),
        "paged": _opt_bool(_get(d, "verdict", "checks", "detected")),
        "runbook_ok": all(bool(b.get("ok")) for b in runbooks) if runbooks else None,
        "lost_writes": int(_get(d, "impact", "lost_writes") or 0),
        "severity": _get(d, "severity", "level"),
        "complete": bool(d.get("complete")),
    }


def _run_row(r: Sequence[Any]) -> RunRow:
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


def _drill_row(r: Sequence[Any]) -> DrillRow:
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
    )
