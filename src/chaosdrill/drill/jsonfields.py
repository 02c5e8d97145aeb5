"""Reading typed values out of a drill result's JSON, naming the file and field on a mistake.

A drill result is JSON written by ``chaosdrill run`` (or by hand, or cut short by an
interrupted drill). ``JsonObject`` wraps one JSON object with its source and dotted path so
every typed part of ``DrillResult`` can say exactly which field was wrong
(``InvalidInputError`` with ``source`` and ``field``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chaosdrill.errors import InvalidInputError

__all__ = ["JsonObject"]

_MISSING: Any = object()


@dataclass(frozen=True)
class JsonObject:
    """One JSON object of a result file, with where it came from.

    Attributes:
        data: the object.
        source: the file (or other origin) it was read from, for error messages.
        path: dotted path of this object inside the file ('' at the top).
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

    def where(self, key: str) -> str:
        """Dotted path of ``key`` in this object."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, expected: str, value: Any) -> InvalidInputError:
        """The error for a value of ``key`` that is not ``expected``."""
        return InvalidInputError(
            f"expected {expected}, got {value!r}"[:300], source=self.source, field=self.where(key)
        )

    def has(self, key: str) -> bool:
        """Whether ``key`` is present (even when null)."""
        return key in self.data

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise InvalidInputError("missing", source=self.source, field=self.where(key))
            return default
        return value

    def text(self, key: str, default: Any = _MISSING) -> str:
        """A string (``default`` when absent; without one, absent is an error)."""
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error(key, "a string", value)
        return value

    def opt_text(self, key: str) -> str | None:
        """A string or null (null when absent)."""
        value = self._get(key, None)
        if value is not None and not isinstance(value, str):
            raise self.error(key, "a string or null", value)
        return value

    def flag(self, key: str, default: Any = _MISSING) -> bool:
        """A boolean."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "true or false", value)
        return value

    def integer(self, key: str, default: Any = _MISSING) -> int:
        """An integer (not a boolean)."""
        value: object = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "an integer", value)
        return value

    def opt_integer(self, key: str) -> int | None:
        """An integer or null (null when absent)."""
        value = self._get(key, None)
        return None if value is None else self.integer(key)

    def number(self, key: str, default: Any = _MISSING) -> float:
        """A number (integers are kept as they are, so the JSON reads back the same)."""
        value: object = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, "a number", value)
        return value

    def opt_number(self, key: str) -> float | None:
        """A number or null (null when absent)."""
        value = self._get(key, None)
        return None if value is None else self.number(key)

    def array(self, key: str, default: Any = _MISSING) -> list[Any]:
        """A JSON array (null reads as ``default`` when one is given)."""
        value = self._get(key, default)
        if value is None and default is not _MISSING:
            value = default
        if not isinstance(value, list):
            raise self.error(key, "a list", value)
        return value

    def texts(self, key: str, default: Any = _MISSING) -> tuple[str, ...]:
        """A list of strings."""
        items = self.array(key, default)
        if not all(isinstance(v, str) for v in items):
            raise self.error(key, "a list of strings", items)
        return tuple(items)

    def obj(self, key: str) -> JsonObject:
        """A nested object (required)."""
        return JsonObject.of(self._get(key, _MISSING), self.source, self.where(key))

    def opt_obj(self, key: str) -> JsonObject | None:
        """A nested object, or None when absent or null."""
        value = self._get(key, None)
        return None if value is None else JsonObject.of(value, self.source, self.where(key))

    def objs(self, key: str, default: Any = _MISSING) -> Iterator[JsonObject]:
        """Each object of a list of objects."""
        for i, item in enumerate(self.array(key, default)):
            yield JsonObject.of(item, self.source, f"{self.where(key)}[{i}]")

    def mapping(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        """A free-form object (a copy), e.g. a timeline event's detail."""
        value = self._get(key, default)
        if not isinstance(value, Mapping):
            raise self.error(key, "an object", value)
        return dict(value)
