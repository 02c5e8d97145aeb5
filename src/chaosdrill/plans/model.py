"""Drill plans: which drills to run, where, how fast, how they are scored and gated.

A plan is a YAML file (``drills/*.yaml``, format in docs/plans.md) read by
:mod:`chaosdrill.yamlsource` (which keeps the line of every key), checked against
``schemas/plan.schema.json``, then checked for what a schema cannot say: every experiment
path exists, a random pick does not ask for more experiments than its pool holds, the
scoring weights sum to 100, ``load`` holds valid :class:`~chaosdrill.load.LoadSpec`
fields, every number is finite, and a baseline file is given exactly when the baseline
source is ``file``. Every mistake is an :class:`~chaosdrill.errors.InvalidInputError` with
file, line, dotted field and what was expected; loading changes nothing.

Experiment paths are relative to the plan file's directory or, failing that, to the
workspace, then to the built-in catalogue (:mod:`chaosdrill.workspace`); they are stored
absolute.

Example::

    plan = load_plan("drills/ci-gate.yaml")
    for drill in plan.resolve_drills(random.Random(7)):
        print(drill.experiment, plan.targets_for(drill))
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from chaosdrill.environments.opening import DEFAULT_NAME
from chaosdrill.errors import InvalidInputError
from chaosdrill.load.spec import LoadSpec
from chaosdrill.scoring.score import Scoring, ScoringWeights
from chaosdrill.scoring.severity import Revenue
from chaosdrill.training.debrief import TrainingScoring
from chaosdrill.workspace import current
from chaosdrill.yamlsource import YamlDocument, load_yaml, validate

__all__ = [
    "Baseline",
    "Gates",
    "Plan",
    "PlanDrill",
    "PlanEnvironment",
    "RandomPick",
    "Revenue",
    "Roles",
    "Scoring",
    "ScoringWeights",
    "Targets",
    "Training",
    "check_drill_specs",
    "load_plan",
]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class PlanEnvironment:
    """Where the plan's drills run: the backend, the environment's name and replicas."""

    backend: str = "local"
    name: str = DEFAULT_NAME
    replicas: int = 2


@dataclass(frozen=True)
class Targets:
    """Detection and recovery targets in production seconds (seed: MTTD < 5, MTTR < 30 min)."""

    mttd_s: float = 300.0
    mttr_s: float = 1800.0


@dataclass(frozen=True)
class PlanDrill:
    """One experiment to run (an absolute, resolved path) and its own targets, if any."""

    experiment: Path
    targets: Targets | None = None


@dataclass(frozen=True)
class RandomPick:
    """Pick ``count`` different experiments at random from ``pool`` when the plan runs."""

    count: int
    pool: tuple[Path, ...]


@dataclass(frozen=True)
class Roles:
    """Who holds each incident role (people's names; the defaults are the role titles)."""

    incident_commander: str = "Incident Commander"
    technical_lead: str = "Technical Lead"
    communications_lead: str = "Communications Lead"
    scribe: str = "Scribe"
    team_lead: str = "Team Lead"
    engineering_manager: str = "Engineering Manager"
    vp_engineering: str = "VP Engineering"
    cto: str = "CTO"


#: The seed's escalation path: who is paged when the page stays unacknowledged this long
#: (production seconds after the page).
ESCALATION = {
    "team_lead": 900.0,
    "engineering_manager": 1800.0,
    "vp_engineering": 3600.0,
    "cto": 7200.0,
}


@dataclass(frozen=True)
class Training:
    """How a training session runs (production seconds; divided by the time scale).

    Attributes:
        resend_s: an unacknowledged page is re-sent this often.
        time_limit_s: the session ends, fixed or not, this long after the fault.
        recovery_check_s: after the session ends, how long the users' SLOs may take to be
            met again and hold (the hold is added) before the service counts as not
            recovered.
        escalation: role -> seconds after the page at which an unacknowledged page
            escalates to that role's person (the plan's ``roles``).
        scoring: the score model (chaosdrill.training.debrief.TrainingScoring).
    """

    resend_s: float = 300.0
    time_limit_s: float = 3600.0
    recovery_check_s: float = 300.0
    escalation: Mapping[str, float] = field(default_factory=lambda: dict(ESCALATION))
    scoring: TrainingScoring = field(default_factory=TrainingScoring)


@dataclass(frozen=True)
class Gates:
    """What a run must achieve to pass (None: not gated).

    Attributes:
        min_score: lowest acceptable drill score (0-100).
        max_mttd_s: longest acceptable time to detect, production seconds.
        max_mttr_s: longest acceptable time to recover, production seconds.
        zero_lost_writes: any lost acknowledged write fails the run.
        alerts_must_page: alerts that must reach the pager during the run.
        runbook_steps_must_succeed: any failed runbook step fails the run.
    """

    min_score: float | None = None
    max_mttd_s: float | None = None
    max_mttr_s: float | None = None
    zero_lost_writes: bool = True
    alerts_must_page: tuple[str, ...] = ()
    runbook_steps_must_succeed: bool = True


@dataclass(frozen=True)
class Baseline:
    """What a run is compared with to find regressions.

    Attributes:
        source: ``history`` (the last passing run of this plan in the report history),
            ``file`` (a committed baseline report.json) or ``none``.
        file: the baseline report when ``source`` is ``file`` (absolute, resolved).
        mttd_margin_pct: MTTD may grow by this share of the baseline's before it regresses.
        mttr_margin_pct: the same for MTTR.
        min_margin_s: a growth smaller than this (production seconds) is never a regression.
    """

    source: str = "history"
    file: Path | None = None
    mttd_margin_pct: float = 50.0
    mttr_margin_pct: float = 50.0
    min_margin_s: float = 60.0


@dataclass(frozen=True)
class Plan:
    """A drill plan as loaded from its file (see docs/plans.md for every field).

    ``time_scale`` is K (the drills run K times faster than production); ``hold_s`` is in
    production seconds; ``load`` holds :class:`~chaosdrill.load.LoadSpec` fields (already
    checked); ``mode`` is ``auto`` or ``training``.
    """

    name: str
    description: str
    path: Path
    environment: PlanEnvironment
    time_scale: float
    hold_s: float
    load: Mapping[str, Any]
    mode: str
    drills: tuple[PlanDrill | RandomPick, ...]
    targets: Targets
    scoring: Scoring
    revenue: Revenue
    roles: Roles
    gates: Gates
    baseline: Baseline
    training: Training = field(default_factory=Training)

    def resolve_drills(self, rng: random.Random | None = None) -> list[PlanDrill]:
        """The drills to run, in order, with every random pick drawn.

        A pick never repeats an experiment within itself; pass a seeded ``random.Random``
        for a repeatable draw (an unseeded one is used otherwise).
        """
        chooser = rng if rng is not None else random.Random()
        out: list[PlanDrill] = []
        for item in self.drills:
            if isinstance(item, PlanDrill):
                out.append(item)
            else:
                out.extend(PlanDrill(p) for p in chooser.sample(item.pool, item.count))
        return out

    def targets_for(self, drill: PlanDrill) -> Targets:
        """A drill's own targets, or the plan's."""
        return drill.targets if drill.targets is not None else self.targets


# --- loading ----------------------------------------------------------------------------


@cache
def _schema() -> Mapping[str, Any]:
    text = resources.files("chaosdrill").joinpath("schemas", "plan.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _finite(doc: YamlDocument, value: Any, path: PathKey) -> None:
    """Every float under ``value`` is finite (a schema's bounds let NaN through)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(doc, v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(doc, v, (*path, i))
    elif isinstance(value, float) and not math.isfinite(value):
        raise doc.error(path, f"expected a finite number, got {value}")


def _find_file(doc: YamlDocument, path: PathKey, raw: str, what: str, example: str) -> Path:
    """``raw`` relative to the plan's directory, else the workspace's, else built in.

    It must exist. The workspace and the built-in catalogue: :mod:`chaosdrill.workspace`.
    """
    plan_dir = Path(doc.source).resolve().parent
    ws = current()
    bases = (plan_dir, *ws.bases())
    if (plan_dir / raw).is_file():
        return Path(os.path.abspath(plan_dir / raw))
    found = ws.find_file(raw)
    if found is not None:
        return Path(os.path.abspath(found[0]))
    for base in bases:
        if (base / raw).is_dir():
            raise doc.error(path, f"{raw!r} is a directory; expected {what} file")
    near: list[str] = []
    for base in bases:
        folder = (base / raw).parent
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if p.is_file())
            near += difflib.get_close_matches(Path(raw).name, names, n=1)
    hint = f" (did you mean {str(Path(raw).with_name(near[0]))!r}?)" if near else ""
    where = ", ".join(str(b) for b in bases)
    raise doc.error(
        path,
        f"no {what} file {raw!r} in {where}{hint}; expected the path of an existing {what} "
        f"file relative to the plan's directory, the workspace or the built-in catalogue, "
        f"such as {example}",
    )


def _experiment(doc: YamlDocument, path: PathKey, raw: str) -> Path:
    return _find_file(doc, path, raw, "experiment", "experiments/bad-release.json")


def _targets(data: Mapping[str, Any] | None, base: Targets) -> Targets:
    if not data:
        return base
    return Targets(float(data.get("mttd_s", base.mttd_s)), float(data.get("mttr_s", base.mttr_s)))


def _drills(doc: YamlDocument, targets: Targets) -> tuple[PlanDrill | RandomPick, ...]:
    out: list[PlanDrill | RandomPick] = []
    for i, item in enumerate(doc.data["drills"]):
        where: PathKey = ("drills", i)
        kinds = [k for k in ("experiment", "random") if k in item]
        if len(kinds) != 1:
            raise doc.error(
                where,
                "expected exactly one of 'experiment: PATH' or 'random: {count: N, from: [...]}'"
                + (", got both" if len(kinds) == 2 else ""),
            )
        if kinds == ["experiment"]:
            out.append(
                PlanDrill(
                    _experiment(doc, (*where, "experiment"), item["experiment"]),
                    _targets(item["targets"], targets) if "targets" in item else None,
                )
            )
            continue
        if "targets" in item:
            raise doc.error(
                (*where, "targets"),
                "targets go with 'experiment'; a random pick uses the plan's targets",
            )
        pick = item["random"]
        pool: list[Path] = []
        if "from" in pick:
            first: dict[Path, int] = {}
            for j, raw in enumerate(pick["from"]):
                p = _experiment(doc, (*where, "random", "from", j), raw)
                if p in first:
                    raise doc.error(
                        (*where, "random", "from", j),
                        f"{raw!r} is the same experiment as item {first[p]}; "
                        "expected each experiment once",
                    )
                first[p] = j
                pool.append(p)
        else:
            pool = [Path(os.path.abspath(p)) for p in current().paths("experiments")]
        count = pick["count"]
        if count > len(pool):
            source = (
                "listed in 'from'"
                if "from" in pick
                else "of the workspace and the built-in catalogue"
            )
            raise doc.error(
                (*where, "random", "count"),
                f"expected at most {len(pool)} (the experiments {source}), got {count}",
            )
        out.append(RandomPick(count, tuple(pool)))
    return tuple(out)


# ``flows`` is the target's, never a plan's
_LOAD_FIELDS = tuple(f.name for f in dataclasses.fields(LoadSpec) if f.name != "flows")


def _load(doc: YamlDocument) -> Mapping[str, Any]:
    load = dict(doc.data.get("load") or {})
    for key in load:
        if key not in _LOAD_FIELDS:
            raise doc.error(
                ("load", key),
                f"unknown key {key!r}; expected LoadSpec fields: {', '.join(_LOAD_FIELDS)}",
            )
    weights = load.get("weights")
    if weights is not None and (
        not isinstance(weights, dict)
        or any(isinstance(w, bool) or not isinstance(w, int) for w in weights.values())
    ):
        raise doc.error(("load", "weights"), "expected a mapping of flow names to integer weights")
    target = current().target()
    flows = None if target.reference else [f.to_dict() for f in target.flows]
    try:
        LoadSpec(**load, flows=flows)
    except InvalidInputError as exc:
        key = exc.field if exc.field in load else None
        raise doc.error(("load", key) if key else ("load",), exc.detail) from None
    except (TypeError, ValueError) as exc:
        raise doc.error(("load",), f"{exc}; expected LoadSpec fields") from None
    return MappingProxyType(load)


def _scoring(doc: YamlDocument) -> Scoring:
    data = doc.data.get("scoring") or {}
    given = {k: float(v) for k, v in (data.get("weights") or {}).items()}
    defaults = dataclasses.asdict(ScoringWeights())
    values: dict[str, float] = {name: given.get(name, d) for name, d in defaults.items()}
    total = sum(values.values())
    if not math.isclose(total, 100, abs_tol=1e-9):
        parts = ", ".join(f"{name} {value:g}" for name, value in values.items())
        raise doc.error(
            ("scoring", "weights"),
            f"the weights sum to {total:g} ({parts}; missing ones take their defaults); "
            "expected a sum of 100",
        )
    weights = ScoringWeights(**given)
    return Scoring(
        weights,
        float(data.get("pass_mark", 70.0)),
        str(data.get("lost_write_cap", "D")),
        float(data.get("error_budget_limit_pct", 10.0)),
    )


def _training(doc: YamlDocument) -> Training:
    data = doc.data.get("training") or {}
    sc = data.get("scoring") or {}
    default = TrainingScoring()
    weights = {**default.weights, **{k: float(v) for k, v in (sc.get("weights") or {}).items()}}
    total = sum(weights.values())
    if not math.isclose(total, 100, abs_tol=1e-9):
        parts = ", ".join(f"{name} {value:g}" for name, value in weights.items())
        raise doc.error(
            ("training", "scoring", "weights"),
            f"the weights sum to {total:g} ({parts}; missing ones take their defaults); "
            "expected a sum of 100",
        )
    numbers = {
        k: float(sc[k])
        for k in (
            "mtta_s",
            "diagnosis_s",
            "mttr_s",
            "initial_update_s",
            "update_every_s",
            "harmful_action_points",
        )
        if k in sc
    }
    costs = tuple(float(c) for c in sc.get("hint_costs", default.hint_costs))
    return Training(
        resend_s=float(data.get("resend_s", 300.0)),
        time_limit_s=float(data.get("time_limit_s", 3600.0)),
        recovery_check_s=float(data.get("recovery_check_s", 300.0)),
        escalation={
            **ESCALATION,
            **{k: float(v) for k, v in (data.get("escalation") or {}).items()},
        },
        scoring=TrainingScoring(weights=weights, hint_costs=costs, **numbers),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _gates(data: Mapping[str, Any]) -> Gates:
    return Gates(
        min_score=_optional_float(data.get("min_score")),
        max_mttd_s=_optional_float(data.get("max_mttd_s")),
        max_mttr_s=_optional_float(data.get("max_mttr_s")),
        zero_lost_writes=bool(data.get("zero_lost_writes", True)),
        alerts_must_page=tuple(data.get("alerts_must_page", ())),
        runbook_steps_must_succeed=bool(data.get("runbook_steps_must_succeed", True)),
    )


def _baseline(doc: YamlDocument) -> Baseline:
    data = doc.data.get("baseline") or {}
    source = data.get("source", "history")
    file: Path | None = None
    if source == "file":
        if "file" not in data:
            raise doc.error(
                ("baseline", "source"),
                "source 'file' needs 'file: PATH' (a committed baseline report.json)",
            )
        file = _find_file(
            doc, ("baseline", "file"), data["file"], "baseline report", "baseline/report.json"
        )
    elif "file" in data:
        raise doc.error(
            ("baseline", "file"),
            f"a baseline file is read only with source 'file' (source is {source!r}); "
            "expected source: file, or no file",
        )
    return Baseline(
        source,
        file,
        float(data.get("mttd_margin_pct", 50.0)),
        float(data.get("mttr_margin_pct", 50.0)),
        float(data.get("min_margin_s", 60.0)),
    )


def _build(doc: YamlDocument) -> Plan:
    validate(doc, _schema())
    _finite(doc, doc.data, ())
    data = doc.data
    # the plan's settings over the workspace's (chaosdrill.yaml), over the defaults
    ws = current().config
    env = {**ws.environment, **(data.get("environment") or {})}
    targets = _targets(data.get("targets"), _targets(dict(ws.targets), Targets()))
    return Plan(
        name=data["name"],
        description=str(data.get("description", "")).strip(),
        path=Path(doc.source).resolve(),
        environment=PlanEnvironment(
            env.get("backend", "local"), env.get("name", DEFAULT_NAME), env.get("replicas", 2)
        ),
        time_scale=float(data.get("time_scale", 1.0)),
        hold_s=float(data.get("hold_s", 1800.0)),
        load=_load(doc),
        mode=data.get("mode", "auto"),
        drills=_drills(doc, targets),
        targets=targets,
        scoring=_scoring(doc),
        revenue=Revenue(**{k: float(v) for k, v in (data.get("revenue") or {}).items()}),
        roles=Roles(**{**ws.roles, **(data.get("roles") or {})}),
        gates=_gates(data.get("gates") or {}),
        baseline=_baseline(doc),
        training=_training(doc),
    )


def load_plan(path: str | Path) -> Plan:
    """Load and check one plan file.

    Raises:
        InvalidInputError: with file, line, dotted field and what was expected (the file
            is missing, empty, not YAML, breaks the schema, names a missing experiment, ...).
    """
    plan = _build(load_yaml(path))
    check_drill_specs(plan)
    return plan


def check_drill_specs(plan: Plan) -> None:
    """Resolve the drill spec of every experiment the plan may run, with the plan's settings.

    So a plan whose drill names an unknown fault, runbook or alert is refused when it is
    loaded, before its environment starts (the same checks ``chaosdrill run`` makes).

    Raises:
        InvalidInputError: naming the experiment file and field of the first problem.
    """
    from chaosdrill.scenarios.catalogue import Catalogue
    from chaosdrill.scenarios.settings import SpecOverrides
    from chaosdrill.scenarios.spec import load_spec

    catalogue = Catalogue()
    drills: list[PlanDrill] = []
    for item in plan.drills:
        drills += [item] if isinstance(item, PlanDrill) else [PlanDrill(p) for p in item.pool]
    for drill in drills:
        targets = plan.targets_for(drill)
        overrides = SpecOverrides(
            env_name=plan.environment.name,
            time_scale=plan.time_scale,
            hold_production_s=plan.hold_s,
            mttd_target_s=targets.mttd_s,
            mttr_target_s=targets.mttr_s,
            load=dict(plan.load) or None,
        )
        load_spec(drill.experiment, overrides, catalogue=catalogue)
