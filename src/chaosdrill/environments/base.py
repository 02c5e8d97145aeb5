"""The ``Environment`` interface: what drills, faults, runbooks, probes and people call.

One protocol for every backend (local processes, Kubernetes, containers) so that a drill
file runs on any of them. The operations mirror what an on-call engineer does with kubectl
and database tools in the seed's runbooks, plus what a drill needs of its environment
(re-timing monitoring, user load, the pager's record, the last failover). The drill, the
faults and the probes use only these operations, never a backend's internals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from chaosdrill.errors import InvalidInputError

if TYPE_CHECKING:  # chaosdrill.load imports environments.readiness: no cycle at run time
    from chaosdrill.load import LoadRun, LoadSpec
    from chaosdrill.pager import Page
    from chaosdrill.targets.spec import TargetSpec

__all__ = [
    "CREDENTIAL_MEMBERS",
    "DRILL_MEMBERS",
    "BasicAuth",
    "CacheStatus",
    "ComponentStatus",
    "DatabaseNode",
    "DatabaseStatus",
    "DeploymentStatus",
    "Endpoints",
    "Environment",
    "LogQuery",
    "MonitoringSettings",
    "ProcessUsage",
    "ReplicaStatus",
    "RevisionInfo",
]


@dataclass(frozen=True)
class Endpoints:
    """Where the parts of an environment answer."""

    service_url: str
    prometheus_url: str
    alertmanager_url: str
    pager_url: str
    load_balancer_metrics_url: str


@dataclass(frozen=True)
class BasicAuth:
    """A user name and password for HTTP basic auth; the password is kept out of its repr.

    For connecting, not for printing or storing: ``pair()`` is what httpx's ``auth=`` takes.
    """

    username: str
    password: str = field(repr=False)

    def pair(self) -> tuple[str, str]:
        """``(username, password)``."""
        return self.username, self.password


@dataclass
class ComponentStatus:
    """One part of the environment as ``env status`` shows it."""

    name: str
    pid: int | None
    port: int | None
    state: str
    health: str


@dataclass
class ReplicaStatus:
    """One service replica."""

    name: str
    port: int
    revision: int
    pid: int | None
    state: str
    load_balancer: str
    version: str | None = None
    """The version the replica itself says it serves (None: it does not answer)."""


@dataclass
class DeploymentStatus:
    """The service deployment (like ``kubectl get deployment``)."""

    desired: int
    ready: int
    revision: int
    version: str
    replicas: list[ReplicaStatus] = field(default_factory=list)


@dataclass
class RevisionInfo:
    """One revision of the service: version, settings and feature flags."""

    revision: int
    version: str
    settings: dict[str, Any]
    flags: dict[str, bool]
    current: bool = False


@dataclass
class DatabaseNode:
    """One PostgreSQL server."""

    name: str
    port: int
    role: str
    up: bool
    in_recovery: bool | None = None
    replay_lag_bytes: int | None = None


@dataclass
class DatabaseStatus:
    """The database cluster."""

    primary: str
    nodes: list[DatabaseNode] = field(default_factory=list)


@dataclass
class CacheStatus:
    """The cache."""

    up: bool
    keys: int | None = None
    used_memory_bytes: int | None = None
    error: str | None = None


@dataclass
class ProcessUsage:
    """CPU and memory of one replica (like ``kubectl top pods``)."""

    name: str
    pid: int
    cpu_percent: float
    rss_bytes: int


@dataclass(frozen=True)
class LogQuery:
    """Which log lines to return.

    The last ``tail`` lines (0: all), only those matching the regular expression ``grep`` if
    given; both are checked here (an InvalidInputError naming the field).
    """

    component: str
    tail: int = 50
    grep: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.tail, bool) or not isinstance(self.tail, int) or self.tail < 0:
            raise InvalidInputError(
                f"expected an integer 0 or more, got {self.tail!r}", field="tail"
            )
        if self.grep is not None:
            try:
                re.compile(self.grep)
            except (re.error, TypeError) as exc:
                raise InvalidInputError(
                    f"not a valid regular expression ({exc}): {self.grep!r}", field="grep"
                ) from None


@dataclass(frozen=True)
class MonitoringSettings:
    """How monitoring is timed right now (drill seconds), as a drill reads it."""

    scrape_interval_s: float
    evaluation_interval_s: float
    group_wait_s: float
    time_scale: float
    #: jobs scraped less often than ``scrape_interval_s`` (job -> drill seconds)
    slower_jobs: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class Environment(Protocol):
    """Operations every environment backend provides."""

    name: str
    """The environment's name (unique per backend on this machine)."""

    # lifecycle and discovery
    @property
    def backend(self) -> str:
        """The backend's name as plans and results spell it (``"local"``)."""
        ...

    @property
    def root(self) -> Path:
        """A directory on this machine that belongs to the environment.

        Drills and faults keep their files under it (the fault ledger, fault holders'
        logs); ``down()`` removes it. Every backend has one, also one whose parts run
        elsewhere, because the drill and its fault holders run here.
        """
        ...

    def down(self) -> None:
        """Stop every part and free what the environment held; calling it twice is fine."""
        ...

    def target(self) -> TargetSpec:
        """The target the environment runs (the reference one, or a workspace's own)."""
        ...

    def database_dsn(self, node: str | None = None, user: str | None = None) -> str:
        """Connection string of a database node (the primary by default).

        As the superuser, or as the role ``user``; it carries what this machine needs to
        authenticate as that role (the local backend names its 0600 password file) and
        is for connecting, not for printing or storing.
        """
        ...

    def endpoints(self) -> Endpoints:
        """Where the service, Prometheus, Alertmanager and the pager answer."""
        ...

    def alertmanager_auth(self) -> BasicAuth | None:
        """What Alertmanager's HTTP API (``endpoints().alertmanager_url``) asks for, if anything.

        Every request to it, ``/-/ready`` included, needs these credentials (the local
        backend reads its password from a 0600 file), so that no other process can post
        an alert that would page, or a silence that would hide one. None: it asks for
        none. Like :meth:`database_dsn`, for connecting, not for printing or storing.
        """
        ...

    def components(self) -> list[ComponentStatus]:
        """Every part with pid, port, state and health."""
        ...

    # what a drill needs
    def monitoring(self) -> MonitoringSettings:
        """The current scrape and evaluation intervals, Alertmanager's wait and time scale."""
        ...

    def apply_time_scale(self, k: float) -> None:
        """Re-time monitoring for a drill ``k`` times faster than production, no restart."""
        ...

    def start_load(self, spec: LoadSpec | None = None, drill: str | None = None) -> LoadRun:
        """Start user load against the service; ``down()`` also stops it.

        ``drill`` names the drill that starts it: while the calling process lives, the run
        is that drill's, and ``env recover`` does not stop it.
        """
        ...

    def active_load(self) -> LoadRun | None:
        """The load run still running against this environment, if any."""
        ...

    def pages(
        self, alertname: str | None = None, since_monotonic: float | None = None
    ) -> list[Page]:
        """Notifications the pager received, oldest first, optionally filtered.

        ``since_monotonic`` compares with the system-wide monotonic clock of this machine.
        """
        ...

    def last_promotion(self, since_monotonic: float | None = None) -> dict[str, Any] | None:
        """The latest replica promotion (only if at or after ``since_monotonic``), or None.

        Keys: ``old_primary``, ``new_primary``, ``at_wall``, ``at_monotonic``,
        ``replay_lsn``, ``old_primary_wal_end`` and ``wal_gap_bytes`` (the data-integrity
        check reads them to bound what a failover may have lost).
        """
        ...

    # deployment
    def deployment_status(self) -> DeploymentStatus:
        """Replicas, readiness and the current revision."""
        ...

    def rollout_restart(self) -> None:
        """Replace every replica, one at a time, a new one in service before an old leaves."""
        ...

    def scale(self, replicas: int) -> None:
        """Run exactly ``replicas`` replicas."""
        ...

    def deploy_revision(
        self,
        version: str,
        settings: dict[str, Any] | None = None,
        flags: dict[str, bool] | None = None,
    ) -> int:
        """Roll out a new revision; return its number."""
        ...

    def rollback(self, to_revision: int | None = None) -> int:
        """Roll back to the previous revision (or to ``to_revision``); return its number.

        Rolling back to the revision every replica already runs changes nothing.
        """
        ...

    def reconcile(self) -> list[str]:
        """Make the environment's records agree with what runs; finish interrupted work.

        After a process was killed in the middle of an operation (a rollout, a scale), the
        backend's records and its running parts are made to agree again and the operation
        is finished. Returns a line for each thing it changed (none: all was in order).
        """
        ...

    def rollout_history(self) -> list[RevisionInfo]:
        """Every revision, the current one marked."""
        ...

    def logs(self, query: LogQuery) -> list[str]:
        """Tail of a component's log, optionally filtered."""
        ...

    def top(self) -> list[ProcessUsage]:
        """CPU and RSS per replica."""
        ...

    # database
    def database_status(self) -> DatabaseStatus:
        """Roles, liveness and replication lag of each node."""
        ...

    def crash_primary(self) -> None:
        """SIGKILL the primary."""
        ...

    def stop_database(self, node: str) -> None:
        """Stop one node cleanly."""
        ...

    def start_database(self, node: str) -> None:
        """Start one node."""
        ...

    def promote_replica(self) -> str:
        """Promote the standby; return the new primary's name."""
        ...

    def rebuild_replica(self) -> str:
        """Re-make the non-primary node as a fresh standby of the primary; return its name."""
        ...

    def sql(
        self,
        statement: str,
        node: str | None = None,
        params: Sequence[Any] | None = None,
        timeout_s: float | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run SQL on a node (the primary by default) and return the rows.

        With ``params`` the statement's ``%s`` are bound parameters (their values are never
        parsed as SQL) and a literal ``%`` is written ``%%``; without, the text runs as it is.
        ``timeout_s``: the server cancels the statement after that long (a lock it waits for
        counts), and an OperationError says so; None waits as long as it takes.
        """
        ...

    def check_database(self) -> str:
        """The seed's ``test:db``: a read and a write through the service's connection string."""
        ...

    # cache
    def cache_status(self) -> CacheStatus:
        """Whether the cache answers, its key count and memory."""
        ...

    def flush_cache(self) -> None:
        """Drop every key."""
        ...

    def stop_cache(self) -> None:
        """Stop the cache."""
        ...

    def start_cache(self) -> None:
        """Start the cache."""
        ...

    def freeze_cache(self) -> None:
        """Make the cache unresponsive without stopping it (it accepts, but never answers)."""
        ...

    def thaw_cache(self) -> None:
        """Let a frozen cache answer again; nothing happens if it is not running."""
        ...

    def restart_cache(self) -> None:
        """Thaw, stop and start the cache, and wait until it is ready (its data is lost)."""
        ...

    def check_cache(self) -> str:
        """The seed's ``test:redis``: a write and a read."""
        ...

    # feature flags
    def get_flags(self) -> dict[str, bool]:
        """Effective feature flags."""
        ...

    def set_flag(self, name: str, enabled: bool) -> dict[str, bool]:
        """Set a feature flag on every replica (and on replicas started later)."""
        ...

    def clear_flag(self, name: str) -> dict[str, bool]:
        """Remove a flag set at runtime: every replica goes back to its revision's value."""
        ...


DRILL_MEMBERS: frozenset[str] = frozenset(
    {
        "backend",
        "root",
        "down",
        "monitoring",
        "apply_time_scale",
        "start_load",
        "active_load",
        "pages",
        "last_promotion",
        "target",
    }
)
"""Members of :class:`Environment` for the drill machinery, not operations a runbook step
calls: lifecycle, monitoring's timing, user load, the pager's record, the last failover."""

CREDENTIAL_MEMBERS: frozenset[str] = frozenset({"database_dsn", "alertmanager_auth"})
"""Members of :class:`Environment` that hand out what authenticates a client: never runbook
operations, whose results are shown and recorded."""
