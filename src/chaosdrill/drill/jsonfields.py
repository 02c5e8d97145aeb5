"""Typed reads of one JSON object, naming the file and dotted field of every bad value.

Drill results (``chaosdrill.drill.model``) and reports (``chaosdrill.report.types``) are JSON
written by chaosdrill, by hand, or cut short by an interrupted drill. Both read it through
``JsonObject`` so that a wrong or missing value is an ``InvalidInputError`` with ``source``
and ``field`` (``drills[1].score.grade``, ``measurements.recovery.mttr_s``), not a
``KeyError`` somewhere in a renderer. The module lives in ``drill/`` because the report layer
already depends on the drill layer, never the other way round; it depends only on
``chaosdrill.errors``.

Every read copies what it returns (lists, free-form objects), so a typed value never shares
mutable state with the JSON it was read from; integers stay integers, so a file read and
written again is the same.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaosdrill.errors import InvalidInputError

__all__ = ["JsonObject"]

_LONGEST_MESSAGE = 300
"""Error messages are cut here, so a huge bad value (a whole journal) is not printed."""


class _Missing(enum.Enum):
    """The type of ``_MISSING``: no default given, so an absent key is an error."""

    MISSING = enum.auto()


_MISSING = _Missing.MISSING
_LIST = (list, tuple)
"""JSON arrays: lists from a parsed file, tuples from a model's ``to_json`` in memory."""


@dataclass(frozen=True)
class JsonObject:
    """One JSON object and where it sits: the file and the dotted path to it.

    Attributes:
        data: the object.
        source: the file (or other origin) it was read from, for error messages.
        path: dotted path of this object inside the file ('' at the top).

    The typed reads take an optional ``default``: returned when the key is absent (and, for
    lists, when it is null); without one, an absent key is an error ("missing").
    """

    data: Mapping[str, Any]
    source: str | None = None
    path: str = ""

    @classmethod
    def of(cls, value: Any, source: str | None = None, path: str = "") -> JsonObject:
        """Wrap ``value``; InvalidInputError when it is not a JSON object."""
        if not isinstance(value, Mapping):
            raise InvalidInputError(
                f"expected a JSON object, got {type(value).__name__}",
                source=source,
                field=path or None,
            )
        return cls(value, source, path)

    def at(self, key: str | int) -> str:
        """The dotted path of ``key`` (a member name, or an index) inside this object."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, message: str) -> InvalidInputError:
        """The error for a bad value at ``key`` (the message cut at 300 characters)."""
        return InvalidInputError(message[:_LONGEST_MESSAGE], source=self.source, field=self.at(key))

    def has(self, key: str) -> bool:
        """Whether ``key`` is present (even when null)."""
        return key in self.data

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

    def _value(self, key: str, default: object) -> object:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.fail(key, "missing")
        return default

    def _wrong(self, key: str | int, what: str, value: Any) -> InvalidInputError:
        return self.fail(key, f"expected {what}, got {value!r}")

    def text(self, key: str, default: str | _Missing = _MISSING) -> str:
        """A string."""
        value = self._value(key, default)
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def opt_text(self, key: str) -> str | None:
        """A string or null (null when absent)."""
        value = self._value(key, None)
        if value is not None and not isinstance(value, str):
            raise self._wrong(key, "a string or null", value)
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """A string, one of ``allowed``."""
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def flag(self, key: str, default: bool | _Missing = _MISSING) -> bool:
        """A boolean."""
        value = self._value(key, default)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false", value)
        return value

    def integer(self, key: str, default: int | _Missing = _MISSING) -> int:
        """An integer (not a boolean)."""
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer", value)
        return value

    def opt_integer(self, key: str) -> int | None:
        """An integer or null (null when absent)."""
        value = self._value(key, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._wrong(key, "an integer or null", value)
        return value

    def number(self, key: str, default: float | _Missing = _MISSING) -> float:
        """A number (not a boolean); an int stays an int so the JSON reads back the same."""
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, "a number", value)
        return value

    def opt_number(self, key: str) -> float | None:
        """A number or null (null when absent)."""
        value = self._value(key, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise self._wrong(key, "a number or null", value)
        return value

    def _list(self, key: str, default: Sequence[Any] | _Missing, what: str) -> list[Any]:
        value = self._value(key, default)
        if value is None and default is not _MISSING:
            value = default
        if not isinstance(value, _LIST):
            raise self._wrong(key, what, value)
        return list(value)

    def array(self, key: str, default: Sequence[Any] | _Missing = _MISSING) -> list[Any]:
        """A list (a copy), its items unchecked; null reads as ``default`` when one is given."""
        return self._list(key, default, "a list")

    def texts(self, key: str, default: Sequence[str] | _Missing = _MISSING) -> tuple[str, ...]:
        """A list of strings (null reads as ``default`` when one is given)."""
        items = self._list(key, default, "a list of strings")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self._wrong(f"{key}[{i}]", "a string", item)
        return tuple(items)

    def child(self, key: str) -> JsonObject:
        """A nested object (required)."""
        return JsonObject.of(self._value(key, _MISSING), self.source, self.at(key))

    def opt_child(self, key: str) -> JsonObject | None:
        """A nested object, or None when absent or null."""
        value = self._value(key, None)
        return None if value is None else JsonObject.of(value, self.source, self.at(key))

    def children(self, key: str, default: Sequence[Any] | _Missing = _MISSING) -> list[JsonObject]:
        """Each object of a list of objects (null reads as ``default`` when one is given)."""
        where = self.at(key)
        return [
            JsonObject.of(item, self.source, f"{where}[{i}]")
            for i, item in enumerate(self.array(key, default))
        ]

    def members(self) -> Iterator[tuple[str, JsonObject]]:
        """Every member of this object, each an object itself (a name -> object map)."""
        for name, value in self.data.items():
            yield name, JsonObject.of(value, self.source, self.at(name))

    def free(self, key: str, default: Mapping[str, Any] | _Missing = _MISSING) -> dict[str, Any]:
        """A free-form object (fault parameters, environment, event detail), deep-copied."""
        value = self._value(key, default)
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object", value)
        return copy.deepcopy(dict(value))

    def opt_free(self, key: str) -> dict[str, Any] | None:
        """A free-form object or null (null when absent), deep-copied."""
        return None if self._value(key, None) is None else self.free(key)
