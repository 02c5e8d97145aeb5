"""Prometheus durations and the time scaling of PromQL expressions.

A drill may run K times faster than production; then every duration that measures time
in an alerting rule is divided by K (:mod:`chaosdrill.monitoring.rules` applies this to
whole rule files). In an expression that is:

- every range-selector window (``rate(x[5m])`` -> ``rate(x[5s])`` at K=60);
- every subquery range and resolution (``[10m:1m]`` -> ``[10s:1s]``);
- every ``offset`` (``offset 1h`` -> ``offset 1m``; a negative offset keeps its sign).

Everything else is left exactly as written: label values and other strings, comments,
numbers (thresholds, and also seconds written as plain numbers, such as the second
argument of ``predict_linear`` or a comparison with ``time()``: rules meant to be scaled
should not use those). PromQL is scanned by a small tokenizer that skips strings and
comments, so a label value such as ``"[5m]"`` or ``"offset 1h"`` is never touched. Scaled
durations are rounded to whole milliseconds (Prometheus accepts ``500ms``).

Example::

    scale_expr("rate(x[5m]) offset 1h", 60)   # "rate(x[5s]) offset 1m"
    scale_duration("2m", 60)                   # "2s"
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from chaosdrill.errors import InvalidInputError

__all__ = [
    "PromQLError",
    "check_expr",
    "check_time_scale",
    "divide_duration",
    "format_duration",
    "parse_duration",
    "scale_duration",
    "scale_expr",
]

_UNIT_MS = {
    "y": 365 * 24 * 3_600_000,
    "w": 7 * 24 * 3_600_000,
    "d": 24 * 3_600_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
    "ms": 1,
}
# Prometheus' duration syntax (model.ParseDuration): units in this order, each at most once
_DURATION = re.compile(
    r"(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?"
)
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"[0-9.][0-9A-Za-z.]*(?:[eE][+-][0-9]+)?")
# the inside of [...]: a range, or a subquery range with an optional resolution
_BRACKET = re.compile(r"\[\s*(?P<range>[^\s:\]]*)\s*(?:(?P<colon>:)\s*(?P<step>[^\s\]]*)\s*)?\]")
_OFFSET_ARGUMENT = re.compile(r"\s*-?\s*(?P<duration>[0-9][0-9A-Za-z]*)")


# --- durations -------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """Parse a Prometheus duration (``1h30m``, ``500ms``, ``0``) into milliseconds.

    Raises:
        ValueError: when ``text`` is not a Prometheus duration.
    """
    if text == "0":
        return 0
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            f"{text!r} is not a Prometheus duration (expected e.g. 30s, 5m, 1h30m, 500ms)"
        )
    return sum(int(count) * _UNIT_MS[unit] for unit, count in match.groupdict().items() if count)


def format_duration(ms: int) -> str:
    """Write milliseconds as a Prometheus duration: ``90000`` -> ``1m30s``, ``250`` -> ``250ms``.

    Whole seconds are written in hours, minutes and seconds; anything else in milliseconds.
    """
    if ms < 0:
        raise ValueError(f"a duration cannot be negative: {ms} ms")
    if ms == 0:
        return "0s"
    if ms % 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms // 1000, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{count}{unit}" for count, unit in parts if count)


def divide_duration(ms: int, k: float) -> int:
    """``ms / k`` rounded to the nearest millisecond (halves up); ``k`` is not checked."""
    return math.floor(ms / k + 0.5)


def scale_duration(text: str, k: float) -> str:
    """Divide a Prometheus duration by the time scale ``k``: ``scale_duration("2m", 60) == "2s"``.

    Raises:
        ValueError: when ``text`` is not a duration.
        InvalidInputError: when ``k`` is not a number greater than 0.
    """
    check_time_scale(k)
    return format_duration(divide_duration(parse_duration(text), k))


def check_time_scale(k: float) -> None:
    """Refuse a time scale K that is not a finite number greater than 0.

    Raises:
        InvalidInputError: naming the field ``k``.
    """
    if isinstance(k, bool) or not isinstance(k, int | float) or not math.isfinite(k) or k <= 0:
        raise InvalidInputError(
            f"the time scale K must be a finite number greater than 0, got {k!r}",
            field="k",
        )


# --- the PromQL scanner ----------------------------------------------------------------

_DurationKind = Literal["range", "subquery range", "subquery resolution", "offset"]


@dataclass(frozen=True)
class _DurationToken:
    """One duration found in a PromQL expression: where it is and what it means."""

    kind: _DurationKind
    start: int
    end: int
    text: str


class PromQLError(InvalidInputError):
    """An expression whose durations cannot be read or scaled.

    Attributes:
        reason: what is wrong, without the position (for messages that give a line).
        pos: 0-based offset in the expression where the problem is.
        expr: the expression.
    """

    def __init__(self, reason: str, pos: int, expr: str) -> None:
        super().__init__(f"{reason} (at character {pos + 1} of {expr!r})")
        self.reason = reason
        self.pos = pos
        self.expr = expr


def _skip_string(expr: str, start: int) -> int:
    """Offset just past the string literal opening at ``start`` (quotes: " ' or `)."""
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        char = expr[i]
        if char == "\\" and quote != "`":
            i += 2
            continue
        if char == quote:
            return i + 1
        i += 1
    raise PromQLError(f"unterminated string starting with {quote}", start, expr)


def _durations(expr: str) -> Iterator[_DurationToken]:
    """Yield every time duration of a PromQL expression, skipping strings and comments.

    Ranges and subqueries are the only uses of ``[...]`` in PromQL, and ``offset`` (any
    case) is a keyword wherever it is followed by a duration: as a label name, for
    example in ``by (offset)``, it is followed by something else.
    """
    i = 0
    n = len(expr)
    while i < n:
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
        elif char == "#":
            newline = expr.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif char == "[":
            tokens, i = _bracket(expr, i)
            yield from tokens
        elif char.isdigit() or (char == "." and i + 1 < n and expr[i + 1].isdigit()):
            number = _NUMBER.match(expr, i)
            i = number.end() if number else i + 1
        elif ident := _IDENTIFIER.match(expr, i):
            i = ident.end()
            if ident.group().lower() == "offset":
                argument = _OFFSET_ARGUMENT.match(expr, i)
                if argument:
                    token = argument.group("duration")
                    _require_duration(expr, token, "offset", argument.start("duration"))
                    yield _DurationToken(
                        "offset", argument.start("duration"), argument.end("duration"), token
                    )
                    i = argument.end()
        else:
            i += 1


def _bracket(expr: str, start: int) -> tuple[list[_DurationToken], int]:
    """The durations of the ``[...]`` opening at ``start``, and the offset past its ``]``.

    The brackets hold a range (``[5m]``) or a subquery (``[10m:1m]``, ``[10m:]``).
    """
    match = _BRACKET.match(expr, start)
    if match is None:
        closing = expr.find("]", start)
        shown = expr[start : closing + 1] if closing >= 0 else expr[start:]
        raise PromQLError(
            f"cannot read {shown!r}: expected a range [5m] or a subquery [10m:1m]", start, expr
        )
    kind: _DurationKind = "subquery range" if match.group("colon") else "range"
    _require_duration(expr, match.group("range"), kind, match.start("range"))
    tokens = [_DurationToken(kind, match.start("range"), match.end("range"), match.group("range"))]
    step = match.group("step")
    if step:
        _require_duration(expr, step, "subquery resolution", match.start("step"))
        tokens.append(
            _DurationToken("subquery resolution", match.start("step"), match.end("step"), step)
        )
    return tokens, match.end()


def _require_duration(expr: str, text: str, kind: str, pos: int) -> None:
    try:
        parse_duration(text)
    except ValueError as exc:
        raise PromQLError(f"{kind}: {exc}", pos, expr) from None


def check_expr(expr: str) -> None:
    """Check that every window, subquery and offset of a PromQL expression can be read.

    This is what scaling needs (not a full PromQL parser: ``promtool`` checks the rest),
    so that an expression that passes cannot make :func:`scale_expr` fail later except
    for a window that becomes too short.

    Raises:
        PromQLError: with the offset of the problem in ``expr``.
    """
    for _ in _durations(expr):
        pass


def scale_expr(expr: str, k: float, *, min_window_s: float | None = None) -> str:
    """Divide every window, subquery range and resolution, and offset of ``expr`` by ``k``.

    Args:
        expr: a PromQL expression.
        k: the time scale (the drill runs ``k`` times faster than production).
        min_window_s: refuse range windows and subquery ranges that would become shorter
            than this many seconds (e.g. four scrape intervals of the drill).

    Returns:
        The expression with only those durations replaced.

    Raises:
        InvalidInputError: when ``k`` is not > 0.
        PromQLError: the expression cannot be read, or a window becomes shorter than
            ``min_window_s`` (or zero); the message gives the character, and the error
            its offset.
    """
    check_time_scale(k)
    min_ms = None if min_window_s is None else round(min_window_s * 1000)
    pieces: list[str] = []
    done = 0
    for token in _durations(expr):
        original = parse_duration(token.text)
        scaled = divide_duration(original, k)
        if token.kind != "offset" and original and not scaled:
            raise PromQLError(
                f"{token.kind} {token.text} divided by K={k:g} rounds to 0 ms", token.start, expr
            )
        is_window = token.kind in ("range", "subquery range")
        if is_window and min_ms is not None and scaled < min_ms:
            raise PromQLError(
                f"{token.kind} [{token.text}] divided by K={k:g} is {format_duration(scaled)}, "
                f"shorter than the minimum window {format_duration(min_ms)}",
                token.start,
                expr,
            )
        pieces.append(expr[done : token.start])
        pieces.append(token.text if scaled == original else format_duration(scaled))
        done = token.end
    pieces.append(expr[done:])
    return "".join(pieces)
