"""The service: every long-lived part of one running process, wired together.

Built once by :func:`.app.create_app` and shared by the route handlers.
Building it opens nothing; :meth:`Service.start` and :meth:`Service.stop` (run by the
app's lifespan) open and close the database pool and the cache client, so an app can be
created, inspected and tested without any network.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from .cache import Cache
from .config import Settings
from .db import Database, build_conninfo
from .flags import FeatureFlags
from .metrics import Metrics, StateSources
from .recommendations import RecommendationsCache
from .revision import Revision
from .store import Store

__all__ = ["Service"]

logger = logging.getLogger(__name__)


@dataclass
class Service:
    """Shared state of one process.

    Attributes:
        settings: Process wiring from the environment.
        revision: The release being run.
        flags: Live feature flags (start from the revision, changed by admin).
        db: Connection pool.
        store: Queries.
        cache: Redis read-through cache.
        recommendations: The leaky ``recommendations_cache`` feature.
        metrics: Prometheus registry and request metrics.
        admin_token: Bearer token of the admin API; None disables it.
        rng: Randomness of the ``new_checkout`` failure path (seedable in tests).
    """

    settings: Settings
    revision: Revision
    flags: FeatureFlags
    db: Database
    store: Store
    cache: Cache
    recommendations: RecommendationsCache
    metrics: Metrics
    admin_token: str | None = field(default=None, repr=False)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(
        cls,
        settings: Settings,
        revision: Revision,
        admin_token: str | None,
        *,
        redis_password: str | None = None,
    ) -> Service:
        """Assemble the parts for ``revision``; nothing is opened yet.

        ``redis_password`` (read from ``RE_REDIS_PASSWORD_FILE``) authenticates to a Redis
        URL that carries no password of its own.
        """
        tuning = revision.settings
        conninfo = build_conninfo(
            settings.dsn,
            statement_timeout_ms=tuning.statement_timeout_ms,
            application_name=f"revenue_engine {settings.replica}"[:63],
        )
        db = Database(
            conninfo,
            size=tuning.pool_size,
            timeout_s=tuning.pool_timeout_s,
            name=f"revenue_engine-{settings.replica}",
        )
        cache = Cache(settings.redis_url, password=redis_password)
        flags = FeatureFlags(revision.flags)
        recommendations = RecommendationsCache(tuning.leak_kib_per_request)
        sources = StateSources(
            pool=db.stats,
            cache=cache.stats,
            flags=flags.snapshot,
            leaked_bytes=lambda: recommendations.retained_bytes,
        )
        metrics = Metrics(version=revision.version, revision=revision.revision, sources=sources)
        return cls(
            settings=settings,
            revision=revision,
            flags=flags,
            db=db,
            store=Store(db),
            cache=cache,
            recommendations=recommendations,
            metrics=metrics,
            admin_token=admin_token,
        )

    def note_api_request(self) -> None:
        """Run per-request feature side effects (the leak while its flag is on)."""
        if self.flags.enabled("recommendations_cache"):
            self.recommendations.remember()

    async def start(self) -> None:
        """Open the pool (filled in the background) and the cache client."""
        if self.revision.unknown_flags:
            logger.warning(
                "revision %s has unknown flags (ignored): %s",
                self.revision.revision,
                ", ".join(self.revision.unknown_flags),
            )
        await self.db.open()
        await self.cache.open()
        logger.info(
            "replica %s serving version %s revision %s",
            self.settings.replica,
            self.revision.version,
            self.revision.revision,
        )

    async def stop(self) -> None:
        """Close the cache client and the pool."""
        await self.cache.close()
        await self.db.close()
