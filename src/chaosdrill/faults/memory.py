"""Memory leak switched on at runtime: the ``recommendations_cache`` feature flag.

While the flag is on, every API request leaves a blob (the revision's
``leak_kib_per_request``, 256 KiB by default) in the replica's memory that nothing frees:
resident memory grows with traffic. Turning the flag off stops the growth but frees
nothing, as with a real leak, so the revert also replaces the replicas that hold leaked
memory (a rolling restart, without dropping requests).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaosdrill.environments.base import Environment
from chaosdrill.faults.base import ActionRule, Fault, register

__all__ = ["LEAK_FLAG", "LeakyFeature", "leaked_bytes"]

LEAK_FLAG = "recommendations_cache"
LEAK_METRIC = "recommendations_cache_bytes"


def leaked_bytes(env: Environment) -> dict[str, int]:
    """Memory each replica retains for the leaky feature, from its own ``/metrics``.

    Replicas that do not answer are left out (a replica being replaced holds nothing
    that will outlive it).
    """
    out: dict[str, int] = {}
    for rep in env.deployment_status().replicas:
        with contextlib.suppress(httpx.HTTPError):
            text = httpx.get(f"http://127.0.0.1:{rep.port}/metrics", timeout=2.0).text
            for family in text_string_to_metric_families(text):
                if family.name == LEAK_METRIC and family.samples:
                    out[rep.name] = int(family.samples[0].value)
    return out


@register
class LeakyFeature(Fault):
    """Flag ``recommendations_cache`` set on at runtime: every request leaks memory.

    Reverted by clearing the runtime flag (each replica goes back to its revision's
    value) and, only if some replica still holds leaked memory, a rolling restart: memory
    is not freed by turning the flag off.
    """

    kind = "leaky-feature"

    subsystem = "a feature flag turned on at runtime"
    scenario = "memory-leak"
    resolved_by = (
        ActionRule("clear_flag", "recommendations_cache"),
        ActionRule("set_flag", r"recommendations_cache\W+(false|off|0)"),
    )
    description = "turn on a feature flag whose code retains memory on every request"
    defaults: ClassVar[dict[str, Any]] = {}

    def requires(self) -> tuple[str, ...]:
        """The leaky flag, set at runtime through the reference target's admin API."""
        return ("runtime-flags", f"flag:{LEAK_FLAG}")

    def inject(self, env: Environment) -> None:
        """Turn the flag on on every replica (and for replicas started later)."""
        env.set_flag(LEAK_FLAG, True)

    def revert(self, env: Environment) -> None:
        """Clear the flag; replace the replicas if any still holds leaked memory.

        If the current revision itself has the flag on (a leaky release), the restart is
        skipped: new replicas would leak again, and that release is for a rollback to fix.
        """
        flags = env.clear_flag(LEAK_FLAG)
        if flags.get(LEAK_FLAG, False):
            return
        if any(held > 0 for held in leaked_bytes(env).values()):
            env.rollout_restart()

    def is_active(self, env: Environment) -> bool:
        """True while the flag is on, or a replica still holds leaked memory."""
        if env.get_flags().get(LEAK_FLAG, False):
            return True
        return any(held > 0 for held in leaked_bytes(env).values())
