"""Finding the programs the local environment runs, with errors that name the fix."""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from chaosdrill.errors import ProgramMissingError

__all__ = ["Programs", "find_programs"]

# program -> (executable names to try, Debian package that provides it)
_WANTED: dict[str, tuple[tuple[str, ...], str]] = {
    "redis-server": (("redis-server",), "redis-server"),
    "haproxy": (("haproxy",), "haproxy"),
    "prometheus": (("prometheus",), "prometheus"),
    "promtool": (("promtool",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
    "amtool": (("amtool",), "prometheus-alertmanager"),
    "postgres-exporter": (
        ("prometheus-postgres-exporter", "postgres_exporter"),
        "prometheus-postgres-exporter",
    ),
    "redis-exporter": (
        ("prometheus-redis-exporter", "redis_exporter"),
        "prometheus-redis-exporter",
    ),
}
_PG_TOOLS = ("postgres", "initdb", "pg_basebackup", "pg_ctl", "pg_waldump")
_SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")


@dataclass(frozen=True)
class Programs:
    """Absolute paths of every program the local environment starts."""

    postgres: Path
    initdb: Path
    pg_basebackup: Path
    pg_ctl: Path
    pg_waldump: Path
    redis_server: Path
    haproxy: Path
    prometheus: Path
    promtool: Path
    alertmanager: Path
    amtool: Path
    postgres_exporter: Path
    redis_exporter: Path

    @property
    def pg_version(self) -> str:
        """Major version of the PostgreSQL server (from its bin directory or binary)."""
        parts = self.postgres.parts
        if "postgresql" in parts:
            return parts[parts.index("postgresql") + 1]
        return "unknown"


def _pg_bindirs() -> list[Path]:
    """PostgreSQL bin directories, newest major version first."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    env_dir = os.environ.get("CHAOSDRILL_PG_BINDIR")
    return ([Path(env_dir)] if env_dir else []) + found


def _which(names: tuple[str, ...]) -> Path | None:
    for name in names:
        hit = shutil.which(name)
        if hit:
            return Path(hit)
        for d in _SEARCH_DIRS:
            cand = Path(d) / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return cand
    return None


def find_programs() -> Programs:
    """Locate every program; raise one error that lists all missing ones.

    Returns:
        The resolved paths.

    Raises:
        ProgramMissingError: naming each missing program, where it was looked for, and the fix.
    """
    missing: dict[str, tuple[list[str], str]] = {}
    found: dict[str, Path] = {}
    pg_dirs = _pg_bindirs()
    for tool in _PG_TOOLS:
        hit = next((d / tool for d in pg_dirs if (d / tool).is_file()), None)
        if hit is None:
            looked = [str(d) for d in pg_dirs] or ["/usr/lib/postgresql/*/bin"]
            missing[tool] = (looked, "apt-get install postgresql (or set CHAOSDRILL_PG_BINDIR)")
        else:
            found[tool] = hit
    for key, (names, package) in _WANTED.items():
        path = _which(names)
        if path is None:
            missing[key] = (["$PATH", *_SEARCH_DIRS], f"apt-get install {package}")
        else:
            found[key] = path
    if missing:
        raise ProgramMissingError(missing)
    return Programs(
        postgres=found["postgres"],
        initdb=found["initdb"],
        pg_basebackup=found["pg_basebackup"],
        pg_ctl=found["pg_ctl"],
        pg_waldump=found["pg_waldump"],
        redis_server=found["redis-server"],
        haproxy=found["haproxy"],
        prometheus=found["prometheus"],
        promtool=found["promtool"],
        alertmanager=found["alertmanager"],
        amtool=found["amtool"],
        postgres_exporter=found["postgres-exporter"],
        redis_exporter=found["redis-exporter"],
    )
