"""Workspaces: a team's own experiments, runbooks, rules and plans over the built-in catalogue.

A workspace is a directory with a ``chaosdrill.yaml`` (see ``docs/workspaces.md``) and any of
the catalogue directories ``scenarios/``, ``runbooks/``, ``probes/``, ``experiments/`` and
``drills/``. The reference catalogue ships inside the package (``chaosdrill/catalogue/``);
every name resolves in the workspace first, then there, so a workspace file overrides the
built-in file of the same name and everything it does not override stays available.

Which workspace: ``--workspace DIR`` (the CLI passes it on as ``CHAOSDRILL_WORKSPACE``, so
the processes a drill starts see the same one), else ``$CHAOSDRILL_WORKSPACE``, else the
nearest ``chaosdrill.yaml`` in the current directory or above it, else none: the built-in
catalogue alone, with reports in ``./reports``.

Settings resolve command-line option, then environment variable, then plan, then
``chaosdrill.yaml``, then built-in default; this module holds the last two layers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from chaosdrill.errors import InvalidInputError
from chaosdrill.targets.spec import REFERENCE, REFERENCE_NAME, TargetSpec, placeholder_problems

__all__ = [
    "KINDS",
    "WORKSPACE_ENV",
    "WORKSPACE_FILE",
    "Entry",
    "Kind",
    "Workspace",
    "WorkspaceConfig",
    "builtin_root",
    "check_legacy_environment",
    "current",
    "locate",
]

WORKSPACE_FILE = "chaosdrill.yaml"
WORKSPACE_ENV = "CHAOSDRILL_WORKSPACE"

Source = Literal["workspace", "built-in"]


@dataclass(frozen=True)
class Kind:
    """One kind of catalogue file: its directory and file pattern."""

    directory: str
    pattern: str
    suffix: str  # stripped from a file's name to give the name it is known by


KINDS: Mapping[str, Kind] = {
    "scenarios": Kind("scenarios", "*.yaml", ".yaml"),
    "runbooks": Kind("runbooks", "*.yaml", ".yaml"),
    "rules": Kind("probes", "*.rules.yml", ""),
    "rule-tests": Kind("probes", "*.test.yml", ""),
    "experiments": Kind("experiments", "*.json", ".json"),
    "plans": Kind("drills", "*.yaml", ".yaml"),
}
CATALOGUE_DIRS = ("scenarios", "runbooks", "probes", "experiments", "drills")

# variables of earlier versions, refused with what replaces them
_LEGACY = {
    "CHAOSDRILL_ROOT": (
        f"use --workspace DIR or {WORKSPACE_ENV}=DIR (a directory with a {WORKSPACE_FILE})"
    ),
    "CHAOSDRILL_PROBES_DIR": (
        "put the rule files in the workspace's probes/ (a file of a built-in rule file's name "
        f"overrides it), or set catalogue.probes in {WORKSPACE_FILE}"
    ),
}


def check_legacy_environment(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a variable an earlier version read, naming what replaces it.

    Raises:
        InvalidInputError: such a variable is set.
    """
    env = os.environ if environ is None else environ
    for name, instead in _LEGACY.items():
        if env.get(name):
            raise InvalidInputError(
                f"{name} is no longer read; {instead}", source=f"${name}", field=name
            )


def builtin_root() -> Path:
    """The reference catalogue shipped with chaosdrill (``chaosdrill/catalogue``)."""
    return Path(str(resources.files("chaosdrill").joinpath("catalogue")))


@dataclass(frozen=True)
class Entry:
    """A catalogue file as a name resolves to it."""

    name: str
    path: Path
    source: Source


@dataclass(frozen=True)
class WorkspaceConfig:
    """What ``chaosdrill.yaml`` says (every field optional but ``version``)."""

    environment: Mapping[str, Any] = field(default_factory=dict)
    target: str = "revenue_engine"
    target_spec: TargetSpec | None = None  # None: the reference target
    roles: Mapping[str, str] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    reports: str | None = None
    catalogue: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Workspace:
    """A workspace (``root`` None: none, the built-in catalogue alone)."""

    root: Path | None
    config: WorkspaceConfig = field(default_factory=WorkspaceConfig)

    @property
    def config_file(self) -> Path | None:
        """The workspace's ``chaosdrill.yaml``."""
        return None if self.root is None else self.root / WORKSPACE_FILE

    def own_dir(self, directory: str) -> Path | None:
        """The workspace's own catalogue directory ``directory`` (it may not exist yet)."""
        if self.root is None:
            return None
        return self.root / self.config.catalogue.get(directory, directory)

    def dirs(self, directory: str) -> list[tuple[Path, Source]]:
        """Where files of ``directory`` are looked for, in order: workspace, built-in."""
        out: list[tuple[Path, Source]] = []
        own = self.own_dir(directory)
        builtin = builtin_root() / directory
        if own is not None and own.is_dir():
            out.append((own, "workspace"))
        if builtin.is_dir() and all(builtin.resolve() != d.resolve() for d, _ in out):
            out.append((builtin, "built-in"))
        return out

    def entries(self, kind: str) -> dict[str, Entry]:
        """Every file of ``kind`` by name, a workspace file hiding the built-in one."""
        k = KINDS[kind]
        out: dict[str, Entry] = {}
        for directory, source in self.dirs(k.directory):
            for path in sorted(directory.glob(k.pattern)):
                name = _name_of(k, path)
                if path.is_file() and name not in out:
                    out[name] = Entry(name, path, source)
        return dict(sorted(out.items()))

    def overridden(self, kind: str) -> dict[str, Entry]:
        """The built-in files of ``kind`` that a workspace file of the same name hides."""
        k = KINDS[kind]
        shown = self.entries(kind)
        out: dict[str, Entry] = {}
        builtin = builtin_root() / k.directory
        for path in sorted(builtin.glob(k.pattern)):
            name = _name_of(k, path)
            entry = shown.get(name)
            if entry is not None and entry.source == "workspace":
                out[name] = Entry(name, path, "built-in")
        return out

    def find(self, kind: str, name: str) -> Entry | None:
        """The file ``name`` of ``kind`` resolves to, or None."""
        if "/" in name or name in ("", ".", ".."):
            return None
        return self.entries(kind).get(name)

    def paths(self, kind: str) -> list[Path]:
        """The resolved files of ``kind``, in name order."""
        return [e.path for e in self.entries(kind).values()]

    def bases(self) -> list[Path]:
        """The roots a path like ``experiments/x.json`` is resolved against, in order."""
        out = [self.root] if self.root is not None else []
        return [*out, builtin_root()]

    def find_file(self, raw: str) -> tuple[Path, Source] | None:
        """A relative path (``experiments/bad-release.json``) under the workspace, else built in.

        The workspace's catalogue directory settings apply: with ``catalogue.experiments:
        drills/exp``, ``experiments/x.json`` is looked for in ``drills/exp/x.json``.
        """
        rel = Path(raw)
        if rel.is_absolute():
            return (rel, self.source_of(rel)) if rel.is_file() else None
        if self.root is not None:
            parts = rel.parts
            if parts and parts[0] in CATALOGUE_DIRS:
                own = self.own_dir(parts[0])
                if own is not None and own.joinpath(*parts[1:]).is_file():
                    return own.joinpath(*parts[1:]), "workspace"
            if (self.root / rel).is_file():
                return self.root / rel, "workspace"
        if (builtin_root() / rel).is_file():
            return builtin_root() / rel, "built-in"
        return None

    def source_of(self, path: Path) -> Source:
        """``built-in`` for a file of the built-in catalogue, else ``workspace``."""
        try:
            path.absolute().relative_to(builtin_root())
        except ValueError:
            return "workspace"
        return "built-in"

    def reports_dir(self) -> Path:
        """Where results go.

        ``$CHAOSDRILL_REPORTS``, else ``reports`` of chaosdrill.yaml (relative to the
        workspace), else the workspace's ``reports/``, else ``./reports``.
        """
        env = os.environ.get("CHAOSDRILL_REPORTS")
        if env:
            return Path(env)
        if self.root is None:
            return Path.cwd() / "reports"
        return self.root / (self.config.reports or "reports")

    def target(self) -> TargetSpec:
        """The target drills run against: the workspace's own, else the reference one."""
        return self.config.target_spec or REFERENCE

    def describe(self) -> str:
        """One line: which workspace this is."""
        if self.root is None:
            return f"no workspace (no {WORKSPACE_FILE} here or above): the built-in catalogue"
        return f"workspace {self.root}"


def _name_of(kind: Kind, path: Path) -> str:
    """The name a catalogue file is known by (its file name less the kind's suffix)."""
    return path.name.removesuffix(kind.suffix) if kind.suffix else path.name


def _load_config(path: Path) -> WorkspaceConfig:
    from chaosdrill.yamlsource import load_schema, load_yaml, validate

    doc = load_yaml(path)
    validate(doc, load_schema("workspace"))
    data = doc.data
    target = data.get("target", REFERENCE_NAME)
    spec: TargetSpec | None = None
    if isinstance(target, dict):
        for where, message in placeholder_problems(target):
            raise doc.error(("target", *where), message)
        spec = TargetSpec.from_config(target, path.parent, str(path))
        target = spec.name
    return WorkspaceConfig(
        environment=dict(data.get("environment") or {}),
        target=str(target),
        target_spec=spec,
        roles=dict(data.get("roles") or {}),
        targets={k: float(v) for k, v in (data.get("targets") or {}).items()},
        reports=data.get("reports"),
        catalogue=dict(data.get("catalogue") or {}),
        description=str(data.get("description", "")).strip(),
    )


def _nearest(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / WORKSPACE_FILE).is_file():
            return directory
    return None


def locate(explicit: str | Path | None = None, *, cwd: Path | None = None) -> Workspace:
    """The workspace in force (see the module's docstring for the order).

    Raises:
        InvalidInputError: the named directory has no ``chaosdrill.yaml``, or that file
            is wrong (file, line, field, what was expected), or a legacy variable is set.
    """
    check_legacy_environment()
    named = explicit or os.environ.get(WORKSPACE_ENV) or None
    if named:
        root = Path(named).absolute()
        source = "--workspace" if explicit else f"${WORKSPACE_ENV}"
        if not (root / WORKSPACE_FILE).is_file():
            raise InvalidInputError(
                f"{root} has no {WORKSPACE_FILE}; expected a workspace directory "
                "(chaosdrill init DIR makes one)",
                source=source,
                field="workspace",
            )
    else:
        found = _nearest((cwd or Path.cwd()).absolute())
        if found is None:
            return Workspace(None)
        root = found
    return Workspace(root, _load_config(root / WORKSPACE_FILE))


_current: dict[tuple[str, str], Workspace] = {}


def current() -> Workspace:
    """:func:`locate` for the present ``$CHAOSDRILL_WORKSPACE`` and directory (cached)."""
    check_legacy_environment()
    key = (os.environ.get(WORKSPACE_ENV, ""), os.getcwd())
    if key not in _current:
        _current[key] = locate()
    return _current[key]
