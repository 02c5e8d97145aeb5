"""The process supervisor of the local environment: supervisord, driven over XML-RPC.

supervisord (a well-kept process manager) owns every component process: it restarts crashed
service replicas, keeps one log file per component, stops process groups with SIGTERM then
SIGKILL after a grace period, and lets programs be added and removed at runtime (scale,
rolling restart). This module renders its configuration and wraps its XML-RPC API.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from chaosdrill.errors import ComponentStartError, OperationError
from chaosdrill.paths import write_atomic

__all__ = ["Program", "Supervisor", "SupervisorDownError"]


def _escape(value: str) -> str:
    """Escape supervisor's %-interpolation."""
    return value.replace("%", "%%")


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` no longer exists (or is a zombie); True if it went."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.01)
    return False


class SupervisorDownError(OperationError, ConnectionError):
    """supervisord of an environment does not answer on its socket (it was killed, or hangs).

    Still an :class:`OSError` (a :class:`ConnectionError`), so the callers that expect the
    socket to fail (``alive()``, ``shutdown()``) keep catching it; anything else ends with
    one line naming what is down and how to clean up.
    """

    def __init__(self, sock: Path, cause: OSError) -> None:
        root = sock.parent
        reason = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(
            f"supervisord of environment {root.name!r} is down (no answer on {sock}: {reason}); "
            f"its programs are unsupervised: take it down with "
            f"`chaosdrill env down --name {root.name}`, then bring it up again"
        )


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket, one connection per call (nothing left open)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        self.close()
        conn = _UnixConnection(self._path)
        self._connection = (host, conn)
        return conn

    def request(self, host: Any, handler: Any, request_body: Any, verbose: bool = False) -> Any:
        try:
            return super().request(host, handler, request_body, verbose)
        except SupervisorDownError:
            raise
        except OSError as exc:
            raise SupervisorDownError(Path(self._path), exc) from exc
        finally:
            self.close()


@dataclass
class Program:
    """One supervised program."""

    name: str
    command: Sequence[str]
    log: Path
    directory: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    autorestart: bool = True
    stopsignal: str = "TERM"
    stopwaitsecs: float = 5

    def render(self) -> str:
        """The ``[program:x]`` section."""
        lines = [
            f"[program:{self.name}]",
            f"command={_escape(shlex.join(self.command))}",
            "autostart=false",
            f"autorestart={'true' if self.autorestart else 'false'}",
            "startsecs=0",
            "startretries=10",
            "umask=077",
            f"stopsignal={self.stopsignal}",
            f"stopwaitsecs={int(max(1, self.stopwaitsecs))}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_escape(str(self.log))}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=1",
        ]
        if self.directory:
            lines.append(f"directory={_escape(str(self.directory))}")
        if self.user:
            lines.append(f"user={self.user}")
        if self.env:
            pairs = ",".join(
                f'{k}="{_escape(v).replace(chr(34), chr(92) + chr(34))}"'
                for k, v in self.env.items()
            )
            lines.append(f"environment={pairs}")
        return "\n".join(lines) + "\n"


class Supervisor:
    """A supervisord instance for one environment.

    Args:
        root: the environment's state directory; config, socket and pid live under it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "supervisord.conf"
        self.conf_d = root / "supervisor.d"
        self.sock = root / "supervisor.sock"
        self.pidfile = root / "supervisord.pid"
        self.log = root / "logs" / "supervisord.log"

    # lifecycle -------------------------------------------------------------
    def write_config(self) -> None:
        """Write supervisord.conf (programs go in supervisor.d/*.conf).

        Files made by supervisord (the programs' logs) and by its programs (Prometheus'
        and Alertmanager's data, the pager's store) are for their user alone: supervisord
        starts with umask 077 (:meth:`start`; its own ``umask`` option applies only when
        it daemonizes itself) and every program has ``umask=077``.
        """
        self.conf_d.mkdir(mode=0o700, parents=True, exist_ok=True)
        user = "user=root\n" if os.geteuid() == 0 else ""
        write_atomic(
            self.conf,
            f"[unix_http_server]\nfile={self.sock}\nchmod=0700\n\n"
            f"[supervisord]\nlogfile={self.log}\npidfile={self.pidfile}\nnodaemon=true\n"
            f"loglevel=info\nminfds=1024\n{user}\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{self.sock}\n\n"
            f"[include]\nfiles={self.conf_d}/*.conf\n",
            mode=0o600,
        )

    def start(self, timeout: float = 10.0) -> int:
        """Start supervisord detached (``setsid -f``); return its pid once its API answers.

        Detached so that it outlives the command that started it and is never left as a
        zombie child of a long-running caller.
        """
        out = self.root / "logs" / "supervisord.out"
        with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as fh:
            subprocess.run(
                [
                    "setsid",
                    "-f",
                    sys.executable,
                    "-m",
                    "supervisor.supervisord",
                    "-n",
                    "-c",
                    str(self.conf),
                ],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                check=True,
                close_fds=True,
                umask=0o077,  # inherited by supervisord: its logs are 0600
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.api.supervisor.getState()["statename"] == "RUNNING":
                    pid = self.pid()
                    if pid is not None:
                        return pid
            except (OSError, xmlrpc.client.Fault):
                pass
            time.sleep(0.02)
        tail = out.read_text(errors="replace")[-2000:] if out.exists() else ""
        raise ComponentStartError("supervisord", f"API not answering after {timeout} s", tail)

    def pid(self) -> int | None:
        """Pid of supervisord from its pid file, if it is alive."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def alive(self) -> bool:
        """True when supervisord answers on its socket."""
        try:
            return bool(self.api.supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Fault):
            return False

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop every running program at once and wait until all have exited.

        Each gets its stop signal, then SIGKILL after its ``stopwaitsecs`` (supervisord's
        part); asking for all at once makes the total the slowest program's time rather
        than a sum.
        """
        active = ("STARTING", "RUNNING", "BACKOFF", "STOPPING")
        for info in self.all_info():
            if info["statename"] in active:
                with contextlib.suppress(xmlrpc.client.Fault):
                    self.api.supervisor.stopProcess(f"{info['group']}:{info['name']}", False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(i["statename"] in active for i in self.all_info()):
                return
            time.sleep(0.02)

    def shutdown(self, grace: float = 0.3) -> None:
        """Stop every program, then supervisord itself; return once it is gone.

        supervisord gets a shutdown request once its programs are stopped; its event loop can
        take a second or two to notice, and with no program left there is nothing for it to
        tidy, so after ``grace`` seconds it is sent SIGKILL.
        """
        pid = self.pid()
        with contextlib.suppress(OSError, xmlrpc.client.Fault):
            self.stop_all()
            self.api.supervisor.shutdown()
        if pid is None:
            return
        if not _wait_gone(pid, grace):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5.0)

    # API -----------------------------------------------------------------------
    @property
    def api(self) -> Any:
        """XML-RPC proxy over the unix socket."""
        return xmlrpc.client.ServerProxy(
            "http://localhost", transport=_UnixTransport(str(self.sock))
        )

    def add(self, program: Program) -> None:
        """Write a program's config and load it into the running supervisord."""
        write_atomic(self.conf_d / f"{program.name}.conf", program.render(), mode=0o600)
        if self.alive():
            self.api.supervisor.reloadConfig()
            try:
                self.api.supervisor.addProcessGroup(program.name)
            except xmlrpc.client.Fault as exc:
                if "ALREADY_ADDED" not in exc.faultString:
                    raise OperationError(f"supervisor: {exc.faultString}") from exc

    def remove(self, name: str) -> None:
        """Stop a program and remove it from supervisord."""
        try:
            self.api.supervisor.stopProcessGroup(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                raise OperationError(f"supervisor stop {name}: {exc.faultString}") from exc
        try:
            self.api.supervisor.removeProcessGroup(name)
        except xmlrpc.client.Fault as exc:
            if "BAD_NAME" not in exc.faultString:
                raise OperationError(f"supervisor remove {name}: {exc.faultString}") from exc
        (self.conf_d / f"{name}.conf").unlink(missing_ok=True)

    def start_program(self, name: str) -> None:
        """Start a program without waiting (readiness is checked by the caller)."""
        try:
            self.api.supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as exc:
            if "ALREADY_STARTED" not in exc.faultString:
                raise OperationError(f"supervisor start {name}: {exc.faultString}") from exc

    def stop_program(self, name: str) -> None:
        """Stop a program and wait until it has exited."""
        try:
            self.api.supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString:
                raise OperationError(f"supervisor stop {name}: {exc.faultString}") from exc

    def signal(self, name: str, sig: str) -> None:
        """Send a signal (``"HUP"``, ``"STOP"``, ...) to a running program's process.

        Raises:
            OperationError: the program is not running, or supervisord refused.
        """
        try:
            self.api.supervisor.signalProcess(name, sig)
        except xmlrpc.client.Fault as exc:
            raise OperationError(f"signal {sig} to {name}: {exc.faultString}") from exc

    def info(self, name: str) -> dict[str, Any]:
        """Process info (pid, statename, ...) of one program."""
        return cast(dict[str, Any], self.api.supervisor.getProcessInfo(name))

    def all_info(self) -> list[dict[str, Any]]:
        """Process info of every program."""
        return cast(list[dict[str, Any]], self.api.supervisor.getAllProcessInfo())

    def exited_reason(self, name: str) -> str | None:
        """A reason string if the program is not running (for readiness aborts)."""
        try:
            info = self.info(name)
        except (OSError, xmlrpc.client.Fault):
            return None
        if info["statename"] in ("EXITED", "FATAL", "BACKOFF", "STOPPED"):
            return f"process {info['statename'].lower()} (exit status {info['exitstatus']})"
        return None
