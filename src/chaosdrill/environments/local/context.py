"""What every part of the local environment's operations shares: state, supervisor, HAProxy."""

from __future__ import annotations

import os
from pathlib import Path

from chaosdrill.environments.base import BasicAuth
from chaosdrill.environments.local.credentials import ALERTMANAGER_USER
from chaosdrill.environments.local.haproxy import HAProxy
from chaosdrill.environments.local.postgres import DB_SUPERUSER, dsn
from chaosdrill.environments.local.programs import Programs
from chaosdrill.environments.local.state import EnvState
from chaosdrill.environments.local.supervisor import Supervisor
from chaosdrill.errors import UnknownComponentError

__all__ = ["LocalContext"]


class LocalContext:
    """Handles on one local environment's state and control planes."""

    state: EnvState
    supervisor: Supervisor
    haproxy: HAProxy
    programs: Programs

    def __init__(self, state: EnvState, programs: Programs) -> None:
        self.state = state
        self.programs = programs
        self.supervisor = Supervisor(state.root)
        self.haproxy = HAProxy(state.root / "haproxy" / "admin.sock")

    @property
    def root(self) -> Path:
        """The environment's state directory."""
        return self.state.root

    @property
    def passfile(self) -> Path:
        """The libpq password file of the superuser and the service's role (mode 0600)."""
        return self.state.credentials.pgpass

    def pg_dsn(self, port: int, user: str = DB_SUPERUSER, dbname: str = "postgres") -> str:
        """Connection string of the server on ``port`` (superuser, database postgres)."""
        return dsn(port, self.passfile, user=user, dbname=dbname)

    def log_path(self, component: str) -> Path:
        """Log file of a component."""
        return self.state.logs / f"{component}.log"

    def admin_token(self) -> str:
        """The admin token of this environment (read from its 0600 file)."""
        return self.state.admin_token_file.read_text().strip()

    def alertmanager_auth(self) -> BasicAuth:
        """What Alertmanager's HTTP server asks for (the password read from its 0600 file)."""
        return BasicAuth(ALERTMANAGER_USER, self.state.credentials.alertmanager_password())

    def component_names(self) -> list[str]:
        """Every component name, replicas included, in start order."""
        static = [
            "postgres-1",
            "postgres-2",
            "redis",
            "haproxy",
            "prometheus",
            "alertmanager",
            "postgres-exporter-1",
            "postgres-exporter-2",
            "redis-exporter",
            "pager",
        ]
        return static + [r.name for r in self.state.replicas] + ["supervisord"]

    def require_component(self, name: str) -> None:
        """Raise UnknownComponentError unless ``name`` is a component."""
        known = self.component_names()
        if name not in known:
            raise UnknownComponentError(name, known)

    def tail(self, component: str, lines: int = 30) -> str:
        """Last lines of a component's log ('' when there is none)."""
        path = self.log_path(component)
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 64 * 1024))
                data = fh.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])
