"""Run history: every report recorded in SQLite, for trends, comparisons and the CI gate.

One file, by default ``reports/history.sqlite`` (``History.default()``), holds a ``runs`` row
per run and a ``drills`` row per drill. Runs are ordered by an autoincrement sequence, the
order they were first recorded; the wall-clock ``generated_at`` is only a label and is never
parsed. Recording the same ``run_id`` again replaces the run and its drills but keeps its
place in that order.

The file is opened per call in WAL mode with ``synchronous=FULL`` and a busy timeout, and
every write is one ``BEGIN IMMEDIATE`` transaction, so two processes may record at once. The
schema is created on the first write; its version is kept in ``schema_version`` and a file
written by a newer chaosdrill is refused rather than misread. A file of an older version is
read as it is and migrated in place by the next write, in that write's transaction (version
2 added ``drills.timing_method``: NULL in the rows recorded before, the old way). Reading a
history that does not exist yet gives empty answers and creates nothing.

The rows it answers with are in :mod:`chaosdrill.report.history_rows`; the tables, and how a
report becomes rows and rows become objects, in :mod:`chaosdrill.report.history_schema`.
"""

from __future__ import annotations

import difflib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

from chaosdrill.errors import DrillError, InvalidInputError, RuntimeFailure
from chaosdrill.paths import reports_dir
from chaosdrill.report.history_rows import (
    Comparison,
    Delta,
    DrillChange,
    DrillRow,
    RunRow,
    TrendPoint,
    method_of,
)
from chaosdrill.report.history_rows import Direction as Direction
from chaosdrill.report.history_schema import (
    MIGRATIONS,
    RUN_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    drill_columns,
    drill_row,
    drill_values,
    run_row,
    run_values,
    timing_method_column,
)
from chaosdrill.report.types import Report

__all__ = [
    "SCHEMA_VERSION",
    "Comparison",
    "Delta",
    "DrillChange",
    "DrillRow",
    "History",
    "RunRow",
    "TrendPoint",
]

#: seconds a connection waits for another process's write lock before failing
BUSY_TIMEOUT_S = 30.0


def _busy(exc: sqlite3.OperationalError) -> bool:
    return any(word in str(exc) for word in ("locked", "busy"))


class History:
    """The run history in one SQLite file.

    Args:
        path: the SQLite file (created, with its directory, on the first ``record``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"History({str(self.path)!r})"

    @classmethod
    def default(cls) -> History:
        """The project's history: ``reports_dir() / "history.sqlite"``."""
        return cls(reports_dir() / "history.sqlite")

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection inside one transaction (None: reading a history that does not exist).

        Writes switch the file to WAL once (it stays WAL), take the write lock at once
        (``BEGIN IMMEDIATE``) and create the schema; reads see one consistent snapshot.
        Either way a newer schema is refused.
        """
        if not write and not self.path.exists():
            yield None
            return
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        with closing(conn):
            try:
                if write:
                    self._wal(conn)
                    conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                ready = self._check_schema(conn, create=write)
            except sqlite3.Error as exc:
                raise self._failure(exc) from exc
            except BaseException:
                conn.rollback()
                raise
            try:
                yield conn if ready else None
            except sqlite3.Error as exc:
                conn.rollback()
                raise self._failure(exc) from exc
            except BaseException:
                conn.rollback()
                raise
            try:
                conn.commit()
            except sqlite3.Error as exc:
                raise self._failure(exc) from exc

    @staticmethod
    def _wal(conn: sqlite3.Connection) -> None:
        """Switch to WAL unless the file already is (SQLite does not wait for that switch)."""
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _failure(self, exc: sqlite3.Error) -> DrillError:
        """A locked file is a runtime failure; anything else means it is not a history."""
        if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
            return RuntimeFailure(
                f"{self.path}: the history stayed locked by another process for "
                f"{BUSY_TIMEOUT_S:.0f} s ({exc})"
            )
        return InvalidInputError(
            f"not a usable chaosdrill history (SQLite: {exc})", source=str(self.path)
        )

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int | None:
        """The file's schema version (None: no tables yet)."""
        has_version = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not has_version:
            return None
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _check_schema(self, conn: sqlite3.Connection, *, create: bool) -> bool:
        """Refuse a newer schema; create or migrate ours if asked. True when the tables exist.

        An older version is readable as it is (``drill_columns``); writing migrates it.
        """
        version = self._version(conn)
        if version is not None and version > SCHEMA_VERSION:
            raise InvalidInputError(
                f"history schema version {version} is newer than this chaosdrill understands "
                f"({SCHEMA_VERSION}); upgrade chaosdrill or use another history file",
                source=str(self.path),
            )
        if version == SCHEMA_VERSION or (version is not None and not create):
            return True
        if not create:
            return False
        if version is not None:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
            return True
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for statement in SCHEMA.split(";"):  # not executescript: it would commit
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        return True

    # -- writing -----------------------------------------------------------------------

    def record(self, report: Report, report_dir: Path | None = None) -> None:
        """Append one run (what ``build_report`` makes) in one transaction.

        Recording a ``run_id`` that is already there replaces that run and its drills and
        keeps its place in the order.

        Args:
            report: the run's report.
            report_dir: where the run's outputs were written (stored as an absolute path).
        """
        run_id = report.run_id
        rows = [drill_values(d) for d in report.drills]
        run = run_values(report, report_dir)
        with self._connect(write=True) as conn:
            assert conn is not None
            conn.execute(
                "INSERT INTO runs (run_id, plan, kind, generated_at, complete, passed, points,"
                " grade, worst_severity, report_dir) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(run_id) DO UPDATE SET plan = excluded.plan, kind = excluded.kind,"
                " generated_at = excluded.generated_at, complete = excluded.complete,"
                " passed = excluded.passed, points = excluded.points, grade = excluded.grade,"
                " worst_severity = excluded.worst_severity, report_dir = excluded.report_dir",
                run,
            )
            seq = conn.execute("SELECT seq FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
            conn.execute("DELETE FROM drills WHERE run_seq = ?", (seq,))
            conn.executemany(
                "INSERT INTO drills (run_seq, position, drill_id, scenario, cause, alert,"
                " mttd_s, mttr_s, mttd_drill_s, mttr_drill_s, time_scale, points, grade, passed,"
                " paged, runbook_ok, lost_writes, severity, complete, timing_method)"
                " VALUES (:run_seq, :position, :drill_id, :scenario, :cause, :alert, :mttd_s,"
                " :mttr_s, :mttd_drill_s, :mttr_drill_s, :time_scale, :points, :grade, :passed,"
                " :paged, :runbook_ok, :lost_writes, :severity, :complete, :timing_method)",
                [{**r, "run_seq": seq, "position": i} for i, r in enumerate(rows)],
            )

    # -- reading -----------------------------------------------------------------------

    def runs(self, plan: str | None = None, limit: int | None = None) -> list[RunRow]:
        """Recorded runs, oldest first; with ``limit``, the latest ``limit`` of them."""
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        args: list[Any] = []
        if plan is not None:
            sql += " WHERE plan = ?"
            args.append(plan)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, limit))
        with self._connect(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute(sql, args).fetchall()
        return [run_row(r) for r in reversed(rows)]

    def run(self, run_id: str) -> RunRow:
        """One run by id.

        Raises:
            InvalidInputError: no such run (the message names the closest known ids).
        """
        with self._connect(write=False) as conn:
            return self._run(conn, run_id)

    def drills(self, run_id: str) -> list[DrillRow]:
        """The drills of one run, in run order.

        Raises:
            InvalidInputError: no such run (the message names the closest known ids).
        """
        with self._connect(write=False) as conn:
            run = self._run(conn, run_id)
            assert conn is not None
            return self._drills(conn, run.seq)

    def last_passing(self, plan: str, before: str | None = None) -> RunRow | None:
        """The latest run of ``plan`` that passed and is complete (the CI gate's baseline).

        Args:
            plan: the plan's name.
            before: only runs recorded before this run id.

        Raises:
            InvalidInputError: ``before`` is not a recorded run.
        """
        with self._connect(write=False) as conn:
            limit = self._run(conn, before).seq if before is not None else None
            if conn is None:
                return None
            sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE plan = ? AND passed = 1 AND complete = 1"
            args: list[Any] = [plan]
            if limit is not None:
                sql += " AND seq < ?"
                args.append(limit)
            row = conn.execute(sql + " ORDER BY seq DESC LIMIT 1", args).fetchone()
        return None if row is None else run_row(row)

    def trend(
        self, scenario: str | None = None, plan: str | None = None, limit: int = 20
    ) -> list[TrendPoint]:
        """Each scenario's drills across runs: grouped by scenario (by name), oldest first.

        Args:
            scenario: only this scenario.
            plan: only runs of this plan.
            limit: per scenario, only the latest ``limit`` runs in which it was drilled.
        """
        where, args = ["1=1"], []
        if scenario is not None:
            where.append("d.scenario = ?")
            args.append(scenario)
        if plan is not None:
            where.append("r.plan = ?")
            args.append(plan)
        with self._connect(write=False) as conn:
            if conn is None:
                return []
            method = timing_method_column(self._version(conn) or SCHEMA_VERSION)
            sql = (
                "SELECT scenario, run_id, generated_at, plan, drill_id, cause, mttd_s, mttr_s,"
                " points, grade, passed, timing_method FROM ("
                "  SELECT d.scenario, r.run_id, r.generated_at, r.plan, d.drill_id, d.cause,"
                "  d.mttd_s, d.mttr_s, d.points, d.grade, d.passed, r.seq, d.position,"
                f"  {method} AS timing_method,"
                "  DENSE_RANK() OVER (PARTITION BY d.scenario ORDER BY r.seq DESC) AS age"
                "  FROM drills d JOIN runs r ON r.seq = d.run_seq"
                f"  WHERE {' AND '.join(where)}"
                ") WHERE age <= ? ORDER BY scenario, seq, position"
            )
            rows = conn.execute(sql, [*args, max(0, limit)]).fetchall()
        return [
            TrendPoint(
                scenario=r[0],
                run_id=r[1],
                generated_at=r[2],
                plan=r[3],
                drill_id=r[4],
                cause=r[5],
                mttd_s=r[6],
                mttr_s=r[7],
                points=r[8],
                grade=r[9],
                passed=bool(r[10]),
                timing_method=r[11],
            )
            for r in rows
        ]

    def compare(self, run_a: str, run_b: str) -> Comparison:
        """What changed from run A to run B, drill by drill.

        Drills are matched by drill id, then the rest by cause (in run order); drills left
        without a match are listed as only in A or only in B. A drill whose times the two
        runs computed different ways (the old way, drill seconds x K, and split) has its
        MTTD and MTTR marked not comparable: no delta, no direction.

        Raises:
            InvalidInputError: either run id is unknown.
        """
        with self._connect(write=False) as conn:
            a, b = self._run(conn, run_a), self._run(conn, run_b)
            assert conn is not None
            drills_a, drills_b = self._drills(conn, a.seq), self._drills(conn, b.seq)
        pairs: dict[int, tuple[DrillRow, Literal["id", "cause"]]] = {}
        left = list(drills_a)
        for how in ("id", "cause"):
            for i, db in enumerate(drills_b):
                if i in pairs:
                    continue
                match = next(
                    (
                        da
                        for da in left
                        if (da.drill_id == db.drill_id if how == "id" else da.cause == db.cause)
                    ),
                    None,
                )
                if match is not None:
                    left.remove(match)
                    pairs[i] = (match, "id" if how == "id" else "cause")
        changes = tuple(
            DrillChange(
                drill_id=db.drill_id,
                drill_id_before=da.drill_id,
                matched_by=how,
                scenario=db.scenario,
                cause=db.cause,
                mttd_s=Delta(da.mttd_s, db.mttd_s, comparable=same),
                mttr_s=Delta(da.mttr_s, db.mttr_s, comparable=same),
                points=Delta(da.points, db.points),
                grade_before=da.grade,
                grade_after=db.grade,
                passed_before=da.passed,
                passed_after=db.passed,
                severity_before=da.severity,
                severity_after=db.severity,
                timing_method_before=da.timing_method,
                timing_method_after=db.timing_method,
            )
            for i, db in enumerate(drills_b)
            if i in pairs
            for da, how in [pairs[i]]
            for same in [method_of(da.timing_method) == method_of(db.timing_method)]
        )
        return Comparison(
            run_a=a,
            run_b=b,
            drills=changes,
            only_in_a=tuple(left),
            only_in_b=tuple(db for i, db in enumerate(drills_b) if i not in pairs),
            points=Delta(a.points, b.points),
        )

    # -- helpers -----------------------------------------------------------------------

    def _run(self, conn: sqlite3.Connection | None, run_id: str) -> RunRow:
        row = None
        if conn is not None:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is not None:
            return run_row(row)
        known: list[str] = []
        if conn is not None:
            known = [r[0] for r in conn.execute("SELECT run_id FROM runs ORDER BY seq DESC")]
        if not known:
            raise InvalidInputError(
                f"unknown run id {run_id!r}: the history is empty", source=str(self.path)
            )
        close = difflib.get_close_matches(run_id, known, n=3, cutoff=0.4)
        hint = (
            f"closest known: {', '.join(close)}"
            if close
            else f"latest known: {', '.join(known[:3])}"
        )
        raise InvalidInputError(f"unknown run id {run_id!r}; {hint}", source=str(self.path))

    @classmethod
    def _drills(cls, conn: sqlite3.Connection, seq: int) -> list[DrillRow]:
        columns = drill_columns(cls._version(conn) or SCHEMA_VERSION)
        rows = conn.execute(
            f"SELECT {columns} FROM drills d JOIN runs r ON r.seq = d.run_seq"
            " WHERE d.run_seq = ? ORDER BY d.position",
            (seq,),
        ).fetchall()
        return [drill_row(r) for r in rows]
