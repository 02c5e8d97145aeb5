"""The checks ``chaosdrill validate`` does in Python: runbooks, scenarios, plans, experiments.

Each check loads its file with chaosdrill's own loader and looks up the names it uses from
the other files; an experiment is also checked by Chaos Toolkit and for its chaosdrill
extension, load, faults and the runbooks and alerts its activities name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
    for _, name, known, what, _ in checks:  # which file each known name resolves to
        if name in known:
            refs.catalogue.runbook(name) if what == "runbook" else refs.catalogue.alert(name)
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
        plan = load_plan(shown)
    except InvalidInputError as exc:
        problems += from_error(exc, shown)
    else:
        refs.note_experiments(plan)
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
_INDEX = re.compile(r"\[(\d+)\]")


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
    return _spec_problems(experiment, shown, lines, refs)


def _spec_problems(
    experiment: dict[str, Any], shown: str, lines: ExperimentLines, refs: References
) -> list[Problem]:
    """What ``chaosdrill run`` would refuse: every problem of its drill spec checks."""
    from chaosdrill.scenarios.spec import spec_problems

    problems: list[Problem] = []
    for exc in spec_problems(experiment, shown, located=lines.line, catalogue=refs.catalogue):
        if exc.source == shown:
            problems.append(_spec_problem(exc, shown))
        else:  # a file the experiment names (a runbook, a scenario) is itself broken
            problems += from_error(exc, exc.source or shown)
    return problems


def _spec_problem(exc: InvalidInputError, shown: str) -> Problem:
    """A drill spec error as validate names fields (``method.0.provider``, not ``method[0]``)."""
    field = _INDEX.sub(r".\1", exc.field) if exc.field else None
    return Problem(shown, exc.line, field, exc.detail)
