"""Feature flags of one running process.

Flags start from the revision and can be flipped at run time through the admin API, the
way an operator kills a misbehaving feature during an incident without a deploy. The
change lives in this process only: a restart returns to the revision's values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["FLAG_NAME_RE", "FeatureFlags"]

FLAG_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Names accepted for flags set through the admin API (keeps metric labels tame)."""


class FeatureFlags:
    """Mutable, in-memory flag set seeded from a revision.

    Reads are plain dict lookups (cheap on the request path); writes replace a single key,
    which is atomic under the event loop.
    """

    def __init__(self, initial: Mapping[str, bool]) -> None:
        self._flags: dict[str, bool] = dict(initial)

    def enabled(self, name: str) -> bool:
        """Return whether ``name`` is on; unknown flags are off."""
        return self._flags.get(name, False)

    def set(self, name: str, enabled: bool) -> None:
        """Turn ``name`` on or off for this process.

        Raises:
            ValueError: if ``name`` is not a lowercase identifier of at most 64 chars.
        """
        if not FLAG_NAME_RE.match(name):
            raise ValueError(
                f"flag name: expected lowercase letters, digits and _ (max 64), got {name!r}"
            )
        self._flags[name] = enabled

    def snapshot(self) -> dict[str, bool]:
        """Return a copy of all flags, sorted by name (for responses and metrics)."""
        return dict(sorted(self._flags.items()))
