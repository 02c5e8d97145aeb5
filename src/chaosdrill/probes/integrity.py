"""The data-integrity check: whether every write the users were told succeeded survived.

Modelled on Jepsen's set checker. The load's ledger says which enroll attempts were
acknowledged (ok), refused (failed) or left uncertain (indeterminate); the current primary
says which are present. From the two:

- **lost**: acknowledged but missing (any loss is a P1: data loss);
- **recovered**: indeterminate but present (the write landed; the user was not told);
- **failed_but_present**: refused, yet present (the service said no and did it anyway);
- **unexpected**: present with this run's key prefix but never attempted;
- **duplicates**: a client key present more than once.

For a failover, the RPO is the time between the last acknowledged write and the last
acknowledged write that survived, and the WAL gap is the bytes the old primary wrote that the
promoted replica never received, where the old primary's WAL could be read.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chaosdrill.environments.base import Environment
from chaosdrill.errors import InvalidInputError
from chaosdrill.load.control import LoadRun
from chaosdrill.load.ledger import read_ledger

QUERY_TIMEOUT_S = 10.0
"""The longest the check's query may take: a fault's lock must not hang verification."""

__all__ = ["IntegrityReport", "check_integrity"]

_RUN_ID = re.compile(r"^[A-Za-z0-9]+$")


@dataclass
class IntegrityReport:
    """What the integrity check found for one load run."""

    run_id: str
    primary: str
    checked_at: str
    attempts: int
    ok: int
    failed: int
    indeterminate: int
    present: int
    lost: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    failed_but_present: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rpo_seconds: float | None = None
    wal_gap_bytes: int | None = None

    @property
    def passed(self) -> bool:
        """No acknowledged write lost, nothing duplicated or appearing from nowhere."""
        return not (self.lost or self.duplicates or self.unexpected or self.failed_but_present)

    @property
    def counts_add_up(self) -> bool:
        """Every attempt has exactly one outcome."""
        return self.ok + self.failed + self.indeterminate == self.attempts

    def summary(self) -> str:
        """One line for people."""
        verdict = "PASS" if self.passed else "FAIL"
        rpo = "" if self.rpo_seconds is None else f", RPO {self.rpo_seconds:.3f} s"
        gap = "" if self.wal_gap_bytes is None else f", WAL gap {self.wal_gap_bytes} B"
        return (
            f"{verdict}: {self.attempts} writes attempted ({self.ok} ok, {self.failed} failed, "
            f"{self.indeterminate} indeterminate); {len(self.lost)} lost, "
            f"{len(self.recovered)} recovered, {len(self.unexpected)} unexpected, "
            f"{len(self.duplicates)} duplicated, {len(self.failed_but_present)} failed but "
            f"present{rpo}{gap} (read on {self.primary})"
        )


def check_integrity(
    env: Environment, run: LoadRun, promotion: dict[str, Any] | None = None
) -> IntegrityReport:
    """Compare the run's ledger with the current primary.

    Args:
        env: the environment (its current primary is read).
        run: the load run whose writes are checked (stop it first for a final answer).
        promotion: a failover during the run (as recorded by ``promote_replica``), for the
            RPO and WAL gap; None when there was none.
    """
    if not _RUN_ID.match(run.run_id):
        raise InvalidInputError(
            f"expected a run id of letters and digits, got {run.run_id!r}", field="run"
        )
    # The database first, the ledger second: every attempt is in the ledger before its
    # request is sent, so any row read here has its ledger entry by the time the ledger is
    # read. Attempts begun after the database was read are left out (the load may still run).
    snapshot = time.monotonic()
    rows = env.sql(
        "select client_key, count(*) from enrollments "
        f"where client_key like '{run.run_id}.%' group by client_key",
        timeout_s=QUERY_TIMEOUT_S,  # a lock a fault still holds must not hang the check
    )
    present = {str(key): int(n) for key, n in rows}
    everything = read_ledger(run.ledger_files())
    attempted = {a.client_key for a in everything}
    attempts = [a for a in everything if a.sent_monotonic < snapshot]
    by_key = {a.client_key: a for a in attempts}
    report = IntegrityReport(
        run_id=run.run_id,
        primary=env.database_status().primary,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        attempts=len(attempts),
        ok=sum(1 for a in attempts if a.outcome == "ok"),
        failed=sum(1 for a in attempts if a.outcome == "failed"),
        indeterminate=sum(1 for a in attempts if a.outcome == "indeterminate"),
        present=sum(1 for a in attempts if a.client_key in present),
        lost=[a.client_key for a in attempts if a.outcome == "ok" and a.client_key not in present],
        recovered=[k for k, a in by_key.items() if a.outcome == "indeterminate" and k in present],
        failed_but_present=[k for k, a in by_key.items() if a.outcome == "failed" and k in present],
        unexpected=sorted(k for k in present if k not in attempted),
        duplicates=sorted(k for k, n in present.items() if n > 1),
    )
    acked = [a.done_monotonic for a in attempts if a.outcome == "ok" and a.done_monotonic]
    if acked and (promotion is not None or report.lost):
        survived = [
            a.done_monotonic
            for a in attempts
            if a.outcome == "ok" and a.done_monotonic and a.client_key in present
        ]
        last_survived = max(survived, default=min(acked))
        report.rpo_seconds = round(max(acked) - last_survived, 3) if report.lost else 0.0
    if promotion is not None:
        report.wal_gap_bytes = promotion.get("wal_gap_bytes")
    return report
