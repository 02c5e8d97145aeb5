"""Who holds an environment: one drill (or plan, test session, training session) at a time.

Two drills on one environment undo each other: the second re-times the first's alert rules,
stops its load and replays its faults. So whatever runs drills holds the environment for as
long as it runs, with an owner record in the environment's state directory::

    <env root>/holder.json   {"kind": "drill", "label": "bad-release", "pid": 4242,
                              "create_time": ..., "since": ..., "host": ..., "within": null}

written atomically (0600) under an exclusive ``flock`` of ``<env root>/holder.lock``. The
record is held while its process lives: the pid *and* its start time (a reused pid is not the
holder), on this host (a record from another host counts as live: it cannot be checked). A
record whose process is gone is cleared by the next :func:`take` and by :func:`clear_dead`
(``chaosdrill env recover``); a live holder's record is never cleared.

Nesting: a plan (or a test session) holds the environment for all its drills, and each drill
runs in a child process. A process may take a hold that one of its ancestors (or itself)
holds; its record names the ancestor's in ``within`` and is put back on release. A sibling,
or any other process, is refused with :class:`~chaosdrill.errors.EnvironmentBusyError`.

A hold need not belong to the process that takes it: ``take(..., pid=P)`` records process P
(a training session started in the background), which releases it with
``Hold(root, holder).release()`` or leaves it to be cleared once it is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from chaosdrill.errors import EnvironmentBusyError, InvalidInputError
from chaosdrill.paths import write_atomic

__all__ = [
    "HOLDER_FILE",
    "KINDS",
    "Claim",
    "Hold",
    "Holder",
    "clear_dead",
    "current_holder",
    "refuse_if_held",
]

logger = logging.getLogger(__name__)

HOLDER_FILE = "holder.json"
LOCK_FILE = "holder.lock"
KINDS = ("drill", "plan", "test-session", "training")
"""What may hold an environment."""
_SAME_START_S = 0.5  # two start times this close are one process (a pid is not reused so fast)


def _started(pid: int) -> float | None:
    """The start time of process ``pid`` (None: no such process, or a zombie)."""
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except psutil.Error:
        return None


@dataclass(frozen=True)
class Holder:
    """One owner record: what holds the environment, its process, and since when.

    Attributes:
        kind: one of :data:`KINDS`.
        label: the experiment, plan or session it runs.
        pid: the holding process.
        create_time: that process's start time (psutil), so a reused pid is not the holder.
        since: wall-clock time the hold was taken (a label).
        host: the host the process runs on.
        within: the record this one was taken inside (a plan's, for its drill), if any.
    """

    kind: str
    label: str
    pid: int
    create_time: float
    since: float
    host: str
    within: Holder | None = None

    @classmethod
    def of_process(
        cls, kind: str, label: str, pid: int | None = None, within: Holder | None = None
    ) -> Holder:
        """The record of process ``pid`` (default: this one) holding for ``kind`` ``label``.

        Raises:
            InvalidInputError: ``kind`` is not one of :data:`KINDS`, or no process ``pid`` runs.
        """
        if kind not in KINDS:
            raise InvalidInputError(
                f"expected one of {', '.join(KINDS)}, got {kind!r}", field="kind"
            )
        pid = os.getpid() if pid is None else pid
        started = _started(pid)
        if started is None:
            raise InvalidInputError(f"no process {pid} is running", field="pid")
        return cls(kind, label, pid, started, time.time(), socket.gethostname(), within)

    def alive(self) -> bool:
        """True while this very process runs (not a zombie, not a reused pid)."""
        if self.host != socket.gethostname():
            return True  # another host's process cannot be checked from here
        started = _started(self.pid)
        return started is not None and abs(started - self.create_time) <= _SAME_START_S

    def holding(self) -> Holder | None:
        """The innermost record of this chain whose process still runs (None: all gone)."""
        if self.alive():
            return self
        return self.within.holding() if self.within is not None else None

    def is_ancestor_of(self, pid: int) -> bool:
        """True if the holder is process ``pid`` or one of its parents, grandparents, ..."""
        try:
            proc = psutil.Process(pid)
            chain = [proc, *proc.parents()]
        except psutil.Error:
            return False
        for p in chain:
            with contextlib.suppress(psutil.Error):
                if p.pid == self.pid and abs(p.create_time() - self.create_time) <= _SAME_START_S:
                    return True
        return False

    def describe(self) -> str:
        """``drill 'bad-release' (pid 4242, since 2025-05-01 10:00:00 UTC)``, and its plan."""
        wall = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        where = "" if self.host == socket.gethostname() else f" on host {self.host}"
        text = f"{self.kind} {self.label!r} (pid {self.pid}{where}, since {wall})"
        outer = self.within.holding() if self.within is not None else None
        if outer is not None:
            text += f" within {outer.kind} {outer.label!r} (pid {outer.pid})"
        return text

    def to_json(self) -> dict[str, Any]:
        """The record as ``holder.json`` keeps it."""
        return {
            "kind": self.kind,
            "label": self.label,
            "pid": self.pid,
            "create_time": self.create_time,
            "since": self.since,
            "host": self.host,
            "within": None if self.within is None else self.within.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Holder:
        """A record read from ``holder.json``.

        Raises:
            ValueError: ``data`` is not a record this version writes.
        """
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        try:
            within = data.get("within")
            record = cls(
                kind=data["kind"],
                label=data["label"],
                pid=data["pid"],
                create_time=float(data["create_time"]),
                since=float(data["since"]),
                host=data["host"],
                within=None if within is None else cls.from_json(within),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a holder record: {exc!r}") from None
        if not (
            isinstance(record.kind, str)
            and isinstance(record.label, str)
            and isinstance(record.host, str)
            and isinstance(record.pid, int)
            and not isinstance(record.pid, bool)
            and record.pid > 0
        ):
            raise ValueError(f"not a holder record: {data!r}")
        return record


# -- the record on disk ---------------------------------------------------------------------


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """The hold's lock. FileNotFoundError when ``root`` is gone (the environment is down)."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read(root: Path) -> Holder | None:
    """The record in ``root`` (None: none; a torn or unreadable one is named and ignored)."""
    path = root / HOLDER_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("%s cannot be read (%s); treating the environment as not held", path, exc)
        return None
    try:
        return Holder.from_json(json.loads(text))
    except ValueError as exc:
        logger.warning("%s is torn or not a holder record (%s); ignoring it", path, exc)
        return None


def _write(root: Path, holder: Holder | None) -> None:
    path = root / HOLDER_FILE
    if holder is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    write_atomic(path, json.dumps(holder.to_json(), indent=2) + "\n", mode=0o600)


def current_holder(root: Path) -> Holder | None:
    """What holds the environment in ``root`` now (None: nothing live does). Reads only."""
    record = _read(root)
    return record.holding() if record is not None else None


def _refusal(record: Holder | None, pid: int | None) -> Holder | None:
    """The live holder in ``record`` that refuses process ``pid`` (its ancestors do not)."""
    live = record.holding() if record is not None else None
    if live is not None and not live.is_ancestor_of(os.getpid() if pid is None else pid):
        return live
    return None


def refuse_if_held(root: Path, env_name: str | None = None, pid: int | None = None) -> None:
    """Raise EnvironmentBusyError if a live process other than ``pid``'s ancestors holds it.

    For operations that would undo a drill (taking its environment down, bringing it up
    again over it). ``pid`` defaults to this process.
    """
    if not root.is_dir():
        return
    with _locked(root):
        live = _refusal(_read(root), pid)
    if live is not None:
        raise EnvironmentBusyError(env_name or root.name, live)


def clear_dead(root: Path) -> Holder | None:
    """Clear the record of a holder that is gone; return it (None: nothing was cleared).

    A live holder's record is left as it is; a dead drill's record inside a live plan's is
    replaced by the plan's.
    """
    if not root.is_dir():
        return None
    with _locked(root):
        record = _read(root)
        if record is None or record.alive():
            return None
        _write(root, record.holding())
    return record


@dataclass(frozen=True)
class Claim:
    """Who asks to hold an environment: ``kind`` and ``label``, for process ``pid``.

    ``pid`` defaults to the process that takes the hold.
    """

    kind: str
    label: str
    pid: int | None = None

    def take(self, root: Path, env_name: str | None = None) -> Hold:
        """Hold the environment in ``root``; clear a dead holder's record first.

        Raises:
            EnvironmentBusyError: a live process holds it (not this one or an ancestor);
                nothing was changed.
        """
        with _locked(root):
            record = _read(root)
            live = _refusal(record, self.pid)
            if live is not None:
                raise EnvironmentBusyError(env_name or root.name, live)
            cleared = record if record is not None and not record.alive() else None
            outer = record.holding() if record is not None else None
            mine = Holder.of_process(self.kind, self.label, self.pid, within=outer)
            _write(root, mine)
        if cleared is not None:
            logger.warning(
                "cleared the hold of %s: that process is no longer running", cleared.describe()
            )
        return Hold(root, mine, cleared)


class Hold:
    """A hold taken on an environment; :meth:`release` it (twice is fine).

    Args:
        root: the environment's state directory.
        holder: the record that was written.
        cleared: a dead holder's record that taking this hold cleared, if any.
    """

    def __init__(self, root: Path, holder: Holder, cleared: Holder | None = None) -> None:
        self.root = root
        self.holder = holder
        self.cleared = cleared
        self._released = False

    def release(self) -> None:
        """Remove the record (or put back the one it was taken within), if it is still ours.

        Nothing happens when the environment's directory is gone (it was taken down).
        """
        if self._released:
            return
        self._released = True
        try:
            with _locked(self.root):
                if _read(self.root) == self.holder:
                    outer = self.holder.within
                    _write(self.root, outer.holding() if outer is not None else None)
        except FileNotFoundError:
            pass

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Hold({str(self.root)!r}, {self.holder.describe()})"
