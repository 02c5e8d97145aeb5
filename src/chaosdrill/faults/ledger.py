"""The fault ledger: every fault is written down before it is applied, and closed after revert.

A drill can die at any moment (Ctrl-C, SIGTERM, kill -9, a power cut). So each fault is
recorded in an append-only JSON-lines file *before* it is injected, and closed once it has
been reverted; whatever is still open afterwards is a fault that may still be in effect,
and :meth:`FaultLedger.recover` reverts it from its kind and parameters alone. Secret
parameters (a password) are written redacted: a fault reverts without them.

Each line is one event, written with a single ``write`` under an exclusive lock, flushed
and fsync'ed::

    {"event": "open", "id": ..., "kind": ..., "params": {...}, "drill_id": ..., "wall": ..., "pid": ...}
    {"event": "close", "id": ..., "outcome": "reverted", "wall": ..., "pid": ...}
    {"event": "close", "id": ..., "outcome": "discarded", "by": ..., "reason": ..., ...}

A line torn by a crash is skipped when reading, and the next writer starts a new line.

A training session's fault is *sealed* (``open(..., sealed=True)``): its line says
``"kind": "sealed"`` and no parameters, and the kind and parameters go to
``sealed/<id>.json`` (0600) beside the ledger, so nothing that prints the ledger (``env
recover``, ``env status``, a warning in a log) shows the trainees the cause; the entry
still reverts from that file after a kill -9. :attr:`LedgerEntry.label` is what to print.

An entry whose revert can never succeed (a kind this version no longer knows, parameters
its validation now rejects) would stay open for ever; the operator closes it without a
revert with :meth:`FaultLedger.discard` (``chaosdrill env recover --discard ID --reason
TEXT``), which records who (the OS user), when and why.
"""  # noqa: E501

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pwd
import signal
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from chaosdrill.environments.base import Environment
from chaosdrill.errors import InvalidInputError
from chaosdrill.faults.base import Fault, make_fault
from chaosdrill.faults.signals import held
from chaosdrill.paths import fsync_dir, write_atomic

__all__ = [
    "LEDGER_FILE",
    "FaultLedger",
    "LedgerEntry",
    "applied",
    "default_ledger_path",
    "exit_signals",
    "recover_environment",
]

logger = logging.getLogger(__name__)

LEDGER_FILE = "faults.jsonl"
SEALED_DIR = "sealed"
#: what a sealed entry is called wherever an entry is printed
SEALED_LABEL = "sealed (a training session's fault)"


@dataclass
class LedgerEntry:
    """One fault as the ledger knows it.

    Attributes:
        id: the entry's id (``open`` returns it).
        kind: the fault's registry name.
        params: the fault's parameters as recorded before injection (secrets redacted).
        opened_at: wall-clock time of the ``open`` event (a label, not for durations).
        pid: the process that opened it.
        drill_id: the drill it belongs to, if any.
        outcome: how it was closed (None while open).
        closed_at: wall-clock time of the ``close`` event.
        closed_by: the OS user who discarded it (``outcome`` "discarded").
        reason: why it was discarded.
        error: why a recovery could not revert it (set by :meth:`FaultLedger.recover`).
        live: the recovery left it alone because the process that opened it still runs.
        sealed: a training session's fault: print :attr:`label`, never ``kind`` or
            ``params``.
    """

    id: str
    kind: str
    params: dict[str, Any]
    opened_at: float
    pid: int
    drill_id: str | None = None
    outcome: str | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    reason: str | None = None
    error: str | None = field(default=None, compare=False)
    live: bool = field(default=False, compare=False)
    sealed: bool = False

    @property
    def label(self) -> str:
        """What to print for the entry's fault: its kind, or that it is sealed."""
        return SEALED_LABEL if self.sealed else self.kind

    @property
    def is_open(self) -> bool:
        """True until the entry is closed."""
        return self.outcome is None

    def fault(self) -> Fault:
        """The fault this entry records, rebuilt from its kind and parameters."""
        return make_fault(self.kind, self.params)


class FaultLedger:
    """An append-only JSON-lines file of fault events (see the module's docstring).

    Several processes may append to the same ledger: each event is one ``write`` under an
    exclusive ``flock``.

    Args:
        path: the ledger file; it and its directory are created on first write.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # writing ---------------------------------------------------------------------------
    def _append(self, event: dict[str, Any]) -> None:
        line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a torn line before us stays a line of its own
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)  # the new file's name survives a power cut too

    def open(self, fault: Fault, drill_id: str | None = None, *, sealed: bool = False) -> str:
        """Record a fault that is about to be applied; return the entry's id.

        Call it *before* ``inject``: an entry for a fault that was never applied only costs
        a no-op revert, a fault applied without an entry could be left behind. A
        ``sealed`` entry keeps its kind and parameters in a 0600 file of its own (see the
        module's docstring), written before the ledger's line.
        """
        entry_id = uuid.uuid4().hex
        params = fault.to_dict()["params"]  # secrets redacted: see faults.base
        kind = fault.kind
        if sealed:
            self._write_sealed(entry_id, {"kind": kind, "params": params})
            kind, params = "sealed", {}
        self._append(
            {
                "event": "open",
                "id": entry_id,
                "kind": kind,
                "params": params,
                "drill_id": drill_id,
                "wall": time.time(),
                "pid": os.getpid(),
                **({"sealed": True} if sealed else {}),
            }
        )
        return entry_id

    def _sealed_file(self, entry_id: str) -> Path:
        return self.path.parent / SEALED_DIR / f"{entry_id}.json"

    def _write_sealed(self, entry_id: str, data: dict[str, Any]) -> None:
        folder = self.path.parent / SEALED_DIR
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        write_atomic(self._sealed_file(entry_id), json.dumps(data, default=str), mode=0o600)

    def _read_sealed(self, entry_id: str) -> dict[str, Any]:
        try:
            data = json.loads(self._sealed_file(entry_id).read_text())
        except (OSError, ValueError):
            return {"kind": "sealed", "params": {}}  # reverting it then fails: said so
        return data if isinstance(data, dict) else {"kind": "sealed", "params": {}}

    def close(self, entry_id: str, outcome: str = "reverted") -> None:
        """Record that a fault has been reverted (``outcome`` says how).

        Raises:
            InvalidInputError: if no entry has this id.
        """
        if not any(e.id == entry_id for e in self.entries()):
            raise InvalidInputError(f"no ledger entry {entry_id!r} in {self.path}", field="id")
        self._append(
            {
                "event": "close",
                "id": entry_id,
                "outcome": outcome,
                "wall": time.time(),
                "pid": os.getpid(),
            }
        )

    def discard(self, entry_id: str, reason: str, by: str | None = None) -> LedgerEntry:
        """Close an open entry without reverting it, recording who, when and why.

        For an entry whose revert can never succeed; the fault it records, if it is still
        in effect, is the operator's to undo. ``entry_id`` may be a unique prefix of the id.

        Raises:
            InvalidInputError: no reason, or no open entry (or more than one) has this id.
        """
        if not reason.strip():
            raise InvalidInputError("a discarded ledger entry needs a reason", field="reason")
        entry = self._open_entry(entry_id)
        entry.outcome, entry.closed_by, entry.reason = "discarded", by or _os_user(), reason
        entry.closed_at = time.time()
        self._append(
            {
                "event": "close",
                "id": entry.id,
                "outcome": entry.outcome,
                "by": entry.closed_by,
                "reason": reason,
                "wall": entry.closed_at,
                "pid": os.getpid(),
            }
        )
        return entry

    def _open_entry(self, entry_id: str) -> LedgerEntry:
        wanted = entry_id.strip()
        found = [e for e in self.open_entries() if wanted and e.id.startswith(wanted)]
        exact = [e for e in found if e.id == wanted]
        if exact or len(found) == 1:
            return (exact or found)[0]
        why = "several open entries start with" if found else "no open entry has the id"
        raise InvalidInputError(f"{self.path}: {why} {entry_id!r}", field="id")

    # reading ---------------------------------------------------------------------------
    def _events(self) -> Iterator[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        for number, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                logger.warning("%s:%d: skipping a torn or unreadable line", self.path, number)
                continue
            if isinstance(event, dict) and isinstance(event.get("id"), str):
                yield event

    def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first, with its outcome if it was closed."""
        entries: dict[str, LedgerEntry] = {}
        for event in self._events():
            kind = event.get("event")
            if kind == "open" and event["id"] not in entries:
                sealed = bool(event.get("sealed"))
                data = self._read_sealed(event["id"]) if sealed else event
                entries[event["id"]] = LedgerEntry(
                    id=event["id"],
                    kind=str(data.get("kind")),
                    params=dict(data.get("params") or {}),
                    opened_at=float(event.get("wall") or 0.0),
                    pid=int(event.get("pid") or 0),
                    drill_id=event.get("drill_id"),
                    sealed=sealed,
                )
            elif kind == "close" and event["id"] in entries:
                entry = entries[event["id"]]
                entry.outcome = str(event.get("outcome") or "closed")
                entry.closed_at = float(event.get("wall") or 0.0)
                entry.closed_by = event.get("by")
                entry.reason = event.get("reason")
        return list(entries.values())

    def open_entries(self, only: Collection[str] | None = None) -> list[LedgerEntry]:
        """Entries opened and not closed, oldest first (only those in ``only`` if given)."""
        return [e for e in self.entries() if e.is_open and (only is None or e.id in only)]

    # recovery --------------------------------------------------------------------------
    def recover(
        self,
        env: Environment,
        *,
        include_live: bool = False,
        only: Collection[str] | None = None,
    ) -> list[LedgerEntry]:
        """Revert every open entry (or those whose id is in ``only``), newest first.

        Each one that reverts is closed. A revert that raises is logged and its entry stays
        open (``error`` says why), so the next recovery tries again. Entries opened by a
        process that is still running (a drill in progress elsewhere) are left alone
        unless ``include_live``. Stop signals wait until the recovery is done
        (:func:`chaosdrill.faults.signals.held`).

        Returns:
            The open entries that were handled, newest first; those with ``error`` set are
            still open.
        """
        with held():
            return self._recover(env, include_live, only)

    def _recover(
        self, env: Environment, include_live: bool, only: Collection[str] | None
    ) -> list[LedgerEntry]:
        handled = []
        for entry in reversed(self.open_entries(only)):
            if not include_live and _opened_by_live_process(entry):
                entry.error = f"opened by process {entry.pid}, which is still running"
                entry.live = True
                logger.warning("ledger entry %s (%s): %s", entry.id, entry.label, entry.error)
                handled.append(entry)
                continue
            try:
                entry.fault().revert(env)
            except Exception as exc:
                entry.error = f"{type(exc).__name__}" + ("" if entry.sealed else f": {exc}")
                logger.warning(
                    "ledger entry %s (%s) could not be reverted: %s",
                    entry.id,
                    entry.label,
                    entry.error,
                )
            else:
                entry.outcome = "reverted by recovery"
                self.close(entry.id, entry.outcome)
            handled.append(entry)
        return handled


def _opened_by_live_process(entry: LedgerEntry) -> bool:
    """True if the process that opened ``entry`` still runs (and is not a reused pid)."""
    if entry.pid == os.getpid():
        return False
    try:
        proc = psutil.Process(entry.pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= entry.opened_at + 1
    except psutil.Error:
        return False


def _os_user() -> str:
    """The name of the OS user this process runs as (its uid if it has no name)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def default_ledger_path(env: Environment) -> Path:
    """Where an environment's ledger lives: ``<env root>/faults.jsonl``."""
    return env.root / LEDGER_FILE


def recover_environment(env: Environment) -> list[LedgerEntry]:
    """Revert the faults left open in the environment's ledger (``chaosdrill env recover``)."""
    return FaultLedger(default_ledger_path(env)).recover(env)


# applying a fault ------------------------------------------------------------------------
@contextlib.contextmanager
def applied(
    ledger: FaultLedger, fault: Fault, env: Environment, drill_id: str | None = None
) -> Iterator[Fault]:
    """Record, inject, and always revert and close a fault.

    The entry is written before ``inject``; on leaving the block for any reason (an
    exception, KeyboardInterrupt, SystemExit from :func:`exit_signals`) the fault is
    reverted and the entry closed with the reason in its outcome. While the revert runs,
    SIGINT, SIGTERM and SIGHUP are held back and re-delivered afterwards
    (:func:`chaosdrill.faults.signals.held`), so a second Ctrl-C cannot cut a revert
    short. If the revert itself fails the entry stays open for ``recover``.

    Yields:
        The fault, injected.
    """
    fault = fault.bind(env)
    entry_id = ledger.open(fault, drill_id)
    reason: BaseException | None = None
    try:
        fault.inject(env)
        yield fault
    except BaseException as exc:
        reason = exc
        raise
    finally:
        with held():
            fault.revert(env)
            outcome = "reverted" if reason is None else f"reverted after {type(reason).__name__}"
            ledger.close(entry_id, outcome)


_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_for(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    logger.warning("%s received: stopping and reverting", signal.Signals(signum).name)
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def exit_signals() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, SIGTERM SystemExit(143), SIGHUP SystemExit(129).

    Python's default for SIGTERM and SIGHUP is to die at once, skipping every ``finally``;
    inside this block they unwind instead, so :func:`applied` reverts. The previous handlers are put
    back on leaving (as Chaos Toolkit's ``exit_signals`` does). Main thread only.
    """
    previous = {sig: signal.signal(sig, _raise_for) for sig in _HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
