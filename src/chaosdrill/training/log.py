"""A training session's files: its event log, and the cause kept sealed until the debrief.

A session lives in the environment's state directory, under ``training/`` (0700):

- ``events.jsonl``: every event of the session in order (the session runner's ground truth
  and what the trainees did), one JSON object per line, appended under a lock so that
  several terminals can write at once;
- ``sealed.json`` (0600): the drawn cause. Only the facilitator's view and the debrief
  read it; nothing a trainee runs prints it, and no event carries it.

Times are wall-clock seconds (``time.time()``): the terminals of a team are different
processes, and a person reads the log beside other clocks.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.paths import write_atomic

__all__ = [
    "EVENT_KINDS",
    "RUNNER_KINDS",
    "TRAINEE_KINDS",
    "Event",
    "SealedCause",
    "SessionLog",
    "leaks",
]

#: What a session records, and who records it: the runner (``started``, ``injected``,
#: ``paged``, ``resent``, ``escalated``, ``mitigated``, ``recovered``, ``ended``) or a
#: trainee (the rest).
#: The session runner's ground truth, in the order it happens.
RUNNER_KINDS = (
    "started",
    "injected",
    "paged",
    "resent",
    "escalated",
    "mitigated",
    "recovered",
    "ended",
)
#: What the trainees record.
TRAINEE_KINDS = ("ack", "role", "severity", "update", "note", "diagnose", "hint", "op", "resolve")
EVENT_KINDS = frozenset(RUNNER_KINDS + TRAINEE_KINDS)


@dataclass(frozen=True)
class Event:
    """One event: its order in the log, when, what, who, and what it carried."""

    seq: int
    t: float
    kind: str
    who: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One line of the log."""
        return json.dumps(
            {"seq": self.seq, "t": self.t, "kind": self.kind, "who": self.who, **self.detail},
            sort_keys=False,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """An event read back from a line of the log."""
        rest = {k: v for k, v in data.items() if k not in ("seq", "t", "kind", "who")}
        return cls(int(data["seq"]), float(data["t"]), str(data["kind"]), str(data["who"]), rest)


@dataclass(frozen=True)
class SealedCause:
    """The cause drawn for a session: what the debrief reveals."""

    experiment: str
    kind: str
    title: str
    scenario: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: the experiment file, and the scenario's cause it drills
    path: str = ""
    cause: str = ""

    def words(self) -> list[str]:
        """What must not appear in a trainee's view: the id, the kind, the cause and the title."""
        return [w for w in dict.fromkeys([self.experiment, self.kind, self.cause, self.title]) if w]


def leaks(text: str, sealed: SealedCause) -> list[str]:
    """The sealed words that ``text`` shows (case-insensitive); empty when it shows none."""
    lower = text.lower()
    return [w for w in sealed.words() if w.lower() in lower]


class SessionLog:
    """The files of one session in ``directory`` (made 0700 on first write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.events_file = directory / "events.jsonl"
        self.sealed_file = directory / "sealed.json"

    def _ensure(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure()
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # the sealed cause -----------------------------------------------------------------
    def seal(self, cause: SealedCause) -> None:
        """Write the drawn cause (0600); a session seals one cause, once."""
        with self._locked():
            if self.sealed_file.exists():
                raise InvalidInputError(
                    f"{self.sealed_file} exists: this session already has its cause",
                    field="cause",
                )
            data = {
                "experiment": cause.experiment,
                "kind": cause.kind,
                "title": cause.title,
                "scenario": cause.scenario,
                "params": dict(cause.params),
                "path": cause.path,
                "cause": cause.cause,
            }
            write_atomic(self.sealed_file, json.dumps(data, indent=2), mode=0o600)

    def unseal(self) -> SealedCause:
        """The sealed cause, for the facilitator and the debrief only."""
        data = json.loads(self.sealed_file.read_text())
        return SealedCause(
            str(data["experiment"]),
            str(data["kind"]),
            str(data["title"]),
            str(data["scenario"]),
            dict(data.get("params") or {}),
            str(data.get("path", "")),
            str(data.get("cause", "")),
        )

    # events ---------------------------------------------------------------------------
    def record(self, kind: str, who: str = "", at: float | None = None, **detail: Any) -> Event:
        """Append one event; return it with its order in the log.

        Raises:
            InvalidInputError: an unknown kind, or a detail that would hide the event's own
                fields.
        """
        if kind not in EVENT_KINDS:
            raise InvalidInputError(
                f"unknown event {kind!r}; expected one of: {', '.join(sorted(EVENT_KINDS))}",
                field="kind",
            )
        clash = sorted({"seq", "t", "kind", "who"} & set(detail))
        if clash:
            raise InvalidInputError(f"reserved event fields: {', '.join(clash)}", field="detail")
        with self._locked():
            seq = sum(1 for _ in self._lines())
            event = Event(seq, time.time() if at is None else at, kind, who, detail)
            with open(self.events_file, "a") as out:
                out.write(event.to_json() + "\n")
                out.flush()
                os.fsync(out.fileno())
        return event

    def _lines(self) -> Iterator[str]:
        if not self.events_file.exists():
            return
        with open(self.events_file) as fh:
            for line in fh:
                if line.strip():
                    yield line

    def events(self) -> list[Event]:
        """Every event in order (a torn last line, from a kill mid-write, is skipped)."""
        out = []
        for line in self._lines():
            try:
                out.append(Event.from_dict(json.loads(line)))
            except (ValueError, KeyError):
                continue
        return out
