"""Prometheus rule files: load and check them, scale them to a drill's time scale, write them.

The alerting rules in ``probes/*.rules.yml`` are written in production time (scrape every
15 s, windows of minutes). A drill may run K times faster than production; then every
duration that measures time in a rule is divided by K: ``for:`` and ``keep_firing_for:``
of each alerting rule, a group's ``interval:``, and the windows, subquery ranges and
resolutions, and offsets of every expression (:mod:`chaosdrill.monitoring.promql`).
Labels, annotations and thresholds are left exactly as written. Example::

    files = load_rule_files(["probes"])
    scaled = [scale_rules(f, k=60, min_window_s=4 * 0.25) for f in files]
    write_rules(scaled, state_dir / "prometheus" / "rules")

Files are read by :func:`chaosdrill.yamlsource.load_yaml` (size, alias and nesting limits,
no duplicate keys). Errors are :class:`~chaosdrill.errors.InvalidInputError` naming the
file, line, group, rule and field; nothing is written when any file fails.
"""

from __future__ import annotations

import functools
import math
import operator
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from chaosdrill.errors import InvalidInputError
from chaosdrill.monitoring.promql import (
    PromQLError,
    check_expr,
    check_time_scale,
    divide_duration,
    format_duration,
    parse_duration,
    scale_expr,
)
from chaosdrill.paths import write_atomic
from chaosdrill.yamlsource import YamlDocument, load_yaml

__all__ = [
    "RULE_FILE_GLOB",
    "Rule",
    "RuleFile",
    "RuleGroup",
    "alert_names",
    "load_rule_file",
    "load_rule_files",
    "scale_rules",
    "write_rules",
]

RULE_FILE_GLOB = "*.rules.yml"
"""Files a directory passed to :func:`load_rule_files` contributes."""

_GROUP_KEYS = ("name", "interval", "limit", "rules")
_RULE_KEYS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")

_Key = tuple[str | int, ...]
"""Where a value is in a rule file: ``("groups", 0, "rules", 2, "expr")``."""


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


@dataclass(frozen=True)
class _Where:
    """Which group and rule of which file a value belongs to, to build error messages."""

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


class _Reader:
    """Checks the values of one parsed rule file; ``path`` is a value's place in it."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc

    def value(self, path: _Key) -> Any:
        """The value at ``path`` (which the caller has seen exists)."""
        return functools.reduce(operator.getitem, path, self.doc.data)

    def mapping(self, path: _Key, where: _Where, what: str) -> dict[str, Any]:
        value = self.value(path)
        if not isinstance(value, dict):
            raise where.error(f"expected {what} (a mapping), got {type(value).__name__}")
        return value

    def string(self, path: _Key, where: _Where, key: str) -> str:
        value = self.value(path)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise where.error(f"expected a string, got {value!r}", key, self.doc.value_line(path))
        return str(value)

    def duration(self, path: _Key, where: _Where) -> str | None:
        key = str(path[-1])
        if key not in self.value(path[:-1]):
            return None
        value = self.value(path)
        line = self.doc.value_line(path)
        if not isinstance(value, str):
            raise where.error(f"expected a duration such as 5m, got {value!r}", key, line)
        try:
            parse_duration(value)
        except ValueError as exc:
            raise where.error(str(exc), key, line) from None
        return value

    def string_map(self, path: _Key, where: _Where) -> dict[str, str]:
        key = str(path[-1])
        value = self.value(path[:-1]).get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise where.error(
                f"expected a mapping of names to strings, got {value!r}",
                key,
                self.doc.value_line(path),
            )
        out: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, str | int):
                line = self.doc.value_line((*path, name))
                raise where.error(f"expected a string, got {item!r}", f"{key}.{name}", line)
            out[name] = str(item)
        return out

    def unknown_keys(self, path: _Key, allowed: tuple[str, ...], where: _Where) -> None:
        for key in self.value(path):
            if key not in allowed:
                raise where.error(
                    f"unknown key {key!r}; expected one of: {', '.join(allowed)}",
                    key,
                    self.doc.line_of((*path, key)),
                )

    def rule(self, path: _Key, where: _Where) -> Rule:
        number = f"#{int(path[-1]) + 1}"
        data = self.mapping(path, replace(where, rule=number), "a rule")
        line = self.doc.line_of(path)
        where = replace(where, line=line)
        kinds = [key for key in ("alert", "record") if key in data]
        if len(kinds) != 1:
            raise replace(where, rule=number).error("expected exactly one of 'alert' or 'record'")
        kind: Literal["alert", "record"] = "alert" if kinds[0] == "alert" else "record"
        name = self.string((*path, kind), where, kind)
        where = replace(where, rule=name, kind=kind)
        self.unknown_keys(path, _RULE_KEYS, where)
        if "expr" not in data:
            raise where.error("missing 'expr'", "expr")
        expr = self.string((*path, "expr"), where, "expr")
        lines = {key: self.doc.value_line((*path, key)) for key in data}
        try:
            check_expr(expr)
        except PromQLError as exc:
            raise where.error(exc.reason, "expr", _expr_line(lines, expr, exc.pos)) from None
        if kind == "record":
            for key in ("for", "keep_firing_for", "annotations"):
                if key in data:
                    raise where.error(f"a recording rule cannot have {key!r}", key)
        return Rule(
            name=name,
            kind=kind,
            expr=expr,
            for_=self.duration((*path, "for"), where),
            keep_firing_for=self.duration((*path, "keep_firing_for"), where),
            labels=self.string_map((*path, "labels"), where),
            annotations=self.string_map((*path, "annotations"), where),
            line=line,
            lines=lines,
        )

    def group(self, path: _Key, where: _Where) -> RuleGroup:
        line = self.doc.line_of(path)
        numbered = replace(where, group=f"#{int(path[-1]) + 1}", line=line)
        data = self.mapping(path, numbered, "a group")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise numbered.error("expected a non-empty 'name'", "name")
        where = replace(where, group=name, line=line)
        self.unknown_keys(path, _GROUP_KEYS, where)
        rules = data.get("rules")
        rules = [] if rules is None else rules
        if not isinstance(rules, list):
            line_of_rules = self.doc.value_line((*path, "rules"))
            raise where.error("expected a list of rules", "rules", line_of_rules)
        limit = data.get("limit")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise where.error(f"expected an integer >= 0, got {limit!r}", "limit")
        return RuleGroup(
            name=name,
            rules=tuple(self.rule((*path, "rules", i), where) for i in range(len(rules))),
            interval=self.duration((*path, "interval"), where),
            limit=limit,
            line=line,
        )


def load_rule_file(path: str | os.PathLike[str]) -> RuleFile:
    """Read and check one Prometheus rule file.

    Checks what Prometheus checks about the structure (known keys, one of alert/record,
    durations, unique group names) and that every duration in every expression can be
    read, so that scaling cannot fail later except for a too-short window. An empty file
    (or one holding only comments) has no groups, as for Prometheus.

    Raises:
        InvalidInputError: naming the file, line, group, rule and field; also for a file
            that is missing, too large, not UTF-8, not YAML, or repeats a key
            (:func:`chaosdrill.yamlsource.load_yaml`).
    """
    file_path = Path(path)
    doc = load_yaml(file_path, allow_empty=True)
    if doc.data is None:
        return RuleFile(file_path, ())
    reader = _Reader(doc)
    where = _Where(doc.source)
    top = reader.mapping((), where, "a mapping with 'groups'")
    reader.unknown_keys((), ("groups",), where)
    groups = top.get("groups") or []
    if not isinstance(groups, list):
        raise where.error("expected a list of groups", "groups", doc.value_line(("groups",)))
    parsed = tuple(reader.group(("groups", i), where) for i in range(len(groups)))
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


def _scale_field(
    value: str | None, k: float, where: _Where, key: str, line: int | None
) -> str | None:
    """A ``for``/``keep_firing_for``/``interval`` divided by ``k`` (unchanged text if equal)."""
    if value is None:
        return None
    original = parse_duration(value)
    scaled = divide_duration(original, k)
    if original and not scaled:
        raise where.error(f"{value} divided by K={k:g} rounds to 0 ms", key, line)
    return value if scaled == original else format_duration(scaled)


def _scale_rule(rule: Rule, k: float, min_window_s: float | None, where: _Where) -> Rule:
    where = replace(where, rule=rule.name, kind=rule.kind, line=rule.line)
    try:
        expr = scale_expr(rule.expr, k, min_window_s=min_window_s)
    except PromQLError as exc:
        raise where.error(exc.reason, "expr", _expr_line(rule.lines, rule.expr, exc.pos)) from None
    return replace(
        rule,
        expr=expr,
        for_=_scale_field(rule.for_, k, where, "for", rule.lines.get("for")),
        keep_firing_for=_scale_field(
            rule.keep_firing_for, k, where, "keep_firing_for", rule.lines.get("keep_firing_for")
        ),
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
    check_time_scale(k)
    if min_window_s is not None and (not math.isfinite(min_window_s) or min_window_s < 0):
        raise InvalidInputError(
            f"the minimum window must be a number of seconds >= 0, got {min_window_s!r}",
            field="min_window_s",
        )
    base = _Where(str(rule_file.path))
    groups = []
    for group in rule_file.groups:
        where = replace(base, group=group.name, line=group.line)
        interval = _scale_field(group.interval, k, where, "interval", group.line)
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
        written.append(write_atomic(dest / rule_file.path.name, header + rule_file.to_yaml()))
    return written
