"""The on-disk state of one local environment: ports, replicas, revisions, database roles.

Everything an operation needs to find the environment again lives in ``env.json`` under the
environment's state directory, written atomically; mutating operations hold a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaosdrill.environments.local.credentials import Credentials
from chaosdrill.errors import BrokenStateError, EnvironmentNotFoundError
from chaosdrill.paths import write_atomic
from chaosdrill.targets.spec import TargetSpec

__all__ = [
    "EnvSettings",
    "EnvState",
    "Replica",
    "name_lock",
    "pager_db",
    "pager_token_file",
    "pg_home",
    "state_root",
]

STATE_FILE = "env.json"


def pager_db(root: Path) -> Path:
    """The pager's SQLite file in the state directory ``root`` (the pager writes it)."""
    return root / "pager" / "pager.db"


def pager_token_file(root: Path) -> Path:
    """The pager's bearer token (mode 0600): Alertmanager sends it, the pager checks it."""
    return root / "pager" / "token"


def pg_home(root: Path) -> Path:
    """The database's directory of the environment whose state directory is ``root``.

    ``<state root>/pg/NAME``, beside ``envs/NAME`` rather than inside it: the environment's
    root is private to the user who brought it up (0700), and PostgreSQL, which runs as an
    unprivileged user when that is root, could not enter it. This directory belongs to
    the database's user (0700) and holds both data directories and the replication
    role's password file.
    """
    return root.parent.parent / "pg" / root.name


def _broken(root: Path, reason: str) -> BrokenStateError:
    return BrokenStateError(
        str(root / STATE_FILE),
        reason,
        f"take the environment down with `chaosdrill env down --name {root.name}` (it stops "
        f"every process of the environment and removes {root}), then bring it up again",
    )


def state_root() -> Path:
    """Directory holding every local environment (``$CHAOSDRILL_HOME`` overrides).

    As root the default is ``/var/lib/chaosdrill`` so the unprivileged database user can
    reach its data directory; otherwise ``$XDG_STATE_HOME/chaosdrill``.
    """
    env = os.environ.get("CHAOSDRILL_HOME")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/chaosdrill")
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "chaosdrill"


@contextlib.contextmanager
def name_lock(name: str) -> Iterator[None]:
    """Hold the lock of the environment name ``name``: one up, down or open at a time.

    The lock file is ``state_root()/locks/NAME.lock``, outside the environment's directory
    (which up creates and down removes), so two ``env up`` of one name cannot both bring it
    up and a ``down`` cannot remove the directory of an ``up`` still under way. Not
    re-entrant: a process that holds it must not ask for it again.
    """
    locks = state_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Replica:
    """One replica of the service: its supervisor program name and port."""

    name: str
    port: int
    revision: int


@dataclass
class EnvSettings:
    """Settings chosen at ``env up``."""

    replicas: int = 2
    scrape_interval_s: float = 5.0
    evaluation_interval_s: float = 5.0
    group_wait_s: float = 1.0
    enrollments: int = 200_000
    courses: int = 500
    pool_size: int = 10
    synchronous_replication: bool = False
    time_scale: float = 1.0  # alert rules' windows and `for:` are divided by this
    target: dict[str, Any] | None = None
    """The target it runs (``TargetSpec.to_dict()``); None: the reference target."""

    @classmethod
    def for_time_scale(cls, k: float, **overrides: Any) -> EnvSettings:
        """Settings whose monitoring runs ``k`` times faster than production."""
        from chaosdrill.timescale import TimeScale

        ts = TimeScale(k)
        values: dict[str, Any] = {
            "scrape_interval_s": ts.scrape_interval_s,
            "evaluation_interval_s": ts.evaluation_interval_s,
            "group_wait_s": ts.group_wait_s,
            "time_scale": float(k),
        }
        return cls(**{**values, **overrides})


@dataclass
class EnvState:
    """Persistent state of one environment."""

    name: str
    root: Path
    ports: dict[str, int]
    settings: EnvSettings
    db_user: str
    replicas: list[Replica] = field(default_factory=list)
    next_serial: int = 1
    revisions: list[dict[str, Any]] = field(default_factory=list)
    revision_history: list[int] = field(default_factory=list)
    flag_overrides: dict[str, bool] = field(default_factory=dict)
    promotions: list[dict[str, Any]] = field(default_factory=list)
    pg_primary: str = "postgres-1"
    pg_nodes: dict[str, int] = field(default_factory=dict)
    created_at: str = ""
    rollout: dict[str, Any] | None = None
    """A rollout under way: its target ``revision`` and ``replicas``, and the ``new``
    replicas it is starting (name, port, revision). Written before any replica starts and
    cleared once the history records the target, so a rollout whose process was killed
    is finished by the next operation or ``reconcile``."""

    @property
    def target(self) -> TargetSpec:
        """The target the environment runs."""
        return TargetSpec.from_dict(self.settings.target)

    # paths -----------------------------------------------------------------
    @property
    def logs(self) -> Path:
        """Directory of per-component log files."""
        return self.root / "logs"

    @property
    def admin_token_file(self) -> Path:
        """File holding the admin token (mode 0600)."""
        return self.root / "admin_token"

    @property
    def pager_token_file(self) -> Path:
        """File holding the pager's bearer token (mode 0600)."""
        return pager_token_file(self.root)

    @property
    def pg_dir(self) -> Path:
        """The database's directory (data directories ``pg_dir/<node>``); see :func:`pg_home`."""
        return pg_home(self.root)

    @property
    def credentials(self) -> Credentials:
        """Where the environment's generated secrets are."""
        return Credentials(self.root, self.pg_dir, self.db_user or None)

    @property
    def pg_replica(self) -> str | None:
        """The node that is not the primary, if any."""
        others = [n for n in self.pg_nodes if n != self.pg_primary]
        return others[0] if others else None

    def revision(self, number: int) -> dict[str, Any]:
        """The revision with this number."""
        for rev in self.revisions:
            if rev["revision"] == number:
                return rev
        raise KeyError(number)

    @property
    def current_revision(self) -> int:
        """Revision number currently deployed."""
        return self.revision_history[-1]

    def revision_file(self, number: int) -> Path:
        """Path of a revision's JSON file (what the service reads)."""
        return self.root / "revisions" / f"{number}.json"

    # persistence -------------------------------------------------------------
    def save(self) -> None:
        """Write env.json atomically."""
        data = asdict(self)
        data["root"] = str(self.root)
        write_atomic(self.root / STATE_FILE, json.dumps(data, indent=2, sort_keys=True))

    @classmethod
    def load(cls, root: Path) -> EnvState:
        """Read env.json of the environment at ``root``.

        Raises:
            EnvironmentNotFoundError: there is no env.json (the environment is not up).
            BrokenStateError: env.json is torn or not a state this version wrote; the
                message says how to take the environment down all the same.
        """
        path = root / STATE_FILE
        try:
            text = path.read_bytes().decode()
        except FileNotFoundError:
            raise EnvironmentNotFoundError(
                f"the environment in {root} is not up (it was taken down, or never started)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _broken(root, str(exc)) from None
        try:
            data = json.loads(text)
            data["root"] = Path(data["root"])
            data["settings"] = EnvSettings(**data["settings"])
            data["replicas"] = [Replica(**r) for r in data["replicas"]]
            return cls(**data)
        except json.JSONDecodeError as exc:
            raise _broken(root, f"not JSON: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise _broken(root, f"not an environment state: {exc!r}") from None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the environment's lock (one mutating operation at a time)."""
        fd = os.open(self.root / "lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
