"""The acknowledged-write ledger: every enroll attempt with its outcome.

Each load process keeps its own SQLite file (``ledger-<pid>.db``) so processes never wait on
each other. An attempt is written as ``pending`` *before* the request is sent, then updated:
``ok`` (the service answered success), ``failed`` (it answered an error), ``indeterminate``
(timeout, connection lost, or a gateway error after which the write may have landed). A
process killed mid-request leaves ``pending``, which readers treat as indeterminate.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Attempt", "LedgerWriter", "classify", "read_ledger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    client_key TEXT PRIMARY KEY,
    course_id INTEGER NOT NULL,
    sent_monotonic REAL NOT NULL,
    sent_wall REAL NOT NULL,
    done_monotonic REAL,
    outcome TEXT NOT NULL DEFAULT 'pending',
    status INTEGER,
    enrollment_id INTEGER,
    price_cents INTEGER,
    error TEXT
);
"""

# gateway answers after which the backend may or may not have committed the write
_UNCERTAIN_STATUSES = frozenset({0, 502, 504})


def classify(status: int) -> str:
    """Outcome of an enroll attempt from its HTTP status (0: no response at all)."""
    if 200 <= status < 300:
        return "ok"
    if status in _UNCERTAIN_STATUSES:
        return "indeterminate"
    return "failed"


@dataclass(frozen=True)
class Attempt:
    """One enroll attempt as the ledger holds it."""

    client_key: str
    course_id: int
    sent_monotonic: float
    sent_wall: float
    done_monotonic: float | None
    outcome: str
    status: int | None
    enrollment_id: int | None
    price_cents: int | None
    error: str | None


class LedgerWriter:
    """Appends attempts of one process to its ledger file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def begin(self, client_key: str, course_id: int) -> None:
        """Record an attempt before its request is sent."""
        self._conn.execute(
            "INSERT INTO attempts (client_key, course_id, sent_monotonic, sent_wall)"
            " VALUES (?, ?, ?, ?)",
            (client_key, course_id, time.monotonic(), time.time()),
        )

    def finish(
        self,
        client_key: str,
        status: int,
        enrollment_id: int | None = None,
        price_cents: int | None = None,
        error: str | None = None,
    ) -> str:
        """Record the answer (or its absence: status 0); return the outcome."""
        outcome = classify(status)
        self._conn.execute(
            "UPDATE attempts SET done_monotonic = ?, outcome = ?, status = ?, enrollment_id = ?,"
            " price_cents = ?, error = ? WHERE client_key = ?",
            (time.monotonic(), outcome, status, enrollment_id, price_cents, error, client_key),
        )
        return outcome

    def close(self) -> None:
        """Close the file."""
        self._conn.close()


def read_ledger(files: Iterable[Path]) -> list[Attempt]:
    """Every attempt in the given ledger files, ``pending`` ones as ``indeterminate``."""
    out: list[Attempt] = []
    for path in files:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT client_key, course_id, sent_monotonic, sent_wall, done_monotonic,"
                " outcome, status, enrollment_id, price_cents, error FROM attempts"
            ).fetchall()
        finally:
            conn.close()
        for row in rows:
            attempt = Attempt(*row)
            if attempt.outcome == "pending":
                attempt = dataclasses.replace(attempt, outcome="indeterminate")
            out.append(attempt)
    out.sort(key=lambda a: a.sent_monotonic)
    return out
