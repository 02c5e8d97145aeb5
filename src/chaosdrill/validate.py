"""Static validation of the project's files: every problem, with file, line and field.

``chaosdrill validate [PATHS]`` checks files without starting anything: scenarios,
runbooks, Chaos Toolkit experiments, drill plans, Prometheus rules and their unit tests
(with the real ``promtool``), Alertmanager configurations (with the real ``amtool``),
and the names each file uses from the others (runbooks, scenarios, alerts, experiments).
It collects every problem instead of stopping at the first, and changes nothing.

What a file is follows from where it lies (docs/validate.md):

==================================  ==========================================
``scenarios/*.yaml``                scenario (:func:`chaosdrill.models.load_scenario`)
``runbooks/*.yaml``                 runbook (:func:`chaosdrill.models.load_runbook`)
``experiments/*.json``              experiment (Chaos Toolkit's validation + chaosdrill's)
``drills/*.yaml``                   plan (:func:`chaosdrill.plans.load_plan`)
``probes/*.rules.yml``              Prometheus rules (``promtool check rules``)
``probes/*.test.yml``               rule unit tests (``promtool test rules``)
``*.alertmanager.yml``              Alertmanager configuration (``amtool check-config``)
==================================  ==========================================

Names a file uses are looked up in the directories next to its own (``../runbooks``,
``../probes``, ...) and in the project's (:data:`chaosdrill.paths.PROJECT_ROOT`).

Example::

    for problem in validate_paths([Path("drills")]):
        print(problem)          # drills/x.yaml:12: gates.alerts_must_page.0: no alert named ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from chaosdrill import paths
from chaosdrill.errors import InvalidInputError
from chaosdrill.yamlsource import MAX_BYTES, YamlDocument, load_yaml, parse_yaml

__all__ = [
    "KINDS",
    "Problem",
    "ValidationReport",
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

TOOL_TIMEOUT_S = 60.0
_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
_SKIP_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class Problem:
    """One problem found in one file.

    Attributes:
        file: the file, as given or found (relative to the current directory when inside it).
        line: 1-based line where known.
        field: dotted path of the offending field where known.
        message: what is wrong and what was expected.
    """

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """The files checked and every problem found, in file order."""

    files: tuple[str, ...]
    problems: tuple[Problem, ...]

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
    if targets:
        for target in targets:
            _collect(Path(target), files, problems)
    else:
        for name in PROJECT_DIRS:
            directory = paths.PROJECT_ROOT / name
            if directory.is_dir():
                _collect(directory, files, problems)
    seen: set[Path] = set()
    unique: list[tuple[Path, str]] = []
    for path, shown in files:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((path, shown))
    refs = _References()
    jobs: list[tuple[Callable[[], list[Problem]], bool]] = []
    checked = [shown for _, shown in unique]
    for path, shown in unique:
        jobs.append(_job(path, shown, refs))
    if not targets:
        for label, text in _generated_alertmanager_configs():
            checked.append(label)
            jobs.append((partial(_check_generated_alertmanager, label, text), True))
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
    return ValidationReport(tuple(checked), tuple(problems))


# --- finding files ----------------------------------------------------------------------


def kind_of(path: Path) -> str | None:
    """The kind of file ``path`` is by its name and directory (a key of KINDS), or None."""
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


def _display(path: Path) -> str:
    """The path relative to the current directory when inside it, else as given."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _collect(path: Path, files: list[tuple[Path, str]], problems: list[Problem]) -> None:
    shown = _display(path)
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


# --- names other files may use ----------------------------------------------------------


_ALERT_LINE = re.compile(r"^\s*-?\s*alert:\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


class _References:
    """Runbooks, scenarios and alerts known next to a file and in the project.

    Every file is loaded once per validation: the check of a runbook and the runbooks a
    scenario names share one load.
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, Path], tuple[Any, InvalidInputError | None]] = {}
        self._alerts: dict[Path, set[str]] = {}
        self._lock = threading.Lock()  # rule files are loaded by the promtool threads too

    def load(self, kind: str, file: Path) -> tuple[Any, InvalidInputError | None]:
        """The model of a runbook, scenario or rule file, or the error loading it."""
        from chaosdrill.model_loader import load_runbook, load_scenario
        from chaosdrill.rules import load_rule_file

        loaders: dict[str, Callable[[str], Any]] = {
            "runbook": load_runbook,
            "scenario": load_scenario,
            "rules": load_rule_file,
        }
        key = (kind, file.resolve())
        with self._lock:
            return self._load(key, loaders[kind], file)

    def _load(
        self,
        key: tuple[str, Path],
        loader: Callable[[str], Any],
        file: Path,
    ) -> tuple[Any, InvalidInputError | None]:
        if key not in self._models:
            shown = _display(file)
            try:
                self._models[key] = (loader(shown), None)
            except InvalidInputError as exc:
                self._models[key] = (None, exc)
            except Exception as exc:  # never let one file stop the others
                self._models[key] = (None, InvalidInputError(f"could not be read: {exc!r}"))
        return self._models[key]

    @staticmethod
    def _dirs(path: Path, name: str) -> list[Path]:
        """``name`` next to the file's own directory, then the project's (no repeats)."""
        candidates = [path.absolute().parent.parent / name, paths.PROJECT_ROOT / name]
        if name == "probes":
            candidates.append(paths.PROBES_DIR)
        out: list[Path] = []
        for directory in candidates:
            if directory.is_dir() and all(directory.resolve() != d.resolve() for d in out):
                out.append(directory)
        return out

    def _named(self, path: Path, kind: str, directory: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for found in reversed(self._dirs(path, directory)):
            for file in sorted(found.glob("*.yaml")):
                out[file.stem] = self.load(kind, file)[0]
        return out

    def runbooks(self, path: Path) -> dict[str, Any]:
        """Runbook name -> Runbook (None when it does not load) for a file at ``path``."""
        return self._named(path, "runbook", "runbooks")

    def scenarios(self, path: Path) -> dict[str, Any]:
        """Scenario id -> Scenario (None when it does not load) for a file at ``path``."""
        return self._named(path, "scenario", "scenarios")

    def alerts(self, path: Path) -> set[str]:
        """Alert names of the rule files next to a file at ``path`` and of the project."""
        names: set[str] = set()
        for directory in self._dirs(path, "probes"):
            key = directory.resolve()
            if key not in self._alerts:
                found: set[str] = set()
                for file in sorted(directory.glob("*.rules.yml")):
                    rule_file, error = self.load("rules", file)
                    if error is None:
                        found |= {rule.name for rule in rule_file.alerts}
                    else:  # a broken file: still take the names it spells out
                        with contextlib.suppress(OSError):
                            found |= set(_ALERT_LINE.findall(file.read_text(errors="replace")))
                self._alerts[key] = found
            names |= self._alerts[key]
        return names


def _unknown(what: str, name: Any, known: Iterable[str], where: str) -> str:
    names = sorted(known)
    shown = ", ".join(names) if names else "none found"
    hint = difflib.get_close_matches(str(name), names, n=1)
    guess = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"no {what} named {name!r} {where}{guess}; expected one of: {shown}"


# --- checking one file ------------------------------------------------------------------


def _job(path: Path, shown: str, refs: _References) -> tuple[Callable[[], list[Problem]], bool]:
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
                    f"{', '.join(_PATTERNS)} (the kind follows from the directory and name)",
                )
            ]

        return unknown, False
    checkers: dict[str, Callable[[Path, str, _References], list[Problem]]] = {
        "scenario": _check_scenario,
        "runbook": _check_runbook,
        "experiment": _check_experiment,
        "plan": _check_plan,
        "rules": _check_rules,
        "rule-test": _check_rule_test,
        "alertmanager": _check_alertmanager,
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


_NOTE = re.compile(r"^also line (\d+), field '([^']*)': (.*)$", re.DOTALL)


def _from_error(exc: InvalidInputError, shown: str) -> list[Problem]:
    """An InvalidInputError (and the further problems in its notes) as problems."""
    out = [Problem(shown, exc.line, exc.field, exc.detail)]
    for note in getattr(exc, "__notes__", []):
        match = _NOTE.match(note)
        if match:
            out.append(Problem(shown, int(match.group(1)), match.group(2), match.group(3)))
    return out


def _check_runbook(path: Path, shown: str, refs: _References) -> list[Problem]:
    _, error = refs.load("runbook", path)
    return [] if error is None else _from_error(error, shown)


def _check_scenario(path: Path, shown: str, refs: _References) -> list[Problem]:
    scenario, error = refs.load("scenario", path)
    if error is not None:
        return _from_error(error, shown)
    runbooks = refs.runbooks(path)
    alerts = refs.alerts(path)
    checks: list[tuple[str, str, Iterable[str], str, str]] = []
    checks += [
        (f"runbooks.{i}", n, runbooks, "runbook", "in runbooks/")
        for i, n in enumerate(scenario.runbooks)
    ]
    checks += [
        (f"alerts.{i}", n, alerts, "alert", "in probes/*.rules.yml")
        for i, n in enumerate(scenario.alerts)
    ]
    for ci, cause in enumerate(scenario.common_causes):
        checks += [
            (f"common_causes.{ci}.alerts.{i}", n, alerts, "alert", "in probes/*.rules.yml")
            for i, n in enumerate(cause.alerts)
        ]
    return [
        Problem(shown, scenario.lines.get(where), where, _unknown(what, name, known, place))
        for where, name, known, what, place in checks
        if name not in known
    ]


def _check_plan(path: Path, shown: str, refs: _References) -> list[Problem]:
    from chaosdrill.plans import load_plan

    try:
        doc = load_yaml(shown)
    except InvalidInputError as exc:
        return _from_error(exc, shown)
    problems: list[Problem] = []
    try:
        load_plan(shown)
    except InvalidInputError as exc:
        problems += _from_error(exc, shown)
    # the alerts are checked even when the plan has other problems
    gates = doc.data.get("gates") if isinstance(doc.data, dict) else None
    names = gates.get("alerts_must_page") if isinstance(gates, dict) else None
    alerts = refs.alerts(path)
    for i, name in enumerate(names if isinstance(names, list) else []):
        where = ("gates", "alerts_must_page", i)
        dotted = ".".join(map(str, where))
        reported = any(p.field == dotted for p in problems)
        if isinstance(name, str) and name not in alerts and not reported:
            message = _unknown("alert", name, alerts, "in probes/*.rules.yml")
            problems.append(Problem(shown, doc.line_of(where), dotted, message))
    return problems


# --- experiments ------------------------------------------------------------------------

_ACTIVITY = re.compile(r"\b(?:action|probe|activity) '([^']+)'")
_CTK_MODULES = ("chaosdrill.ctk.actions", "chaosdrill.ctk.probes")


def _activities(experiment: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every activity of an experiment with its path."""
    hypothesis = experiment.get("steady-state-hypothesis")
    if isinstance(hypothesis, dict):
        for i, activity in enumerate(hypothesis.get("probes") or []):
            yield ("steady-state-hypothesis", "probes", i), activity
    for key in ("method", "rollbacks"):
        for i, activity in enumerate(experiment.get(key) or []):
            yield (key, i), activity


class _JsonLines:
    """Lines of an experiment's fields (JSON is YAML, so yamlsource can tell them)."""

    def __init__(self, text: str, shown: str) -> None:
        self._text = text
        self._shown = shown
        self._doc: YamlDocument | None = None
        self._parsed = False

    @property
    def doc(self) -> YamlDocument | None:
        """The parsed document (parsed when first needed; None if it cannot be)."""
        if not self._parsed:
            self._parsed = True
            with contextlib.suppress(InvalidInputError):
                self._doc = parse_yaml(self._text, self._shown)
        return self._doc

    def line(self, path: Sequence[str | int]) -> int | None:
        """Line of ``path`` where known."""
        doc = self.doc
        return None if doc is None else doc.line_of(path)


def _check_experiment(path: Path, shown: str, refs: _References) -> list[Problem]:
    from chaosdrill.drill.engine import load_experiment

    text = path.read_text(encoding="utf-8", errors="replace")
    lines = _JsonLines(text, shown)
    try:
        experiment = load_experiment(Path(shown))
    except InvalidInputError as exc:
        problem = _from_error(exc, shown)[0]
        match = _ACTIVITY.search(exc.detail)
        if problem.line is None and match and lines.doc is not None:
            for where, activity in _activities(lines.doc.data):
                if isinstance(activity, dict) and activity.get("name") == match.group(1):
                    dotted = ".".join(map(str, where))
                    problem = Problem(shown, lines.line(where), dotted, problem.message)
                    break
        return [problem]
    except Exception as exc:  # Chaos Toolkit's validation itself failed on odd input
        return [Problem(shown, None, None, f"Chaos Toolkit could not validate it: {exc!r}")]
    return _experiment_fields(experiment, shown, path, lines, refs)


def _experiment_fields(
    experiment: dict[str, Any], shown: str, path: Path, lines: _JsonLines, refs: _References
) -> list[Problem]:
    """The chaosdrill extension, its LoadSpec, and the names the experiment uses."""
    from chaosdrill.drill.setup import config_from_experiment
    from chaosdrill.load.spec import LoadSpec

    index = next(
        (
            i
            for i, e in enumerate(experiment.get("extensions") or [])
            if isinstance(e, dict) and e.get("name") == "chaosdrill"
        ),
        None,
    )
    ext_path: tuple[str | int, ...] = ("extensions",) if index is None else ("extensions", index)

    def at(*keys: str | int) -> tuple[int | None, str]:
        name = ".".join(["extensions[chaosdrill]", *map(str, keys)])
        return lines.line((*ext_path, *keys)), name

    try:
        cfg = config_from_experiment(experiment, experiment.get("configuration"), shown)
    except InvalidInputError as exc:
        problem = _from_error(exc, shown)[0]
        if problem.field and problem.field.startswith("extensions[chaosdrill]."):
            line, _ = at(problem.field.removeprefix("extensions[chaosdrill]."))
            problem = Problem(shown, line, problem.field, problem.message)
        elif problem.field == "time_scale":
            problem = Problem(
                shown,
                lines.line(("configuration", "chaosdrill_time_scale")),
                "configuration.chaosdrill_time_scale",
                problem.message,
            )
        elif problem.field and problem.line is None:
            line = lines.line(problem.field.split("."))
            problem = Problem(shown, line, problem.field, problem.message)
        return [problem]
    except (TypeError, ValueError, AttributeError) as exc:
        line, name = at()
        return [Problem(shown, line, name, f"{exc}; expected the chaosdrill extension's fields")]
    ext = experiment["extensions"][index]
    problems: list[Problem] = []

    def add(line: int | None, where: str, message: str) -> None:
        problems.append(Problem(shown, line, where, message))

    load_fields = [f.name for f in dataclasses.fields(LoadSpec)]
    unknown_load = [key for key in cfg.load if key not in load_fields]
    try:
        if unknown_load:
            key = unknown_load[0]
            add(
                *at("load", key),
                f"unknown key {key!r}; expected LoadSpec fields: {', '.join(load_fields)}",
            )
        else:
            LoadSpec(**cfg.load)
    except InvalidInputError as exc:
        load_keys = ("load", exc.field) if exc.field in cfg.load else ("load",)
        add(*at(*load_keys), exc.detail)
    except TypeError as exc:
        add(*at("load"), f"{exc}; expected LoadSpec fields (rate, users, workers, ...)")
    scenarios = refs.scenarios(path)
    runbooks = refs.runbooks(path)
    alerts = refs.alerts(path)
    if cfg.scenario not in scenarios:
        add(*at("scenario"), _unknown("scenario", cfg.scenario, scenarios, "in scenarios/"))
    else:
        scenario = scenarios[cfg.scenario]
        causes = [c.id for c in scenario.common_causes] if scenario is not None else None
        if causes is not None and cfg.cause not in causes:
            add(
                *at("cause"),
                f"{cfg.cause!r} is not a common cause of scenario {cfg.scenario!r}; "
                f"expected one of: {', '.join(causes)}",
            )
    if cfg.alert not in alerts:
        add(*at("alert"), _unknown("alert", cfg.alert, alerts, "in probes/*.rules.yml"))
    named: list[tuple[tuple[str | int, ...], Any]] = [(("runbook",), cfg.runbook)]
    named += [(("runbooks", i), n) for i, n in enumerate(ext.get("runbooks") or [])]
    for keys, name in named:
        if name not in runbooks:
            add(*at(*keys), _unknown("runbook", name, runbooks, "in runbooks/"))
    for where, activity in _activities(experiment):
        provider = activity.get("provider") if isinstance(activity, dict) else None
        if not isinstance(provider, dict) or provider.get("module") not in _CTK_MODULES:
            continue
        args = provider.get("arguments") or {}
        arg_path = (*where, "provider", "arguments")
        dotted = ".".join(map(str, arg_path))
        func = provider.get("func")
        if func in ("wait_for_page", "wait_for_recovery") and args.get("alert") not in alerts:
            add(
                lines.line((*arg_path, "alert")),
                f"{dotted}.alert",
                _unknown("alert", args.get("alert"), alerts, "in probes/*.rules.yml"),
            )
        elif func == "run_runbook":
            wanted = args.get("name")
            if wanted not in runbooks:
                add(
                    lines.line((*arg_path, "name")),
                    f"{dotted}.name",
                    _unknown("runbook", wanted, runbooks, "in runbooks/"),
                )
            elif runbooks[wanted] is not None:
                try:
                    runbooks[wanted].resolve_params(args.get("params") or {})
                except InvalidInputError as exc:
                    param_path = (exc.field or "params").split(".")
                    add(lines.line((*arg_path, *param_path)), f"{dotted}.{exc.field}", exc.detail)
        elif func == "inject_fault":
            problems.extend(_check_fault(args, arg_path, shown, lines))
    return problems


def _check_fault(
    args: Mapping[str, Any], arg_path: tuple[str | int, ...], shown: str, lines: _JsonLines
) -> list[Problem]:
    from chaosdrill.faults import make_fault

    dotted = ".".join(map(str, arg_path))
    try:
        make_fault(str(args.get("kind")), dict(args.get("params") or {}))
    except InvalidInputError as exc:
        key = "kind" if exc.field == "fault.kind" else "params"
        return [Problem(shown, lines.line((*arg_path, key)), f"{dotted}.{key}", exc.detail)]
    except (TypeError, ValueError) as exc:
        return [
            Problem(
                shown,
                lines.line((*arg_path, "params")),
                f"{dotted}.params",
                f"{exc}; expected the parameters of fault {args.get('kind')!r}",
            )
        ]
    return []


# --- promtool and amtool ----------------------------------------------------------------


def _run_tool(tool: str, args: Sequence[str], shown: str) -> tuple[int, str] | Problem:
    """Run promtool or amtool; a missing tool or a timeout is a problem of ``shown``."""
    program = shutil.which(tool)
    if program is None:
        package = _PACKAGES[tool]
        return Problem(
            shown,
            None,
            None,
            f"{tool} is not installed (not found on PATH), so this file was not checked by it; "
            f"install the Debian package {package} (apt-get install {package})",
        )
    try:
        done = subprocess.run(
            [program, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=TOOL_TIMEOUT_S,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        return Problem(shown, None, None, f"{tool} did not finish in {TOOL_TIMEOUT_S:g} s")
    except OSError as exc:
        return Problem(shown, None, None, f"{tool} could not be started: {exc}")
    return done.returncode, done.stdout


_YAML_LINE = re.compile(r"yaml: line (\d+): (.*)")
_UNMARSHAL_LINE = re.compile(r"^\s*line (\d+): (.*)$")
_RULE_ERROR = re.compile(r"^(?P<file>.+?): (?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")
_RULE_WHERE = re.compile(r'^group "(?P<group>[^"]*)", rule \d+, "(?P<rule>[^"]*)": (?P<rest>.*)$')


_UNKNOWN_FIELD = re.compile(r"field (?P<key>\S+) not found in type")


def _field_at(doc: YamlDocument | None, line: int, key: str | None = None) -> str | None:
    """The dotted field written at ``line`` of ``doc`` (whose last key is ``key``, if given)."""
    if doc is None:
        return None
    for path, at in doc.lines.items():
        if at == line and path and (key is None or path[-1] == key):
            return ".".join(map(str, path))
    return None


def _field_of_value(doc: YamlDocument | None, value: str) -> tuple[int | None, str | None]:
    """Line and dotted field of the first scalar equal to ``value`` in ``doc``."""
    if doc is None:
        return None, None
    for path, at in sorted(doc.lines.items(), key=lambda item: item[1]):
        node: Any = doc.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if path and node == value:
            return at, ".".join(map(str, path))
    return None, None


def _yaml_problems(text: str, shown: str, doc: YamlDocument | None = None) -> list[Problem]:
    """Problems of the ``yaml: line N: ...`` and ``yaml: unmarshal errors:`` kinds."""
    out = []
    match = _YAML_LINE.search(text)
    if match:
        out.append(Problem(shown, int(match.group(1)), None, f"YAML: {match.group(2).strip()}"))
    if "unmarshal errors" in text:
        after = text.split("unmarshal errors:", 1)[1]
        for line in after.splitlines():
            m = _UNMARSHAL_LINE.match(line)
            if not m:
                continue
            number, message = int(m.group(1)), m.group(2).strip()
            unknown = _UNKNOWN_FIELD.search(message)
            if unknown:
                key = unknown.group("key")
                out.append(
                    Problem(
                        shown,
                        number,
                        _field_at(doc, number, key),
                        f"unknown key {key!r} ({message})",
                    )
                )
            else:
                out.append(Problem(shown, number, _field_at(doc, number), message))
    return out


def _tool_failed(tool: str, rc: int, output: str, shown: str) -> Problem:
    tail = " ".join(output.split())[-400:]
    return Problem(shown, None, None, f"{tool} failed (exit {rc}): {tail}")


def _check_rules(path: Path, shown: str, refs: _References) -> list[Problem]:
    _, error = refs.load("rules", path)
    if error is not None:
        return _from_error(error, shown)
    ran = _run_tool("promtool", ["check", "rules", shown], shown)
    if isinstance(ran, Problem):
        return [ran]
    rc, output = ran
    if rc == 0:
        return []
    problems = []
    for line in output.splitlines():
        m = _RULE_ERROR.match(line.strip())
        if not m:
            continue
        message = m.group("msg")
        where = _RULE_WHERE.match(message)
        field_name = None
        if where:
            key = "expr" if "expression" in where.group("rest") else None
            field_name = ".".join(p for p in (where.group("group"), where.group("rule"), key) if p)
        problems.append(Problem(shown, int(m.group("line")), field_name, message))
    if not problems:
        doc = None
        with contextlib.suppress(InvalidInputError):
            doc = load_yaml(shown)
        problems = _yaml_problems(output, shown, doc)
    return problems or [_tool_failed("promtool check rules", rc, output, shown)]


_TEST_NAME = re.compile(r"^\s*name: (?P<name>.*),\s*$", re.MULTILINE)
_ALERT_CASE = re.compile(r"alertname: (?P<alert>[^,]+), time: (?P<time>[^,]+),")
_EXPR_CASE = re.compile(r'expr: (?P<expr>".*"), time: (?P<time>[^,]+),')
_NO_MATCH = re.compile(r"WARNING: no file match pattern (?P<pattern>.+)$", re.MULTILINE)


def _same_time(a: Any, b: str) -> bool:
    from chaosdrill.rules import parse_duration

    try:
        return parse_duration(str(a).strip()) == parse_duration(b.strip())
    except ValueError:
        return str(a).strip() == b.strip()


def _locate_case(doc: YamlDocument, block: str) -> tuple[str | int, ...] | None:
    """The path of the unit test case a promtool failure block is about."""
    tests = doc.data.get("tests") if isinstance(doc.data, dict) else None
    if not isinstance(tests, list):
        return None
    name_match = _TEST_NAME.search(block)
    name = name_match.group("name").strip() if name_match else None
    alert = _ALERT_CASE.search(block)
    expr = _EXPR_CASE.search(block)
    for i, test in enumerate(tests):
        if not isinstance(test, dict) or (name is not None and test.get("name") != name):
            continue
        if alert:
            for j, case in enumerate(test.get("alert_rule_test") or []):
                if (
                    isinstance(case, dict)
                    and case.get("alertname") == alert.group("alert").strip()
                    and _same_time(case.get("eval_time"), alert.group("time"))
                ):
                    return ("tests", i, "alert_rule_test", j)
        if expr:
            try:
                wanted = json.loads(expr.group("expr"))
            except ValueError:
                wanted = expr.group("expr").strip('"')
            for j, case in enumerate(test.get("promql_expr_test") or []):
                if (
                    isinstance(case, dict)
                    and str(case.get("expr", "")).strip() == str(wanted).strip()
                    and _same_time(case.get("eval_time"), expr.group("time"))
                ):
                    return ("tests", i, "promql_expr_test", j)
        if name is not None:
            return ("tests", i)
    return None


def _check_rule_test(path: Path, shown: str, refs: _References) -> list[Problem]:
    try:
        doc = load_yaml(shown)
    except InvalidInputError as exc:
        return _from_error(exc, shown)
    ran = _run_tool("promtool", ["test", "rules", shown], shown)
    if isinstance(ran, Problem):
        return [ran]
    rc, output = ran
    problems = []
    rule_files = doc.data.get("rule_files") if isinstance(doc.data, dict) else None
    for m in _NO_MATCH.finditer(output):
        pattern = m.group("pattern").strip()
        where: tuple[str | int, ...] = ("rule_files",)
        for i, entry in enumerate(rule_files if isinstance(rule_files, list) else []):
            if Path(pattern) in (Path(str(entry)), Path(shown).parent / str(entry)):
                where, pattern = ("rule_files", i), str(entry)
        problems.append(
            Problem(
                shown,
                doc.line_of(where),
                ".".join(map(str, where)),
                f"no rule file matches {pattern!r} (relative to this file's directory); "
                "expected an existing rule file",
            )
        )
    if rc == 0:
        return problems
    body = output.split("FAILED:", 1)[1] if "FAILED:" in output else output
    blocks = [b for b in re.split(r"\n\s*\n", body) if b.strip()]
    for block in blocks:
        text = block.strip()
        if text.startswith(("Unit Testing:", "SUCCESS")):
            continue
        compact = " ".join(text.split())
        yaml_found = _yaml_problems(text, shown, doc)
        if yaml_found:
            problems += yaml_found
            continue
        rule_error = _RULE_ERROR.match(text.splitlines()[0].strip())
        if rule_error:
            where = ("rule_files",)
            problems.append(
                Problem(
                    shown,
                    doc.line_of(where),
                    "rule_files",
                    f"rule file {rule_error.group('file')} line {rule_error.group('line')}: "
                    f"{rule_error.group('msg')}",
                )
            )
            continue
        case = _locate_case(doc, text)
        if case is not None or _ALERT_CASE.search(text) or _EXPR_CASE.search(text):
            problems.append(
                Problem(
                    shown,
                    doc.line_of(case) if case else None,
                    ".".join(map(str, case)) if case else "tests",
                    f"unit test failed: {compact[:600]}",
                )
            )
            continue
        problems.append(Problem(shown, None, None, f"promtool test rules: {compact[:600]}"))
    return problems or [_tool_failed("promtool test rules", rc, output, shown)]


def _amtool_problems(
    rc: int, output: str, shown: str, doc: YamlDocument | None, label: str | None = None
) -> list[Problem]:
    if rc == 0:
        return []
    file = label or shown
    problems = [
        Problem(file, p.line, p.field, p.message) for p in _yaml_problems(output, shown, doc)
    ]
    if problems:
        return problems
    failed = re.search(r"FAILED: (.*)", output)
    if failed:
        message = failed.group(1).strip()
        quoted = re.search(r'"([^"]+)"', message)
        line, where = _field_of_value(doc, quoted.group(1)) if quoted else (None, None)
        return [Problem(file, line, where, f"Alertmanager says: {message}")]
    return [_tool_failed("amtool check-config", rc, output, file)]


def _check_alertmanager(path: Path, shown: str, refs: _References) -> list[Problem]:
    try:
        doc = load_yaml(shown)
    except InvalidInputError as exc:
        return _from_error(exc, shown)
    ran = _run_tool("amtool", ["check-config", shown], shown)
    if isinstance(ran, Problem):
        return [ran]
    return _amtool_problems(*ran, shown, doc)


def _generated_alertmanager_configs() -> list[tuple[str, str]]:
    """The Alertmanager configuration environments get, at time scale 1 and 1000."""
    from chaosdrill.environments.local.monitoring import alertmanager_config
    from chaosdrill.timescale import TimeScale

    out = []
    for k in (1.0, 1000.0):
        group_wait = TimeScale(k).group_wait_s
        label = f"<alertmanager.yml generated by chaosdrill at time scale {k:g}>"
        out.append((label, alertmanager_config(pager_port=9, group_wait_s=group_wait)))
    return out


def _check_generated_alertmanager(label: str, text: str) -> list[Problem]:
    with tempfile.TemporaryDirectory(prefix="chaosdrill-validate-") as tmp:
        file = Path(tmp) / "alertmanager.yml"
        file.write_text(text)
        ran = _run_tool("amtool", ["check-config", str(file)], label)
        if isinstance(ran, Problem):
            return [ran]
        return _amtool_problems(*ran, str(file), None, label=label)
