"""PostgreSQL for the local environment: a primary and a hot-standby replica.

The cluster is made once per machine and PostgreSQL version by ``initdb`` into a template
(roles and the ``revenue`` database included) and copied for each environment, which saves
a second or more per ``env up``. The replica is made by ``pg_basebackup -R`` (streaming
replication). PostgreSQL refuses to run as root, so as root it runs as an unprivileged user.

No connection is trusted: ``pg_hba.conf`` asks every client for its password
(SCRAM-SHA-256), replication connections only as the replication role. The template holds
roles without passwords; each environment's copy gets the environment's own verifiers
(:mod:`~chaosdrill.environments.local.credentials`) in single-user mode, before the server
first listens. Clients find the passwords through a libpq ``passfile``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from chaosdrill.environments.local.credentials import scram_verifier
from chaosdrill.environments.local.programs import Programs
from chaosdrill.environments.local.supervisor import Program
from chaosdrill.errors import ComponentStartError

__all__ = [
    "DB_NAME",
    "DB_REPLICATION_USER",
    "DB_SUPERUSER",
    "DB_USER",
    "HBA",
    "app_dsn",
    "base_backup",
    "db_os_user",
    "dsn",
    "ensure_template",
    "in_recovery",
    "postgres_program",
    "replication_conninfo",
    "set_role_passwords",
]

DB_NAME = "revenue"
DB_USER = "revenue"
DB_SUPERUSER = "chaosdrill"
DB_REPLICATION_USER = "replicator"
TEMPLATE_FORMAT = "2"
#: the longest a base backup may take (it is killed then), so a rebuild always ends
BASE_BACKUP_TIMEOUT_S = 120.0

HBA = f"""\
# Written by chaosdrill. Every client gives its password (SCRAM-SHA-256); nothing is
# trusted. The server listens on 127.0.0.1 only and has no unix socket.
# TYPE  DATABASE     USER                      ADDRESS         METHOD
local   all          all                                       scram-sha-256
host    all          all                       127.0.0.1/32    scram-sha-256
host    replication  {DB_REPLICATION_USER:<24}  127.0.0.1/32    scram-sha-256
"""
"""pg_hba.conf of every node (the standby's is the primary's, copied by pg_basebackup)."""


def db_os_user() -> str | None:
    """OS user the database runs as: None when not root, else an unprivileged account.

    Uses ``postgres`` (made by Debian's postgresql package) when present, else creates a
    system user ``chaosdrill``.
    """
    if os.geteuid() != 0:
        return None
    for candidate in ("postgres", "chaosdrill"):
        try:
            pwd.getpwnam(candidate)
            return candidate
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "chaosdrill"],
        check=True,
        capture_output=True,
    )
    return "chaosdrill"


def _run_as(user: str | None, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (as ``user``); a ``timeout`` that passes is an exit code of -9."""
    if user is not None:
        pw = pwd.getpwnam(user)
        kw.setdefault("user", pw.pw_uid)
        kw.setdefault("group", pw.pw_gid)
        kw.setdefault("extra_groups", [])
    try:
        return subprocess.run(argv, check=False, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]
    except subprocess.TimeoutExpired as exc:  # run() killed it
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        note = f"killed after {exc.timeout:g} s"
        return subprocess.CompletedProcess(argv, -9, "", f"{err or ''}\n{note}".strip())


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def ensure_template(cache: Path, programs: Programs, user: str | None) -> Path:
    """Return a ready template data directory, making it with initdb when missing.

    Templates of earlier formats (an earlier one trusted every local connection) are
    removed when a new one is made.
    """
    template = cache / f"pg{programs.pg_version}-template-v{TEMPLATE_FORMAT}"
    if (template / "PG_VERSION").is_file() and (template / ".chaosdrill-ready").is_file():
        return template
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o755)
    for old in cache.glob(f"pg{programs.pg_version}-template-v*"):
        if old != template and ".tmp" not in old.name:
            shutil.rmtree(old, ignore_errors=True)
    staging = cache / (template.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    _chown_tree(staging, user)
    res = _run_as(
        user,
        [
            str(programs.initdb),
            "-D",
            str(staging),
            "-U",
            DB_SUPERUSER,
            "--auth=reject",  # replaced by HBA below; the template never runs as a server
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
    )
    if res.returncode != 0:
        raise ComponentStartError("initdb", f"exit {res.returncode}", res.stderr[-2000:])
    _single_user(staging, programs, user, _BOOTSTRAP_SQL, "postgres (bootstrap)")
    (staging / "pg_hba.conf").write_text(HBA)
    (staging / ".chaosdrill-ready").write_text("ok\n")
    try:
        os.rename(staging, template)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return template


# roles without passwords: each environment sets its own (set_role_passwords)
_BOOTSTRAP_SQL = [
    f"CREATE ROLE {DB_USER} LOGIN",
    f"CREATE ROLE {DB_REPLICATION_USER} LOGIN REPLICATION",
    f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}",
]


def _single_user(
    datadir: Path, programs: Programs, user: str | None, statements: list[str], what: str
) -> None:
    """Run statements in single-user mode (no server, no port, no client authentication)."""
    # with -j a statement ends at a semicolon followed by an empty line
    sql = "".join(f"{statement};\n\n" for statement in statements)
    res = _run_as(
        user,
        [str(programs.postgres), "--single", "-D", str(datadir), "-j", "postgres"],
        input=sql,
    )
    if res.returncode != 0 or "ERROR:" in res.stderr or "FATAL:" in res.stderr:
        raise ComponentStartError(what, f"exit {res.returncode}", res.stderr[-2000:])


def set_role_passwords(
    datadir: Path, programs: Programs, user: str | None, passwords: dict[str, str]
) -> None:
    """Give each role its password, as a SCRAM verifier, in a stopped data directory.

    Only verifiers reach the server (and its stderr, should a statement fail): the
    passwords stay in the environment's 0600 files.
    """
    statements = [
        f"ALTER ROLE {role} PASSWORD '{scram_verifier(password)}'"
        for role, password in sorted(passwords.items())
    ]
    _single_user(datadir, programs, user, statements, "postgres (passwords)")


def copy_template(template: Path, datadir: Path, user: str | None) -> None:
    """Copy the template into a new data directory owned by the database user."""
    shutil.copytree(template, datadir, symlinks=True)
    (datadir / ".chaosdrill-ready").unlink(missing_ok=True)
    os.chmod(datadir, 0o700)
    _chown_tree(datadir, user)


def postgres_program(
    name: str,
    programs: Programs,
    datadir: Path,
    port: int,
    log: Path,
    user: str | None,
) -> Program:
    """Supervisor program for one PostgreSQL server (primary or standby)."""
    opts = {
        "port": str(port),
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": "",
        "wal_level": "replica",
        "max_wal_senders": "10",
        "hot_standby": "on",
        "max_connections": "100",
        "shared_buffers": "64MB",
        "fsync": "on",
        "synchronous_commit": "on",
        "wal_keep_size": "256MB",
        "logging_collector": "off",
        "log_min_messages": "warning",
        "cluster_name": name,
    }
    cmd = [str(programs.postgres), "-D", str(datadir)]
    for key, value in opts.items():
        cmd += ["-c", f"{key}={value}"]
    return Program(
        name=name,
        command=cmd,
        log=log,
        user=user,
        autorestart=False,  # a crashed database stays down until a runbook acts
        stopsignal="INT",  # fast shutdown: do not wait for clients
        stopwaitsecs=10,
    )


def base_backup(
    programs: Programs,
    source_port: int,
    datadir: Path,
    user: str | None,
    app_name: str,
    passfile: Path,
) -> None:
    """Make a standby data directory from the primary with ``pg_basebackup -R``.

    It connects as the replication role with ``passfile`` (the database user's own), and
    the standby's ``primary_conninfo`` names the same file: the password is written
    nowhere else.
    """
    datadir.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(datadir, ignore_errors=True)
    datadir.mkdir(mode=0o700)
    _chown_tree(datadir, user)
    conninfo = replication_conninfo(source_port, passfile, app_name)
    res = _run_as(
        user,
        [
            str(programs.pg_basebackup),
            "-d",
            conninfo,
            "-D",
            str(datadir),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        ],
        timeout=BASE_BACKUP_TIMEOUT_S,
    )
    if res.returncode != 0:
        raise ComponentStartError("pg_basebackup", f"exit {res.returncode}", res.stderr[-2000:])
    # -R writes the connection it used as primary_conninfo, a password read from the
    # passfile included; write ours (the passfile's name, never its content) instead
    auto = datadir / "postgresql.auto.conf"
    kept = [
        line
        for line in auto.read_text().splitlines()
        if not line.lstrip().startswith("primary_conninfo")
    ]
    quoted = conninfo.replace("'", "''")
    auto.write_text("\n".join([*kept, f"primary_conninfo = '{quoted}'"]) + "\n")


def replication_conninfo(port: int, passfile: Path, app_name: str) -> str:
    """How a standby (and pg_basebackup) connects to the primary on ``port``."""
    return make_conninfo(
        "",
        host="127.0.0.1",
        port=port,
        user=DB_REPLICATION_USER,
        passfile=str(passfile),
        application_name=app_name,
        connect_timeout=2,
    )


def dsn(port: int, passfile: Path, user: str = DB_SUPERUSER, dbname: str = "postgres") -> str:
    """Libpq conninfo for one server; the password comes from ``passfile``."""
    return make_conninfo(
        "",
        host="127.0.0.1",
        port=port,
        dbname=dbname,
        user=user,
        passfile=str(passfile),
        connect_timeout=2,
    )


def in_recovery(port: int, passfile: Path) -> bool | None:
    """``pg_is_in_recovery()`` of the server on ``port``.

    True for a standby, False for a writable server, None when it does not answer SQL
    (down, or still starting).
    """
    try:
        with psycopg.connect(dsn(port, passfile), connect_timeout=1, autocommit=True) as conn:
            row = conn.execute("select pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return None
    return bool(row[0]) if row else None


def app_dsn(ports: list[int], passfile: Path) -> str:
    """The service's conninfo: every node listed, the writable one chosen by libpq."""
    return make_conninfo(
        "",
        host=",".join("127.0.0.1" for _ in ports),
        port=",".join(str(p) for p in ports),
        dbname=DB_NAME,
        user=DB_USER,
        passfile=str(passfile),
        target_session_attrs="read-write",
        connect_timeout=2,
    )


_LSN = re.compile(r"([0-9A-F]+/[0-9A-F]+)")


def lsn_to_int(lsn: str) -> int:
    """A PostgreSQL LSN ``'16/B374D848'`` as a byte position."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def wal_end(programs: Programs, datadir: Path, start_lsn: str, user: str | None) -> str | None:
    """Where the valid WAL of a (stopped) server ends, scanning from ``start_lsn``.

    ``pg_waldump`` reads records until the first invalid one and names its position: that
    is the end of what the server wrote. Returns ``start_lsn`` when nothing valid follows
    it, and None when the WAL cannot be read.
    """
    res = _run_as(
        user, [str(programs.pg_waldump), "-p", str(datadir / "pg_wal"), "-s", start_lsn, "-q"]
    )
    err = res.stderr
    if "could not find a valid record after" in err:
        return start_lsn
    match = re.search(
        r"(?:invalid record length|invalid magic number|record with incorrect "
        r"prev-link|invalid record offset|contrecord is requested) at "
        r"([0-9A-F]+/[0-9A-F]+)",
        err,
    )
    if match is None:
        match = re.search(r"error in WAL record at ([0-9A-F]+/[0-9A-F]+)", err)
    return match.group(1) if match else None


def set_synchronous_standby(port: int, passfile: Path, enabled: bool) -> None:
    """Turn synchronous replication on (any one standby must confirm) or off, and reload.

    Turned on only once a standby streams: with no standby, every commit would wait.
    """
    value = "'FIRST 1 (*)'" if enabled else "''"
    with psycopg.connect(dsn(port, passfile), autocommit=True, connect_timeout=2) as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = {value}")
        conn.execute("SELECT pg_reload_conf()")
        # the reload is asynchronous: wait until the walsender reports the new mode
        want = "sync" if enabled else "async"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchall()
            if not rows or any(r[0] == want for r in rows):
                return
            time.sleep(0.05)
