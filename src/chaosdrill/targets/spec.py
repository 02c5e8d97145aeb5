"""What chaosdrill needs to know of a target: how to run it, and what drills it supports.

The reference target (``revenue_engine``) is :data:`REFERENCE`. A workspace's own service
is declared under ``target:`` in ``chaosdrill.yaml`` (docs/workspaces.md) and read by
:meth:`TargetSpec.from_config`; an environment keeps the spec it was brought up with in
its state (:meth:`TargetSpec.to_dict` / :meth:`TargetSpec.from_dict`).

Capabilities are what faults and runbooks ask of a target: ``cache`` (it uses the
environment's Redis), ``revisions`` (it reads the revision it is released as, so release
faults and ``rollout undo`` change what it does), ``flags`` (it reads feature flags
from its revision), ``flag:NAME``, ``index:NAME`` and ``table:NAME`` (the flags it
understands, the indexes a drill may drop and the tables it may lock), and
``api:NAME`` (it serves that target's API, for runbooks written against one). A
database is always there: every target uses the environment's PostgreSQL.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "REFERENCE",
    "REFERENCE_NAME",
    "Flow",
    "TargetSpec",
    "missing_capabilities",
    "placeholder_problems",
]

REFERENCE_NAME = "revenue_engine"

#: Placeholders a target's command may use, with what they stand for.
PLACEHOLDERS = {
    "python": "the Python that runs chaosdrill",
    "port": "the replica's port on 127.0.0.1",
    "replica": "the replica's name (app-N)",
    "workspace": "the workspace directory",
    "version": "the revision's version",
    "revision": "the revision's number",
}


@dataclass(frozen=True)
class Flow:
    """One user flow of the load: a request with a weight.

    ``{id}`` in ``path`` (or as a whole value of ``json``) is a random integer from 1
    to ``ids``.
    """

    name: str
    path: str
    method: str = "GET"
    weight: int = 1
    ids: int = 1
    json: Mapping[str, Any] | None = None

    def path_for(self, n: int) -> str:
        """The request's path with ``{id}`` as ``n``."""
        return self.path.replace("{id}", str(n))

    def body_for(self, n: int) -> Any:
        """The request's JSON body with every ``"{id}"`` value as ``n`` (None: no body)."""
        return None if self.json is None else _with_id(dict(self.json), n)

    def to_dict(self) -> dict[str, Any]:
        """The flow as JSON (the load process reads it)."""
        out: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "method": self.method,
            "weight": self.weight,
            "ids": self.ids,
        }
        if self.json is not None:
            out["json"] = dict(self.json)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Flow:
        """A flow written by :meth:`to_dict` (or a ``flows:`` entry of chaosdrill.yaml)."""
        return cls(
            name=str(data["name"]),
            path=str(data["path"]),
            method=str(data.get("method", "GET")).upper(),
            weight=int(data.get("weight", 1)),
            ids=int(data.get("ids", 1)),
            json=dict(data["json"]) if data.get("json") is not None else None,
        )


def _with_id(template: Any, n: int) -> Any:
    """``template`` with every value that is exactly ``"{id}"`` replaced by ``n``."""
    if template == "{id}":
        return n
    if isinstance(template, Mapping):
        return {k: _with_id(v, n) for k, v in template.items()}
    if isinstance(template, list):
        return [_with_id(v, n) for v in template]
    return template


@dataclass(frozen=True)
class TargetSpec:
    """A target as an environment runs it.

    Attributes:
        name: The target's name (``revenue_engine`` for the reference one).
        command: The argv that starts one replica (placeholders: :data:`PLACEHOLDERS`).
        directory: Where the command runs (None: the current directory at ``env up``).
        environment: Extra variables for every replica (no secrets: they are in the state).
        health_path: The replica's health check (200 when it can serve).
        metrics_path: Where Prometheus scrapes it.
        setup: The argv that creates and seeds its schema, run once after the database is
            up, as the service's role; None: nothing to set up.
        sessions: The SQL ``LIKE`` pattern of its database sessions' ``application_name``.
        capabilities: What it supports (see the module's docstring).
        revision_environment: Variables set from each revision (placeholders allowed).
        version_commands: A command per version: a revision of that version runs it.
        flows: The user flows of its load (empty for the reference target, whose flows
            are the built-in ones of :mod:`chaosdrill.load.flows`).
        source: Where it was declared (for messages).
    """

    name: str
    command: tuple[str, ...]
    directory: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    metrics_path: str = "/metrics"
    setup: tuple[str, ...] | None = None
    sessions: str = ""
    capabilities: frozenset[str] = frozenset()
    revision_environment: Mapping[str, str] = field(default_factory=dict)
    version_commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    flows: tuple[Flow, ...] = ()
    source: str = "built-in"
    title: str = ""
    """The service's name in reports and communications (default: ``name``)."""

    @property
    def service(self) -> str:
        """What reports and the incident template call the service."""
        return self.title or self.name

    @property
    def reference(self) -> bool:
        """True for the reference target."""
        return self.name == REFERENCE_NAME and self.source == "built-in"

    def has(self, capability: str) -> bool:
        """Whether the target declares ``capability``."""
        return capability in self.capabilities

    def command_for(self, version: str) -> tuple[str, ...]:
        """The command of a replica of ``version`` (its own command, else the target's)."""
        return self.version_commands.get(version, self.command)

    def flow_weights(self) -> dict[str, int]:
        """Each flow's default weight."""
        return {f.name: f.weight for f in self.flows}

    # persistence ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON (kept in the environment's state)."""
        return {
            "name": self.name,
            "command": list(self.command),
            "directory": self.directory,
            "environment": dict(self.environment),
            "health_path": self.health_path,
            "metrics_path": self.metrics_path,
            "setup": list(self.setup) if self.setup is not None else None,
            "sessions": self.sessions,
            "capabilities": sorted(self.capabilities),
            "revision_environment": dict(self.revision_environment),
            "version_commands": {k: list(v) for k, v in self.version_commands.items()},
            "flows": [f.to_dict() for f in self.flows],
            "source": self.source,
            "title": self.title,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TargetSpec:
        """A spec written by :meth:`to_dict`; None is the reference target."""
        if not data:
            return REFERENCE
        return cls(
            name=str(data["name"]),
            command=tuple(data["command"]),
            directory=data.get("directory"),
            environment=dict(data.get("environment") or {}),
            health_path=str(data.get("health_path", "/health")),
            metrics_path=str(data.get("metrics_path", "/metrics")),
            setup=tuple(data["setup"]) if data.get("setup") else None,
            sessions=str(data.get("sessions", "")),
            capabilities=frozenset(data.get("capabilities") or ()),
            revision_environment=dict(data.get("revision_environment") or {}),
            version_commands={
                str(k): tuple(v) for k, v in (data.get("version_commands") or {}).items()
            },
            flows=tuple(Flow.from_dict(f) for f in data.get("flows") or ()),
            source=str(data.get("source", "workspace")),
            title=str(data.get("title", "")),
        )

    @classmethod
    def from_config(cls, data: Mapping[str, Any], root: Path, source: str) -> TargetSpec:
        """The ``target:`` mapping of a chaosdrill.yaml (already checked by its schema).

        ``root`` is the workspace: ``directory`` is relative to it.
        """
        name = str(data["name"])
        caps = set(data.get("capabilities") or ())
        caps.update(f"flag:{f}" for f in data.get("flags") or ())
        caps.update(f"index:{i}" for i in data.get("indexes") or ())
        caps.update(f"table:{t}" for t in data.get("tables") or ())
        caps.add(f"api:{name}")
        if data.get("flags"):
            caps.add("flags")
        revisions = data.get("revisions") or {}
        flows = tuple(
            Flow.from_dict({"name": flow_name, **flow})
            for flow_name, flow in (data.get("flows") or {}).items()
        )
        directory = data.get("directory")
        return cls(
            name=name,
            command=_argv(data["command"]),
            directory=str((root / directory).resolve()) if directory else str(root),
            environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
            health_path=str(data.get("health_path", "/health")),
            metrics_path=str(data.get("metrics_path", "/metrics")),
            setup=_argv(data["setup"]) if data.get("setup") else None,
            sessions=str(data.get("sessions") or f"{name} %"),
            capabilities=frozenset(caps),
            revision_environment={
                str(k): str(v) for k, v in (revisions.get("environment") or {}).items()
            },
            version_commands={
                str(k): _argv(v) for k, v in (revisions.get("commands") or {}).items()
            },
            flows=flows,
            source=source,
            title=str(data.get("title", "")),
        )


def _argv(value: str | Sequence[str]) -> tuple[str, ...]:
    """A command as an argv: a string is split like a shell would (no shell runs it)."""
    return tuple(shlex.split(value)) if isinstance(value, str) else tuple(str(v) for v in value)


def placeholder_problems(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(path under ``target``, message) for each unknown ``{placeholder}`` of a target mapping."""
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def check(path: tuple[str | int, ...], text: str, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            problems.append((path, f"{exc} in {text!r} (write {{{{ and }}}} for a brace)"))
            return
        for name in names:
            if name not in allowed:
                problems.append(
                    (
                        path,
                        f"unknown placeholder {{{name}}}; expected one of: "
                        + ", ".join(f"{{{a}}}" for a in sorted(allowed)),
                    )
                )

    def command(path: tuple[str | int, ...], value: Any, allowed: Iterable[str]) -> None:
        if isinstance(value, str):
            check(path, value, allowed)
        elif isinstance(value, list):
            for i, arg in enumerate(value):
                if isinstance(arg, str):
                    check((*path, i), arg, allowed)

    replica = set(PLACEHOLDERS)
    command(("command",), data.get("command"), replica)
    command(("setup",), data.get("setup"), {"python", "workspace"})
    revisions = data.get("revisions") or {}
    for key, value in (revisions.get("environment") or {}).items():
        if isinstance(value, str):
            check(("revisions", "environment", key), value, replica)
    for key, value in (revisions.get("commands") or {}).items():
        command(("revisions", "commands", key), value, replica)
    for name, flow in (data.get("flows") or {}).items():
        if isinstance(flow, dict) and isinstance(flow.get("path"), str):
            check(("flows", name, "path"), flow["path"], {"id"})
    return problems


def missing_capabilities(target: TargetSpec, needed: Iterable[str]) -> list[str]:
    """The capabilities of ``needed`` that ``target`` lacks, in order."""
    return [c for c in dict.fromkeys(needed) if not target.has(c)]


#: The reference target's flags (``revenue_engine.revision.KNOWN_FLAGS``, which a test
#: compares; not imported here, since importing the target imports its web framework).
REFERENCE_FLAGS = ("new_checkout", "recommendations_cache", "circuit_breaker")


def _reference() -> TargetSpec:
    caps = {"cache", "revisions", "flags", "runtime-flags", f"api:{REFERENCE_NAME}"}
    caps.update(f"flag:{f}" for f in REFERENCE_FLAGS)
    caps.update(f"table:{t}" for t in ("courses", "enrollments"))
    caps.add("index:enrollments_course_id_idx")
    return TargetSpec(
        name=REFERENCE_NAME,
        command=(
            "{python}",
            "-m",
            "chaosdrill.targets.revenue_engine",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--replica",
            "{replica}",
        ),
        sessions="revenue_engine %",
        capabilities=frozenset(caps),
        title="Education Revenue Engine",
    )


REFERENCE = _reference()
