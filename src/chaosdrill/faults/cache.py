"""Cache outage: Redis stops answering (frozen with SIGSTOP, or stopped).

A frozen Redis is the nastier case and the default: its port stays open and the kernel
still accepts connections, so clients do not fail fast; each cache call waits for the
client's socket timeout (0.5 s in the service) before the service falls back to the
database. Cached pages get slow rather than failing, and ``/health`` reports the cache.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from chaosdrill.environments.base import Environment
from chaosdrill.faults.base import ActionRule, Fault, register
from chaosdrill.faults.params import check_choice

__all__ = ["CacheOutage"]

PING_TIMEOUT_S = 0.5
"""A cache that takes longer than this to answer counts as out (the service's timeout)."""


@register
class CacheOutage(Fault):
    """Redis becomes unresponsive: ``mode`` "freeze" (SIGSTOP, default) or "stop"."""

    kind = "cache-outage"

    subsystem = "the cache (Redis): does it answer?"
    scenario = "high-latency"
    resolved_by = (ActionRule("restart_cache"), ActionRule("start_cache"), ActionRule("thaw_cache"))
    description = "make the cache unresponsive (frozen with SIGSTOP, or stopped)"
    defaults: ClassVar[dict[str, Any]] = {"mode": "freeze"}

    def validate(self) -> None:
        """Check the mode."""
        check_choice(self.kind, self.params, "mode", ("freeze", "stop"))

    def requires(self) -> tuple[str, ...]:
        """A target that uses the cache (else an outage of it would change nothing)."""
        return ("cache",)

    def inject(self, env: Environment) -> None:
        """Freeze or stop Redis."""
        if self.params["mode"] == "freeze":
            env.freeze_cache()
        else:
            env.stop_cache()

    def revert(self, env: Environment) -> None:
        """Thaw Redis and start it if it is not running (both are no-ops otherwise).

        Works whatever the mode recorded: a Redis found frozen is thawed, one found
        stopped is started, and ``start_cache`` waits until it accepts connections.
        """
        env.thaw_cache()
        env.start_cache()

    def is_active(self, env: Environment) -> bool:
        """True while Redis does not answer within 0.5 s."""
        started = time.monotonic()
        status = env.cache_status()
        return not status.up or time.monotonic() - started > PING_TIMEOUT_S
