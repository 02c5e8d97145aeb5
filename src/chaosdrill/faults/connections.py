"""Faults from another database client: a lock held open, and every connection slot taken.

Both are caused by a separate holder process (:mod:`chaosdrill.faults.holder`) that looks
like the program a real incident would find in ``pg_stat_activity``: a nightly report that
left its transaction open, a reporting batch that opens connections without bound. Both
are reverted from the environment alone: the holder processes are found by their marker
variables and killed, and their backends are terminated by ``application_name``.

The holder module is imported where it is used, not with this package: otherwise
``python -m chaosdrill.faults.holder`` would find it imported already (runpy warns).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from chaosdrill.environments.base import Environment
from chaosdrill.errors import OperationError
from chaosdrill.faults.base import ActionRule, Fault, register
from chaosdrill.faults.params import (
    APPLICATION_NAME,
    IDENTIFIER,
    check_number,
    check_text,
    sql_literal,
)

__all__ = ["ConnectionLimit", "PoolExhaustion"]

logger = logging.getLogger(__name__)

SERVICE_BACKENDS = "revenue_engine %"
"""``application_name`` pattern of the reference target's own connections (a workspace's
target declares its own: ``TargetSpec.sessions``)."""

_APP_NAME = "1 to 63 characters of letters, digits, space and _ . : -"


class _HolderFault(Fault):
    """A fault held by a holder process; active while its backends exist."""

    def validate(self) -> None:
        """Check the application name and the lifetime (1 s to 1 day)."""
        check_text(
            self.kind, self.params, "application_name", pattern=APPLICATION_NAME, expected=_APP_NAME
        )
        check_number(self.kind, self.params, "duration_s", minimum=1, maximum=86400)

    def _backends(self, env: Environment) -> int:
        rows = env.sql(
            "select count(*) from pg_stat_activity "
            f"where application_name = {sql_literal(self.params['application_name'])}"
        )
        return int(rows[0][0]) if rows else 0

    def _spawn(self, env: Environment, dsn: str, args: list[str], timeout: float) -> str:
        from chaosdrill.faults import holder  # on use: see the note at the top

        try:
            report = holder.spawn(
                env.root,
                self.kind,
                dsn,
                [
                    *args,
                    "--application-name",
                    self.params["application_name"],
                    "--duration",
                    str(self.params["duration_s"]),
                ],
                timeout=timeout,
            )
        except RuntimeError as exc:
            raise OperationError(f"fault {self.kind!r}: {exc}") from exc
        logger.info("fault %s: holder %s", self.kind, report)
        return report

    def revert(self, env: Environment) -> None:
        """Kill the holder processes, then terminate any backend they left; idempotent."""
        from chaosdrill.faults import holder

        holder.kill_holders(env.root, self.kind)
        env.sql(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            f"where application_name = {sql_literal(self.params['application_name'])}"
        )

    def is_active(self, env: Environment) -> bool:
        """True while a backend with the holder's application_name exists."""
        return self._backends(env) > 0


@register
class PoolExhaustion(_HolderFault):
    """A report job locks ``enrollments`` and sits idle in its transaction.

    Every request touching the table waits on the lock until the service's statement
    timeout (5 s) and answers 503; meanwhile the waiting requests hold the pool's
    connections (10 per replica), so requests queue for the pool and time out after 2 s,
    also with 503. ``pg_stat_activity`` shows the culprit: ``nightly-revenue-report``,
    idle in transaction.
    """

    kind = "pool-exhaustion"

    subsystem = "the database's connections: who holds them?"
    scenario = "high-error-rate"
    resolved_by = (ActionRule("sql", r"pg_(terminate|cancel)_backend"),)
    description = "a report job holds an exclusive lock on enrollments, idle in transaction"
    defaults: ClassVar[dict[str, Any]] = {
        "application_name": "nightly-revenue-report",
        "table": "enrollments",
        "duration_s": 3600,
    }

    def validate(self) -> None:
        """Check the application name, lifetime and table."""
        super().validate()
        check_text(
            self.kind,
            self.params,
            "table",
            pattern=IDENTIFIER,
            expected="a lower-case SQL identifier (a-z, 0-9, _)",
        )

    def requires(self) -> tuple[str, ...]:
        """The table to lock, declared by the target."""
        return (f"table:{self.params['table']}",)

    def inject(self, env: Environment) -> None:
        """Start the holder; return once it holds the lock."""
        self._spawn(
            env, env.database_dsn(), ["lock", "--table", self.params["table"]], timeout=20.0
        )


@register
class ConnectionLimit(_HolderFault):
    """A runaway batch takes every connection slot the application role may use.

    The holder opens connections as the service's own role (``revenue``) until PostgreSQL
    refuses ("too many clients"; 100 slots, 3 reserved for superusers), then terminates
    the service's backends and takes their slots too. The service's pools cannot
    reconnect: ``/health`` fails on the database and every request needing it answers
    503. Superusers (monitoring, the operator) can still connect.

    The holder authenticates as ``user`` with the environment's own credentials for that
    role (``env.database_dsn(user=...)``), as the runaway program would with the
    service's. ``password`` is for a role the environment has no credentials for (one
    made for the drill): given, it is sent instead; it is a secret parameter, redacted
    wherever the fault's parameters are written, and never needed to revert.
    """

    kind = "connection-limit"

    subsystem = "the database's connections: who holds them?"
    scenario = "database-down"
    resolved_by = (ActionRule("sql", r"pg_terminate_backend"),)
    description = "a runaway client takes every connection slot of the application role"
    defaults: ClassVar[dict[str, Any]] = {
        "application_name": "reporting-batch",
        "user": "revenue",
        "password": None,  # None: the environment's credentials for `user`
        "duration_s": 3600,
        "max_connections": 500,
    }

    def validate(self) -> None:
        """Check the application name, lifetime, role and connection cap."""
        super().validate()
        check_text(
            self.kind,
            self.params,
            "user",
            pattern=IDENTIFIER,
            expected="a lower-case role name (a-z, 0-9, _)",
        )
        check_text(
            self.kind, self.params, "password", expected="a non-empty password", optional=True
        )
        check_number(
            self.kind, self.params, "max_connections", minimum=1, maximum=10000, integer=True
        )

    def _dsn(self, env: Environment) -> str:
        """The primary's connection string as ``user``, with ``password`` when one is given."""
        dsn = env.database_dsn(user=self.params["user"])
        if self.params["password"] is None:
            return dsn
        params = conninfo_to_dict(dsn)
        params.pop("passfile", None)
        return make_conninfo("", **{**params, "password": self.params["password"]})

    def inject(self, env: Environment) -> None:
        """Start the holder; return once it holds every slot it can get."""
        self._spawn(
            env,
            self._dsn(env),
            [
                "flood",
                "--limit",
                str(self.params["max_connections"]),
                "--terminate-like",
                env.target().sessions or SERVICE_BACKENDS,
            ],
            timeout=60.0,
        )
