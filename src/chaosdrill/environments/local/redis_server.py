"""Redis for the local environment: its configuration file.

Redis listens on 127.0.0.1 only, in protected mode, and its one user (``default``) needs
the environment's password: the ACL rule carries the password's SHA-256 (what
``requirepass`` sets, without the password itself in the file). The commands that change
the server rather than the data are taken away from that user, since nothing of the
project's sends them and a client holding the password should not: ``CONFIG`` (``CONFIG
SET dir`` then ``SAVE`` writes files anywhere Redis may), ``DEBUG``, ``MODULE`` (loads
code), ``ACL`` (would give them back), ``REPLICAOF``/``SLAVEOF`` and ``FAILOVER`` (would
make it copy another server's data), and ``SHUTDOWN`` (the supervisor stops it by signal).
Everything on the command line would be visible in ``ps`` and in the supervisor's program
file, so every setting is in this file (mode 0600).
"""

from __future__ import annotations

from pathlib import Path

from chaosdrill.environments.local.credentials import redis_acl_hash
from chaosdrill.paths import write_atomic

__all__ = ["DENIED_COMMANDS", "config_path", "redis_config", "write_redis_config"]

DENIED_COMMANDS = (
    "config",
    "debug",
    "module",
    "acl",
    "replicaof",
    "slaveof",
    "failover",
    "shutdown",
)


def config_path(root: Path) -> Path:
    """Redis' configuration file in the state directory ``root``."""
    return root / "redis" / "redis.conf"


def redis_config(port: int, data_dir: Path, password: str) -> str:
    """redis.conf: loopback only, no persistence, one user with a hashed password."""
    denied = " ".join(f"-{command}" for command in DENIED_COMMANDS)
    return (
        f"port {port}\n"
        "bind 127.0.0.1\n"
        "protected-mode yes\n"
        'save ""\n'
        "appendonly no\n"
        f'dir "{data_dir}"\n'
        "maxmemory 256mb\n"
        f"user default on {redis_acl_hash(password)} ~* &* +@all {denied}\n"
    )


def write_redis_config(path: Path, port: int, data_dir: Path, password: str) -> Path:
    """Write redis.conf (mode 0600)."""
    return write_atomic(path, redis_config(port, data_dir, password), mode=0o600)
