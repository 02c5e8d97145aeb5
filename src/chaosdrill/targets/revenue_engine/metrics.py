"""Prometheus metrics of one app instance.

Each app owns its own ``CollectorRegistry`` (never the global one), so tests can build
several apps in one process. Request metrics are recorded by the middleware; pool,
cache, flag and leak figures are read from their owners at scrape time by a collector,
so they can never drift from the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .cache import CacheStats
from .db import PoolStats

__all__ = ["HTTP_DURATION_BUCKETS", "Metrics", "StateSources"]

HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class StateSources:
    """Callables that report live state at scrape time.

    Attributes:
        pool: Database pool occupancy.
        cache: Cache hit/miss/error counters.
        flags: Current feature flags.
        leaked_bytes: Bytes held by the ``recommendations_cache`` feature.
    """

    pool: Callable[[], PoolStats]
    cache: Callable[[], CacheStats]
    flags: Callable[[], dict[str, bool]]
    leaked_bytes: Callable[[], int]


class _StateCollector(Collector):
    """Turns :class:`StateSources` into metric families on every scrape."""

    def __init__(self, sources: StateSources) -> None:
        self._sources = sources

    def collect(self) -> Iterable[Metric]:
        """Yield pool gauges, cache counters, flag gauges and the leak gauge."""
        pool = self._sources.pool()
        yield GaugeMetricFamily(
            "db_pool_connections_in_use", "Connections lent to requests.", value=pool.in_use
        )
        yield GaugeMetricFamily(
            "db_pool_connections_waiting",
            "Requests waiting for a pooled connection.",
            value=pool.waiting,
        )
        yield GaugeMetricFamily("db_pool_size", "Configured pool capacity.", value=pool.size)
        cache = self._sources.cache()
        for name, value, text in (
            ("cache_hits", cache.hits, "Cache lookups served from Redis."),
            ("cache_misses", cache.misses, "Cache lookups that missed and filled Redis."),
            ("cache_errors", cache.errors, "Redis failures served from the database instead."),
        ):
            yield CounterMetricFamily(name, text, value=value)
        flags = GaugeMetricFamily(
            "feature_flag_enabled", "1 when the feature flag is on.", labels=["flag"]
        )
        for flag, enabled in self._sources.flags().items():
            flags.add_metric([flag], 1.0 if enabled else 0.0)
        yield flags
        yield GaugeMetricFamily(
            "recommendations_cache_bytes",
            "Memory retained by the recommendations_cache feature.",
            value=self._sources.leaked_bytes(),
        )


class Metrics:
    """The registry of one app, with the request metrics the middleware records."""

    def __init__(self, *, version: str, revision: int, sources: StateSources) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._requests = Counter(
            "http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=HTTP_DURATION_BUCKETS,
            registry=self.registry,
        )
        build = Gauge(
            "build_info",
            "Always 1; labels name the running release.",
            ["version", "revision"],
            registry=self.registry,
        )
        build.labels(version=version, revision=str(revision)).set(1)
        self.registry.register(_StateCollector(sources))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request and record its latency."""
        self._requests.labels(route, method, str(status)).inc()
        self._duration.labels(route, method).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """Return the text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
