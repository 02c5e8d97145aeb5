"""Drill plans: the shipped plans load, defaults apply, random picks are repeatable, and
broken plans are refused with file, line, field and what was expected."""

from __future__ import annotations

import json
import random
import textwrap
from collections import Counter
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.plans.model import (
    Baseline,
    Gates,
    PlanDrill,
    PlanEnvironment,
    RandomPick,
    Revenue,
    Roles,
    Scoring,
    ScoringWeights,
    Targets,
    load_plan,
)

ROOT = Path(__file__).resolve().parents[2]
DRILLS = ROOT / "drills"
EXPERIMENTS = ROOT / "experiments"

MINIMAL = """\
version: 1
name: minimal
drills:
  - experiment: experiments/bad-release.json
"""


def _alert(experiment: Path) -> str:
    data = json.loads(experiment.read_text())
    ext = next(e for e in data["extensions"] if e["name"] == "chaosdrill")
    return str(ext["alert"])


def _write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# --- the shipped plans --------------------------------------------------------------------


def test_the_three_shipped_plans_load() -> None:
    assert sorted(p.stem for p in DRILLS.glob("*.yaml")) == ["ci-gate", "quarterly", "training"]
    for path in DRILLS.glob("*.yaml"):
        plan = load_plan(path)
        assert plan.name == path.stem
        assert plan.path == path.resolve()
        assert plan.environment.name == path.stem
        for drill in plan.resolve_drills(random.Random(0)):
            assert drill.experiment.is_absolute() and drill.experiment.is_file()


def test_quarterly_runs_the_four_scenarios_and_gates_on_their_alerts() -> None:
    plan = load_plan(DRILLS / "quarterly.yaml")
    names = ["bad-release", "missing-index", "primary-crash", "leaky-feature"]
    assert [d.experiment for d in plan.drills] == [EXPERIMENTS / f"{n}.json" for n in names]
    scenarios = {
        json.loads(d.experiment.read_text())["extensions"][0]["scenario"]
        for d in plan.resolve_drills()
    }
    assert len(scenarios) == 4
    assert plan.time_scale == 30 and plan.environment == PlanEnvironment("local", "quarterly", 2)
    assert plan.gates.min_score == 70
    assert (plan.gates.max_mttd_s, plan.gates.max_mttr_s) == (300, 1800)
    assert list(plan.gates.alerts_must_page) == [_alert(EXPERIMENTS / f"{n}.json") for n in names]


def test_ci_gate_plan() -> None:
    plan = load_plan(DRILLS / "ci-gate.yaml")
    experiments = [d.experiment for d in plan.resolve_drills()]
    assert experiments == [EXPERIMENTS / "bad-release.json", EXPERIMENTS / "primary-crash.json"]
    assert (plan.environment.name, plan.time_scale, plan.hold_s) == ("ci-gate", 20, 200)
    assert plan.gates == Gates(
        min_score=70,
        max_mttd_s=300,
        max_mttr_s=1800,
        zero_lost_writes=True,
        alerts_must_page=tuple(_alert(e) for e in experiments),
        runbook_steps_must_succeed=True,
    )
    assert plan.baseline.source == "history"
    assert plan.baseline.mttd_margin_pct > 0 and plan.baseline.min_margin_s > 0


def test_training_plan_picks_one_of_every_experiment() -> None:
    plan = load_plan(DRILLS / "training.yaml")
    assert (plan.mode, plan.environment.name, plan.time_scale) == ("training", "training", 1)
    (pick,) = plan.drills
    assert isinstance(pick, RandomPick) and pick.count == 1
    assert set(pick.pool) == {p.resolve() for p in EXPERIMENTS.glob("*.json")}
    assert plan.roles.incident_commander != Roles().incident_commander
    assert len(plan.resolve_drills()) == 1


# --- defaults and the model ---------------------------------------------------------------


def test_a_minimal_plan_gets_every_default(tmp_path: Path) -> None:
    plan = load_plan(_write(tmp_path, MINIMAL))
    assert plan.description == ""
    assert plan.environment == PlanEnvironment("local", "default", 2)
    assert (plan.time_scale, plan.hold_s, plan.mode) == (1.0, 1800.0, "auto")
    assert dict(plan.load) == {}
    assert plan.drills == (PlanDrill((EXPERIMENTS / "bad-release.json").resolve()),)
    assert plan.targets == Targets(300.0, 1800.0)
    assert plan.scoring == Scoring(ScoringWeights(30, 30, 20, 10, 10), 70.0, "D", 10.0)
    assert plan.revenue == Revenue(1200.0, 114.10)
    assert plan.roles == Roles()
    assert plan.roles.vp_engineering == "VP Engineering"
    assert plan.gates == Gates(None, None, None, True, (), True)
    assert plan.baseline == Baseline("history", None, 50.0, 50.0, 60.0)
    with pytest.raises(FrozenInstanceError):
        plan.name = "other"  # type: ignore[misc]


def test_the_brief_example_loads_with_every_field(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline" / "report.json"
    baseline.parent.mkdir()
    baseline.write_text("{}")
    path = _write(
        tmp_path,
        """\
        version: 1
        name: example
        description: every field
        environment: {backend: local, name: example, replicas: 3}
        time_scale: 30
        hold_s: 900
        load: {rate: 20, users: 10, weights: {browse: 1, view_course: 1, enroll: 1}}
        mode: auto
        targets: {mttd_s: 240}
        drills:
          - experiment: experiments/bad-release.json
          - experiment: experiments/missing-index.json
            targets: {mttr_s: 600}
          - random: {count: 2, from: [experiments/bad-release.json, experiments/cache-outage.json]}
        scoring:
          weights: {detection: 40, recovery: 20, impact: 20, verification: 10, hygiene: 10}
          pass_mark: 80
          lost_write_cap: F
          error_budget_limit_pct: 25
        revenue: {enrollments_per_hour: 600, average_price_usd: 99.5}
        roles: {incident_commander: Ada, scribe: Grace}
        gates: {min_score: 75, max_mttd_s: 300, alerts_must_page: [HighErrorRate]}
        baseline: {source: file, file: baseline/report.json, min_margin_s: 30}
        """,
    )
    plan = load_plan(path)
    assert plan.environment == PlanEnvironment("local", "example", 3)
    assert (plan.time_scale, plan.hold_s) == (30.0, 900.0)
    assert plan.load["weights"] == {"browse": 1, "view_course": 1, "enroll": 1}
    assert plan.targets == Targets(240.0, 1800.0)
    first, second, pick = plan.drills
    assert isinstance(first, PlanDrill) and first.targets is None
    assert plan.targets_for(first) == plan.targets
    # a drill's own targets start from the plan's
    assert isinstance(second, PlanDrill) and second.targets == Targets(240.0, 600.0)
    assert isinstance(pick, RandomPick) and pick.count == 2 and len(pick.pool) == 2
    assert plan.scoring.weights.detection == 40 and plan.scoring.lost_write_cap == "F"
    assert plan.revenue == Revenue(600.0, 99.5)
    assert (plan.roles.incident_commander, plan.roles.cto) == ("Ada", "CTO")
    assert plan.gates.min_score == 75 and plan.gates.max_mttr_s is None
    assert plan.gates.alerts_must_page == ("HighErrorRate",)
    assert plan.baseline.file == baseline.resolve() and plan.baseline.min_margin_s == 30


def test_experiments_resolve_from_the_plan_directory_first(tmp_path: Path) -> None:
    local = tmp_path / "experiments" / "bad-release.json"
    local.parent.mkdir()
    local.write_text((EXPERIMENTS / "bad-release.json").read_text())
    plan = load_plan(_write(tmp_path, MINIMAL))
    assert plan.drills == (PlanDrill(local.resolve()),)


def test_random_expansion_is_repeatable_with_a_seed_and_never_repeats(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        name: picks
        drills:
          - experiment: experiments/bad-release.json
          - random: {count: 3}
          - random:
              count: 2
              from: [experiments/primary-crash.json, experiments/cache-outage.json]
        """,
    )
    plan = load_plan(path)
    pool = {p.resolve() for p in EXPERIMENTS.glob("*.json")}
    seen: Counter[tuple[Path, ...]] = Counter()
    for seed in range(40):
        drills = plan.resolve_drills(random.Random(seed))
        assert drills == plan.resolve_drills(random.Random(seed))
        assert len(drills) == 6
        assert drills[0] == PlanDrill((EXPERIMENTS / "bad-release.json").resolve())
        picked = [d.experiment for d in drills[1:4]]
        assert len(set(picked)) == 3 and set(picked) <= pool
        last = {d.experiment for d in drills[4:]}
        assert last == {EXPERIMENTS / "primary-crash.json", EXPERIMENTS / "cache-outage.json"}
        seen[tuple(picked)] += 1
    assert len(seen) > 10  # the seed really changes the draw


def test_the_default_pool_is_every_experiment_of_the_workspace_and_the_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.repo import make_workspace

    bad_release = (EXPERIMENTS / "bad-release.json").read_text()
    # real experiments: a plan resolves every drill's spec; "bad-release" overrides the
    # built-in file of that name
    ws = make_workspace(
        tmp_path / "ws",
        {f"experiments/{n}.json": bad_release for n in ("a", "b", "bad-release")},
    )
    monkeypatch.setenv("CHAOSDRILL_WORKSPACE", str(ws))
    builtin = sorted(p.stem for p in EXPERIMENTS.glob("*.json"))
    path = _write(tmp_path, "version: 1\nname: p\ndrills:\n  - random: {count: 2}\n")
    (pick,) = load_plan(path).drills
    assert isinstance(pick, RandomPick)
    names = {p.stem: p for p in pick.pool}
    assert sorted(names) == sorted({"a", "b", *builtin})
    assert names["bad-release"] == ws / "experiments" / "bad-release.json"
    assert names["cache-outage"].parent.parent.name == "catalogue"  # built in
    n = len(names)
    with pytest.raises(InvalidInputError, match=rf"expected at most {n} .*got {n + 1}"):
        load_plan(
            _write(tmp_path, f"version: 1\nname: p\ndrills:\n  - random: {{count: {n + 1}}}\n")
        )


# --- broken plans -------------------------------------------------------------------------

BROKEN = [
    pytest.param(MINIMAL + "colour: blue\n", 5, "colour", "unknown key 'colour'", id="unknown-key"),
    pytest.param(
        MINIMAL.replace("version: 1\n", "version: 1\ngates: {min_score: high}\n"),
        2,
        "gates.min_score",
        "expected a number or nothing (null), got the text 'high'",
        id="wrong-type",
    ),
    pytest.param(
        MINIMAL + "time_scale: 0\n", 5, "time_scale", "expected a number >= 1", id="time-scale-0"
    ),
    pytest.param(
        MINIMAL + "time_scale: 1001\n", 5, "time_scale", "<= 1000", id="time-scale-too-big"
    ),
    pytest.param(MINIMAL + "hold_s: .nan\n", 5, "hold_s", "expected a finite number", id="nan"),
    pytest.param(
        MINIMAL + "scoring:\n  weights: {detection: 50}\n",
        6,
        "scoring.weights",
        "sum to 120",
        id="weights-not-100",
    ),
    pytest.param(
        MINIMAL + "  - experiment: experiments/nope.json\n",
        5,
        "drills.1.experiment",
        "no experiment file 'experiments/nope.json'",
        id="unknown-experiment",
    ),
    pytest.param(
        MINIMAL
        + "  - random:\n      count: 3\n"
        + "      from: [experiments/bad-release.json, experiments/primary-crash.json]\n",
        6,
        "drills.1.random.count",
        "expected at most 2",
        id="random-count-over-pool",
    ),
    pytest.param(
        MINIMAL
        + "  - random:\n      count: 1\n"
        + "      from: [experiments/bad-release.json, ./experiments/bad-release.json]\n",
        7,
        "drills.1.random.from.1",
        "same experiment as item 0",
        id="random-pool-repeats",
    ),
    pytest.param(
        MINIMAL + "  - {experiment: experiments/bad-release.json, random: {count: 1}}\n",
        5,
        "drills.1",
        "exactly one of",
        id="experiment-and-random",
    ),
    pytest.param(
        MINIMAL + "scoring: {lost_write_cap: E}\n",
        5,
        "scoring.lost_write_cap",
        "expected one of: A, B, C, D, F",
        id="bad-lost-write-cap",
    ),
    pytest.param(
        MINIMAL.replace("version: 1\n", ""), 1, "version", "missing required key", id="no-version"
    ),
    pytest.param(
        MINIMAL.replace("version: 1\n", "version: 2\n"), 1, "version", "version: 1", id="version-2"
    ),
    pytest.param("", 1, "<document>", "empty", id="empty-file"),
    pytest.param(
        MINIMAL + "gates: {min_score: [70}\n", 5, "<document>", "expected valid YAML", id="yaml"
    ),
    pytest.param(
        MINIMAL + "load: {rate: 20, threads: 4}\n",
        5,
        "load.threads",
        "unknown key 'threads'; expected LoadSpec fields",
        id="load-unknown-field",
    ),
    pytest.param(
        MINIMAL + "load:\n  rate: 20\n  users: 0\n",
        7,
        "load.users",
        "expected an integer from 1 to 1000",
        id="load-bad-value",
    ),
    pytest.param(
        MINIMAL + "baseline: {source: file}\n",
        5,
        "baseline.source",
        "needs 'file: PATH'",
        id="baseline-file-missing",
    ),
    pytest.param(
        MINIMAL + "baseline:\n  file: report.json\n",
        6,
        "baseline.file",
        "only with source 'file'",
        id="baseline-file-without-source",
    ),
    pytest.param(
        MINIMAL + "environment: {name: Has Spaces}\n",
        5,
        "environment.name",
        "an environment name",
        id="bad-env-name",
    ),
]


@pytest.mark.parametrize("text, line, field, fragment", BROKEN)
def test_broken_plans_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, fragment: str
) -> None:
    path = _write(tmp_path, text, name="broken.yaml")
    with pytest.raises(InvalidInputError) as info:
        load_plan(path)
    err = info.value
    assert (err.source, err.line, err.field) == (str(path), line, field), str(err)
    assert fragment in err.detail
    assert str(err).startswith(f"{path}:{line} field {field!r}: ")


def test_a_directory_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is a directory"):
        load_plan(tmp_path)
    with pytest.raises(InvalidInputError, match="no such file"):
        load_plan(tmp_path / "missing.yaml")
