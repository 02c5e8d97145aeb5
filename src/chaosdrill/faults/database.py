"""Database faults: a dropped hot-path index, and a crashed primary.

Both act on the real PostgreSQL cluster through the ``Environment`` (SQL as the superuser,
``crash_primary``) and are reverted from what the cluster shows, never from memory.
"""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar

from chaosdrill.environments.base import DatabaseStatus, Environment
from chaosdrill.errors import OperationError
from chaosdrill.faults.base import HARMFUL, ActionRule, Fault, register
from chaosdrill.faults.params import IDENTIFIER, check_text, sql_literal

__all__ = ["MissingIndex", "PrimaryCrash"]

_COLUMNS = re.compile(r"^[a-z_][a-z0-9_]{0,62}(, ?[a-z_][a-z0-9_]{0,62}){0,7}$")
_NODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@register
class MissingIndex(Fault):
    """The index of the hot query is dropped: every course page scans the whole table.

    ``GET /api/courses/{id}`` counts and sums a course's enrollments; without
    ``enrollments_course_id_idx`` PostgreSQL reads all (>= 200k) rows for each request, so
    the page gets slower and the database's CPU climbs under load. Reverted by building the
    index again without blocking writes (``CREATE INDEX CONCURRENTLY``), after dropping an
    invalid leftover of an interrupted build.
    """

    kind = "missing-index"

    subsystem = "the database's query plans (EXPLAIN the slow query)"
    scenario = "high-latency"
    resolved_by = (ActionRule("sql", r"create\s+(unique\s+)?index"),)
    description = "drop the index of the hot query (course revenue statistics)"
    defaults: ClassVar[dict[str, Any]] = {
        "index": "enrollments_course_id_idx",
        "table": "enrollments",
        "columns": "course_id",
    }

    def validate(self) -> None:
        """Check that index, table and columns are plain lower-case SQL identifiers."""
        ident = "a lower-case SQL identifier (a-z, 0-9, _)"
        check_text(self.kind, self.params, "index", pattern=IDENTIFIER, expected=ident)
        check_text(self.kind, self.params, "table", pattern=IDENTIFIER, expected=ident)
        check_text(
            self.kind,
            self.params,
            "columns",
            pattern=_COLUMNS,
            expected="a comma-separated list of lower-case SQL identifiers",
        )

    def requires(self) -> tuple[str, ...]:
        """The index, declared by the target as one a drill may drop."""
        return (f"index:{self.params['index']}",)

    def _valid(self, env: Environment) -> bool | None:
        """True if the index exists and is valid, False if invalid, None if absent."""
        rows = env.sql(
            "select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid "
            f"where c.relname = {sql_literal(self.params['index'])} "
            "and c.relnamespace = 'public'::regnamespace"
        )
        return bool(rows[0][0]) if rows else None

    def inject(self, env: Environment) -> None:
        """Drop the index (concurrently: in-flight writes are not blocked)."""
        env.sql(f"DROP INDEX CONCURRENTLY IF EXISTS {self.params['index']}")

    def revert(self, env: Environment) -> None:
        """Build the index again (an invalid leftover is dropped first); idempotent."""
        index = self.params["index"]
        if self._valid(env) is False:
            env.sql(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
        env.sql(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} "
            f"ON {self.params['table']} ({self.params['columns']})"
        )
        if not self._valid(env):
            raise OperationError(f"index {index} was built but is not valid")

    def is_active(self, env: Environment) -> bool:
        """True while the index is absent or invalid."""
        return not self._valid(env)


def _down(status: DatabaseStatus) -> list[str]:
    return [n.name for n in status.nodes if not n.up]


@register
class PrimaryCrash(Fault):
    """The primary database server is killed (SIGKILL, no shutdown) and stays down.

    Every write fails and ``/health`` answers 503 until someone acts: restarts it (crash
    recovery replays its WAL) or promotes the replica. ``node`` is the primary at injection
    time; it is filled in by ``inject`` when not given, but ``revert`` does not need it
    (a ledger entry may be written before injection): it works from ``database_status()``.
    """

    kind = "primary-crash"

    subsystem = "the database primary: is it up?"
    resolved_by = (ActionRule("promote_replica"),)
    # the failover is the fix; starting the crashed node again beside it is not
    harms = (*(r for r in HARMFUL if r.op != "promote_replica"), ActionRule("start_database"))
    scenario = "database-down"
    description = "SIGKILL the primary PostgreSQL server; it stays down"
    defaults: ClassVar[dict[str, Any]] = {"node": None}

    def validate(self) -> None:
        """Check the node name, if one is given."""
        check_text(
            self.kind,
            self.params,
            "node",
            pattern=_NODE,
            expected="a database node name such as postgres-1",
            optional=True,
        )

    def inject(self, env: Environment) -> None:
        """Kill the primary and wait (up to 5 s) until it no longer answers.

        Raises:
            OperationError: if ``node`` is given and is not the current primary.
        """
        status = env.database_status()
        node = self.params["node"]
        if node is None:
            self.params["node"] = node = status.primary
        elif node != status.primary:
            raise OperationError(
                f"fault {self.kind!r}: node {node} is not the primary ({status.primary} is)"
            )
        env.crash_primary()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if node in _down(env.database_status()):
                return
            time.sleep(0.05)
        raise OperationError(f"{node} still answers 5 s after it was killed")

    def revert(self, env: Environment) -> None:
        """Bring the crashed node back; idempotent.

        Still the primary (nobody failed over): start it, PostgreSQL's crash recovery
        replays its WAL. No longer the primary (the replica was promoted): rebuild it as
        the new primary's standby, so the cluster has redundancy again. The node is taken
        from the parameters when known, else every node that is down.
        """
        status = env.database_status()
        down = _down(status)
        if self.params["node"] is not None:
            down = [n for n in down if n == self.params["node"]]
        if status.primary in down:
            env.start_database(status.primary)
        if any(n != status.primary for n in down):
            env.rebuild_replica()

    def is_active(self, env: Environment) -> bool:
        """True while the current primary does not answer."""
        status = env.database_status()
        return status.primary in _down(status)
