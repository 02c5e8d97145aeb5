"""Client-side SLIs per second: requests, failures, latency percentiles per flow.

Each load process appends raw samples (one JSON line per flow per second, with every
response time) to ``sli-<pid>.jsonl``; :func:`merge` combines the processes' files into one
time series, exactly, since percentiles are computed from the raw samples.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from chaosdrill.paths import write_atomic

__all__ = ["ALL", "SliPoint", "SliRecorder", "SliTail", "merge", "percentile", "write_series"]

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
        self._wall: dict[int, float] = {}

    def record(self, flow: str, response_ms: float, failed: bool) -> None:
        """Add one request's result to the current second."""
        now = time.monotonic()
        second = math.floor(now)
        key = (second, flow)
        self._buckets[key].append(round(response_ms, 2))
        if failed:
            self._failures[key] += 1
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


class SliTail:
    """Reads the samples a running load appends, incrementally (for live decisions).

    Keeps per-second totals of requests, failures and raw latencies for every process file
    under ``run_dir``; call :meth:`poll` to read what was appended since the last call.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._offsets: dict[Path, int] = {}
        self.seconds: dict[int, list[float]] = defaultdict(list)
        self.failures: dict[int, int] = defaultdict(int)

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
                second = int(line["second"])
                self.seconds[second].extend(line["ms"])
                self.failures[second] += int(line["failures"])

    def window(self, start: float, end: float) -> tuple[int, int, float]:
        """Requests, failures and p95 (ms) over whole seconds in [start, end)."""
        values: list[float] = []
        failures = 0
        for second in range(math.ceil(start), math.floor(end)):
            values.extend(self.seconds.get(second, ()))
            failures += self.failures.get(second, 0)
        values.sort()
        return len(values), failures, percentile(values, 95)
