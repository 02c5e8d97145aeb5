"""Dependency health checks with a hard time budget.

Each probe runs as its own task and the check waits for it at most the budget; a probe
that overruns is left to finish (or fail) in the background instead of being cancelled,
because cancelling a query on a frozen database can itself block for seconds inside the
driver. While a probe is still pending, later checks wait on that same probe rather
than piling up new ones against a dead dependency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from .errors import short_reason

__all__ = ["HealthChecker"]

Probe = Callable[[], Awaitable[None]]


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a finished probe's exception as retrieved (avoids asyncio's warning)."""
    if not task.cancelled():
        task.exception()


class HealthChecker:
    """Runs named dependency probes concurrently within ``budget_s`` seconds."""

    def __init__(self, probes: Mapping[str, Probe], budget_s: float) -> None:
        self._probes = dict(probes)
        self._budget_s = budget_s
        self._pending: dict[str, asyncio.Task[None]] = {}

    def _task(self, name: str) -> asyncio.Task[None]:
        """Return the running probe ``name`` or start a new one."""
        task = self._pending.get(name)
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():

            async def run() -> None:
                await self._probes[name]()

            task = asyncio.create_task(run(), name=f"health-{name}")
            task.add_done_callback(_retrieve)
            self._pending[name] = task
        return task

    async def check(self) -> dict[str, str]:
        """Return ``{name: "ok" | "error: <reason>"}`` within the budget."""
        tasks = {name: self._task(name) for name in self._probes}
        if not tasks:
            return {}
        await asyncio.wait(tasks.values(), timeout=self._budget_s)
        results: dict[str, str] = {}
        for name, task in tasks.items():
            if not task.done():
                results[name] = "error: timeout"
            elif task.cancelled():
                results[name] = "error: cancelled"
            elif (exc := task.exception()) is not None:
                results[name] = f"error: {short_reason(exc)}"
            else:
                results[name] = "ok"
        return results
