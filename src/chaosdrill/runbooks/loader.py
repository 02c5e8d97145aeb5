"""Build the typed runbook model from validated YAML files.

A file is read by :mod:`chaosdrill.yamlsource` (which keeps the line of every key), checked
against its JSON Schema (``schemas/runbook.schema.json``), then checked for what a schema
cannot say: operation names and their arguments against the ``Environment`` protocol,
placeholders (none spliced into shell or SQL text, see :mod:`chaosdrill.runbooks.binding`),
unique step names, and the name matching the file. Every mistake is an
:class:`~chaosdrill.errors.InvalidInputError` with file, line, field and what was expected;
loading never changes anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from chaosdrill.runbooks.binding import shell_problem, sql_problem
from chaosdrill.runbooks.model import (
    ENVIRONMENT_PLACEHOLDERS,
    OPERATIONS,
    Action,
    Check,
    Comparison,
    Condition,
    HttpAction,
    HttpCheck,
    OpAction,
    OpCheck,
    Param,
    ParamValue,
    PromqlCheck,
    Runbook,
    RunbookStep,
    ShellAction,
    SqlCheck,
    find_placeholders,
)
from chaosdrill.yamlsource import YamlDocument, load_schema, load_yaml, validate, yaml_files

__all__ = ["load_runbook", "load_runbooks"]

_ORDERING = ("at_least", "at_most", "greater_than", "less_than")
_TYPE_NAMES: Mapping[type, str] = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
}


# --- building models from documents --------------------------------------------------------


def _statuses(value: int | list[int] | None) -> tuple[int, ...]:
    if value is None:
        return (200,)
    return (value,) if isinstance(value, int) else tuple(value)


def _comparison(data: Mapping[str, Any] | None) -> Comparison | None:
    if data is None:
        return None
    ((operator, value),) = data.items()
    return Comparison(operator, value)


def _action(data: Mapping[str, Any]) -> Action:
    if "op" in data:
        return OpAction(data["op"], MappingProxyType(dict(data.get("args", {}))))
    if "shell" in data:
        return ShellAction(data["shell"], data.get("exit_code", 0))
    return HttpAction(
        data["http"],
        data.get("method", "GET"),
        _statuses(data.get("status")),
        data.get("count", 1),
        data.get("json"),
    )


def _check(data: Mapping[str, Any]) -> Check:
    if "http" in data:
        count = data.get("count", 1)
        return HttpCheck(
            data["http"],
            data.get("method", "GET"),
            _statuses(data.get("status")),
            count,
            data.get("min_ok", count),
            data.get("json"),
        )
    if "sql" in data:
        expect = _comparison(data["expect"])
        assert expect is not None  # required by the schema
        return SqlCheck(data["sql"], expect, data.get("node"))
    if "op" in data:
        return OpCheck(
            data["op"],
            MappingProxyType(dict(data.get("args", {}))),
            data.get("path"),
            _comparison(data.get("expect")),
        )
    expect = _comparison(data["expect"])
    assert expect is not None
    return PromqlCheck(
        data["promql"], expect, data.get("window", "2m"), data.get("if_empty", "fail")
    )


class _RunbookChecker:
    """The checks a JSON Schema cannot express, each pointing at its line."""

    def __init__(self, doc: YamlDocument, params: Mapping[str, ParamValue]) -> None:
        self.doc = doc
        self.params = params

    def placeholders(self, value: Any, path: tuple[str | int, ...], window: bool) -> None:
        """Every placeholder in every string under ``value`` is known."""
        if isinstance(value, Mapping):
            for k, v in value.items():
                self.placeholders(v, (*path, k), k == "promql")
            return
        if isinstance(value, list):
            for i, v in enumerate(value):
                self.placeholders(v, (*path, i), window)
            return
        if not isinstance(value, str):
            return
        known = (*ENVIRONMENT_PLACEHOLDERS, *self.params, *(("window",) if window else ()))
        for name in find_placeholders(value):
            if name not in known:
                extra = " ({window} only in a promql query)" if name == "window" else ""
                raise self.doc.error(
                    path,
                    f"unknown placeholder {{{name}}}{extra}; expected one of: "
                    + ", ".join("{" + k + "}" for k in known),
                )

    def value_type(self, value: Any) -> type:
        """The type a value has once placeholders are substituted."""
        if isinstance(value, str):
            names = find_placeholders(value)
            if len(names) == 1 and value == "{" + names[0] + "}" and names[0] in self.params:
                return type(self.params[names[0]])
            return str
        return type(value)

    def operation(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> None:
        """The op name exists and its arguments fit its signature."""
        name = data["op"]
        spec = OPERATIONS.get(name)
        if spec is None:
            hint = difflib.get_close_matches(name, list(OPERATIONS), n=1)
            raise self.doc.error(
                (*path, "op"),
                f"unknown operation {name!r}; expected one of: {', '.join(sorted(OPERATIONS))}"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""),
            )
        args = data.get("args", {})
        by_name = {a.name: a for a in spec.args}
        expected = ", ".join(a.name for a in spec.args) or "none"
        for key, value in args.items():
            arg = by_name.get(key)
            if arg is None:
                raise self.doc.error(
                    (*path, "args", key),
                    f"unknown argument {key!r} of operation {name!r}; expected: {expected}",
                )
            got = self.value_type(value)
            fits = got in arg.types or (float in arg.types and got is int)
            if not fits:
                want = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in arg.types)
                raise self.doc.error(
                    (*path, "args", key),
                    f"expected {want} for {key!r}, got {_TYPE_NAMES.get(got, got.__name__)}",
                )
        for arg in spec.args:
            if arg.required and arg.name not in args:
                raise self.doc.error(
                    (*path, "args"),
                    f"missing argument {arg.name!r} of operation {name!r}; expected: {expected}",
                )

    def comparison(self, data: Mapping[str, Any], path: tuple[str | int, ...], kind: str) -> None:
        """The comparison fits the kind of check it is in."""
        ((operator, value),) = data.items()
        where = (*path, operator)
        if operator == "same_as" and kind != "op":
            raise self.doc.error(
                where, "same_as compares two values of an op result; expected equals, at_least, ..."
            )
        if operator in ("contains", "not_contains") and kind == "promql":
            raise self.doc.error(
                where, "a PromQL value is a number; expected equals, at_least, less_than, ..."
            )
        if operator in _ORDERING and self.value_type(value) not in (int, float):
            raise self.doc.error(
                where, f"expected a number (or a numeric parameter) for {operator}"
            )

    def code(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> None:
        """No value is spliced into a shell command's or a SQL statement's text."""
        if isinstance(data.get("shell"), str):
            problem, where = shell_problem(data["shell"], self.params), (*path, "shell")
        elif isinstance(data.get("sql"), str):
            problem, where = sql_problem(data["sql"]), (*path, "sql")
        elif data.get("op") == "sql" and isinstance(data.get("args", {}).get("statement"), str):
            problem = sql_problem(data["args"]["statement"])
            where = (*path, "args", "statement")
        else:
            return
        if problem is not None:
            raise self.doc.error(where, problem)

    def check(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> None:
        """An op check's operation, any comparison, and min_ok <= count of an http check."""
        kind = next(k for k in ("http", "sql", "op", "promql") if k in data)
        self.code(data, path)
        if kind == "op":
            self.operation(data, path)
            if "path" in data and "expect" not in data:
                raise self.doc.error((*path, "path"), "a path needs an expect comparison")
        if "expect" in data:
            self.comparison(data["expect"], (*path, "expect"), kind)
        if kind == "http" and data.get("min_ok", 1) > data.get("count", 1):
            raise self.doc.error(
                (*path, "min_ok"), f"expected at most count ({data.get('count', 1)}) requests"
            )


def _build_runbook(doc: YamlDocument, stem: str) -> Runbook:
    data = doc.data
    validate(doc, load_schema("runbook"))
    if data["name"] != stem:
        raise doc.error(("name",), f"expected {stem!r}, the file's name without .yaml")
    params = tuple(
        Param(name, p["default"], p["description"]) for name, p in data.get("params", {}).items()
    )
    checker = _RunbookChecker(doc, {p.name: p.default for p in params})
    steps = []
    first_line: dict[str, int] = {}
    for i, s in enumerate(data["steps"]):
        path: tuple[str | int, ...] = ("steps", i)
        if s["name"] in first_line:
            raise doc.error(
                (*path, "name"),
                f"duplicate step name {s['name']!r} (first at line {first_line[s['name']]}); "
                "expected unique step names",
            )
        first_line[s["name"]] = doc.line_of(path)
        checker.placeholders({k: v for k, v in s.items() if k != "name"}, path, False)
        if "action" in s:
            checker.code(s["action"], (*path, "action"))
            if "op" in s["action"]:
                checker.operation(s["action"], (*path, "action"))
        if "check" in s:
            checker.check(s["check"], (*path, "check"))
        when = None
        if "when" in s:
            ((mode, cond),) = s["when"].items()
            checker.check(cond, (*path, "when", mode))
            when = Condition(mode, _check(cond))
        steps.append(
            RunbookStep(
                name=s["name"],
                timeout_s=float(s["timeout_s"]),
                action=_action(s["action"]) if "action" in s else None,
                check=_check(s["check"]) if "check" in s else None,
                when=when,
                note=s.get("note", ""),
                line=doc.line_of(path),
            )
        )
    return Runbook(
        data["name"],
        data["title"],
        data["description"].strip(),
        params,
        tuple(steps),
        doc.source,
        tuple(data.get("requires") or ()),
    )


# --- loaders -------------------------------------------------------------------------------


def load_runbook(path: str | Path) -> Runbook:
    """Load and check one runbook file.

    Raises:
        InvalidInputError: with file, line, field and what was expected.
    """
    return _build_runbook(load_yaml(path), Path(path).stem)


def load_runbooks(directory: str | Path) -> dict[str, Runbook]:
    """Every runbook of a directory by name; one bad file fails the whole load."""
    return {rb.name: rb for rb in map(load_runbook, yaml_files(directory))}
