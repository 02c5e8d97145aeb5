"""Typed reads of one JSON object, with the file and dotted field of every bad value.

The report types (``chaosdrill.report.types``) read report.json through ``JsonObject`` so
that a wrong or missing value is an ``InvalidInputError`` naming the file and the field
(``drills[1].score.grade``), not a ``KeyError`` somewhere in a renderer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chaosdrill.errors import InvalidInputError

__all__ = ["JsonObject"]

_MISSING = object()


@dataclass(frozen=True)
class JsonObject:
    """One JSON object and where it sits: the file and the dotted path to it."""

    data: Mapping[str, Any]
    source: str | None = None
    path: str = ""

    @classmethod
    def of(cls, value: Any, source: str | None = None, path: str = "") -> JsonObject:
        """Wrap ``value``; it must be a JSON object."""
        if not isinstance(value, Mapping):
            raise InvalidInputError(
                f"expected an object, got {type(value).__name__}",
                source=source,
                field=path or None,
            )
        return cls(value, source, path)

    def at(self, key: str | int) -> str:
        """The dotted path of ``key`` inside this object."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> InvalidInputError:
        """The error for a bad value at ``key``."""
        return InvalidInputError(message, source=self.source, field=self.at(key))

    def _value(self, key: str, default: Any = _MISSING) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.fail(key, "missing")
        return default

    def _check(self, key: str, value: Any, kinds: tuple[type, ...], what: str) -> Any:
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"expected {what}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(key, f"expected {what}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        """A required string (``default`` when absent, if one is given)."""
        if key not in self.data and default is not None:
            return default
        return self._check(key, self._value(key), (str,), "a string")  # type: ignore[no-any-return]

    def opt_text(self, key: str) -> str | None:
        """A string or null (null when absent)."""
        v = self._value(key, None)
        return None if v is None else self._check(key, v, (str,), "a string or null")

    def number(self, key: str) -> float:
        """A required number; an int stays an int so the JSON reads back the same."""
        return self._check(key, self._value(key), (int, float), "a number")  # type: ignore[no-any-return]

    def opt_number(self, key: str) -> float | None:
        """A number or null (null when absent)."""
        v = self._value(key, None)
        return None if v is None else self._check(key, v, (int, float), "a number or null")

    def integer(self, key: str) -> int:
        """A required integer."""
        return self._check(key, self._value(key), (int,), "an integer")  # type: ignore[no-any-return]

    def flag(self, key: str) -> bool:
        """A required boolean."""
        return self._check(key, self._value(key), (bool,), "true or false")  # type: ignore[no-any-return]

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """A required string, one of ``allowed``."""
        v = self.text(key)
        if v not in allowed:
            raise self.fail(key, f"expected one of {', '.join(allowed)}, got {v!r}")
        return v

    def texts(self, key: str) -> tuple[str, ...]:
        """A required list of strings."""
        v = self._check(key, self._value(key), (list, tuple), "a list of strings")
        for i, item in enumerate(v):
            if not isinstance(item, str):
                raise InvalidInputError(
                    f"expected a string, got {item!r}",
                    source=self.source,
                    field=self.at(key) + f"[{i}]",
                )
        return tuple(v)

    def array(self, key: str) -> list[Any]:
        """A required list, its items unchecked."""
        return list(self._check(key, self._value(key), (list, tuple), "a list"))

    def child(self, key: str) -> JsonObject:
        """A required nested object."""
        return JsonObject.of(self._value(key), self.source, self.at(key))

    def children(self, key: str) -> list[JsonObject]:
        """A required list of objects."""
        v = self._check(key, self._value(key), (list, tuple), "a list")
        return [
            JsonObject.of(item, self.source, f"{self.at(key)}[{i}]") for i, item in enumerate(v)
        ]

    def members(self) -> Iterator[tuple[str, JsonObject]]:
        """Every member of this object, each an object itself (a name -> object map)."""
        for name, value in self.data.items():
            yield name, JsonObject.of(value, self.source, self.at(name))

    def free(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        """A free-form object (fault parameters, environment, event detail), copied."""
        v = self._value(key, default)
        return copy.deepcopy(dict(self._check(key, v, (dict,), "an object")))

    def opt_free(self, key: str) -> dict[str, Any] | None:
        """A free-form object or null (null when absent), copied."""
        v = self._value(key, None)
        return None if v is None else self.free(key)

    def need(self, keys: tuple[str, ...]) -> None:
        """Refuse an object without each of ``keys`` (members that may be null)."""
        for key in keys:
            if key not in self.data:
                raise self.fail(key, "missing")

    def only(self, allowed: tuple[str, ...]) -> None:
        """Refuse members not in ``allowed`` (where the schema has no additional properties)."""
        for name in self.data:
            if name not in allowed:
                raise self.fail(name, f"unknown field; expected one of: {', '.join(allowed)}")
