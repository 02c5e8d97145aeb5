"""Prometheus rule files: load and check them, scale them to a drill's time scale, write them.

The alerting rules in ``probes/*.rules.yml`` are written in production time (scrape every
15 s, windows of minutes). A drill may run K times faster than production; then every
duration that measures time in a rule is divided by K:

- ``for:`` and ``keep_firing_for:`` of each alerting rule, and a group's ``interval:``;
- every range-selector window (``rate(x[5m])`` -> ``rate(x[5s])`` at K=60);
- every subquery range and resolution (``[10m:1m]`` -> ``[10s:1s]``);
- every ``offset`` (``offset 1h`` -> ``offset 1m``; a negative offset keeps its sign).

Everything else is left exactly as written: label values and other strings, comments,
numbers (thresholds, and also seconds written as plain numbers, such as the second
argument of ``predict_linear`` or a comparison with ``time()``: rules meant to be scaled
should not use those), labels and annotations. PromQL is scanned by a small tokenizer that
skips strings and comments, so a label value such as ``"[5m]"`` or ``"offset 1h"`` is never
touched. Scaled durations are rounded to whole milliseconds (Prometheus accepts ``500ms``).

Example::

    files = load_rule_files(["probes"])
    scaled = [scale_rules(f, k=60, min_window_s=4 * 0.25) for f in files]
    write_rules(scaled, state_dir / "prometheus" / "rules")

Errors are :class:`~chaosdrill.errors.InvalidInputError` naming the file, line, group, rule
and field; nothing is written when any file fails.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from chaosdrill.errors import InvalidInputError

__all__ = [
    "Rule",
    "RuleFile",
    "RuleGroup",
    "alert_names",
    "format_duration",
    "load_rule_file",
    "load_rule_files",
    "parse_duration",
    "scale_duration",
    "scale_expr",
    "scale_rules",
    "write_rules",
]

RULE_FILE_GLOB = "*.rules.yml"
"""Files a directory passed to :func:`load_rule_files` contributes."""

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

_GROUP_KEYS = ("name", "interval", "limit", "rules")
_RULE_KEYS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")


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


def _divide(ms: int, k: float) -> int:
    """``ms / k`` rounded to the nearest millisecond (halves up)."""
    return math.floor(ms / k + 0.5)


def scale_duration(text: str, k: float) -> str:
    """Divide a Prometheus duration by the time scale ``k``: ``scale_duration("2m", 60) == "2s"``.

    Raises:
        ValueError: when ``text`` is not a duration.
        InvalidInputError: when ``k`` is not a number greater than 0.
    """
    _check_k(k)
    return format_duration(_divide(parse_duration(text), k))


def _check_k(k: float) -> None:
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


class _PromQLSyntaxError(ValueError):
    """The scanner found something it cannot read; ``pos`` is the offset in the expression."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


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
    raise _PromQLSyntaxError(f"unterminated string starting with {quote}", start)


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
                    _require_duration(token, "offset", argument.start("duration"))
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
        raise _PromQLSyntaxError(
            f"cannot read {shown!r}: expected a range [5m] or a subquery [10m:1m]", start
        )
    kind: _DurationKind = "subquery range" if match.group("colon") else "range"
    _require_duration(match.group("range"), kind, match.start("range"))
    tokens = [_DurationToken(kind, match.start("range"), match.end("range"), match.group("range"))]
    step = match.group("step")
    if step:
        _require_duration(step, "subquery resolution", match.start("step"))
        tokens.append(
            _DurationToken("subquery resolution", match.start("step"), match.end("step"), step)
        )
    return tokens, match.end()


def _require_duration(text: str, kind: str, pos: int) -> None:
    try:
        parse_duration(text)
    except ValueError as exc:
        raise _PromQLSyntaxError(f"{kind}: {exc}", pos) from None


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
        InvalidInputError: when ``k`` is not > 0, the expression cannot be read, or a
            window becomes shorter than ``min_window_s`` (or zero).
    """
    _check_k(k)
    try:
        return _scale_expr(expr, k, min_window_s)
    except _PromQLSyntaxError as exc:
        raise InvalidInputError(f"{exc} (at character {exc.pos + 1} of {expr!r})") from None


def _scale_expr(expr: str, k: float, min_window_s: float | None) -> str:
    """:func:`scale_expr` without the input checks; raises _PromQLSyntaxError."""
    min_ms = None if min_window_s is None else round(min_window_s * 1000)
    pieces: list[str] = []
    done = 0
    for token in _durations(expr):
        original = parse_duration(token.text)
        scaled = _divide(original, k)
        if token.kind != "offset" and original and not scaled:
            raise _PromQLSyntaxError(
                f"{token.kind} {token.text} divided by K={k:g} rounds to 0 ms", token.start
            )
        is_window = token.kind in ("range", "subquery range")
        if is_window and min_ms is not None and scaled < min_ms:
            raise _PromQLSyntaxError(
                f"{token.kind} [{token.text}] divided by K={k:g} is {format_duration(scaled)}, "
                f"shorter than the minimum window {format_duration(min_ms)}",
                token.start,
            )
        pieces.append(expr[done : token.start])
        pieces.append(token.text if scaled == original else format_duration(scaled))
        done = token.end
    pieces.append(expr[done:])
    return "".join(pieces)


# --- the model -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One alerting or recording rule.

    Attributes:
        name: the alert name (alerting rule) or recorded series name (recording rule).
        kind: ``"alert"`` or ``"record"``.
        expr: the PromQL expression.
        for_: ``for:`` (alerting rules), as written.
        keep_firing_for: ``keep_firing_for:`` (alerting rules), as written.
        labels: labels added to the alert or series.
        annotations: annotations of the alert.
        line: 1-based line of the rule in its file, where known.
        lines: 1-based line of each key's value, where known.
    """

    name: str
    kind: Literal["alert", "record"]
    expr: str
    for_: str | None = None
    keep_firing_for: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The rule as Prometheus reads it (keys in the conventional order)."""
        out: dict[str, Any] = {self.kind: self.name, "expr": self.expr}
        if self.for_ is not None:
            out["for"] = self.for_
        if self.keep_firing_for is not None:
            out["keep_firing_for"] = self.keep_firing_for
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class RuleGroup:
    """A named group of rules evaluated together.

    Attributes:
        name: the group's name (unique within its file).
        rules: the rules, in order.
        interval: the group's evaluation interval, when it overrides the global one.
        limit: the most alerts or series the group may produce (0: no limit).
        line: 1-based line of the group in its file, where known.
    """

    name: str
    rules: tuple[Rule, ...]
    interval: str | None = None
    limit: int | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The group as Prometheus reads it."""
        out: dict[str, Any] = {"name": self.name}
        if self.interval is not None:
            out["interval"] = self.interval
        if self.limit is not None:
            out["limit"] = self.limit
        out["rules"] = [rule.to_dict() for rule in self.rules]
        return out


@dataclass(frozen=True)
class RuleFile:
    """A Prometheus rule file.

    Attributes:
        path: where it was read from (kept through scaling, for messages and file names).
        groups: its groups, in order.
        time_scale: K when the file has been scaled (1.0 as written).
    """

    path: Path
    groups: tuple[RuleGroup, ...]
    time_scale: float = 1.0

    @property
    def alerts(self) -> list[Rule]:
        """Every alerting rule of the file, in order."""
        return [rule for group in self.groups for rule in group.rules if rule.kind == "alert"]

    def to_yaml(self) -> str:
        """The file as YAML (multi-line expressions as literal blocks)."""
        body = {"groups": [group.to_dict() for group in self.groups]}
        return yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=1_000_000, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """A SafeDumper that writes multi-line strings as ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


# --- loading ---------------------------------------------------------------------------


class _Located(dict[str, Any]):
    """A YAML mapping that remembers its line and the line of each value."""

    line: int
    lines: dict[str, int]


def _yaml_to_python(loader: yaml.SafeLoader, node: yaml.Node, source: str) -> Any:
    """Build Python values from a YAML node tree, keeping line numbers of mappings."""
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        mapping = _Located()
        mapping.line = node.start_mark.line + 1
        mapping.lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise InvalidInputError(
                    f"keys must be strings, got {key!r}",
                    source=source,
                    line=key_node.start_mark.line + 1,
                )
            if key in mapping:
                raise InvalidInputError(
                    f"key {key!r} appears twice in the same mapping",
                    source=source,
                    line=key_node.start_mark.line + 1,
                )
            mapping[key] = _yaml_to_python(loader, value_node, source)
            line = value_node.start_mark.line + 1
            if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
                line += 1  # a block scalar's text starts below its indicator
            mapping.lines[key] = line
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_yaml_to_python(loader, item, source) for item in node.value]
    return loader.construct_object(node, deep=True)


def _read_yaml(path: Path) -> Any:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError("no such rule file", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the rule file: {exc}", source=source) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _yaml_to_python(loader, node, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        where = f" (column {mark.column + 1})" if mark else ""
        raise InvalidInputError(
            f"not valid YAML: {problem or exc}{where}",
            source=source,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"not valid YAML: {exc}", source=source) from None
    finally:
        loader.dispose()


@dataclass(frozen=True)
class _Where:
    """Where a value came from, to build error messages."""

    source: str
    line: int | None = None
    group: str | None = None
    rule: str | None = None
    kind: str = "rule"

    def error(
        self, message: str, key: str | None = None, line: int | None = None
    ) -> InvalidInputError:
        """An error naming the file, line, group, rule and ``key``."""
        parts = []
        if self.group is not None:
            parts.append(f"group {self.group!r}")
        if self.rule is not None:
            parts.append(f"{self.kind} {self.rule!r}")
        prefix = ", ".join(parts)
        dotted = ".".join(p for p in (self.group, self.rule, key) if p is not None)
        return InvalidInputError(
            f"{prefix}: {message}" if prefix else message,
            source=self.source,
            line=line or self.line,
            field=dotted or None,
        )


def _mapping(value: Any, where: _Where, what: str) -> _Located:
    if not isinstance(value, _Located):
        raise where.error(f"expected {what} (a mapping), got {type(value).__name__}")
    return value


def _string(value: Any, where: _Where, key: str, line: int | None) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(f"expected a string, got {value!r}", key, line)
    return str(value)


def _duration_field(data: _Located, key: str, where: _Where) -> str | None:
    if key not in data:
        return None
    value = data[key]
    line = data.lines.get(key)
    if not isinstance(value, str):
        raise where.error(f"expected a duration such as 5m, got {value!r}", key, line)
    try:
        parse_duration(value)
    except ValueError as exc:
        raise where.error(str(exc), key, line) from None
    return value


def _string_map(data: _Located, key: str, where: _Where) -> dict[str, str]:
    if key not in data or data[key] is None:
        return {}
    value = data[key]
    line = data.lines.get(key)
    if not isinstance(value, dict):
        raise where.error(f"expected a mapping of names to strings, got {value!r}", key, line)
    out: dict[str, str] = {}
    for name, item in value.items():
        item_line = value.lines.get(name, line) if isinstance(value, _Located) else line
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise where.error(f"expected a string, got {item!r}", f"{key}.{name}", item_line)
        out[name] = str(item)
    return out


def _unknown_keys(data: _Located, allowed: tuple[str, ...], where: _Where) -> None:
    for key in data:
        if key not in allowed:
            raise where.error(
                f"unknown key {key!r}; expected one of: {', '.join(allowed)}",
                key,
                data.lines.get(key),
            )


def _parse_rule(data: Any, where: _Where, index: int) -> Rule:
    located = _mapping(data, replace(where, rule=f"#{index + 1}"), "a rule")
    where = replace(where, line=located.line)
    kinds = [key for key in ("alert", "record") if key in located]
    if len(kinds) != 1:
        raise replace(where, rule=f"#{index + 1}").error(
            "expected exactly one of 'alert' or 'record'"
        )
    kind: Literal["alert", "record"] = "alert" if kinds[0] == "alert" else "record"
    name = _string(located[kind], where, kind, located.lines.get(kind))
    where = replace(where, rule=name, kind="alert" if kind == "alert" else "record")
    _unknown_keys(located, _RULE_KEYS, where)
    if "expr" not in located:
        raise where.error("missing 'expr'", "expr")
    expr = _string(located["expr"], where, "expr", located.lines.get("expr"))
    try:
        for _ in _durations(expr):
            pass
    except _PromQLSyntaxError as exc:
        raise where.error(str(exc), "expr", _expr_line(located.lines, expr, exc.pos)) from None
    if kind == "record":
        for key in ("for", "keep_firing_for", "annotations"):
            if key in located:
                raise where.error(f"a recording rule cannot have {key!r}", key)
    return Rule(
        name=name,
        kind=kind,
        expr=expr,
        for_=_duration_field(located, "for", where),
        keep_firing_for=_duration_field(located, "keep_firing_for", where),
        labels=_string_map(located, "labels", where),
        annotations=_string_map(located, "annotations", where),
        line=located.line,
        lines=dict(located.lines),
    )


def _parse_group(data: Any, where: _Where, index: int) -> RuleGroup:
    located = _mapping(data, replace(where, group=f"#{index + 1}"), "a group")
    if "name" not in located or not isinstance(located["name"], str) or not located["name"]:
        raise replace(where, group=f"#{index + 1}", line=located.line).error(
            "expected a non-empty 'name'", "name"
        )
    where = replace(where, group=located["name"], line=located.line)
    _unknown_keys(located, _GROUP_KEYS, where)
    rules = located.get("rules")
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise where.error("expected a list of rules", "rules", located.lines.get("rules"))
    limit = located.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise where.error(f"expected an integer >= 0, got {limit!r}", "limit")
    return RuleGroup(
        name=located["name"],
        rules=tuple(_parse_rule(rule, where, i) for i, rule in enumerate(rules)),
        interval=_duration_field(located, "interval", where),
        limit=limit,
        line=located.line,
    )


def load_rule_file(path: str | os.PathLike[str]) -> RuleFile:
    """Read and check one Prometheus rule file.

    Checks what Prometheus checks about the structure (known keys, one of alert/record,
    durations, unique group names) and that every duration in every expression can be
    read, so that scaling cannot fail later except for a too-short window.

    Raises:
        InvalidInputError: naming the file, line, group, rule and field.
    """
    file_path = Path(path)
    where = _Where(str(file_path))
    data = _read_yaml(file_path)
    if data is None:
        return RuleFile(file_path, ())
    top = _mapping(data, where, "a mapping with 'groups'")
    _unknown_keys(top, ("groups",), where)
    groups = top.get("groups") or []
    if not isinstance(groups, list):
        raise where.error("expected a list of groups", "groups", top.lines.get("groups"))
    parsed = tuple(_parse_group(group, where, i) for i, group in enumerate(groups))
    seen: set[str] = set()
    for group in parsed:
        if group.name in seen:
            raise replace(where, group=group.name, line=group.line).error(
                "group name is repeated in the same file", "name"
            )
        seen.add(group.name)
    return RuleFile(file_path, parsed)


def _expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        out.extend(sorted(path.glob(RULE_FILE_GLOB)) if path.is_dir() else [path])
    return out


def load_rule_files(paths: Iterable[str | os.PathLike[str]]) -> list[RuleFile]:
    """Read and check rule files; a directory contributes its ``*.rules.yml`` files (sorted).

    Raises:
        InvalidInputError: for the first file that is missing or wrong.
    """
    return [load_rule_file(path) for path in _expand(paths)]


def alert_names(paths: Iterable[str | os.PathLike[str]]) -> set[str]:
    """The names of every alerting rule in the given files (or directories)."""
    return {rule.name for rule_file in load_rule_files(paths) for rule in rule_file.alerts}


# --- scaling and writing -----------------------------------------------------------------


def _expr_line(lines: Mapping[str, int], expr: str, pos: int) -> int | None:
    """The line of character ``pos`` of an expression (exact for ``|`` blocks)."""
    first = lines.get("expr")
    return None if first is None else first + expr.count("\n", 0, pos)


def _scale_field(value: str | None, k: float, where: _Where, key: str, rule: Rule) -> str | None:
    if value is None:
        return None
    original = parse_duration(value)
    scaled = _divide(original, k)
    if original and not scaled:
        raise where.error(f"{value} divided by K={k:g} rounds to 0 ms", key, rule.lines.get(key))
    return value if scaled == original else format_duration(scaled)


def _scale_rule(rule: Rule, k: float, min_window_s: float | None, where: _Where) -> Rule:
    where = replace(where, rule=rule.name, kind=rule.kind, line=rule.line)
    try:
        expr = _scale_expr(rule.expr, k, min_window_s)
    except _PromQLSyntaxError as exc:
        raise where.error(str(exc), "expr", _expr_line(rule.lines, rule.expr, exc.pos)) from None
    return replace(
        rule,
        expr=expr,
        for_=_scale_field(rule.for_, k, where, "for", rule),
        keep_firing_for=_scale_field(rule.keep_firing_for, k, where, "keep_firing_for", rule),
    )


def scale_rules(rule_file: RuleFile, k: float, min_window_s: float | None = None) -> RuleFile:
    """Return ``rule_file`` with every time duration divided by ``k``.

    Scaled: ``for``, ``keep_firing_for``, a group's ``interval``, and in each expression
    every range window, subquery range and resolution, and offset. Nothing else changes.

    Args:
        rule_file: a file read by :func:`load_rule_file`.
        k: the time scale: the drill runs ``k`` times faster than production (``k`` < 1
            slows it down).
        min_window_s: refuse a range window or subquery range that would become shorter
            than this many seconds; pass e.g. 4 x the drill's scrape interval so that every
            ``rate()`` still sees enough samples.

    Raises:
        InvalidInputError: ``k`` is not > 0, or a window would become too short; the
            message names the file, line, group, rule and field.
    """
    _check_k(k)
    if min_window_s is not None and (not math.isfinite(min_window_s) or min_window_s < 0):
        raise InvalidInputError(
            f"the minimum window must be a number of seconds >= 0, got {min_window_s!r}",
            field="min_window_s",
        )
    base = _Where(str(rule_file.path))
    groups = []
    for group in rule_file.groups:
        where = replace(base, group=group.name, line=group.line)
        interval = group.interval
        if interval is not None:
            original = parse_duration(interval)
            scaled_ms = _divide(original, k)
            if original and not scaled_ms:
                raise where.error(
                    f"{interval} divided by K={k:g} rounds to 0 ms", "interval", group.line
                )
            if scaled_ms != original:
                interval = format_duration(scaled_ms)
        rules = tuple(_scale_rule(rule, k, min_window_s, where) for rule in group.rules)
        groups.append(replace(group, rules=rules, interval=interval))
    return replace(rule_file, groups=tuple(groups), time_scale=rule_file.time_scale * k)


def write_rules(rule_files: Iterable[RuleFile], dest_dir: str | os.PathLike[str]) -> list[Path]:
    """Write rule files into ``dest_dir`` under their own file names; return the paths.

    Each file is written to a temporary name and renamed, so a Prometheus reloading at the
    same moment never reads half a file. A scaled file starts with a comment naming its
    source and K.

    Raises:
        InvalidInputError: when two files have the same name.
    """
    files = list(rule_files)
    names: dict[str, Path] = {}
    for rule_file in files:
        name = rule_file.path.name
        if name in names:
            raise InvalidInputError(
                f"two rule files would both be written as {name!r}: "
                f"{names[name]} and {rule_file.path}",
                source=str(rule_file.path),
            )
        names[name] = rule_file.path
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for rule_file in files:
        header = (
            f"# generated by chaosdrill from {rule_file.path} "
            f"at time scale K={rule_file.time_scale:g}; edit the source, not this file\n"
        )
        target = dest / rule_file.path.name
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(header + rule_file.to_yaml(), encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    return written
