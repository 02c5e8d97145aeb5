"""The drill spec: everything a drill asks for, resolved and checked before anything starts.

``resolve_spec`` reads an experiment's ``chaosdrill`` extension, its configuration, its
chaosdrill activities (``inject_fault``, ``wait_for_page``, ``run_runbook``, ...) and the
command-line overrides, and checks each against the catalogue: the scenario and its cause,
the fault kind and its parameters (validated by the fault itself), every alert (defined in
``probes/*.rules.yml``), every runbook and its parameters, the load, targets, time scale,
hold and recovery timeout. A mistake is an :class:`~chaosdrill.errors.InvalidInputError`
naming the file, field and (where known) line; nothing has been started or created then.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosdrill.environments.opening import environment_name
from chaosdrill.errors import InvalidInputError
from chaosdrill.faults.base import Fault
from chaosdrill.load.spec import LoadSpec
from chaosdrill.runbooks.model import ParamValue, Runbook
from chaosdrill.scenarios.catalogue import Catalogue
from chaosdrill.scenarios.experiment import (
    ExperimentLines,
    activities,
    load_experiment,
    read_experiment_text,
)
from chaosdrill.scenarios.settings import (
    EXTENSION_FIELD as EXT,
)
from chaosdrill.scenarios.settings import (
    FieldErrors,
    Located,
    Settings,
    SpecOverrides,
    dotted,
    resolve_load,
    resolve_timing,
)
from chaosdrill.timescale import TimeScale

__all__ = ["DrillSpec", "FaultSpec", "RunbookSpec", "load_spec", "resolve_spec", "spec_problems"]

ACTIONS_MODULE = "chaosdrill.ctk.actions"
PROBES_MODULE = "chaosdrill.ctk.probes"


@dataclass(frozen=True)
class FaultSpec:
    """The fault the drill injects: its kind, its parameters and the built fault."""

    kind: str
    params: Mapping[str, Any]
    fault: Fault = field(compare=False, repr=False)


@dataclass(frozen=True)
class RunbookSpec:
    """A runbook the drill runs, with its parameters resolved against its declaration."""

    name: str
    params: Mapping[str, ParamValue]
    runbook: Runbook = field(compare=False, repr=False)


@dataclass(frozen=True)
class DrillSpec:
    """One drill, fully resolved: what to inject, expect, run and judge it by."""

    experiment: str
    title: str
    scenario: str
    cause: str
    fault: FaultSpec
    alert: str
    runbook: RunbookSpec
    runbooks: tuple[RunbookSpec, ...]
    load: LoadSpec
    env_name: str
    time_scale: TimeScale
    hold_production_s: float
    recovery_timeout_production_s: float | None
    reports_dir: Path
    replicas: int
    alerts: tuple[str, ...] = ()

    @property
    def load_settings(self) -> dict[str, Any]:
        """The load as LoadSpec keyword arguments."""
        return dataclasses.asdict(self.load)

    @property
    def hold_s(self) -> float:
        """Hold period in drill seconds."""
        return self.time_scale.drill(self.hold_production_s)

    @property
    def detection_timeout_s(self) -> float:
        """How long (drill seconds) to wait for the page before calling detection failed."""
        return max(3 * self.time_scale.mttd_target_s, 10.0)

    @property
    def recovery_timeout_s(self) -> float:
        """How long to wait for steady state to return and hold: twice the MTTR target."""
        if self.recovery_timeout_production_s is not None:
            return self.time_scale.drill(self.recovery_timeout_production_s) + self.hold_s
        return max(2 * self.time_scale.mttr_target_s, 30.0) + self.hold_s

    @property
    def slo_window_s(self) -> float:
        """Window of client SLIs judged for steady state: one production minute, at least 2 s."""
        return max(2.0, self.time_scale.drill(60.0))


class _Resolver(FieldErrors):
    """The errors of one experiment, and the catalogue its names are checked against."""

    def __init__(
        self, source: str, located: Located, catalogue: Catalogue, *, collect: bool = False
    ) -> None:
        super().__init__(source, located, collect=collect)
        self.catalogue = catalogue


def _extension(experiment: Mapping[str, Any], r: _Resolver) -> tuple[int, Mapping[str, Any]]:
    extensions = experiment.get("extensions")
    if extensions is not None and not isinstance(extensions, list):
        r.error("expected a list of extensions", ("extensions",))
    for i, ext in enumerate(extensions or []):
        if isinstance(ext, dict) and ext.get("name") == "chaosdrill":
            return i, ext
    r.error("expected an extension named 'chaosdrill'", ("extensions",))


def _activities(experiment: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, Any]]:
    """(path, func, arguments) of every chaosdrill activity, in the experiment's order."""
    found: list[tuple[tuple[str | int, ...], str, Any]] = []
    for where, activity in activities(experiment):
        provider = activity.get("provider") if isinstance(activity, dict) else None
        if isinstance(provider, dict) and provider.get("module") in (ACTIONS_MODULE, PROBES_MODULE):
            path = (*where, "provider", "arguments")
            found.append((path, str(provider.get("func")), provider.get("arguments") or {}))
    return found


def _text(ext: Mapping[str, Any], key: str, at: tuple[str | int, ...], r: _Resolver) -> str:
    value = ext.get(key)
    if not isinstance(value, str) or not value.strip():
        r.error(f"expected a non-empty string, got {value!r}", (*at, key), f"{EXT}.{key}")
    return str(value)


def _fault(kind: Any, params: Any, path: tuple[str | int, ...], r: _Resolver) -> FaultSpec:
    from chaosdrill.faults import REGISTRY, make_fault

    name = dotted(path)

    def known_kind() -> str:
        if not isinstance(kind, str) or kind not in REGISTRY:
            r.error(
                f"unknown fault kind {kind!r}; expected one of: {', '.join(sorted(REGISTRY))}",
                (*path, "kind"),
                f"{name}.kind",
            )
        return kind

    def mapping() -> Mapping[str, Any]:
        if params is not None and not isinstance(params, dict):
            r.error(
                f"expected a mapping of the fault's parameters, got {params!r}",
                (*path, "params"),
                f"{name}.params",
            )
        return params or {}

    attempted = r.attempt(known_kind), r.attempt(mapping)
    checked_kind, checked_params = r.checked(attempted[0]), r.checked(attempted[1])
    try:
        fault = make_fault(checked_kind, dict(checked_params))
    except InvalidInputError as exc:
        r.rethrow(exc, (*path, "params"), f"{name}.params")
    _capable(f"fault {checked_kind!r}", fault.requires(), (*path, "kind"), f"{name}.kind", r)
    return FaultSpec(kind, dict(fault.params), fault)


def _capable(
    what: str, needed: Iterable[str], path: tuple[str | int, ...], field_name: str, r: _Resolver
) -> None:
    """Refuse ``what`` when the workspace's target lacks a capability it needs."""
    from chaosdrill.targets.spec import missing_capabilities

    target = r.catalogue.workspace.target()
    missing = missing_capabilities(target, needed)
    if missing:
        declared = ", ".join(sorted(target.capabilities)) or "nothing beyond its database"
        r.error(
            f"{what} needs the target's capability {', '.join(repr(m) for m in missing)}, "
            f"which target {target.name!r} ({target.source}) does not declare; it declares: "
            f"{declared} (docs/workspaces.md: capabilities)",
            path,
            field_name,
        )


def _runbook(
    name: Any, params: Any, path: tuple[str | int, ...], field_name: str, r: _Resolver
) -> RunbookSpec:
    """A runbook of the catalogue with its parameters checked (``path`` is the name's)."""
    book = r.catalogue.runbook(name) if isinstance(name, str) else None
    if book is None:
        known = ", ".join(r.catalogue.runbook_names())
        r.error(
            f"no runbook named {name!r} in {r.catalogue.where('runbooks')}"
            f"{_guess(name, r.catalogue.runbook_names())}; expected one of: {known}",
            path,
            field_name,
        )
    if params is not None and not isinstance(params, dict):
        r.error(f"expected a mapping of runbook parameters, got {params!r}", path, field_name)
    base = path[:-1]
    try:
        values = book.resolve_params(params)
    except InvalidInputError as exc:
        params_key = "runbook_params" if field_name.startswith(EXT) else "params"
        r.rethrow(
            exc,
            (*base, params_key),
            dotted((*base, params_key))
            if not field_name.startswith(EXT)
            else f"{EXT}.{params_key}",
        )
    _capable(f"runbook {name!r}", book.needs(), path, field_name, r)
    return RunbookSpec(str(name), values, book)


def _guess(name: Any, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name closest to ``name``, or nothing."""
    hint = difflib.get_close_matches(str(name), sorted(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def _alert(name: Any, path: tuple[str | int, ...], field_name: str, r: _Resolver) -> str:
    known = r.catalogue.alert_names()
    if not isinstance(name, str) or name not in known:
        r.error(
            f"no alert named {name!r} in {r.catalogue.where('rules')}"
            f"{_guess(name, known)}; "
            f"expected one of: {', '.join(sorted(known))}",
            path,
            field_name,
        )
    r.catalogue.alert(str(name))  # which rule file defines it (validate lists it)
    return str(name)


def _scenario(ext: Mapping[str, Any], at: tuple[str | int, ...], r: _Resolver) -> tuple[str, str]:
    """The scenario and its cause (each checked even when the other has a problem)."""
    attempted = r.attempt(_text, ext, "scenario", at, r), r.attempt(_text, ext, "cause", at, r)
    scenario_id = r.checked(attempted[0])
    scenario = r.catalogue.scenario(scenario_id)
    if scenario is None:
        known = ", ".join(r.catalogue.scenario_ids())
        r.error(
            f"no scenario named {scenario_id!r} in {r.catalogue.where('scenarios')}"
            f"{_guess(scenario_id, r.catalogue.scenario_ids())}; "
            f"expected one of: {known}",
            (*at, "scenario"),
            f"{EXT}.scenario",
        )
    causes = [c.id for c in scenario.common_causes]
    cause = r.checked(attempted[1])
    if causes and cause not in causes:
        r.error(
            f"scenario {scenario_id!r} has no cause {cause!r}; "
            f"expected one of: {', '.join(causes)}",
            (*at, "cause"),
            f"{EXT}.cause",
        )
    return scenario_id, cause


def _replicas(ext: Mapping[str, Any], at: tuple[str | int, ...], r: _Resolver) -> int:
    value = ext.get("replicas", 2)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        r.error(
            f"expected an integer from 1 to 16, got {value!r}", (*at, "replicas"), f"{EXT}.replicas"
        )
    return int(value)


@dataclass(frozen=True)
class _Named:
    """What the chaosdrill extension names: scenario, cause, alert and main runbook."""

    scenario: str
    cause: str
    alert: str
    runbook: RunbookSpec


def _named(ext: Mapping[str, Any], at: tuple[str | int, ...], r: _Resolver) -> _Named:
    """The extension's names, each checked against the catalogue (also ``runbooks``)."""
    scenario = r.attempt(_scenario, ext, at, r)
    alert = r.attempt(_alert, ext.get("alert"), (*at, "alert"), f"{EXT}.alert", r)
    main = r.attempt(
        _runbook,
        ext.get("runbook"),
        ext.get("runbook_params"),
        (*at, "runbook"),
        f"{EXT}.runbook",
        r,
    )
    listed = ext.get("runbooks") or []
    if not isinstance(listed, list):
        r.attempt(
            r.error,
            f"expected a list of runbook names, got {listed!r}",
            (*at, "runbooks"),
            f"{EXT}.runbooks",
        )
        listed = []
    for i, name in enumerate(listed):
        r.attempt(_runbook, name, None, (*at, "runbooks", i), f"{EXT}.runbooks[{i}]", r)
    scenario_id, cause = r.checked(scenario)
    return _Named(scenario_id, cause, r.checked(alert), r.checked(main))


def _activity(
    path: tuple[str | int, ...], func: str, args: Any, r: _Resolver
) -> FaultSpec | str | RunbookSpec | None:
    """The fault, alert or runbook one chaosdrill activity names (None: another activity)."""
    if not isinstance(args, dict):
        r.error(f"expected a mapping of arguments, got {args!r}", path)
    if func == "inject_fault":
        return _fault(args.get("kind"), args.get("params"), path, r)
    if func in ("wait_for_page", "wait_for_recovery"):
        return _alert(args.get("alert"), (*path, "alert"), dotted((*path, "alert")), r)
    if func == "run_runbook":
        where = (*path, "name")
        return _runbook(args.get("name"), args.get("params"), where, dotted(where), r)
    return None


def _method(
    experiment: Mapping[str, Any], r: _Resolver
) -> tuple[list[FaultSpec], list[str], list[RunbookSpec]]:
    """The faults, alerts and runbooks the chaosdrill activities name, each checked.

    An activity with a problem adds none (its problem is recorded when collecting).
    """
    found = _activities(experiment)
    named = [r.attempt(_activity, path, func, args, r) for path, func, args in found]
    if not any(func == "inject_fault" for _, func, _ in found):
        r.attempt(
            r.error, "expected an inject_fault action (module chaosdrill.ctk.actions)", ("method",)
        )
    faults = [v for v in named if isinstance(v, FaultSpec)]
    alerts = [v for v in named if isinstance(v, str)]
    runbooks = [v for v in named if isinstance(v, RunbookSpec)]
    return faults, alerts, runbooks


def _env_name(
    configuration: Mapping[str, Any] | None, conf: Settings, overrides: SpecOverrides, r: _Resolver
) -> str:
    declared = (configuration or {}).get("chaosdrill_env") or None
    env_name = environment_name(overrides.env_name, declared)
    if not isinstance(env_name, str):
        path, name = conf.where("chaosdrill_env")
        r.error(f"expected an environment name, got {env_name!r}", path, name)
    return env_name


def resolve_spec(
    experiment: Mapping[str, Any],
    source: str,
    configuration: Mapping[str, Any] | None = None,
    overrides: SpecOverrides | None = None,
    *,
    located: Located | None = None,
    catalogue: Catalogue | None = None,
) -> DrillSpec:
    """The drill an experiment asks for, every part checked; nothing is started.

    Args:
        experiment: the experiment (already valid for Chaos Toolkit).
        source: the file it came from (named in every error).
        configuration: its configuration (default: the experiment's own).
        overrides: command-line or plan settings over the configuration.
        located: the line of a field path, where known.
        catalogue: scenarios, runbooks and rules to check against (default: the project's).

    Raises:
        InvalidInputError: the first problem, with file, field, line where known and what
            was expected.
    """
    r = _Resolver(source, located or (lambda path: None), catalogue or Catalogue())
    return r.checked(_resolve(experiment, configuration, overrides or SpecOverrides(), r))


def spec_problems(
    experiment: Mapping[str, Any],
    source: str,
    configuration: Mapping[str, Any] | None = None,
    overrides: SpecOverrides | None = None,
    *,
    located: Located | None = None,
    catalogue: Catalogue | None = None,
) -> list[InvalidInputError]:
    """Every problem :func:`resolve_spec` finds in an experiment, in the order it checks them.

    The same checks, so the first problem is the one ``resolve_spec`` raises; a check that
    needs a value with a problem (the cause of an unknown scenario, the parameters of an
    unknown runbook) is skipped. Empty when the drill resolves. Arguments as for
    :func:`resolve_spec`.
    """
    r = _Resolver(source, located or (lambda path: None), catalogue or Catalogue(), collect=True)
    _resolve(experiment, configuration, overrides or SpecOverrides(), r)
    return r.problems


def _resolve(
    experiment: Mapping[str, Any],
    configuration: Mapping[str, Any] | None,
    overrides: SpecOverrides,
    r: _Resolver,
) -> DrillSpec | None:
    """The drill, or None when a problem was recorded (when collecting: see FieldErrors)."""
    if configuration is None:
        configuration = experiment.get("configuration")
    if configuration is not None and not isinstance(configuration, dict):
        r.attempt(r.error, "expected a mapping of configuration values", ("configuration",))
        configuration = None
    conf = Settings(configuration, overrides)
    found = r.attempt(_extension, experiment, r)
    index, ext = found or (0, {})
    at: tuple[str | int, ...] = ("extensions", index)
    named = r.attempt(_named, ext, at, r) if found else None
    faults, alerts, runbooks = _method(experiment, r)
    timing = r.attempt(resolve_timing, conf, r)
    env_name = r.attempt(_env_name, configuration, conf, overrides, r)
    target = r.catalogue.workspace.target()
    load = r.attempt(resolve_load, ext, at, conf, r, target) if found else None
    replicas = r.attempt(_replicas, ext, at, r) if found else None
    if r.problems:
        return None
    names, (time_scale, hold, timeout) = r.checked(named), r.checked(timing)
    return DrillSpec(
        experiment=r.source,
        title=str(experiment.get("title", "")),
        scenario=names.scenario,
        cause=names.cause,
        fault=faults[0],
        alert=names.alert,
        runbook=names.runbook,
        runbooks=tuple(runbooks),
        load=r.checked(load),
        env_name=r.checked(env_name),
        time_scale=time_scale,
        hold_production_s=hold,
        recovery_timeout_production_s=timeout,
        reports_dir=Path(conf.get("chaosdrill_reports") or r.catalogue.workspace.reports_dir()),
        replicas=r.checked(replicas),
        alerts=tuple(dict.fromkeys([names.alert, *alerts])),
    )


def load_spec(
    path: Path, overrides: SpecOverrides | None = None, *, catalogue: Catalogue | None = None
) -> DrillSpec:
    """Read an experiment file and resolve its drill (see :func:`resolve_spec`).

    Raises:
        InvalidInputError: the file or anything it asks for is wrong.
    """
    experiment = load_experiment(path)
    lines = ExperimentLines(read_experiment_text(path), str(path))
    return resolve_spec(
        experiment, str(path), overrides=overrides, located=lines.line, catalogue=catalogue
    )
