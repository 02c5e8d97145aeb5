"""The generated secrets of one local environment, and the files that hold them.

Every environment gets its own random passwords at ``env up`` (:mod:`secrets`): one per
PostgreSQL role (the superuser, the service's role, the replication role), one for
Redis and one for Alertmanager's HTTP API. Each lives only in files of mode 0600:

``<root>/secrets/pgpass``
    a libpq password file with the superuser and the service's role. Clients name it with
    ``passfile=`` in their connection string (or ``PGPASSFILE``), so a connection string
    holds a path, never a password.
``<pg_dir>/pgpass``
    the replication role's line, owned by the database's OS user: the standby's
    ``primary_conninfo`` and ``pg_basebackup`` read it as that user, who cannot enter the
    environment's root.
``<root>/secrets/redis.password``
    Redis' password, for the environment's own client and the service
    (``RE_REDIS_PASSWORD_FILE``).
``<root>/secrets/redis-exporter.json``
    the same password in the form redis_exporter's ``-redis.password-file`` reads.
``<root>/secrets/alertmanager.password``
    the password of the user ``chaosdrill`` on Alertmanager's HTTP server (basic auth):
    Prometheus names it as ``password_file``, chaosdrill's own clients read it.

The servers get verifiers, not passwords: PostgreSQL a SCRAM-SHA-256 verifier per role
(set in single-user mode, before the server listens), Redis the SHA-256 of its password
in an ACL rule and Alertmanager a bcrypt hash in its web configuration, so no server's
configuration nor its catalogue holds a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pwd
import secrets
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from chaosdrill.paths import write_atomic

__all__ = ["ALERTMANAGER_USER", "Credentials", "bcrypt_hash", "redis_acl_hash", "scram_verifier"]

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
ALERTMANAGER_USER = "chaosdrill"
"""The one user of Alertmanager's HTTP server (Prometheus and chaosdrill's own clients)."""
# The password is 32 random bytes: the work factor guards nothing a guess could find, and
# Alertmanager pays it once per password it has not seen (exporter-toolkit caches results).
# 10 is Go's bcrypt.DefaultCost.
BCRYPT_ROUNDS = 10


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677).

    Given to ``ALTER ROLE ... PASSWORD``, PostgreSQL stores it as it is; the password itself
    never reaches the server. Passwords here are ASCII, so SASLprep leaves them unchanged.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def redis_acl_hash(password: str) -> str:
    """The ``#<sha256>`` form of a password in a Redis ACL rule."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def bcrypt_hash(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """The bcrypt hash of ``password``, as exporter-toolkit's ``basic_auth_users`` takes it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode("ascii")


def _new_secret() -> str:
    # 32 random bytes; URL-safe base64 has no ':' or '\' (special in a pgpass line)
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Credentials:
    """Where one environment's secrets are, and what they are.

    Args:
        root: the environment's state directory.
        pg_dir: the database's directory (owned by ``db_user``).
        db_user: the OS user PostgreSQL runs as (None: the current user).
    """

    root: Path
    pg_dir: Path
    db_user: str | None = None

    @property
    def directory(self) -> Path:
        """``<root>/secrets`` (mode 0700)."""
        return self.root / "secrets"

    @property
    def pgpass(self) -> Path:
        """The libpq password file of the superuser and the service's role."""
        return self.directory / "pgpass"

    @property
    def replication_pgpass(self) -> Path:
        """The libpq password file of the replication role, owned by the database's user."""
        return self.pg_dir / "pgpass"

    @property
    def redis_password_file(self) -> Path:
        """Redis' password, alone on one line."""
        return self.directory / "redis.password"

    @property
    def redis_exporter_file(self) -> Path:
        """Redis' password keyed by its address, as redis_exporter reads it."""
        return self.directory / "redis-exporter.json"

    @property
    def alertmanager_password_file(self) -> Path:
        """The password of :data:`ALERTMANAGER_USER` on Alertmanager, without a newline."""
        return self.directory / "alertmanager.password"

    def generate(self, roles: tuple[str, str], replication_role: str, redis_port: int) -> None:
        """Make new secrets and write every file (0600); the directories must exist.

        Args:
            roles: the superuser and the service's role (their lines go in ``pgpass``).
            replication_role: the role the standby connects as.
            redis_port: Redis' port (redis_exporter looks the password up by address).
        """
        self.directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.directory, 0o700)
        lines = "".join(f"127.0.0.1:*:*:{role}:{_new_secret()}\n" for role in roles)
        write_atomic(self.pgpass, lines, mode=0o600)
        write_atomic(
            self.replication_pgpass,
            f"127.0.0.1:*:replication:{replication_role}:{_new_secret()}\n",
            mode=0o600,
        )
        if self.db_user is not None:
            pw = pwd.getpwnam(self.db_user)
            os.chown(self.replication_pgpass, pw.pw_uid, pw.pw_gid)
        password = _new_secret()
        write_atomic(self.redis_password_file, password + "\n", mode=0o600)
        write_atomic(
            self.redis_exporter_file,
            json.dumps({f"redis://127.0.0.1:{redis_port}": password}),
            mode=0o600,
        )
        write_atomic(self.alertmanager_password_file, _new_secret(), mode=0o600)

    def role_passwords(self) -> dict[str, str]:
        """Every PostgreSQL role's password, by role (read from both password files)."""
        found: dict[str, str] = {}
        for path in (self.pgpass, self.replication_pgpass):
            for line in path.read_text().splitlines():
                if line and not line.startswith("#"):
                    *_, role, password = line.split(":")
                    found[role] = password
        return found

    def redis_password(self) -> str:
        """Redis' password."""
        return self.redis_password_file.read_text().strip()

    def alertmanager_password(self) -> str:
        """The password of :data:`ALERTMANAGER_USER` on Alertmanager's HTTP server."""
        return self.alertmanager_password_file.read_text().strip()
