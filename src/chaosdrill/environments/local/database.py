"""Database operations: status, crash, stop/start, promote, rebuild the replica, SQL, checks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from chaosdrill.environments.base import DatabaseNode, DatabaseStatus
from chaosdrill.environments.local import components, postgres
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.environments.local.state import EnvState
from chaosdrill.environments.readiness import SqlReady, wait_until
from chaosdrill.errors import InvalidInputError, OperationError

__all__ = ["DatabaseOps", "connect_superuser"]

#: How long a superuser's connection is retried while the server has no slot at all.
FULL_RETRY_S = 10.0


def _server_full(exc: BaseException) -> bool:
    """The server had no process slot left, even a reserved one ("too many clients")."""
    return isinstance(exc, psycopg.OperationalError) and "too many clients already" in str(exc)


def connect_superuser(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """Connect as the superuser, retrying for a while when the server is momentarily full.

    PostgreSQL keeps ``superuser_reserved_connections`` slots for superusers, but a
    storm of clients that it is about to refuse takes process slots while they
    authenticate, so under a runaway client even a superuser's connection can be refused
    for a moment ("sorry, too many clients already"). Only that refusal is retried,
    for up to ``FULL_RETRY_S``; any other error is raised at once.
    """
    for attempt in Retrying(
        retry=retry_if_exception(_server_full),
        stop=stop_after_delay(FULL_RETRY_S),
        wait=wait_random(0.05, 0.3),
        reraise=True,
    ):
        with attempt:
            return psycopg.connect(dsn, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover


class DatabaseOps:
    """PostgreSQL operations of the local environment (mixed into LocalEnvironment)."""

    ctx: LocalContext

    def _node(self, node: str | None) -> tuple[str, int]:
        """A node by name; without one, the primary as the servers say (``_sync_primary``)."""
        st = self.ctx.state = EnvState.load(self.ctx.root)
        if node is None:
            st = self._sync_primary(self._roles())
        name = node or st.pg_primary
        if name not in st.pg_nodes:
            raise InvalidInputError(
                f"unknown database node {name!r}; expected one of: {', '.join(st.pg_nodes)}",
                field="node",
            )
        return name, st.pg_nodes[name]

    def _roles(self) -> dict[str, bool | None]:
        """``pg_is_in_recovery()`` of every node (None: not answering), from the servers."""
        nodes, passfile = self.ctx.state.pg_nodes, self.ctx.passfile
        return {n: postgres.in_recovery(p, passfile) for n, p in sorted(nodes.items())}

    def _sync_primary(self, roles: dict[str, bool | None]) -> EnvState:
        """Take the primary from the servers and record it; return the state.

        The state's primary is only a record: a promotion it missed (an operator's
        ``select pg_promote()``, a step killed between the promotion and the save) would
        leave it naming the old node. When exactly one node is writable and it is not the
        recorded primary, it becomes the primary (with a promotion record marked
        ``observed``). With no writable node, or two, the record stands. Must not be called
        while holding the state's lock.
        """
        st = self.ctx.state
        writable = [n for n, rec in roles.items() if rec is False]
        if len(writable) != 1 or writable[0] == st.pg_primary:
            return st
        new = writable[0]
        with st.locked():
            st = self.ctx.state = EnvState.load(self.ctx.root)
            if st.pg_primary == new:
                return st
            old, st.pg_primary = st.pg_primary, new
            record = self._promotion_record(old, new, None)
            record["observed"] = True
            st.promotions.append(record)
            st.save()
        if st.settings.synchronous_replication:
            # its standby is gone (promoted past it): do not let every commit wait for one
            postgres.set_synchronous_standby(st.pg_nodes[new], self.ctx.passfile, False)
        return st

    def database_dsn(self, node: str | None = None, user: str | None = None) -> str:
        """Connection string of a node (the primary by default), database revenue.

        As the superuser, or as ``user`` (the service's role ``revenue``). It names the
        environment's password file (``passfile=``, mode 0600), never a password.
        """
        _, port = self._node(node)
        return postgres.dsn(
            port, self.ctx.passfile, user=user or postgres.DB_SUPERUSER, dbname=postgres.DB_NAME
        )

    def database_status(self) -> DatabaseStatus:
        """Role, liveness, recovery state and replay lag of each node, from the servers.

        A node is "primary" when it is writable (``pg_is_in_recovery()`` false); a node
        that does not answer keeps the role the state records. Two writable nodes (a split
        brain made outside chaosdrill) are both shown as primaries.
        """
        self.ctx.state = EnvState.load(self.ctx.root)
        roles = self._roles()
        st = self._sync_primary(roles)
        lags: dict[str, int] = {}
        for name, rec in roles.items():
            if rec is False:
                lags.update(_replication_lags(self.ctx.pg_dsn(st.pg_nodes[name])))
        nodes = []
        for name, rec in roles.items():
            primary = rec is False or (rec is None and name == st.pg_primary)
            node = DatabaseNode(
                name, st.pg_nodes[name], "primary" if primary else "replica", rec is not None, rec
            )
            node.replay_lag_bytes = lags.get(name)
            nodes.append(node)
        return DatabaseStatus(st.pg_primary, nodes)

    def crash_primary(self) -> None:
        """SIGKILL the primary's postmaster (a crash: no shutdown checkpoint)."""
        name, _ = self._node(None)
        try:
            self.ctx.supervisor.api.supervisor.signalProcess(name, "KILL")
        except Exception as exc:
            raise OperationError(f"could not kill {name}: {exc}") from exc

    def stop_database(self, node: str) -> None:
        """Stop one node (fast shutdown)."""
        name, _ = self._node(node)
        self.ctx.supervisor.stop_program(name)

    def start_database(self, node: str) -> None:
        """Start one node and wait until it answers.

        A node that was primary before a promotion is refused: started as it is, it would
        be a second primary (split brain). Use ``rebuild_replica`` instead.
        """
        name, _ = self._node(node)
        roles = self._roles()
        st = self._sync_primary(roles)
        if not (self.ctx.state.pg_dir / name / "standby.signal").exists():
            # it will come up writable: refuse beside another writable node
            writable = [n for n, rec in roles.items() if rec is False and n != name]
            if writable or name != st.pg_primary:
                other = writable[0] if writable else st.pg_primary
                raise OperationError(
                    f"{name} was a primary and {other} has been promoted since; starting "
                    f"{name} would make two primaries. Rebuild it as a replica: "
                    "`chaosdrill ops db rebuild-replica`"
                )
        self.ctx.supervisor.start_program(name)
        self._wait_ready(name)

    def _wait_ready(self, name: str) -> None:
        try:
            wait_until(
                components.readiness(self.ctx, name),
                30,
                abort=lambda: self.ctx.supervisor.exited_reason(name),
            )
        except TimeoutError as exc:
            err = OperationError(f"{name} not ready: {exc}")
            err.add_note(self.ctx.tail(name))
            raise err from None

    def promote_replica(self) -> str:
        """Promote the standby to primary; return its name.

        Records the promotion (time, the standby's last replayed WAL position and, when the
        old primary's WAL can be read, how many bytes of it the standby never received) in
        the environment's state for the integrity check's RPO.
        """
        self.ctx.state = EnvState.load(self.ctx.root)
        self._sync_primary(self._roles())
        with self.ctx.state.locked():
            st = self.ctx.state = EnvState.load(self.ctx.root)
            replica, old = st.pg_replica, st.pg_primary
            if replica is None:
                raise OperationError("there is no replica to promote")
            try:
                with psycopg.connect(
                    self.ctx.pg_dsn(st.pg_nodes[replica]), autocommit=True, connect_timeout=2
                ) as conn:
                    lsn_row = conn.execute("select pg_last_wal_replay_lsn()::text").fetchone()
                    row = conn.execute("select pg_promote(true, 30)").fetchone()
            except psycopg.Error as exc:
                raise OperationError(f"promoting {replica}: {exc}") from exc
            if not row or not row[0]:
                raise OperationError(f"{replica} did not finish promotion within 30 s")
            st.pg_primary = replica
            if st.settings.synchronous_replication:
                # no standby until the old primary is rebuilt: do not block every commit
                postgres.set_synchronous_standby(st.pg_nodes[replica], self.ctx.passfile, False)
            st.promotions.append(self._promotion_record(old, replica, lsn_row))
            st.save()
        wait_until(SqlReady(self.ctx.pg_dsn(st.pg_nodes[replica]), in_recovery=False), 30)
        return replica

    def _promotion_record(
        self, old: str, new: str, lsn_row: tuple[Any, ...] | None
    ) -> dict[str, Any]:
        replay_lsn = str(lsn_row[0]) if lsn_row and lsn_row[0] else None
        record: dict[str, Any] = {
            "old_primary": old,
            "new_primary": new,
            "at_wall": time.time(),
            "at_monotonic": time.monotonic(),
            "replay_lsn": replay_lsn,
            "old_primary_wal_end": None,
            "wal_gap_bytes": None,
        }
        if replay_lsn and self.ctx.supervisor.exited_reason(old):
            end = postgres.wal_end(
                self.ctx.programs,
                self.ctx.state.pg_dir / old,
                replay_lsn,
                self.ctx.state.db_user or None,
            )
            if end is not None:
                record["old_primary_wal_end"] = end
                gap = postgres.lsn_to_int(end) - postgres.lsn_to_int(replay_lsn)
                record["wal_gap_bytes"] = max(0, gap)
        return record

    def rebuild_replica(self) -> str:
        """Make the non-primary node a fresh standby of the current primary; return its name.

        The primary is taken from the servers first, so the writable node is never the one
        rebuilt.
        """
        self.ctx.state = EnvState.load(self.ctx.root)
        self._sync_primary(self._roles())
        with self.ctx.state.locked():
            st = self.ctx.state = EnvState.load(self.ctx.root)
            node = st.pg_replica
            if node is None:
                raise OperationError("no node to rebuild")
            self.ctx.supervisor.stop_program(node)
            postgres.base_backup(
                self.ctx.programs,
                st.pg_nodes[st.pg_primary],
                st.pg_dir / node,
                st.db_user or None,
                app_name=node,
                passfile=st.credentials.replication_pgpass,
            )
            self.ctx.supervisor.start_program(node)
            self._wait_ready(node)
            if st.settings.synchronous_replication:
                postgres.set_synchronous_standby(
                    st.pg_nodes[st.pg_primary], self.ctx.passfile, True
                )
        return node

    def sql(
        self,
        statement: str,
        node: str | None = None,
        params: Sequence[Any] | None = None,
        timeout_s: float | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run one SQL statement as the superuser on the service's database.

        ``params`` are bound to the statement's ``%s`` (never spliced into its text);
        ``timeout_s`` is the session's ``statement_timeout`` (the server cancels it).
        """
        if timeout_s is not None and (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not 0 < timeout_s <= 86400
        ):
            raise InvalidInputError(
                f"expected a number of seconds from 0 to 86400, got {timeout_s!r}",
                field="timeout_s",
            )
        name, port = self._node(node)
        dsn = self.ctx.pg_dsn(port, dbname=postgres.DB_NAME)
        if timeout_s is not None:  # milliseconds, for this session only
            dsn = make_conninfo(dsn, options=f"-c statement_timeout={round(timeout_s * 1000)}")
        try:
            with connect_superuser(dsn, autocommit=True, connect_timeout=2) as conn:
                cur = conn.execute(statement, params)
                return list(cur.fetchall()) if cur.description else []
        except psycopg.Error as exc:
            raise OperationError(f"SQL on {name}: {exc}".strip()) from exc

    def check_database(self) -> str:
        """The seed's ``test:db``: through the service's connection string, a read and a write."""
        st = self.ctx.state = EnvState.load(self.ctx.root)
        dsn = postgres.app_dsn([st.pg_nodes[n] for n in sorted(st.pg_nodes)], self.ctx.passfile)
        reference = st.target.reference
        # the reference target's catalogue; any other target's tables are its own
        read = "select count(*) from courses" if reference else "select count(*) from pg_class"
        t0 = time.monotonic()
        try:
            with psycopg.connect(dsn) as conn:
                row = conn.execute(read).fetchone()
                conn.execute("create temp table chaosdrill_check (x int)")
                conn.execute("insert into chaosdrill_check values (1)")
                conn.rollback()
                port = conn.info.port
        except psycopg.Error as exc:
            raise OperationError(f"database check failed: {exc}".strip()) from exc
        node = next(n for n, p in st.pg_nodes.items() if p == port)
        ms = (time.monotonic() - t0) * 1000
        what = "courses" if reference else "relations"
        return f"ok: primary {node}, {row[0] if row else 0} {what} readable, write ok ({ms:.0f} ms)"


def _replication_lags(dsn: str) -> dict[str, int]:
    """Replay lag in bytes of each standby streaming from the server at ``dsn``."""
    try:
        with psycopg.connect(dsn, connect_timeout=1, autocommit=True) as conn:
            rows = conn.execute(
                "select application_name, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint "
                "from pg_stat_replication"
            ).fetchall()
    except psycopg.Error:
        return {}
    return {str(app): int(lag or 0) for app, lag in rows}
