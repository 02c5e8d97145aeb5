"""Time scale: a drill may run K times faster than production.

Scrape and evaluation intervals, alert windows and ``for:`` durations, Alertmanager's
timers, hold periods and the MTTD/MTTR targets are all divided by K; reports show drill
seconds and production-equivalent seconds (the monitoring pipeline's drill seconds x K,
program time once: chaosdrill.drill.timing). The production values are
the seed's targets and common Prometheus settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaosdrill.errors import InvalidInputError

__all__ = ["PRODUCTION", "ProductionTimings", "TimeScale"]


@dataclass(frozen=True)
class ProductionTimings:
    """Timings in production seconds."""

    scrape_interval_s: float = 15.0
    evaluation_interval_s: float = 15.0
    group_wait_s: float = 30.0
    hold_s: float = 1800.0  # the seed's "monitor for 30 minutes"
    mttd_target_s: float = 300.0  # MTTD < 5 min
    mttr_target_s: float = 1800.0  # MTTR < 30 min


PRODUCTION = ProductionTimings()


@dataclass(frozen=True)
class TimeScale:
    """Production timings divided by ``k`` (k = 1 is production speed)."""

    k: float = 1.0
    production: ProductionTimings = PRODUCTION

    def __post_init__(self) -> None:
        if (
            isinstance(self.k, bool)
            or not isinstance(self.k, int | float)
            or not (1 <= self.k <= 1000)
        ):
            raise InvalidInputError(
                f"expected a number from 1 to 1000, got {self.k!r}", field="time_scale"
            )

    def drill(self, production_s: float) -> float:
        """Production seconds -> drill seconds."""
        return production_s / self.k

    @property
    def scrape_interval_s(self) -> float:
        """Prometheus scrape interval in drill seconds."""
        return self.drill(self.production.scrape_interval_s)

    @property
    def evaluation_interval_s(self) -> float:
        """Rule evaluation interval in drill seconds."""
        return self.drill(self.production.evaluation_interval_s)

    @property
    def group_wait_s(self) -> float:
        """Alertmanager group_wait in drill seconds."""
        return self.drill(self.production.group_wait_s)

    @property
    def hold_s(self) -> float:
        """How long steady state must hold after mitigation, in drill seconds."""
        return self.drill(self.production.hold_s)

    @property
    def mttd_target_s(self) -> float:
        """MTTD target in drill seconds."""
        return self.drill(self.production.mttd_target_s)

    @property
    def mttr_target_s(self) -> float:
        """MTTR target in drill seconds."""
        return self.drill(self.production.mttr_target_s)
