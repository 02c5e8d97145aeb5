"""How placeholder values reach shell commands and SQL without being parsed as code.

A value given to a runbook (``--param msg=...``) or taken from the environment is data. It
never becomes part of a shell command's text or of a SQL statement's text:

- a ``shell:`` step receives every value as an environment variable (``{msg}`` as
  ``$CHAOSDRILL_PARAM_MSG``, ``{service_url}`` as ``$CHAOSDRILL_SERVICE_URL``) and writes
  ``"$CHAOSDRILL_PARAM_MSG"`` where it wants the value; the only placeholders its text may
  hold are the programs ``{chaosdrill}`` and ``{python}`` (paths chaosdrill quotes itself);
- a SQL statement (a ``sql`` check, the ``statement`` of ``op: sql``) may hold ``{name}``
  where a value goes; it is sent as a bound parameter, never spliced into the text, so a
  placeholder inside a quoted literal, a quoted identifier, a dollar-quoted string or a
  comment (where it would be text) is refused.

The loader refuses the other forms (:func:`shell_problem`, :func:`sql_problem`), so
``chaosdrill validate`` reports them and such a runbook never runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chaosdrill.runbooks.model import find_placeholders, substitute

__all__ = [
    "SHELL_PROGRAMS",
    "bind_sql",
    "shell_problem",
    "shell_variable",
    "sql_problem",
]

SHELL_PROGRAMS = ("chaosdrill", "python")
"""Placeholders a shell command's text may hold: programs, shell-quoted by chaosdrill."""

_PLACEHOLDER = re.compile(r"\{\{[A-Za-z_]\w*\}\}|(?<!\$)\{([A-Za-z_]\w*)\}")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")


def shell_variable(name: str, param: bool) -> str:
    """The environment variable a shell step reads a placeholder's value from."""
    return f"CHAOSDRILL_{'PARAM_' if param else ''}{name.upper()}"


def shell_problem(command: str, params: Mapping[str, Any]) -> str | None:
    """Why ``command`` may not run as written (a value spliced into shell text), or None."""
    for name in find_placeholders(command):
        if name not in SHELL_PROGRAMS:
            var = shell_variable(name, name in params)
            return (
                f"placeholder {{{name}}} in a shell command would be parsed by the shell; "
                f'expected "${var}" (the value is passed as that environment variable)'
            )
    return None


def _quoted_spans(statement: str) -> list[tuple[int, int, str]]:
    """Spans of ``statement`` that are text, not SQL: quotes, dollar quotes, comments."""
    spans: list[tuple[int, int, str]] = []
    i, n = 0, len(statement)
    while i < n:
        c, start = statement[i], i
        if c in "'\"":
            before = statement[max(i - 2, 0) : i]
            escapes = c == "'" and before[-1:] in ("e", "E") and not before[:-1].isalnum()
            i += 1
            while i < n:
                if escapes and statement[i] == "\\":
                    i += 2
                    continue
                if statement[i] == c:
                    if i + 1 < n and statement[i + 1] == c:
                        i += 2
                        continue
                    break
                i += 1
            spans.append((start, i + 1, "a quoted literal" if c == "'" else "a quoted name"))
        elif statement.startswith("--", i):
            end = statement.find("\n", i)
            i = n if end < 0 else end
            spans.append((start, i, "a comment"))
        elif statement.startswith("/*", i):
            end = statement.find("*/", i + 2)
            i = n if end < 0 else end + 1
            spans.append((start, i + 1, "a comment"))
        elif c == "$" and (tag := _DOLLAR_TAG.match(statement, i)) is not None:
            end = statement.find(tag.group(), tag.end())
            i = n if end < 0 else end + len(tag.group()) - 1
            spans.append((start, i + 1, "a dollar-quoted string"))
        i += 1
    return spans


def sql_problem(statement: str) -> str | None:
    """Why a placeholder of ``statement`` cannot be a bound parameter, or None."""
    spans = _quoted_spans(statement)
    for match in _PLACEHOLDER.finditer(statement):
        if match.group(1) is None:
            continue
        for start, end, what in spans:
            if start <= match.start() < end:
                return (
                    f"placeholder {{{match.group(1)}}} inside {what} of a SQL statement would "
                    "be spliced into its text; expected it where a value goes, unquoted "
                    f"(e.g. where id = {{{match.group(1)}}}): it is sent as a bound parameter"
                )
    return None


def bind_sql(statement: str, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...] | None]:
    """The statement with each ``{name}`` as a ``%s`` parameter, and the values to bind.

    Without placeholders the statement is returned as it is, with no parameters (its ``%``
    stays literal); with them every literal ``%`` is doubled, as bound statements need.
    ``{{name}}`` stays the literal text ``{name}``.
    """
    if not find_placeholders(statement):
        return substitute(statement, {}), None
    bound: list[Any] = []
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(statement):
        parts.append(statement[last : match.start()].replace("%", "%%"))
        if match.group(1) is None:
            parts.append(match.group()[1:-1].replace("%", "%%"))
        else:
            bound.append(values[match.group(1)])
            parts.append("%s")
        last = match.end()
    parts.append(statement[last:].replace("%", "%%"))
    return "".join(parts), tuple(bound)
