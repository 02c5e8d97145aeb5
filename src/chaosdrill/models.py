"""Typed scenario and runbook models, built from validated YAML files.

A file is read by :mod:`chaosdrill.yamlsource` (which keeps the line of every key), checked
against its JSON Schema (``schemas/*.schema.json``), then checked for what a schema cannot
say: operation names and their arguments against the ``Environment`` protocol, placeholders,
unique step and cause names, severity thresholds in order, and the name matching the file.
Every mistake is an :class:`~chaosdrill.errors.InvalidInputError` with file, line, field and
what was expected; loading never changes anything.

Loaders: :func:`load_scenario`, :func:`load_scenarios`, :func:`load_runbook`,
:func:`load_runbooks`; :func:`check_references` checks names across files (a scenario's
runbooks exist, its alerts are defined in the Prometheus rules).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from chaosdrill.errors import InvalidInputError
from chaosdrill.yamlsource import YamlDocument, load_yaml, validate

__all__ = [
    "COMPARATORS",
    "ENVIRONMENT_PLACEHOLDERS",
    "OPERATIONS",
    "Action",
    "Cause",
    "Check",
    "Comparison",
    "Condition",
    "HttpAction",
    "HttpCheck",
    "Impact",
    "Investigation",
    "OpAction",
    "OpCheck",
    "OperationArg",
    "OperationSpec",
    "Param",
    "PromqlCheck",
    "Runbook",
    "RunbookStep",
    "Scenario",
    "Severity",
    "SeverityLevel",
    "SeverityModel",
    "ShellAction",
    "SqlCheck",
    "check_references",
    "find_placeholders",
    "load_runbook",
    "load_runbooks",
    "load_scenario",
    "load_scenarios",
    "substitute",
]

# --- operations a runbook may call ------------------------------------------------------


@dataclass(frozen=True)
class OperationArg:
    """One argument of an Environment operation: its name, accepted types, and if required."""

    name: str
    types: tuple[type, ...]
    required: bool = True


@dataclass(frozen=True)
class OperationSpec:
    """An Environment operation runbooks may call (``op:``), with its arguments."""

    name: str
    args: tuple[OperationArg, ...] = ()
    summary: str = ""


def _op(name: str, summary: str, *args: OperationArg) -> tuple[str, OperationSpec]:
    return name, OperationSpec(name, args, summary)


_S, _I, _B, _D = (str,), (int,), (bool,), (dict,)

OPERATIONS: Mapping[str, OperationSpec] = MappingProxyType(
    dict(
        [
            _op("endpoints", "where the service and monitoring answer"),
            _op("components", "every part with pid, port, state and health"),
            _op("deployment_status", "replicas, readiness and the current revision"),
            _op("rollout_restart", "replace every replica, one at a time"),
            _op("scale", "run exactly N replicas", OperationArg("replicas", _I)),
            _op(
                "deploy_revision",
                "roll out a new revision",
                OperationArg("version", _S),
                OperationArg("settings", _D, False),
                OperationArg("flags", _D, False),
            ),
            _op("rollback", "roll back to the previous revision"),
            _op("rollout_history", "every revision, the current one marked"),
            _op(
                "logs",
                "tail of a component's log",
                OperationArg("component", _S),
                OperationArg("tail", _I, False),
                OperationArg("grep", _S, False),
            ),
            _op("top", "CPU and memory per replica"),
            _op("database_status", "role, liveness and lag of each database node"),
            _op("crash_primary", "SIGKILL the database primary"),
            _op("stop_database", "stop one database node", OperationArg("node", _S)),
            _op("start_database", "start one database node", OperationArg("node", _S)),
            _op("promote_replica", "promote the standby to primary"),
            _op("rebuild_replica", "re-make the non-primary node as a standby"),
            _op(
                "sql",
                "run one SQL statement",
                OperationArg("statement", _S),
                OperationArg("node", _S, False),
            ),
            _op("check_database", "a read and a write through the service's connection"),
            _op("cache_status", "whether the cache answers, keys and memory"),
            _op("flush_cache", "drop every cache key"),
            _op("stop_cache", "stop the cache"),
            _op("start_cache", "start the cache"),
            _op("restart_cache", "restart the cache, also when it is frozen"),
            _op("freeze_cache", "SIGSTOP the cache"),
            _op("thaw_cache", "SIGCONT the cache"),
            _op("check_cache", "a write and a read of the cache"),
            _op("get_flags", "effective feature flags"),
            _op(
                "clear_flag",
                "drop a flag set at runtime (back to the revision's value)",
                OperationArg("name", _S),
            ),
            _op(
                "set_flag",
                "set a feature flag on every replica",
                OperationArg("name", _S),
                OperationArg("enabled", _B),
            ),
        ]
    )
)
"""Operations of the ``Environment`` protocol that runbooks may call, by name.

Every method of the protocol except ``root`` and ``database_dsn`` (connection details, not
operations); the unit tests keep the two in step. ``logs`` takes the fields of a
``LogQuery`` as its arguments. An environment that lacks an operation fails the step that
calls it with an OperationError.
"""

# --- placeholders -----------------------------------------------------------------------

ENVIRONMENT_PLACEHOLDERS: tuple[str, ...] = (
    "service_url",
    "prometheus_url",
    "alertmanager_url",
    "pager_url",
    "env_name",
    "chaosdrill",
    "python",
)
"""Placeholders every runbook string may use; params add theirs, promql adds ``{window}``."""

_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|(?<!\$)\{([A-Za-z_]\w*)\}")


def find_placeholders(text: str) -> list[str]:
    """Names of the ``{name}`` placeholders in ``text``.

    ``{{name}}`` is a literal ``{name}`` and ``${name}`` (shell) is left alone; other braces
    (PromQL label matchers such as ``{job="app"}``, JSON) never match.
    """
    return [m.group(2) for m in _PLACEHOLDER.finditer(text) if m.group(2)]


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder of ``text`` by its value (``{{name}}`` becomes ``{name}``).

    Raises:
        KeyError: a placeholder without a value (files are checked for this on load).
    """

    def one(match: re.Match[str]) -> str:
        if match.group(1):
            return "{" + match.group(1) + "}"
        return values[match.group(2)]

    return _PLACEHOLDER.sub(one, text)


# --- runbooks ---------------------------------------------------------------------------

ParamValue = str | int | float | bool
Scalar = str | int | float | bool | None
COMPARATORS = (
    "equals",
    "not_equals",
    "at_least",
    "at_most",
    "greater_than",
    "less_than",
    "contains",
    "not_contains",
    "same_as",
)
_ORDERING = ("at_least", "at_most", "greater_than", "less_than")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_TYPE_NAMES: Mapping[type, str] = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
}


@dataclass(frozen=True)
class Param:
    """A runbook parameter; its default also fixes its type."""

    name: str
    default: ParamValue
    description: str

    def coerce(self, raw: object) -> ParamValue:
        """Turn a value given by a caller (or ``--param k=v`` text) into this param's type.

        Raises:
            InvalidInputError: the value does not fit the type of the default.
        """
        want = type(self.default)
        try:
            if isinstance(raw, str) and want is not str:
                if want is bool:
                    word = raw.strip().lower()
                    if word not in _TRUE + _FALSE:
                        raise ValueError(raw)
                    return word in _TRUE
                return int(raw.strip()) if want is int else float(raw.strip())
            same_kind = isinstance(raw, bool) == (want is bool)
            if isinstance(raw, str | int | float) and isinstance(raw, want) and same_kind:
                return raw
            if want is float and isinstance(raw, int) and not isinstance(raw, bool):
                return float(raw)
        except ValueError:
            pass
        words = {str: "text", int: "an integer", float: "a number", bool: "true or false"}
        raise InvalidInputError(
            f"expected {words[want]} (like the default {self.default!r}), got {raw!r}",
            field=f"params.{self.name}",
        )


@dataclass(frozen=True)
class Comparison:
    """What a measured value must be: ``operator`` (one of COMPARATORS) and ``value``."""

    operator: str
    value: Scalar

    def describe(self) -> str:
        """The comparison in words, e.g. ``at least 3``."""
        word = self.operator.replace("_", " ")
        if isinstance(self.value, bool):
            return f"{word} {str(self.value).lower()}"
        return (
            f"{word} {self.value}" if not isinstance(self.value, str) else f"{word} {self.value!r}"
        )


@dataclass(frozen=True)
class OpAction:
    """Call an Environment operation by name with keyword arguments."""

    op: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShellAction:
    """Run a shell command; it succeeds when it exits with ``exit_code``."""

    command: str
    exit_code: int = 0


@dataclass(frozen=True)
class HttpAction:
    """Send ``count`` HTTP requests; each must answer one of ``status``."""

    url: str
    method: str = "GET"
    status: tuple[int, ...] = (200,)
    count: int = 1
    json: Mapping[str, Any] | None = None


Action = OpAction | ShellAction | HttpAction


@dataclass(frozen=True)
class HttpCheck:
    """At least ``min_ok`` of ``count`` requests answer one of ``status``."""

    url: str
    method: str = "GET"
    status: tuple[int, ...] = (200,)
    count: int = 1
    min_ok: int = 1
    json: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SqlCheck:
    """A query's first value (or, for contains, its whole text) compared with ``expect``."""

    query: str
    expect: Comparison
    node: str | None = None


@dataclass(frozen=True)
class OpCheck:
    """An operation that must succeed; optionally a value of its result (``path``) compared."""

    op: str
    args: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None
    expect: Comparison | None = None


@dataclass(frozen=True)
class PromqlCheck:
    """An instant PromQL query's first value compared; ``{window}`` is scaled by the drill."""

    query: str
    expect: Comparison
    window: str = "2m"
    if_empty: Literal["pass", "fail"] = "fail"


Check = HttpCheck | SqlCheck | OpCheck | PromqlCheck


@dataclass(frozen=True)
class Condition:
    """Run a step only if ``check`` currently ``passes`` (or ``fails``), tested once."""

    when: Literal["passes", "fails"]
    check: Check


@dataclass(frozen=True)
class RunbookStep:
    """One step: an action, a check retried until the timeout, and an optional condition."""

    name: str
    timeout_s: float
    action: Action | None = None
    check: Check | None = None
    when: Condition | None = None
    note: str = ""
    line: int = 0


@dataclass(frozen=True)
class Runbook:
    """Ordered, executable steps that restore a service (also rendered for people)."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    steps: tuple[RunbookStep, ...]
    source: str = ""

    def resolve_params(self, given: Mapping[str, object] | None = None) -> dict[str, ParamValue]:
        """The defaults overridden by ``given`` (values coerced to each param's type).

        Raises:
            InvalidInputError: an unknown parameter name or a value of the wrong type.
        """
        known = {p.name: p for p in self.params}
        values: dict[str, ParamValue] = {p.name: p.default for p in self.params}
        for name, raw in (given or {}).items():
            if name not in known:
                raise InvalidInputError(
                    f"unknown parameter {name!r} of runbook {self.name!r}; expected one of: "
                    f"{', '.join(known) or 'none (it takes no parameters)'}",
                    field=f"params.{name}",
                )
            values[name] = known[name].coerce(raw)
        return values


# --- scenarios --------------------------------------------------------------------------


@dataclass(frozen=True)
class Investigation:
    """One investigation step of the seed: its command and the chaosdrill equivalent."""

    purpose: str
    seed: str
    chaosdrill: str
    note: str = ""


@dataclass(frozen=True)
class Cause:
    """A common cause of a scenario and the runbooks that fix it."""

    id: str
    description: str
    runbooks: tuple[str, ...]
    seed: str = ""
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Impact:
    """Measured impact of an incident: the inputs of the severity model.

    Attributes:
        availability: share of user requests answered successfully (0..1).
        error_rate: share of user requests that failed (0..1).
        p95_latency_s: 95th percentile latency of user requests, seconds.
        data_loss: any acknowledged write lost or any data corrupted.
        revenue_per_hour: revenue lost per hour (USD) at the measured failure rate.
    """

    availability: float = 1.0
    error_rate: float = 0.0
    p95_latency_s: float = 0.0
    data_loss: bool = False
    revenue_per_hour: float = 0.0


@dataclass(frozen=True)
class SeverityLevel:
    """Thresholds of one level (P1-P3); the level applies when any threshold is met."""

    level: str
    availability_below: float | None = None
    error_rate_above: float | None = None
    p95_latency_s_above: float | None = None
    data_loss: bool = False
    revenue_per_hour_above: float | None = None

    def reasons(self, impact: Impact) -> list[str]:
        """The thresholds ``impact`` meets, in words (empty: the level does not apply)."""
        out = []
        if self.availability_below is not None and impact.availability < self.availability_below:
            out.append(f"availability {impact.availability:.1%} < {self.availability_below:.1%}")
        if self.error_rate_above is not None and impact.error_rate > self.error_rate_above:
            out.append(f"error rate {impact.error_rate:.1%} > {self.error_rate_above:.1%}")
        if self.p95_latency_s_above is not None and impact.p95_latency_s > self.p95_latency_s_above:
            out.append(f"p95 latency {impact.p95_latency_s:.2f} s > {self.p95_latency_s_above} s")
        if self.data_loss and impact.data_loss:
            out.append("data lost or corrupted")
        rev = self.revenue_per_hour_above
        if rev is not None and impact.revenue_per_hour > rev:
            out.append(f"revenue impact ${impact.revenue_per_hour:,.0f}/h > ${rev:,.0f}/h")
        return out


@dataclass(frozen=True)
class Severity:
    """A severity decision: the level and the thresholds that decided it."""

    level: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SeverityModel:
    """How measured impact maps to P1-P4 (the seed's severity table, per scenario)."""

    levels: tuple[SeverityLevel, ...]
    floor: str = "P4"
    note: str = ""

    def classify(self, impact: Impact) -> Severity:
        """The most severe level whose thresholds ``impact`` meets, never below ``floor``."""
        for level in self.levels:
            reasons = level.reasons(impact)
            if reasons:
                return Severity(level.level, tuple(reasons))
        if self.floor != "P4":
            return Severity(self.floor, (f"at least {self.floor} for this scenario",))
        return Severity("P4", ("no threshold of P1-P3 met",))


@dataclass(frozen=True)
class Scenario:
    """A symptom class an on-call engineer sees (the seed's Common Incident Scenarios)."""

    id: str
    title: str
    description: str
    symptoms: tuple[str, ...]
    alerts: tuple[str, ...]
    investigation: tuple[Investigation, ...]
    common_causes: tuple[Cause, ...]
    runbooks: tuple[str, ...]
    severity: SeverityModel
    source: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


# --- building models from documents -----------------------------------------------------


@cache
def _schema(kind: str) -> Mapping[str, Any]:
    text = resources.files("chaosdrill").joinpath("schemas", f"{kind}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


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

    def check(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> None:
        """An op check's operation, any comparison, and min_ok <= count of an http check."""
        kind = next(k for k in ("http", "sql", "op", "promql") if k in data)
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
    validate(doc, _schema("runbook"))
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
        if "action" in s and "op" in s["action"]:
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
        data["name"], data["title"], data["description"].strip(), params, tuple(steps), doc.source
    )


def _build_scenario(doc: YamlDocument, stem: str) -> Scenario:
    data = doc.data
    validate(doc, _schema("scenario"))
    if data["id"] != stem:
        raise doc.error(("id",), f"expected {stem!r}, the file's name without .yaml")
    causes = []
    seen: dict[str, int] = {}
    for i, c in enumerate(data["common_causes"]):
        path: tuple[str | int, ...] = ("common_causes", i)
        if c["id"] in seen:
            raise doc.error(
                (*path, "id"),
                f"duplicate cause {c['id']!r} (first at line {seen[c['id']]}); expected unique ids",
            )
        seen[c["id"]] = doc.line_of(path)
        for j, name in enumerate(c["runbooks"]):
            if name not in data["runbooks"]:
                raise doc.error(
                    (*path, "runbooks", j),
                    f"runbook {name!r} is not in the scenario's runbooks; expected one of: "
                    + ", ".join(data["runbooks"]),
                )
        causes.append(
            Cause(
                c["id"],
                c["description"],
                tuple(c["runbooks"]),
                c.get("seed", ""),
                tuple(c.get("alerts", ())),
            )
        )
    return Scenario(
        id=data["id"],
        title=data["title"],
        description=data["description"].strip(),
        symptoms=tuple(data["symptoms"]),
        alerts=tuple(data["alerts"]),
        investigation=tuple(Investigation(**i) for i in data["investigation"]),
        common_causes=tuple(causes),
        runbooks=tuple(data["runbooks"]),
        severity=_severity(doc, data["severity"]),
        source=doc.source,
        lines=MappingProxyType({".".join(map(str, k)): v for k, v in doc.lines.items()}),
    )


def _severity(doc: YamlDocument, data: Mapping[str, Any]) -> SeverityModel:
    levels = tuple(SeverityLevel(name, **data[name]) for name in ("P1", "P2", "P3"))
    # a more severe level must need a worse impact than a less severe one
    for upper, lower in pairwise(levels):
        for attr, worse in (
            ("error_rate_above", max),
            ("p95_latency_s_above", max),
            ("revenue_per_hour_above", max),
            ("availability_below", min),
        ):
            a, b = getattr(upper, attr), getattr(lower, attr)
            if a is not None and b is not None and worse(a, b) != a:
                raise doc.error(
                    ("severity", upper.level, attr),
                    f"{upper.level}'s {attr} ({a}) is less severe than {lower.level}'s ({b}); "
                    f"expected thresholds in order P1 > P2 > P3",
                )
    return SeverityModel(levels, data.get("floor", "P4"), data.get("note", ""))


# --- loaders ----------------------------------------------------------------------------


def load_runbook(path: str | Path) -> Runbook:
    """Load and check one runbook file.

    Raises:
        InvalidInputError: with file, line, field and what was expected.
    """
    return _build_runbook(load_yaml(path), Path(path).stem)


def load_scenario(path: str | Path) -> Scenario:
    """Load and check one scenario file.

    Raises:
        InvalidInputError: with file, line, field and what was expected.
    """
    return _build_scenario(load_yaml(path), Path(path).stem)


def _yaml_files(directory: str | Path) -> Iterator[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise InvalidInputError(
            "not a directory; expected a directory of .yaml files", source=str(d), field="<dir>"
        )
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise InvalidInputError(
            "holds no .yaml file; expected at least one", source=str(d), field="<dir>"
        )
    yield from files


def load_runbooks(directory: str | Path) -> dict[str, Runbook]:
    """Every runbook of a directory by name; one bad file fails the whole load."""
    return {rb.name: rb for rb in map(load_runbook, _yaml_files(directory))}


def load_scenarios(directory: str | Path) -> dict[str, Scenario]:
    """Every scenario of a directory by id; one bad file fails the whole load."""
    return {sc.id: sc for sc in map(load_scenario, _yaml_files(directory))}


def check_references(
    scenarios: Mapping[str, Scenario],
    runbooks: Collection[str],
    alerts: Collection[str] | None = None,
) -> None:
    """Check that scenarios name only runbooks that exist and alerts that are defined.

    Args:
        scenarios: scenarios by id.
        runbooks: the names of the available runbooks.
        alerts: alert names of the Prometheus rules (None: not checked).

    Raises:
        InvalidInputError: naming the scenario file, line and field of the first bad name.
    """
    for sc in scenarios.values():
        refs: list[tuple[str, str, Collection[str] | None, str]] = []
        refs += [(f"runbooks.{i}", n, runbooks, "runbook") for i, n in enumerate(sc.runbooks)]
        refs += [(f"alerts.{i}", n, alerts, "alert") for i, n in enumerate(sc.alerts)]
        for ci, cause in enumerate(sc.common_causes):
            refs += [
                (f"common_causes.{ci}.alerts.{i}", n, alerts, "alert")
                for i, n in enumerate(cause.alerts)
            ]
        for where, name, known, what in refs:
            if known is not None and name not in known:
                raise InvalidInputError(
                    f"no {what} named {name!r}; expected one of: {', '.join(sorted(known))}",
                    source=sc.source,
                    line=sc.lines.get(where),
                    field=where,
                )
