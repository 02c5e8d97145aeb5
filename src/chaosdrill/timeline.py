"""The Scribe: a drill's events on one monotonic clock, wall time kept as a label.

Durations (MTTD, MTTR, step times) are differences of ``time.monotonic()`` readings, which
on Linux is one system-wide clock, so readings taken by the pager, the load process and the
drill are comparable. Wall-clock time is only ever a label for people.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Event", "Timeline"]


@dataclass(frozen=True)
class Event:
    """Something that happened during a drill."""

    name: str
    t: float
    wall: str
    detail: dict[str, Any] = field(default_factory=dict)


def _wall(monotonic_t: float) -> str:
    offset = time.time() - time.monotonic()
    return datetime.fromtimestamp(monotonic_t + offset, UTC).isoformat(timespec="milliseconds")


class Timeline:
    """An ordered, thread-safe list of events."""

    def __init__(self) -> None:
        self.origin = time.monotonic()
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def mark(self, name: str, t: float | None = None, **detail: Any) -> Event:
        """Record an event now (or at monotonic time ``t``, e.g. a page's receive time)."""
        when = time.monotonic() if t is None else t
        event = Event(name, when, _wall(when), detail)
        with self._lock:
            self._events.append(event)
            self._events.sort(key=lambda e: e.t)
        return event

    def first(self, name: str) -> Event | None:
        """The earliest event of that name."""
        with self._lock:
            return next((e for e in self._events if e.name == name), None)

    def last(self, name: str) -> Event | None:
        """The latest event of that name."""
        with self._lock:
            return next((e for e in reversed(self._events) if e.name == name), None)

    def since(self, start: str, end: str) -> float | None:
        """Seconds from the first ``start`` event to the first ``end`` event."""
        a, b = self.first(start), self.first(end)
        return None if a is None or b is None else round(b.t - a.t, 3)

    @property
    def events(self) -> list[Event]:
        """A copy of the events, oldest first."""
        with self._lock:
            return list(self._events)

    def to_list(self) -> list[dict[str, Any]]:
        """Events as dicts, with ``offset_s`` from the timeline's origin."""
        return [{**asdict(e), "offset_s": round(e.t - self.origin, 3)} for e in self.events]
