"""The checks ``chaosdrill validate`` does in Python: runbooks, scenarios, plans, experiments.

Each check loads its file with chaosdrill's own loader and looks up the names it uses from
the other files; an experiment is also checked by Chaos Toolkit and for its chaosdrill
extension, load, faults and the runbooks and alerts its activities name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.scenarios.experiment import ExperimentLines, activities
from chaosdrill.validate.problem import Problem, from_error
from chaosdrill.validate.refs import References, unknown_name
from chaosdrill.yamlsource import load_yaml

__all__ = ["check_experiment", "check_plan", "check_runbook", "check_scenario"]


def check_runbook(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of a runbook file (its loader's checks)."""
    _, error = refs.load("runbook", path)
    return [] if error is None else from_error(error, shown)


def check_scenario(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of a scenario file, and the runbooks and alerts it names."""
    scenario, error = refs.load("scenario", path)
    if error is not None:
        return from_error(error, shown)
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
        Problem(shown, scenario.lines.get(where), where, unknown_name(what, name, known, place))
        for where, name, known, what, place in checks
        if name not in known
    ]


def check_plan(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of a drill plan, its experiments' drill specs and the alerts it gates on."""
    from chaosdrill.plans.model import load_plan

    try:
        doc = load_yaml(shown)
    except InvalidInputError as exc:
        return from_error(exc, shown)
    problems: list[Problem] = []
    try:
        load_plan(shown)
    except InvalidInputError as exc:
        problems += from_error(exc, shown)
    # the alerts are checked even when the plan has other problems
    gates = doc.data.get("gates") if isinstance(doc.data, dict) else None
    names = gates.get("alerts_must_page") if isinstance(gates, dict) else None
    alerts = refs.alerts(path)
    for i, name in enumerate(names if isinstance(names, list) else []):
        where = ("gates", "alerts_must_page", i)
        dotted = ".".join(map(str, where))
        reported = any(p.field == dotted for p in problems)
        if isinstance(name, str) and name not in alerts and not reported:
            message = unknown_name("alert", name, alerts, "in probes/*.rules.yml")
            problems.append(Problem(shown, doc.line_of(where), dotted, message))
    return problems


# --- experiments ------------------------------------------------------------------------

_ACTIVITY = re.compile(r"\b(?:action|probe|activity) '([^']+)'")
_CTK_MODULES = ("chaosdrill.ctk.actions", "chaosdrill.ctk.probes")


def check_experiment(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of an experiment: Chaos Toolkit's validation, then the drill spec."""
    from chaosdrill.scenarios.experiment import load_experiment

    text = path.read_text(encoding="utf-8", errors="replace")
    lines = ExperimentLines(text, shown)
    try:
        experiment = load_experiment(Path(shown))
    except InvalidInputError as exc:
        problem = from_error(exc, shown)[0]
        match = _ACTIVITY.search(exc.detail)
        if problem.line is None and match and lines.doc is not None:
            for where, activity in activities(lines.doc.data):
                if isinstance(activity, dict) and activity.get("name") == match.group(1):
                    dotted = ".".join(map(str, where))
                    problem = Problem(shown, lines.line(where), dotted, problem.message)
                    break
        return [problem]
    except Exception as exc:  # Chaos Toolkit's validation itself failed on odd input
        return [Problem(shown, None, None, f"Chaos Toolkit could not validate it: {exc!r}")]
    return _experiment_fields(experiment, shown, path, lines, refs)


def _experiment_fields(
    experiment: dict[str, Any], shown: str, path: Path, lines: ExperimentLines, refs: References
) -> list[Problem]:
    """The chaosdrill extension, its LoadSpec, and the names the experiment uses."""
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
        cfg = _extension_fields(experiment, shown)
    except InvalidInputError as exc:
        problem = from_error(exc, shown)[0]
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
        add(*at("scenario"), unknown_name("scenario", cfg.scenario, scenarios, "in scenarios/"))
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
        add(*at("alert"), unknown_name("alert", cfg.alert, alerts, "in probes/*.rules.yml"))
    named: list[tuple[tuple[str | int, ...], Any]] = [(("runbook",), cfg.runbook)]
    named += [(("runbooks", i), n) for i, n in enumerate(ext.get("runbooks") or [])]
    for keys, name in named:
        if name not in runbooks:
            add(*at(*keys), unknown_name("runbook", name, runbooks, "in runbooks/"))
    for where, activity in activities(experiment):
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
                unknown_name("alert", args.get("alert"), alerts, "in probes/*.rules.yml"),
            )
        elif func == "run_runbook":
            wanted = args.get("name")
            if wanted not in runbooks:
                add(
                    lines.line((*arg_path, "name")),
                    f"{dotted}.name",
                    unknown_name("runbook", wanted, runbooks, "in runbooks/"),
                )
            elif runbooks[wanted] is not None:
                try:
                    runbooks[wanted].resolve_params(args.get("params") or {})
                except InvalidInputError as exc:
                    param_path = (exc.field or "params").split(".")
                    add(lines.line((*arg_path, *param_path)), f"{dotted}.{exc.field}", exc.detail)
        elif func == "inject_fault":
            problems.extend(_check_fault(args, arg_path, shown, lines))
    return problems or _spec_problems(experiment, shown, lines)


def _spec_problems(experiment: dict[str, Any], shown: str, lines: ExperimentLines) -> list[Problem]:
    """What ``chaosdrill run`` would refuse: the drill spec, resolved as a run resolves it."""
    from chaosdrill.scenarios.spec import resolve_spec

    try:
        resolve_spec(experiment, shown, located=lines.line)
    except InvalidInputError as exc:
        return from_error(exc, shown)
    return []


@dataclasses.dataclass(frozen=True)
class _ExtensionFields:
    """The names of the chaosdrill extension the reference checks look up."""

    scenario: str
    cause: str
    alert: str
    runbook: str
    load: dict[str, Any]


def _extension_fields(experiment: dict[str, Any], shown: str) -> _ExtensionFields:
    """The chaosdrill extension's names and merged load settings (InvalidInputError if absent)."""
    ext = next(
        (
            e
            for e in experiment.get("extensions") or []
            if isinstance(e, dict) and e.get("name") == "chaosdrill"
        ),
        None,
    )
    if ext is None:
        raise InvalidInputError(
            "expected an extension named 'chaosdrill'", source=shown, field="extensions"
        )
    names = {}
    for key in ("scenario", "cause", "alert", "runbook"):
        if not isinstance(ext.get(key), str) or not ext[key]:
            raise InvalidInputError(
                "expected a non-empty string", source=shown, field=f"extensions[chaosdrill].{key}"
            )
        names[key] = ext[key]
    load = ext.get("load") or {}
    override = (experiment.get("configuration") or {}).get("chaosdrill_load") or {}
    for given, where in (
        (load, "extensions[chaosdrill].load"),
        (override, "configuration.chaosdrill_load"),
    ):
        if not isinstance(given, dict):
            raise InvalidInputError(
                "expected a mapping of LoadSpec fields", source=shown, field=where
            )
    return _ExtensionFields(load={**load, **override}, **names)


def _check_fault(
    args: Mapping[str, Any], arg_path: tuple[str | int, ...], shown: str, lines: ExperimentLines
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
