"""Client-side SLIs per second: requests, failures, latency percentiles per flow.

Each load process appends raw samples (one JSON line per flow per second, with every
response time, its completion time within the second and which requests failed) to
``sli-<pid>.jsonl``; :func:`merge` combines the processes' files into one time series,
exactly, since percentiles are computed from the raw samples. :class:`SliTail` reads them as
they grow and judges windows ending at any instant, to the millisecond, from the requests
themselves (a drill at time scale 30 must not round a recovery to a whole second: that would
be 30 production seconds).
"""

from __future__ import annotations

import bisect
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from chaosdrill.paths import write_atomic

__all__ = [
    "ALL",
    "Request",
    "SliPoint",
    "SliRecorder",
    "SliTail",
    "WindowSli",
    "merge",
    "percentile",
    "write_series",
]

ALL = "all"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class SliPoint:
    """One flow's figures for one second (keyed by the monotonic clock, wall as a label)."""

    second: int
    wall: float
    flow: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class SliRecorder:
    """Collects samples in the load process and flushes whole seconds to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] = open(path, "a", buffering=1)  # noqa: SIM115 - closed in close()
        self._buckets: dict[tuple[int, str], list[float]] = defaultdict(list)
        self._failures: dict[tuple[int, str], int] = defaultdict(int)
        self._ends: dict[tuple[int, str], list[int]] = defaultdict(list)
        self._failed: dict[tuple[int, str], list[int]] = defaultdict(list)
        self._wall: dict[int, float] = {}

    def record(self, flow: str, response_ms: float, failed: bool) -> None:
        """Add one request's result to the current second (it completed now)."""
        now = time.monotonic()
        second = math.floor(now)
        key = (second, flow)
        if failed:
            self._failures[key] += 1
            self._failed[key].append(len(self._buckets[key]))
        self._buckets[key].append(round(response_ms, 2))
        self._ends[key].append(min(999, int((now - second) * 1000)))
        self._wall.setdefault(second, time.time() - (now - second))

    def flush(self, everything: bool = False) -> None:
        """Write every finished second (or all, at the end)."""
        current = math.floor(time.monotonic())
        for key in sorted(self._buckets):
            second, flow = key
            if second >= current and not everything:
                continue
            samples = self._buckets.pop(key)
            line = {
                "second": second,
                "wall": round(self._wall.get(second, 0.0), 3),
                "flow": flow,
                "failures": self._failures.pop(key, 0),
                "ms": samples,
                # completion of each request, ms into the second; indices of failed ones
                "t": self._ends.pop(key, []),
                "f": self._failed.pop(key, []),
            }
            self._fh.write(json.dumps(line) + "\n")
        for second in [s for s in self._wall if s < current or everything]:
            del self._wall[second]

    def close(self) -> None:
        """Flush everything and close the file."""
        self.flush(everything=True)
        self._fh.close()


def merge(files: Iterable[Path]) -> list[SliPoint]:
    """Combine raw sample files into one series: per second, per flow and for all flows."""
    samples: dict[tuple[int, str], list[float]] = defaultdict(list)
    failures: dict[tuple[int, str], int] = defaultdict(int)
    walls: dict[int, float] = {}
    for path in files:
        with open(path) as fh:
            for raw in fh:
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut by a killed process
                second = int(line["second"])
                walls.setdefault(second, float(line["wall"]))
                for flow in (line["flow"], ALL):
                    samples[(second, flow)].extend(line["ms"])
                    failures[(second, flow)] += int(line["failures"])
    points = []
    for (second, flow), values in sorted(samples.items()):
        values.sort()
        points.append(
            SliPoint(
                second=second,
                wall=walls[second],
                flow=flow,
                requests=len(values),
                failures=failures[(second, flow)],
                p50_ms=percentile(values, 50),
                p95_ms=percentile(values, 95),
                p99_ms=percentile(values, 99),
            )
        )
    return points


def write_series(points: list[SliPoint], path: Path) -> None:
    """Write the merged series as JSON lines (the run's one SLI file)."""
    write_atomic(path, "".join(json.dumps(asdict(p)) + "\n" for p in points))


@dataclass(frozen=True)
class Request:
    """One request as the load saw it: monotonic completion time, latency, failed."""

    end: float
    ms: float
    failed: bool

    @property
    def start(self) -> float:
        """Monotonic time the request was sent."""
        return self.end - self.ms / 1000.0


@dataclass(frozen=True)
class WindowSli:
    """Requests, failures and p95 of the requests that completed in a window."""

    requests: int
    failures: int
    slow: int  # requests slower than the latency threshold asked for
    p95_ms: float

    @property
    def error_share(self) -> float:
        """Share of failed requests (0 without requests)."""
        return self.failures / self.requests if self.requests else 0.0


class SliTail:
    """Reads the samples a running load appends, incrementally (for live decisions).

    Keeps every request (completion time, latency, failed) of every process file under
    ``run_dir``; call :meth:`poll` to read what was appended since the last call. Lines
    written without per-request times (older load runs) count at the middle of their
    second.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._offsets: dict[Path, int] = {}
        self.seconds: dict[int, list[float]] = defaultdict(list)
        self.failures: dict[int, int] = defaultdict(int)
        self._requests: list[Request] = []
        self._ends: list[float] = []
        self._sorted = True

    def poll(self) -> None:
        """Read new complete lines from every sample file."""
        for path in sorted(self.run_dir.glob("sli-*.jsonl")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
            end = data.rfind(b"\n") + 1
            self._offsets[path] = offset + end
            for raw in data[:end].splitlines():
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                self._add(line)

    def _add(self, line: dict[str, object]) -> None:
        second = int(line["second"])  # type: ignore[call-overload]
        ms: list[float] = list(line["ms"])  # type: ignore[call-overload]
        self.seconds[second].extend(ms)
        self.failures[second] += int(line["failures"])  # type: ignore[call-overload]
        ends = line.get("t")
        failed = set(line.get("f") or ())  # type: ignore[call-overload]
        if not isinstance(ends, list) or len(ends) != len(ms):
            ends = [500] * len(ms)  # no per-request times: the middle of the second
            failed = set(range(int(line["failures"])))  # type: ignore[call-overload]
        for i, (offset_ms, latency) in enumerate(zip(ends, ms, strict=True)):
            t = second + offset_ms / 1000.0
            if self._ends and t < self._ends[-1]:
                self._sorted = False
            self._requests.append(Request(t, float(latency), i in failed))
            self._ends.append(t)

    def _order(self) -> None:
        if not self._sorted:
            self._requests.sort(key=lambda r: r.end)
            self._ends = [r.end for r in self._requests]
            self._sorted = True

    def requests(self, start: float, end: float) -> list[Request]:
        """The requests that completed in (start, end], oldest first."""
        self._order()
        lo = bisect.bisect_right(self._ends, start)
        hi = bisect.bisect_right(self._ends, end)
        return self._requests[lo:hi]

    def sli(self, start: float, end: float, slow_ms: float = 1000.0) -> WindowSli:
        """Requests, failures, requests slower than ``slow_ms`` and p95 in (start, end]."""
        inside = self.requests(start, end)
        values = sorted(r.ms for r in inside)
        return WindowSli(
            requests=len(values),
            failures=sum(1 for r in inside if r.failed),
            slow=len(values) - bisect.bisect_right(values, slow_ms),
            p95_ms=percentile(values, 95),
        )

    def window(self, start: float, end: float) -> tuple[int, int, float]:
        """Requests, failures and p95 (ms) of the requests that completed in (start, end]."""
        w = self.sli(start, end)
        return w.requests, w.failures, w.p95_ms
