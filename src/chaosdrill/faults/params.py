"""Checks of fault parameters: each bad value names its field and what was expected.

Faults call these from ``validate()`` so that a mistake in a drill file is reported before
anything is injected (``InvalidInputError``, exit code 2, nothing changed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any

from chaosdrill.errors import InvalidInputError

__all__ = [
    "APPLICATION_NAME",
    "IDENTIFIER",
    "check_choice",
    "check_number",
    "check_text",
    "sql_literal",
]

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""An unquoted, lower-case SQL identifier (safe to paste into a statement)."""

APPLICATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,62}$")
"""A PostgreSQL ``application_name`` a fault may set and later look for."""


def _field(name: str) -> str:
    return f"fault.params.{name}"


def check_number(
    kind: str,
    params: dict[str, Any],
    name: str,
    *,
    minimum: float,
    maximum: float = math.inf,
    integer: bool = False,
    optional: bool = False,
) -> None:
    """Require ``params[name]`` to be a finite number (an int if ``integer``) within bounds.

    Booleans are refused although Python counts them as ints: ``true`` for a number is
    always a mistake in a drill file. ``optional``: null is accepted too.
    """
    value = params[name]
    if optional and value is None:
        return
    kinds = int if integer else (int, float)
    what = "an integer" if integer else "a number"
    bounds = f"from {minimum:g}" + ("" if math.isinf(maximum) else f" to {maximum:g}")
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not math.isfinite(value)
        or not minimum <= value <= maximum
    ):
        raise InvalidInputError(
            f"fault {kind!r}: expected {what} {bounds}{' or null' if optional else ''}, "
            f"got {value!r}",
            field=_field(name),
        )


def check_text(
    kind: str,
    params: dict[str, Any],
    name: str,
    *,
    pattern: re.Pattern[str] | None = None,
    expected: str = "a non-empty string",
    optional: bool = False,
) -> None:
    """Require ``params[name]`` to be a non-empty string (matching ``pattern`` if given)."""
    value = params[name]
    if optional and value is None:
        return
    ok = isinstance(value, str) and value.strip() != ""
    if ok and pattern is not None:
        ok = bool(pattern.match(value))
    if not ok:
        raise InvalidInputError(
            f"fault {kind!r}: expected {expected}{' or null' if optional else ''}, got {value!r}",
            field=_field(name),
        )


def check_choice(kind: str, params: dict[str, Any], name: str, choices: Collection[str]) -> None:
    """Require ``params[name]`` to be one of ``choices``."""
    value = params[name]
    if value not in choices:
        raise InvalidInputError(
            f"fault {kind!r}: expected one of {', '.join(sorted(choices))}, got {value!r}",
            field=_field(name),
        )


def sql_literal(value: str) -> str:
    """A string as an SQL literal (quotes doubled) for statements run through ``env.sql``."""
    return "'" + value.replace("'", "''") + "'"
