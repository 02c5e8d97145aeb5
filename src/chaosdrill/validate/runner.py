"""Static validation of the project's files: every problem, with file, line and field.

``chaosdrill validate [PATHS]`` checks files without starting anything: scenarios,
runbooks, Chaos Toolkit experiments, drill plans, Prometheus rules and their unit tests
(with the real ``promtool``), Alertmanager configurations (with the real ``amtool``),
and the names each file uses from the others (runbooks, scenarios, alerts, experiments).
It collects every problem instead of stopping at the first, and changes nothing.

What a file is follows from its content (its top-level keys), wherever it lies; where the
content does not tell (an unparsable file), from where it lies (docs/validate.md):

==================================  ==========================================
``scenarios/*.yaml``                scenario (:func:`chaosdrill.scenarios.loader.load_scenario`)
``runbooks/*.yaml``                 runbook (:func:`chaosdrill.runbooks.loader.load_runbook`)
``experiments/*.json``              experiment (Chaos Toolkit's validation + chaosdrill's)
``drills/*.yaml``                   plan (:func:`chaosdrill.plans.model.load_plan`)
``probes/*.rules.yml``              Prometheus rules (``promtool check rules``)
``probes/*.test.yml``               rule unit tests (``promtool test rules``)
``*.alertmanager.yml``              Alertmanager configuration (``amtool check-config``)
==================================  ==========================================

Without paths, the whole workspace is checked: its ``chaosdrill.yaml`` and its catalogue
directories (no workspace: the built-in catalogue). Names a file uses are looked up in the
directories next to its own (``../runbooks``, ``../probes``, ...), then in the workspace's,
then in the built-in catalogue (:mod:`chaosdrill.workspace`); the report says which file
each name resolved to.

This module finds the files, tells their kind and runs their checks. The checks done in
Python are in :mod:`chaosdrill.validate.files`, those by ``promtool`` and ``amtool`` in
:mod:`chaosdrill.validate.tools`, the names files take from each other in
:mod:`chaosdrill.validate.refs`, and :class:`Problem` in :mod:`chaosdrill.validate.problem`.

Example::

    for problem in validate_paths([Path("drills")]):
        print(problem)          # drills/x.yaml:12: gates.alerts_must_page.0: no alert named ...
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from chaosdrill.errors import InvalidInputError
from chaosdrill.validate.files import (
    check_experiment,
    check_plan,
    check_runbook,
    check_scenario,
)
from chaosdrill.validate.problem import Problem, display, from_error
from chaosdrill.validate.refs import References
from chaosdrill.validate.tools import TOOL_TIMEOUT_S as TOOL_TIMEOUT_S
from chaosdrill.validate.tools import (
    check_alertmanager,
    check_generated_alertmanager,
    check_rule_test,
    check_rules,
    generated_alertmanager_configs,
)
from chaosdrill.workspace import WORKSPACE_FILE, builtin_root, current
from chaosdrill.yamlsource import MAX_BYTES

__all__ = [
    "KINDS",
    "Problem",
    "ValidationReport",
    "kind_by_content",
    "kind_by_name",
    "kind_of",
    "run_validation",
    "validate_paths",
]

KINDS: Mapping[str, str] = {
    "scenario": "a scenario (scenarios/*.yaml)",
    "runbook": "a runbook (runbooks/*.yaml)",
    "experiment": "a Chaos Toolkit experiment (experiments/*.json)",
    "plan": "a drill plan (drills/*.yaml)",
    "rules": "Prometheus alerting rules (probes/*.rules.yml)",
    "rule-test": "promtool unit tests (probes/*.test.yml)",
    "alertmanager": "an Alertmanager configuration (*.alertmanager.yml)",
}
"""The kinds of file validated, and how each is recognised."""

_PATTERNS = [re.sub(r".*\((.*)\)$", r"\1", text) for text in KINDS.values()]

PROJECT_DIRS = ("scenarios", "runbooks", "experiments", "drills", "probes")
"""Directories of the project validated when no path is given."""

_SKIP_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class ValidationReport:
    """The files checked and every problem found, in file order."""

    files: tuple[str, ...]
    problems: tuple[Problem, ...]
    resolved: tuple[tuple[str, str, str, str], ...] = ()  # (kind, name, file, source)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def validate_paths(paths: Sequence[Path]) -> list[Problem]:
    """Every problem of the given files and directories (none given: the whole project).

    Never raises for a bad file: missing, empty, huge, unreadable or broken files, and
    missing ``promtool``/``amtool``, are problems in the list.
    """
    return list(run_validation(paths).problems)


def run_validation(targets: Sequence[Path]) -> ValidationReport:
    """Like :func:`validate_paths`, and also say which files were checked."""
    problems: list[Problem] = []
    files: list[tuple[Path, str]] = []
    checked: list[str] = []
    try:
        ws = current()
    except InvalidInputError as exc:  # the workspace's own file is wrong
        source = exc.source or WORKSPACE_FILE
        return ValidationReport((source,), tuple(from_error(exc, source)))
    if targets:
        for target in targets:
            _collect(Path(target), files, problems)
    else:
        if ws.config_file is not None:
            checked.append(display(ws.config_file))
        for name in PROJECT_DIRS:
            directory = ws.own_dir(name) if ws.root is not None else builtin_root() / name
            if directory is not None and directory.is_dir():
                _collect(directory, files, problems)
    seen: set[Path] = set()
    unique: list[tuple[Path, str]] = []
    for path, shown in files:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((path, shown))
    refs = References(ws)
    jobs: list[tuple[Callable[[], list[Problem]], bool]] = []
    checked += [shown for _, shown in unique]
    for path, shown in unique:
        jobs.append(_job(path, shown, refs))
    if not targets:
        for label, text in generated_alertmanager_configs():
            checked.append(label)
            jobs.append((partial(check_generated_alertmanager, label, text), True))
    # Python checks run in order here; promtool and amtool runs in parallel threads
    results: dict[int, list[Problem]] = {}
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        futures = {i: pool.submit(job) for i, (job, uses_tool) in enumerate(jobs) if uses_tool}
        for i, (job, uses_tool) in enumerate(jobs):
            if not uses_tool:
                results[i] = job()
        for i, future in futures.items():
            results[i] = future.result()
    for i in range(len(jobs)):
        problems.extend(results[i])
    resolved = tuple(
        (kind, name, display(e.path), e.source) for (kind, name), e in refs.resolved.items()
    )
    return ValidationReport(tuple(checked), tuple(problems), resolved)


# --- finding files ----------------------------------------------------------------------


def kind_of(path: Path) -> str | None:
    """The kind of file ``path`` is (a key of KINDS), or None.

    Told by the file's content where it is decisive (see :func:`kind_by_content`), so a
    file is recognised wherever it lives; otherwise by its name and directory, which also
    decide for a file that cannot be parsed.
    """
    if path.is_file():
        found = kind_by_content(path)
        if found is not None:
            return found
    return kind_by_name(path)


def kind_by_name(path: Path) -> str | None:
    """The kind by the file's name and directory (the project's layout), or None."""
    name, parent = path.name, path.parent.name
    if name.endswith(".alertmanager.yml") or name == "alertmanager.yml":
        return "alertmanager"
    if parent == "probes":
        if name.endswith(".rules.yml"):
            return "rules"
        if name.endswith(".test.yml"):
            return "rule-test"
    by_dir = {
        ("scenarios", ".yaml"): "scenario",
        ("runbooks", ".yaml"): "runbook",
        ("experiments", ".json"): "experiment",
        ("drills", ".yaml"): "plan",
    }
    return by_dir.get((parent, path.suffix))


_CONTENT_KEYS: tuple[tuple[str, frozenset[str]], ...] = (
    ("experiment", frozenset({"method", "steady-state-hypothesis"})),
    ("rule-test", frozenset({"rule_files", "tests"})),
    ("rules", frozenset({"groups"})),
    ("alertmanager", frozenset({"route", "receivers", "inhibit_rules"})),
    ("runbook", frozenset({"steps"})),
    ("scenario", frozenset({"common_causes", "symptoms", "investigation"})),
    ("plan", frozenset({"drills"})),
)
"""Top-level keys that mark each kind (the first kind whose key a file has wins)."""


def kind_by_content(path: Path) -> str | None:
    """The kind by the top-level keys of a JSON or YAML file, or None when they do not tell.

    Only ``.json``, ``.yaml`` and ``.yml`` files of at most MAX_BYTES are read; a file that
    is not a mapping, or cannot be parsed, does not tell.
    """
    import json

    import yaml

    if path.suffix not in (".json", ".yaml", ".yml"):
        return None
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    keys = {str(k) for k in data}
    for kind, marks in _CONTENT_KEYS:
        if keys & marks:
            return kind
    return None


def _collect(path: Path, files: list[tuple[Path, str]], problems: list[Problem]) -> None:
    shown = display(path)
    if not path.exists():
        why = "a broken symbolic link" if path.is_symlink() else "no such file or directory"
        problems.append(Problem(shown, None, None, f"{why}; expected a file or directory"))
        return
    if not path.is_dir():
        files.append((path, shown))
        return
    kind = kind_of(path)
    if kind is not None:
        problems.append(Problem(shown, None, None, f"is a directory; expected {KINDS[kind]} file"))
        return
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        problems.append(Problem(shown, None, None, f"cannot list the directory: {exc.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in _SKIP_DIRS:
            continue
        _collect(entry, files, problems)


# --- checking one file ------------------------------------------------------------------


def _job(path: Path, shown: str, refs: References) -> tuple[Callable[[], list[Problem]], bool]:
    """The check of one file, and whether it runs an external tool."""
    kind = kind_of(path)
    if kind is None:

        def unknown() -> list[Problem]:
            return [
                Problem(
                    shown,
                    None,
                    None,
                    "cannot tell what kind of file this is; expected one of: "
                    f"{', '.join(_PATTERNS)} (the kind follows from the content, or the "
                    "directory and name)",
                )
            ]

        return unknown, False
    checkers: dict[str, Callable[[Path, str, References], list[Problem]]] = {
        "scenario": check_scenario,
        "runbook": check_runbook,
        "experiment": check_experiment,
        "plan": check_plan,
        "rules": check_rules,
        "rule-test": check_rule_test,
        "alertmanager": check_alertmanager,
    }

    def run() -> list[Problem]:
        early = _precheck(path, shown, kind)
        if early is not None:
            return [early]
        try:
            return checkers[kind](path, shown, refs)
        except Exception as exc:  # a checker's own bug must not hide the other files
            return [Problem(shown, None, None, f"could not be checked: {exc!r}")]

    return run, kind in ("rules", "rule-test", "alertmanager")


def _precheck(path: Path, shown: str, kind: str) -> Problem | None:
    """Problems of the file itself: not a regular file, too large, unreadable, empty."""
    try:
        info = path.stat()
    except OSError as exc:
        return Problem(shown, None, None, f"cannot be read ({exc.strerror}); expected a file")
    if not stat.S_ISREG(info.st_mode):
        return Problem(shown, None, None, f"is not a regular file; expected {KINDS[kind]} file")
    if info.st_size > MAX_BYTES:
        return Problem(
            shown,
            None,
            None,
            f"is {info.st_size} bytes, larger than {MAX_BYTES // 1024} KiB; expected a small "
            "text file",
        )
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except PermissionError:
        return Problem(shown, None, None, "permission denied; expected a file this user can read")
    except OSError as exc:
        return Problem(shown, None, None, f"cannot be read ({exc.strerror}); expected a file")
    if not raw.strip():
        return Problem(shown, 1, None, f"the file is empty; expected {KINDS[kind]}")
    return None
