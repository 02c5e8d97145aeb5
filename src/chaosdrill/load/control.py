"""Starting, watching and stopping load runs, without importing Locust.

A run lives in its own directory (spec, per-process ledgers and SLI samples, the merged
``sli.jsonl``, a log). The load process runs in a new session so the whole tree (master and
workers) is one process group: stopping sends SIGTERM to the group, waits, then SIGKILLs it
and sweeps any straggler carrying the run's marker variable.

The run's ``process.json`` records its main process (pid and start time) and its owner: the
process that started it (pid and start time) and, when that is a drill, the drill's name. A
pid is signalled only while it is still the run's own process (same start time, the run's
marker variable); a record whose pid is gone or now belongs to another process is stale and
is cleared without signalling anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from chaosdrill.environments.readiness import free_ports
from chaosdrill.errors import OperationError, UsageError
from chaosdrill.load import sli
from chaosdrill.load.ledger import read_ledger
from chaosdrill.load.spec import LoadSpec
from chaosdrill.paths import write_atomic

__all__ = ["LoadRun", "LoadStatus", "active_run", "latest_run", "start_load"]

RUN_MARKER = "CHAOSDRILL_LOAD_RUN"
PROCESS_FILE = "process.json"
_SAME_START_S = 0.5  # two start times this close are one process (a pid is not reused so fast)
# load processes this process started, kept so they can be reaped (no zombie, no warning)
_CHILDREN: dict[Path, subprocess.Popen[bytes]] = {}
START_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class LoadStatus:
    """What a load run has done so far."""

    run_id: str
    running: bool
    requests: int
    failures: int
    recent_rps: float
    recent_p95_ms: float
    writes_ok: int
    writes_failed: int
    writes_indeterminate: int


class LoadRun:
    """One load run, identified by its directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @property
    def run_id(self) -> str:
        """The run's id (also the prefix of every client key it sends)."""
        return self.run_dir.name

    @property
    def spec(self) -> LoadSpec:
        """The run's settings."""
        return LoadSpec.from_file(self.run_dir / "spec.json")

    def _record(self) -> dict[str, Any]:
        """What ``process.json`` says (a run of an older version: its ``pid`` file only)."""
        try:
            data = json.loads((self.run_dir / PROCESS_FILE).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            pass
        try:
            return {"pid": int((self.run_dir / "pid").read_text())}
        except (OSError, ValueError):
            return {}

    def _pid(self) -> int | None:
        pid = self._record().get("pid")
        return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None

    def _leader(self) -> psutil.Process | None:
        """The run's main process, if the recorded pid still is it (a zombie of it counts)."""
        pid = self._pid()
        if pid is None:
            return None
        created = self._record().get("create_time")
        try:
            proc = psutil.Process(pid)
            if created is not None and abs(proc.create_time() - float(created)) > _SAME_START_S:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return proc if created is not None else None
            return proc if proc.environ().get(RUN_MARKER) == str(self.run_dir) else None
        except (psutil.Error, TypeError, ValueError):
            return None

    def _clear_record(self) -> None:
        for name in (PROCESS_FILE, "pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / name).unlink()

    def drill_owner(self) -> int | None:
        """The pid of the drill that started this run, while that drill still runs."""
        owner = self._record().get("owner") or {}
        if not isinstance(owner, dict) or not owner.get("drill"):
            return None
        try:
            proc = psutil.Process(int(owner["pid"]))
            same = abs(proc.create_time() - float(owner["create_time"])) <= _SAME_START_S
            alive = proc.status() != psutil.STATUS_ZOMBIE
        except (psutil.Error, KeyError, TypeError, ValueError):
            return None
        return proc.pid if same and alive else None

    def processes(self) -> list[psutil.Process]:
        """Every live process of the run (master, workers)."""
        found = []
        for proc in psutil.process_iter(["pid"]):
            with contextlib.suppress(psutil.Error):
                mine = proc.environ().get(RUN_MARKER) == str(self.run_dir)
                if mine and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        return found

    def running(self) -> bool:
        """True while the run's main process is alive."""
        leader = self._leader()
        with contextlib.suppress(psutil.Error):
            return leader is not None and leader.status() != psutil.STATUS_ZOMBIE
        return False

    def stop(self, grace_s: float = 10.0) -> list[sli.SliPoint]:
        """Stop the run (idempotent) and write its merged SLI series; return the series.

        The process group is signalled only while the recorded pid is still the run's main
        process; otherwise the record is stale: it is cleared, and only processes carrying
        the run's marker variable are stopped.
        """
        pid = self._pid() if self._leader() is not None else None
        if pid is None:
            self._clear_record()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        procs = self.processes()
        _, alive = psutil.wait_procs(procs, timeout=grace_s)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        # the group once more, unless the pid now names another process (reused)
        if pid is not None and (self._leader() is not None or not psutil.pid_exists(pid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        child = _CHILDREN.pop(self.run_dir, None)
        if child is not None:
            child.wait(timeout=5)
        points = sli.merge(sorted(self.run_dir.glob("sli-*.jsonl")))
        sli.write_series(points, self.run_dir / "sli.jsonl")
        return points

    def series(self) -> list[sli.SliPoint]:
        """The SLI series so far (merged from the processes' files)."""
        return sli.merge(sorted(self.run_dir.glob("sli-*.jsonl")))

    def ledger_files(self) -> list[Path]:
        """The run's ledger files, one per process."""
        return sorted(self.run_dir.glob("ledger-*.db"))

    def status(self, window_s: int = 10) -> LoadStatus:
        """Totals, the recent request rate and p95, and the write outcomes."""
        points = [p for p in self.series() if p.flow == sli.ALL]
        recent = points[-window_s - 1 : -1] if len(points) > 1 else points
        attempts = read_ledger(self.ledger_files())
        outcomes = {
            k: sum(1 for a in attempts if a.outcome == k) for k in ("ok", "failed", "indeterminate")
        }
        return LoadStatus(
            run_id=self.run_id,
            running=self.running(),
            requests=sum(p.requests for p in points),
            failures=sum(p.failures for p in points),
            recent_rps=round(sum(p.requests for p in recent) / max(len(recent), 1), 1),
            recent_p95_ms=max((p.p95_ms for p in recent), default=0.0),
            writes_ok=outcomes["ok"],
            writes_failed=outcomes["failed"],
            writes_indeterminate=outcomes["indeterminate"],
        )


def _runs(base: Path) -> list[LoadRun]:
    if not base.is_dir():
        return []
    return [LoadRun(p) for p in sorted(base.iterdir()) if (p / "spec.json").exists()]


def latest_run(base: Path) -> LoadRun | None:
    """The most recent run under ``base`` (run ids sort by start time)."""
    runs = _runs(base)
    return runs[-1] if runs else None


def active_run(base: Path) -> LoadRun | None:
    """The run under ``base`` that is still running, if any."""
    return next((r for r in reversed(_runs(base)) if r.running()), None)


def _process_record(proc: subprocess.Popen[bytes], drill: str | None) -> dict[str, Any]:
    me = psutil.Process()
    try:
        created: float | None = psutil.Process(proc.pid).create_time()
    except psutil.Error:  # already gone: no start time, the marker alone identifies it
        created = None
    return {
        "pid": proc.pid,
        "create_time": created,
        "owner": {"pid": me.pid, "create_time": me.create_time(), "drill": drill},
    }


def start_load(
    base: Path,
    url: str,
    spec: LoadSpec,
    extra_env: dict[str, str] | None = None,
    drill: str | None = None,
) -> LoadRun:
    """Start a load run against ``url``; return once its users are running.

    Refuses while another run under ``base`` is active. The load process starts in a new
    session (its own process group) and stops by itself after ``spec.duration_s``.
    ``drill`` names the drill starting it: while this process runs, the run is that
    drill's (:meth:`LoadRun.drill_owner`) and ``env recover`` leaves it alone.
    """
    running = active_run(base)
    if running is not None:
        raise UsageError(
            f"load run {running.run_id} is still running; stop it first " "(`chaosdrill load stop`)"
        )
    run_id = datetime.now(UTC).strftime("r%Y%m%dT%H%M%S") + secrets.token_hex(2)
    run_dir = base / run_id
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_dir.mkdir(mode=0o700)  # private, like the environment root it sits in
    write_atomic(run_dir / "spec.json", spec.to_json())
    role = "master" if spec.workers else "local"
    cmd = [
        sys.executable,
        "-m",
        "chaosdrill.load.runner",
        "--run-dir",
        str(run_dir),
        "--url",
        url,
        "--role",
        role,
    ]
    if spec.workers:
        cmd += ["--master-port", str(free_ports(1)[0])]
    env = {**os.environ, **(extra_env or {}), RUN_MARKER: str(run_dir)}
    log_fd = os.open(run_dir / "load.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with open(log_fd, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            umask=0o077,  # the SLI series, the write ledger and the workers' files alike
        )
    write_atomic(run_dir / PROCESS_FILE, json.dumps(_process_record(proc, drill)))
    write_atomic(run_dir / "pid", str(proc.pid))
    run = LoadRun(run_dir)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (run_dir / "started.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            run.stop(grace_s=2)
            proc.wait()
            log_tail = (run_dir / "load.log").read_text(errors="replace")[-2000:]
            err = OperationError(f"load run {run_id} did not start (exit {proc.returncode})")
            err.add_note(log_tail)
            raise err
        time.sleep(0.05)
    _CHILDREN[run_dir] = proc
    return run
