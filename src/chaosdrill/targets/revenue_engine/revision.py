"""The revision: the released configuration that decides how the service behaves.

A revision is a small JSON document (version, revision number, settings, feature flags).
Behaviour lives in revisions rather than in code so that a drill can ship a faulty
release (e.g. turn on ``new_checkout`` with a failure rate) and roll it back by restoring
the previous file, exactly like a real deploy and rollback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_FLAGS", "Revision", "RevisionSettings"]

KNOWN_FLAGS: tuple[str, ...] = ("new_checkout", "recommendations_cache", "circuit_breaker")
"""Flags the service understands; any other flag is accepted but has no effect."""

_TOP_LEVEL_KEYS = frozenset({"version", "revision", "settings", "flags", "description"})


def _int_field(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an int no smaller than ``minimum``, else raise ValueError.

    Booleans are rejected although they are ints in Python, because ``true`` in a JSON
    revision is always a mistake for a number.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return value


def _float_field(
    name: str, value: object, *, minimum: float, maximum: float = math.inf, strict: bool = False
) -> float:
    """Return ``value`` as a finite float within bounds, else raise ValueError.

    ``strict`` makes the lower bound exclusive (for timeouts, where 0 makes no sense).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    number = float(value)
    too_low = number <= minimum if strict else number < minimum
    if not math.isfinite(number) or too_low or number > maximum:
        low = f"> {minimum}" if strict else f">= {minimum}"
        high = "" if math.isinf(maximum) else f" and <= {maximum}"
        raise ValueError(f"{name}: expected a number {low}{high}, got {value!r}")
    return number


@dataclass(frozen=True)
class RevisionSettings:
    """Tunable settings of a revision; every field has a safe default.

    Attributes:
        pool_size: Database connections per process (the pool's fixed size).
        pool_timeout_s: Seconds a request waits for a pooled connection before 503.
        cache_ttl_s: Seconds the course list stays in Redis.
        statement_timeout_ms: PostgreSQL ``statement_timeout`` per connection (0: none).
        checkout_failure_rate: Share (0..1) of enrollment writes that fail with 500 while
            flag ``new_checkout`` is on: the "bad release" code path.
        leak_kib_per_request: KiB retained per API request while flag
            ``recommendations_cache`` is on: the "memory leak" feature.
    """

    pool_size: int = 10
    pool_timeout_s: float = 2.0
    cache_ttl_s: float = 30.0
    statement_timeout_ms: int = 5000
    checkout_failure_rate: float = 0.0
    leak_kib_per_request: int = 256

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RevisionSettings:
        """Validate ``data`` (a JSON object) and build settings; missing keys get defaults.

        Raises:
            ValueError: naming the offending field and what was expected; unknown settings
                are rejected so that a typo cannot silently fall back to a default.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"settings: unknown setting(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(known))}"
            )
        d = cls()
        return cls(
            pool_size=_int_field(
                "settings.pool_size", data.get("pool_size", d.pool_size), minimum=1
            ),
            pool_timeout_s=_float_field(
                "settings.pool_timeout_s",
                data.get("pool_timeout_s", d.pool_timeout_s),
                minimum=0.0,
                strict=True,
            ),
            cache_ttl_s=_float_field(
                "settings.cache_ttl_s",
                data.get("cache_ttl_s", d.cache_ttl_s),
                minimum=0.0,
                strict=True,
            ),
            statement_timeout_ms=_int_field(
                "settings.statement_timeout_ms",
                data.get("statement_timeout_ms", d.statement_timeout_ms),
                minimum=0,
            ),
            checkout_failure_rate=_float_field(
                "settings.checkout_failure_rate",
                data.get("checkout_failure_rate", d.checkout_failure_rate),
                minimum=0.0,
                maximum=1.0,
            ),
            leak_kib_per_request=_int_field(
                "settings.leak_kib_per_request",
                data.get("leak_kib_per_request", d.leak_kib_per_request),
                minimum=0,
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict (the inverse of ``from_dict``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _flags_from(data: object) -> dict[str, bool]:
    """Validate the ``flags`` object and merge it over the known flags' defaults (off)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"flags: expected an object of name -> boolean, got {data!r}")
    flags = dict.fromkeys(KNOWN_FLAGS, False)
    for name, enabled in data.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"flags: expected non-empty string names, got {name!r}")
        if not isinstance(enabled, bool):
            raise ValueError(f"flags.{name}: expected true or false, got {enabled!r}")
        flags[name] = enabled
    return flags


@dataclass(frozen=True)
class Revision:
    """One released revision of the service: version, number, settings and flags.

    Attributes:
        version: Human release version, e.g. ``"1.4.0"``.
        revision: Monotonic revision number (>= 0); rollback goes to a lower one.
        settings: Validated settings.
        flags: Initial feature flags: every known flag plus any unknown ones.
        description: Optional free text about the release.
    """

    version: str
    revision: int
    settings: RevisionSettings = field(default_factory=RevisionSettings)
    flags: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(KNOWN_FLAGS, False))
    description: str = ""

    @property
    def unknown_flags(self) -> list[str]:
        """Flags this service does not understand (accepted, reported, ignored)."""
        return sorted(name for name in self.flags if name not in KNOWN_FLAGS)

    @classmethod
    def from_dict(cls, data: object) -> Revision:
        """Validate a decoded JSON revision and build it.

        Raises:
            ValueError: naming the field and what was expected.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"revision: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
        if unknown:
            raise ValueError(
                f"revision: unknown key(s) {', '.join(map(str, unknown))}; "
                f"expected {', '.join(sorted(_TOP_LEVEL_KEYS))}"
            )
        version = data.get("version")
        if not isinstance(version, str) or not version.strip():
            raise ValueError(f"version: expected a non-empty string, got {version!r}")
        if "revision" not in data:
            raise ValueError("revision: expected an integer >= 0, the field is missing")
        number = _int_field("revision", data["revision"], minimum=0)
        settings = data.get("settings", {})
        if not isinstance(settings, Mapping):
            raise ValueError(f"settings: expected an object, got {settings!r}")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise ValueError(f"description: expected a string, got {description!r}")
        return cls(
            version=version.strip(),
            revision=number,
            settings=RevisionSettings.from_dict(settings),
            flags=_flags_from(data.get("flags", {})),
            description=description,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Revision:
        """Read and validate a JSON revision file.

        Raises:
            ValueError: if the file is not valid JSON or not a valid revision (the message
                names the file).
            OSError: if the file cannot be read.
        """
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Return the revision as a JSON-ready dict (round-trips through ``from_dict``)."""
        data: dict[str, Any] = {
            "version": self.version,
            "revision": self.revision,
            "settings": self.settings.to_dict(),
            "flags": dict(self.flags),
        }
        if self.description:
            data["description"] = self.description
        return data
