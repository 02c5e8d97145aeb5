"""A training session's record: where it lives, what it is doing, and who runs it.

One session at a time per environment, in ``<state home>/training/<env name>/`` (0700;
beside the environments' own directories, so a session outlives an environment its runner
took down, and its debrief can still be read):

- ``session.json`` (0600): the session's settings and status (this module), never the
  cause;
- ``events.jsonl`` and ``sealed.json``: the event log and the sealed cause
  (:mod:`chaosdrill.training.log`);
- ``runner.log``: the session runner's own log (trainee-facing commands never print it).

Every trainee-facing command finds the session from the environment's name, so several
terminals join one session by naming the same environment.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from chaosdrill.errors import InvalidInputError
from chaosdrill.paths import write_atomic
from chaosdrill.training.log import SessionLog

__all__ = [
    "SESSION_FILE",
    "Session",
    "SessionInfo",
    "active_session",
    "session_dir",
    "trainee",
]

SESSION_FILE = "session.json"
TRAINEE_VARIABLE = "CHAOSDRILL_TRAINEE"
#: the statuses of a session, in order
STATUSES = ("starting", "steady", "injected", "ending", "ended")


def session_dir(env_name: str) -> Path:
    """The session directory of environment ``env_name``."""
    from chaosdrill.environments.local.state import state_root

    return state_root() / "training" / env_name


def trainee(given: str | None = None) -> str:
    """Who runs a command: ``--as NAME``, else ``$CHAOSDRILL_TRAINEE``, else the OS user."""
    import getpass

    name = (given or os.environ.get(TRAINEE_VARIABLE) or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


@dataclass
class SessionInfo:
    """What ``session.json`` holds (drill seconds unless named ``_production_s``)."""

    id: str
    env_name: str
    plan: str
    plan_name: str
    time_scale: float
    seed: int | None
    scenario: str | None
    started_wall: float
    time_limit_s: float
    resend_s: float
    #: [role, person, drill seconds after the page], in order
    escalation: list[list[Any]]
    roles: Mapping[str, str] = field(default_factory=dict)
    status: str = "starting"
    runner_pid: int | None = None
    runner_create_time: float | None = None
    end_reason: str | None = None
    error: str | None = None
    run_dir: str | None = None
    #: the expected alert's name is what the page shows anyway; kept for the views
    alert: str | None = None
    #: the experiments a diagnosis may name (the whole pool, never singled out)
    causes: list[str] = field(default_factory=list)
    #: how long recovery must hold, production seconds (the plan's, or ``--hold``)
    hold_production_s: float = 1800.0

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(asdict(self), indent=2, default=str)


class Session:
    """The session of one environment (its directory may not exist yet)."""

    def __init__(self, env_name: str, directory: Path | None = None) -> None:
        self.env_name = env_name
        self.directory = directory or session_dir(env_name)
        self.file = self.directory / SESSION_FILE
        self.log = SessionLog(self.directory)
        self.runner_log = self.directory / "runner.log"

    def exists(self) -> bool:
        """Whether a session (running or ended) is recorded here."""
        return self.file.is_file()

    def info(self) -> SessionInfo:
        """The session's settings and status.

        Raises:
            InvalidInputError: no session was started on this environment.
        """
        try:
            data = json.loads(self.file.read_text())
        except FileNotFoundError:
            raise InvalidInputError(
                f"no training session on environment {self.env_name!r}: start one with "
                f"`chaosdrill train start --name {self.env_name}`",
                field="name",
            ) from None
        return SessionInfo(**data)

    def write(self, info: SessionInfo) -> None:
        """Replace ``session.json`` (0600)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        write_atomic(self.file, info.to_json(), mode=0o600)

    def update(self, **changes: Any) -> SessionInfo:
        """Change some fields of ``session.json`` and return the new record."""
        info = self.info()
        for key, value in changes.items():
            setattr(info, key, value)
        self.write(info)
        return info

    def runner_alive(self, info: SessionInfo | None = None) -> bool:
        """Whether the session's runner process still runs (its pid and start time)."""
        info = info or self.info()
        if info.runner_pid is None:
            return False
        try:
            proc = psutil.Process(info.runner_pid)
            if (
                info.runner_create_time is not None
                and abs(proc.create_time() - info.runner_create_time) > 1.0
            ):
                return False
            return proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def running(self) -> bool:
        """Whether a session is under way here (recorded, not ended, its runner alive)."""
        if not self.exists():
            return False
        info = self.info()
        return info.status != "ended" and self.runner_alive(info)

    def clear(self) -> None:
        """Remove an ended (or dead) session's files, to start a new one."""
        if self.directory.exists():
            shutil.rmtree(self.directory)

    def elapsed(self, info: SessionInfo | None = None) -> float:
        """Drill seconds since the session started."""
        info = info or self.info()
        return time.time() - info.started_wall


def active_session(env_name: str) -> Session | None:
    """The session under way on ``env_name``, if one is (for recording operations)."""
    session = Session(env_name)
    try:
        return session if session.running() else None
    except (InvalidInputError, ValueError, TypeError, OSError):
        return None
