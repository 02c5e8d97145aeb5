"""Cache operations: status, flush, stop/start, the seed's ``test:redis`` check."""

from __future__ import annotations

import secrets

import redis

from chaosdrill.environments.base import CacheStatus
from chaosdrill.environments.local import components
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.errors import OperationError
from chaosdrill.readiness import wait_until

__all__ = ["CacheOps"]


class CacheOps:
    """Redis operations of the local environment (mixed into LocalEnvironment)."""

    ctx: LocalContext

    def _client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.ctx.state.ports["redis"],
            socket_timeout=1,
            socket_connect_timeout=1,
        )

    def cache_status(self) -> CacheStatus:
        """Whether Redis answers, with its key count and memory."""
        try:
            with self._client() as r:
                keys = int(r.dbsize())
                mem = int(r.info("memory")["used_memory"])
        except redis.RedisError as exc:
            return CacheStatus(False, error=str(exc))
        return CacheStatus(True, keys, mem)

    def flush_cache(self) -> None:
        """Drop every key."""
        try:
            with self._client() as r:
                r.flushall()
        except redis.RedisError as exc:
            raise OperationError(f"cache flush: {exc}") from exc

    def stop_cache(self) -> None:
        """Stop Redis."""
        self.ctx.supervisor.stop_program("redis")

    def start_cache(self) -> None:
        """Start Redis and wait until it accepts connections."""
        self.ctx.supervisor.start_program("redis")
        try:
            wait_until(components.readiness(self.ctx, "redis"), 15)
        except TimeoutError as exc:
            raise OperationError(f"redis not ready: {exc}") from None

    def check_cache(self) -> str:
        """The seed's ``test:redis``: write a key, read it back, delete it."""
        key, value = f"chaosdrill:check:{secrets.token_hex(4)}", secrets.token_hex(8)
        try:
            with self._client() as r:
                r.set(key, value, ex=30)
                got = r.get(key)
                r.delete(key)
        except redis.RedisError as exc:
            raise OperationError(f"cache check failed: {exc}") from exc
        if got is None or got.decode() != value:
            raise OperationError("cache check failed: the value read back differs")
        return "ok: write, read and delete succeeded"
