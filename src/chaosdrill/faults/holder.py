"""The holder: a separate process that holds database resources for a fault.

A lock or a pile of connections must outlive the call that injected the fault, and a real
incident's culprit is another program, not the drill. So the fault starts this module
(``python -m chaosdrill.faults.holder lock|flood``), which forks: the child holds the
resource; the parent waits until the child reports that it holds it (or why it could not)
and exits with 0 (or 1), so the injecting side learns readiness from an exit code and is
never left with a zombie child.

Every holder carries the environment's marker ``CHAOSDRILL_ENV_ROOT`` (``env down`` sweeps
it) and ``CHAOSDRILL_FAULT=<kind>`` (a revert finds it with psutil), and ends by itself
after ``--duration`` seconds. The connection string comes in ``CHAOSDRILL_FAULT_DSN``, not
on the command line where ``ps`` would show it.

Modes:
    lock   ``BEGIN; LOCK TABLE <table> IN ACCESS EXCLUSIVE MODE;`` then idle in transaction.
    flood  open connections until the server refuses ("too many clients"), terminate the
           backends whose application_name matches ``--terminate-like`` and take their slots
           too; keep taking any slot that frees up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
from psycopg.rows import TupleRow

__all__ = ["DSN_VARIABLE", "FAULT_MARKER", "find_holders", "kill_holders", "main", "spawn"]

ENV_MARKER = "CHAOSDRILL_ENV_ROOT"
FAULT_MARKER = "CHAOSDRILL_FAULT"
DSN_VARIABLE = "CHAOSDRILL_FAULT_DSN"
_REFUSED = ("too many clients", "remaining connection slots are reserved")


# the injecting side -----------------------------------------------------------------------
def spawn(root: Path, kind: str, dsn: str, args: Sequence[str], timeout: float = 30.0) -> str:
    """Start a holder for ``kind`` and return once it holds its resource.

    Args:
        root: the environment's directory (its marker value; the log goes under it).
        kind: the fault kind (the holder's marker value).
        dsn: libpq connection string the holder uses.
        args: the mode and its options (see :func:`main`).
        timeout: seconds to wait for the holder to report.

    Returns:
        The holder's report line (e.g. ``"ready: 97 connections"``).

    Raises:
        RuntimeError: if the holder did not get its resource; any holder started is killed
            and the message carries the tail of its log.
    """
    log = root / "faults" / f"{kind}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, ENV_MARKER: str(root), FAULT_MARKER: kind, DSN_VARIABLE: dsn}
    cmd = [sys.executable, "-m", "chaosdrill.faults.holder", *args, "--log", str(log)]
    try:
        res = subprocess.run(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
            umask=0o077,  # its log and anything else it makes: for this user only
            check=False,
        )
    except subprocess.TimeoutExpired:
        kill_holders(root, kind)
        raise RuntimeError(f"holder for {kind} did not report within {timeout} s") from None
    report = res.stdout.strip() or res.stderr.strip()[-500:]
    if res.returncode != 0:
        kill_holders(root, kind)
        err = RuntimeError(f"holder for {kind} failed: {report or 'no report'}")
        with contextlib.suppress(OSError):
            err.add_note(f"last lines of {log}:\n" + "\n".join(log.read_text().splitlines()[-20:]))
        raise err
    return report


def find_holders(root: Path, kind: str) -> list[psutil.Process]:
    """Live holder processes of one fault kind in one environment."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            environ = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if environ.get(FAULT_MARKER) == kind and environ.get(ENV_MARKER) == str(root):
            found.append(proc)
    return found


def kill_holders(root: Path, kind: str, grace: float = 3.0) -> list[int]:
    """Terminate (then kill) every holder of ``kind`` in the environment; return their pids."""
    procs = find_holders(root, kind)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    alive = _wait_gone(procs, grace)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    _wait_gone(alive, grace)
    return [p.pid for p in procs]


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process has exited; return those still running after ``timeout``.

    A zombie counts as gone: it holds no connection, and its parent (init, for a
    holder) may take a while to reap it.
    """
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _running(p)]
    return alive


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# the holder process ---------------------------------------------------------------------
def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} [{os.getpid()}] {message}", flush=True)


def _refused(exc: psycopg.OperationalError) -> bool:
    text = str(exc)
    return any(marker in text for marker in _REFUSED)


def _readable(
    conns: Sequence[psycopg.Connection[TupleRow]], timeout: float
) -> list[psycopg.Connection[TupleRow]]:
    """Connections the server has written to unasked (a termination notice, or EOF)."""
    if not conns:
        time.sleep(timeout)
        return []
    by_fd = {c.fileno(): c for c in conns}
    ready, _, _ = select.select(list(by_fd), [], [], timeout)
    return [by_fd[fd] for fd in ready]


class _Report:
    """The one line the holder owes its parent: ready, or why not (sent once)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def send(self, message: str) -> bool:
        """Log and send ``message``, close the pipe; False (nothing done) if already sent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return False
        _log(message)
        with contextlib.suppress(OSError):
            os.write(fd, (message + "\n").encode())
        os.close(fd)
        return True


def _hold_lock(args: argparse.Namespace, report: _Report) -> None:
    """Lock the table in one idle transaction until the deadline or the backend is killed."""
    conn = psycopg.connect(
        os.environ[DSN_VARIABLE], application_name=args.application_name, autocommit=True
    )
    conn.execute(f"SET lock_timeout = '{int(args.lock_timeout * 1000)}ms'")
    conn.execute("BEGIN")
    conn.execute(f"LOCK TABLE {args.table} IN ACCESS EXCLUSIVE MODE")
    report.send(f"ready: {args.table} locked (ACCESS EXCLUSIVE), idle in transaction")
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        if _readable([conn], min(1.0, max(0.0, deadline - time.monotonic()))):
            _log("the server ended the session; exiting")
            return
    _log(f"lifetime of {args.duration:g} s is over; releasing the lock")
    conn.close()


class _Flood:
    """Connections held open by the flood mode."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conns: list[psycopg.Connection[TupleRow]] = []

    def _connect(self) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(
            os.environ[DSN_VARIABLE],
            application_name=self.args.application_name,
            autocommit=True,
            connect_timeout=2,
        )

    def fill(self) -> bool:
        """Open connections until refused; False if the limit stopped us first.

        Connections are opened 16 at a time: one by one, ninety of them take seconds.
        """
        if not self.conns:
            try:
                self.conns.append(self._connect())
            except psycopg.OperationalError as exc:
                if _refused(exc):
                    return True
                raise
        # as many as there are free slots (asking costs one query; a refused attempt costs
        # the server a backend start)
        free = self.free_slots()
        want = min(self.args.limit - len(self.conns), free)
        refused = free <= 0
        error: psycopg.OperationalError | None = None
        if want <= 0:
            return refused
        with ThreadPoolExecutor(max_workers=min(16, want)) as pool:
            futures = [pool.submit(self._connect) for _ in range(want)]
            for future in futures:
                try:
                    self.conns.append(future.result())
                except psycopg.OperationalError as exc:
                    if _refused(exc):
                        refused = True
                    else:
                        error = exc
        if error is not None and not refused:
            raise error
        return refused

    def prune(self) -> None:
        """Drop connections the server has closed (their slots are free again)."""
        for conn in _readable(self.conns, 0):
            self.conns.remove(conn)
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def evict(self) -> int:
        """Terminate the other client's backends; return how many."""
        if not self.conns or not self.args.terminate_like:
            return 0
        rows = (
            self.conns[0]
            .execute(
                "select count(*) filter (where pg_terminate_backend(pid))"
                " from pg_stat_activity"
                " where application_name like %s and pid <> pg_backend_pid()",
                (self.args.terminate_like,),
            )
            .fetchall()
        )
        return int(rows[0][0]) if rows else 0

    def free_slots(self) -> int:
        """Connection slots a non-superuser could still take (without trying to connect)."""
        if not self.conns:
            return 1
        row = (
            self.conns[0]
            .execute(
                "select current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int - count(*)"
                " from pg_stat_activity where backend_type = 'client backend'"
            )
            .fetchone()
        )
        return int(row[0]) if row else 1

    def tick(self) -> int:
        """Take free slots, evict the others, take their slots; return how many evicted."""
        self.prune()
        if self.free_slots() > 0:
            self.fill()
        evicted = self.evict()
        if evicted:
            self.fill()
        return evicted


def _flood(args: argparse.Namespace, report: _Report) -> None:
    """Take every connection slot the role may use and keep them."""
    flood = _Flood(args)
    full = flood.fill()
    if not flood.conns:
        raise RuntimeError("could not open a single connection")
    # One round of evicting and refilling, then report: the loop below keeps evicting
    # whoever takes a slot back, so the injector need not wait for the service to give up.
    evicted = flood.tick()
    report.send(
        f"ready: {len(flood.conns)} connections held "
        f"({'server full' if full else 'limit reached'}), {evicted} backends evicted"
    )
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))
        with contextlib.suppress(psycopg.Error):
            if n := flood.tick():
                _log(f"evicted {n} backends that had taken a slot back")
    _log(f"lifetime of {args.duration:g} s is over; closing {len(flood.conns)} connections")
    for conn in flood.conns:
        with contextlib.suppress(psycopg.Error):
            conn.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chaosdrill.faults.holder", description=__doc__)
    sub = p.add_subparsers(dest="mode", required=True)
    for mode in ("lock", "flood"):
        s = sub.add_parser(mode)
        s.add_argument("--application-name", required=True)
        s.add_argument("--duration", type=float, default=3600.0, help="seconds to hold")
        s.add_argument("--log", required=True, help="file the holder writes to")
        if mode == "lock":
            s.add_argument("--table", required=True)
            s.add_argument("--lock-timeout", type=float, default=10.0)
        else:
            s.add_argument("--limit", type=int, default=500, help="most connections to open")
            s.add_argument("--terminate-like", default="", help="application_name LIKE pattern")
            s.add_argument("--interval", type=float, default=0.05, help="seconds between top-ups")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Fork a holder; exit 0 once it holds its resource, 1 if it could not."""
    args = _parser().parse_args(argv)
    if not os.environ.get(DSN_VARIABLE):
        print(f"error: set {DSN_VARIABLE} to the connection string to use", flush=True)
        return 1
    read_end, write_end = os.pipe()
    if os.fork():
        os.close(write_end)
        with os.fdopen(read_end) as fh:
            message = fh.read().strip()
        print(message or "error: the holder exited before it was ready", flush=True)
        return 0 if message.startswith("ready") else 1
    os.close(read_end)
    log = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    report = _Report(write_end)
    code = 0
    try:
        _log(f"{args.mode} as {args.application_name!r} for up to {args.duration:g} s")
        if args.mode == "lock":
            _hold_lock(args, report)
        else:
            _flood(args, report)
    except Exception as exc:
        message = f"error: {type(exc).__name__}: {str(exc).strip()[:300]}"
        if not report.send(message):
            _log(message)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
