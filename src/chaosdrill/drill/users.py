"""What the users saw, to the millisecond: the SLO judged over windows ending at any instant.

The load records every request (chaosdrill.load.sli). A window (T - W, T] meets the SLOs
when it holds at least one request, at most 5 % of them failed and its p95 is at most 1 s
(nearest rank: at most ``n - ceil(0.95 n)`` requests slower than 1 s). The first impact is
when the first request that failed or was slow was sent, among those before the first
window that broke the SLOs; a recovery is the end of the first window that met them.
Whole-second buckets would not do: at time scale 30 one drill second is 30 production
seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chaosdrill.load.sli import SliTail, WindowSli

__all__ = [
    "ERROR_SLO",
    "LATENCY_SLO_MS",
    "Impact",
    "first_impact",
    "first_meeting",
    "grid_step",
    "last_breach",
    "meets",
]

ERROR_SLO = 0.05  # the seed's "error rate > 5 %"
LATENCY_SLO_MS = 1000.0  # p95 above 1 s is high latency


def meets(w: WindowSli) -> bool | None:
    """Whether a window meets the SLOs; None when it holds no request (no data, no verdict)."""
    if w.requests == 0:
        return None
    rank = max(1, math.ceil(0.95 * w.requests))
    return w.failures / w.requests <= ERROR_SLO and w.slow <= w.requests - rank


def grid_step(window_s: float) -> float:
    """The step at which window ends are tried: 1 % of the window (10 ms at least)."""
    return max(0.01, window_s / 100.0)


def _ends(start: float, end: float, step: float) -> list[float]:
    n = max(0, math.floor((end - start) / step + 1e-9))
    return [start + i * step for i in range(n + 1)]


@dataclass(frozen=True)
class Impact:
    """The users' first impact: when the first bad request was sent, and the first breach.

    ``seen``: when the first bad request completed (the earliest the service's own metrics
    could count it). ``share`` and ``slow_share``: of the requests sent from the first
    impact to the end of the span asked about, the share that failed and the share slower
    than 1 s.
    """

    first: float
    seen: float
    breach: float
    share: float
    slow_share: float


def first_impact(sli: SliTail, since: float, until: float, window_s: float) -> Impact | None:
    """The first impact after ``since`` (a fault) up to ``until``; None: the SLOs held."""
    breach = next(
        (
            t
            for t in _ends(since, until, grid_step(window_s))
            if meets(sli.sli(t - window_s, t, LATENCY_SLO_MS)) is False
        ),
        None,
    )
    if breach is None:
        return None
    bad = [r for r in sli.requests(since, breach) if r.failed or r.ms > LATENCY_SLO_MS]
    first = max(since, min((r.start for r in bad), default=breach))
    seen = max(since, min((r.end for r in bad), default=breach))
    after = [r for r in sli.requests(first, until) if r.start >= first]
    n = len(after)
    return Impact(
        first=first,
        seen=seen,
        breach=breach,
        share=sum(1 for r in after if r.failed) / n if n else 0.0,
        slow_share=sum(1 for r in after if r.ms > LATENCY_SLO_MS) / n if n else 0.0,
    )


def first_meeting(sli: SliTail, start: float, end: float, window_s: float) -> float | None:
    """The end of the first window in [start, end] that met the SLOs (None: none did)."""
    return next(
        (
            t
            for t in _ends(start, end, grid_step(window_s))
            if meets(sli.sli(t - window_s, t, LATENCY_SLO_MS))
        ),
        None,
    )


def last_breach(sli: SliTail, start: float, end: float, window_s: float) -> float | None:
    """The end of the last window in [start, end] that broke the SLOs (None: none did)."""
    return next(
        (
            t
            for t in reversed(_ends(start, end, grid_step(window_s)))
            if meets(sli.sli(t - window_s, t, LATENCY_SLO_MS)) is False
        ),
        None,
    )
