"""Process settings read from ``RE_*`` environment variables at start.

Environment variables (not files or flags) carry per-process wiring because the drill's
process supervisor sets them per replica; behaviour that a release may change lives in
the revision instead (see :mod:`chaosdrill.targets.revenue_engine.revision`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_REDIS_URL",
    "ConfigError",
    "Settings",
    "default_replica_name",
    "read_admin_token",
    "read_secret",
]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class ConfigError(ValueError):
    """The environment does not describe a runnable service (the message says why)."""


def default_replica_name(port: int | None = None) -> str:
    """Return the default replica label: ``<hostname>-<port>`` (or the bare hostname)."""
    host = socket.gethostname() or "localhost"
    return f"{host}-{port}" if port is not None else host


def read_secret(path: str | Path, variable: str, what: str = "a secret") -> str:
    """Read a secret from the file ``path`` named by ``variable`` (whitespace stripped).

    The secret itself never appears in messages, logs or responses.

    Raises:
        ConfigError: if the file cannot be read or is empty.
    """
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from exc
    if not secret:
        raise ConfigError(f"{variable}: {path} is empty; expected {what}")
    return secret


def read_admin_token(path: str | Path) -> str:
    """Read the admin token from ``path`` (see :func:`read_secret`)."""
    return read_secret(path, "RE_ADMIN_TOKEN_FILE", "a token")


@dataclass(frozen=True)
class Settings:
    """Where the service finds its dependencies and who it is.

    Attributes:
        dsn: libpq connection string; may list several hosts (primary and replica) with
            ``target_session_attrs=read-write`` so a promoted replica is found by itself.
        redis_url: Redis URL of the cache.
        redis_password_file: File holding Redis' password (for a URL without one).
        revision_file: JSON revision to run.
        admin_token_file: File holding the admin bearer token; None disables admin.
        replica: Label naming this process in responses and logs.
    """

    dsn: str
    redis_url: str
    revision_file: Path
    admin_token_file: Path | None = None
    replica: str = ""
    redis_password_file: Path | None = None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, port: int | None = None
    ) -> Settings:
        """Build settings from ``RE_*`` variables (``os.environ`` by default).

        ``port`` only feeds the default replica name when ``RE_REPLICA`` is unset.

        Raises:
            ConfigError: naming the missing or empty variable.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, "").strip()

        dsn = get("RE_DSN")
        if not dsn:
            raise ConfigError("RE_DSN: required, expected a libpq connection string")
        revision_file = get("RE_REVISION_FILE")
        if not revision_file:
            raise ConfigError("RE_REVISION_FILE: required, expected a path to a JSON revision")
        token_file = get("RE_ADMIN_TOKEN_FILE")
        redis_password_file = get("RE_REDIS_PASSWORD_FILE")
        return cls(
            dsn=dsn,
            redis_url=get("RE_REDIS_URL") or DEFAULT_REDIS_URL,
            revision_file=Path(revision_file),
            admin_token_file=Path(token_file) if token_file else None,
            replica=get("RE_REPLICA") or default_replica_name(port),
            redis_password_file=Path(redis_password_file) if redis_password_file else None,
        )
