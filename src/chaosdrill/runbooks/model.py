"""The runbook model: ordered, executable steps that restore a service.

Operations a runbook may call, placeholders, params, actions, checks, steps and the
:class:`Runbook` itself.

Runbooks are built from their YAML files by :mod:`chaosdrill.runbooks.loader`, run by
:mod:`chaosdrill.runbooks.executor` and rendered for people by
:mod:`chaosdrill.runbooks.renderer`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from chaosdrill.errors import InvalidInputError

__all__ = [
    "COMPARATORS",
    "ENVIRONMENT_PLACEHOLDERS",
    "OPERATIONS",
    "OPERATION_NEEDS",
    "Action",
    "Check",
    "Comparison",
    "Condition",
    "HttpAction",
    "HttpCheck",
    "OpAction",
    "OpCheck",
    "OperationArg",
    "OperationSpec",
    "Param",
    "ParamValue",
    "PromqlCheck",
    "Runbook",
    "RunbookStep",
    "Scalar",
    "ShellAction",
    "SqlCheck",
    "find_placeholders",
    "substitute",
    "value_text",
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
            _op(
                "rollback",
                "roll back to the previous revision (or to_revision)",
                OperationArg("to_revision", _I, False),
            ),
            _op("reconcile", "make the records agree with what runs; finish a rollout"),
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
                OperationArg("timeout_s", (int, float), False),
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

Every method of the protocol except the drill machinery's (``DRILL_MEMBERS``) and those
that hand out credentials (``CREDENTIAL_MEMBERS``: ``database_dsn``, ``alertmanager_auth``;
a step's result is shown and recorded); the unit tests keep the two in step. ``logs``
takes the fields of a ``LogQuery`` as its arguments. An environment that lacks an
operation fails the step that calls it with an OperationError.
"""

# --- placeholders -----------------------------------------------------------------------

ENVIRONMENT_PLACEHOLDERS: tuple[str, ...] = (
    "service_url",
    "prometheus_url",
    "alertmanager_url",
    "pager_url",
    "env_name",
    "service_sessions",
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


def value_text(value: Any) -> str:
    """The text a parameter or observed value stands for in a runbook.

    Booleans are written as YAML writes them (``true``/``false``, not Python's ``True``),
    so that a placeholder filled with a boolean, the command shown to a person and a
    comparison of an observed value with an expected one all agree; anything else is
    ``str(value)``.
    """
    return str(value).lower() if isinstance(value, bool) else str(value)


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
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


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


#: What an operation needs of the target (``chaosdrill.targets.spec``); others need nothing.
OPERATION_NEEDS: Mapping[str, str] = MappingProxyType(
    {
        "deploy_revision": "revisions",
        "rollback": "revisions",
        "set_flag": "runtime-flags",
        "clear_flag": "runtime-flags",
        **{
            op: "cache"
            for op in (
                "cache_status",
                "flush_cache",
                "stop_cache",
                "start_cache",
                "restart_cache",
                "freeze_cache",
                "thaw_cache",
                "check_cache",
            )
        },
    }
)


@dataclass(frozen=True)
class Runbook:
    """Ordered, executable steps that restore a service (also rendered for people)."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    steps: tuple[RunbookStep, ...]
    source: str = ""
    requires: tuple[str, ...] = ()
    """Capabilities the runbook declares it needs of the target (besides its operations')."""

    def needs(self) -> tuple[str, ...]:
        """Every capability it needs: the declared ones and those of its operations."""
        found = list(self.requires)
        for step in self.steps:
            for part in (step.action, step.check, step.when.check if step.when else None):
                op = getattr(part, "op", None)
                if isinstance(op, str) and op in OPERATION_NEEDS:
                    found.append(OPERATION_NEEDS[op])
        return tuple(dict.fromkeys(found))

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
