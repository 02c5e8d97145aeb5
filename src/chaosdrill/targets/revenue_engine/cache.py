"""The Redis read-through cache, built to degrade rather than fail.

Every Redis call has short socket timeouts and no retries, so a dead or frozen Redis
costs a request at most about one timeout; on any Redis error the caller gets the value
from the loader (the database) instead. Hits, misses and errors are counted for the
``cache_*_total`` metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

__all__ = ["Cache", "CacheOutcome", "CacheStats", "CacheUnavailableError"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 0.5


class CacheUnavailableError(RuntimeError):
    """The cache client is not open (the app's lifespan has not run) or is closed."""


class CacheOutcome(str, Enum):
    """How a read-through lookup was served (also sent as the ``X-Cache`` header)."""

    HIT = "hit"
    MISS = "miss"
    ERROR = "error"


@dataclass(frozen=True)
class CacheStats:
    """Cumulative lookup outcomes since start.

    Attributes:
        hits: Lookups served from Redis.
        misses: Lookups that found nothing and filled the cache.
        errors: Redis failures (each one served from the loader instead).
    """

    hits: int
    misses: int
    errors: int


class Cache:
    """Read-through cache of byte values over ``redis.asyncio``."""

    def __init__(
        self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, password: str | None = None
    ) -> None:
        self._url = url
        self._password = password
        self._timeout_s = timeout_s
        self._redis: Redis | None = None
        self._hits = 0
        self._misses = 0
        self._errors = 0

    async def open(self) -> None:
        """Create the client (connections are made lazily, on first use)."""
        if self._redis is None:
            self._redis = Redis.from_url(
                self._url,
                password=self._password,
                socket_timeout=self._timeout_s,
                socket_connect_timeout=self._timeout_s,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
                health_check_interval=0,
            )

    async def close(self) -> None:
        """Close the client and its connections."""
        client, self._redis = self._redis, None
        if client is not None:
            await client.aclose()

    def stats(self) -> CacheStats:
        """Return the hit/miss/error counters."""
        return CacheStats(hits=self._hits, misses=self._misses, errors=self._errors)

    def _client(self) -> Redis:
        """Return the open client.

        Raises:
            CacheUnavailableError: if the cache is not open.
        """
        if self._redis is None:
            raise CacheUnavailableError("cache client is not open")
        return self._redis

    async def ping(self) -> None:
        """Send ``PING``.

        Raises:
            CacheUnavailableError, redis.exceptions.RedisError: if Redis is unusable.
        """
        await self._client().ping()

    async def get_or_load(
        self, key: str, loader: Callable[[], Awaitable[bytes]], ttl_s: float
    ) -> tuple[bytes, CacheOutcome]:
        """Return the cached value of ``key``, else load it (and store it for ``ttl_s``).

        Never raises because of Redis: errors are counted and logged at DEBUG, and the
        value comes from ``loader``. Errors of ``loader`` itself propagate.
        """
        try:
            cached = await self._client().get(key)
        except (RedisError, CacheUnavailableError, OSError) as exc:
            self._errors += 1
            logger.debug("cache get %s failed: %s", key, exc)
            return await loader(), CacheOutcome.ERROR
        if cached is not None:
            self._hits += 1
            return bytes(cached), CacheOutcome.HIT
        self._misses += 1
        value = await loader()
        try:
            await self._client().set(key, value, px=max(1, int(ttl_s * 1000)))
        except (RedisError, CacheUnavailableError, OSError) as exc:
            self._errors += 1
            logger.debug("cache set %s failed: %s", key, exc)
        return value, CacheOutcome.MISS
