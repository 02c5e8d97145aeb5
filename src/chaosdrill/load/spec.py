"""What load to run: rate, users, workers, duration and the flows' mix."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaosdrill.errors import InvalidInputError

__all__ = ["FLOWS", "LoadSpec"]

# the reference target's critical user flows and their default weights
FLOWS: dict[str, int] = {"browse": 4, "view_course": 3, "enroll": 2, "my_enrollment": 1}


@dataclass(frozen=True)
class LoadSpec:
    """A load run's settings.

    Args:
        rate: total requests per second to aim for (each user runs at ``rate / users``).
        users: concurrent simulated users.
        workers: 0 runs Locust in one process; N > 0 runs a master and N worker processes.
        duration_s: the run stops by itself after this long (a bound, not the plan).
        courses: course ids to draw from (1..courses).
        timeout_s: per-request timeout; a write that times out is "indeterminate".
        weights: relative weight of each flow.
    """

    rate: float = 20.0
    users: int = 10
    workers: int = 0
    duration_s: float = 3600.0
    courses: int = 500
    timeout_s: float = 5.0
    weights: dict[str, int] = field(default_factory=lambda: dict(FLOWS))

    def __post_init__(self) -> None:
        checks: list[tuple[str, Any, bool, str]] = [
            ("rate", self.rate, 0 < self.rate <= 5000, "a number above 0, up to 5000"),
            ("users", self.users, 1 <= self.users <= 1000, "an integer from 1 to 1000"),
            ("workers", self.workers, 0 <= self.workers <= 16, "an integer from 0 to 16"),
            ("duration_s", self.duration_s, 0 < self.duration_s <= 86400, "0 to 86400 seconds"),
            ("courses", self.courses, self.courses >= 1, "an integer >= 1"),
            ("timeout_s", self.timeout_s, 0 < self.timeout_s <= 120, "0 to 120 seconds"),
        ]
        for name, value, ok, expected in checks:
            if isinstance(value, bool) or not isinstance(value, int | float) or not ok:
                raise InvalidInputError(f"expected {expected}, got {value!r}", field=name)
        if self.workers and self.users < self.workers:
            raise InvalidInputError(
                f"expected at least one user per worker ({self.workers}), got {self.users}",
                field="users",
            )
        unknown = set(self.weights) - set(FLOWS)
        if unknown or not any(w > 0 for w in self.weights.values()):
            raise InvalidInputError(
                f"expected weights for {', '.join(FLOWS)} (at least one above 0), "
                f"got {self.weights!r}",
                field="weights",
            )

    @property
    def per_user_rate(self) -> float:
        """Requests per second each user aims for."""
        return self.rate / self.users

    def to_json(self) -> str:
        """Serialise for the load process."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_file(cls, path: Path) -> LoadSpec:
        """Read a spec written by :meth:`to_json`."""
        return cls(**json.loads(path.read_text()))
