"""What load to run: rate, users, workers, duration and the flows' mix."""

from __future__ import annotations

import json
from collections.abc import Callable
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
        flows: a workspace target's flows (``Flow.to_dict()`` of each); None: the
            reference target's built-in flows (:data:`FLOWS`).
    """

    rate: float = 20.0
    users: int = 10
    workers: int = 0
    duration_s: float = 3600.0
    courses: int = 500
    timeout_s: float = 5.0
    weights: dict[str, int] = field(default_factory=lambda: dict(FLOWS))
    flows: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.flows is not None and self.weights == FLOWS:  # the target's own defaults
            object.__setattr__(
                self, "weights", {str(f["name"]): int(f.get("weight", 1)) for f in self.flows}
            )
        checks: list[tuple[str, type, Callable[[Any], bool], str]] = [
            ("rate", float, lambda v: 0 < v <= 5000, "a number above 0, up to 5000"),
            ("users", int, lambda v: 1 <= v <= 1000, "an integer from 1 to 1000"),
            ("workers", int, lambda v: 0 <= v <= 16, "an integer from 0 to 16"),
            ("duration_s", float, lambda v: 0 < v <= 86400, "0 to 86400 seconds"),
            ("courses", int, lambda v: v >= 1, "an integer >= 1"),
            ("timeout_s", float, lambda v: 0 < v <= 120, "0 to 120 seconds"),
        ]
        for name, kind, ok, expected in checks:
            value = getattr(self, name)
            allowed = int | float if kind is float else int
            if isinstance(value, bool) or not isinstance(value, allowed) or not ok(value):
                raise InvalidInputError(f"expected {expected}, got {value!r}", field=name)
        if self.workers and self.users < self.workers:
            raise InvalidInputError(
                f"expected at least one user per worker ({self.workers}), got {self.users}",
                field="users",
            )
        self._check_weights()

    def flow_names(self) -> list[str]:
        """The names of the flows the weights are for."""
        return list(FLOWS) if self.flows is None else [str(f["name"]) for f in self.flows]

    def _check_weights(self) -> None:
        weights = self.weights
        names = self.flow_names()
        valid = (
            isinstance(weights, dict)
            and set(weights) <= set(names)
            and all(
                isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in weights.values()
            )
            and any(w > 0 for w in weights.values())
        )
        if not valid:
            raise InvalidInputError(
                f"expected integer weights (0 or more) for {', '.join(names)}, at least one "
                f"above 0, got {weights!r}",
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
