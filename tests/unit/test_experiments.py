"""The shipped experiments: valid for Chaos Toolkit, and every reference resolves."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.faults import REGISTRY, make_fault
from chaosdrill.monitoring.rules import alert_names
from chaosdrill.scenarios.experiment import load_experiment
from chaosdrill.scenarios.spec import resolve_spec
from tests.repo import EXPERIMENTS_DIR, PROBES_DIR, RUNBOOKS_DIR, SCENARIOS_DIR

EXPERIMENTS = sorted(EXPERIMENTS_DIR.glob("*.json"))


def test_two_causes_or_more_for_each_of_the_four_scenarios() -> None:
    scenarios = Counter(json.loads(p.read_text())["extensions"][0]["scenario"] for p in EXPERIMENTS)
    assert set(scenarios) == {p.stem for p in SCENARIOS_DIR.glob("*.yaml")}
    assert len(scenarios) == 4 and min(scenarios.values()) >= 2


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_is_valid_and_its_references_exist(path: Path) -> None:
    experiment = load_experiment(path)  # Chaos Toolkit's own validation included
    cfg = resolve_spec(experiment, str(path))
    assert cfg.cause == path.stem and cfg.cause in REGISTRY and cfg.fault.kind == cfg.cause
    make_fault(cfg.cause)
    assert cfg.alert in alert_names(sorted(PROBES_DIR.glob("*.rules.yml")))
    runbooks = [
        a["provider"]["arguments"]["name"]
        for a in experiment["method"]
        if a["provider"]["func"] == "run_runbook"
    ]
    assert runbooks and all((RUNBOOKS_DIR / f"{r}.yaml").exists() for r in runbooks)
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert [c["provider"]["module"] for c in experiment["controls"]] == ["chaosdrill.ctk.control"]


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "empty"),
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"title": "x"}', "Chaos Toolkit says"),
    ],
)
def test_broken_experiment_files_are_refused(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=needle) as info:
        load_experiment(path)
    assert info.value.source == str(path)


def test_an_experiment_without_the_chaosdrill_extension_is_refused(tmp_path: Path) -> None:
    data = json.loads(EXPERIMENTS[0].read_text())
    data["extensions"] = []
    with pytest.raises(InvalidInputError, match="extension named 'chaosdrill'"):
        resolve_spec(data, "x.json")
    data = json.loads(EXPERIMENTS[0].read_text())
    with pytest.raises(InvalidInputError, match="chaosdrill_time_scale"):
        resolve_spec(data, "x.json", {"chaosdrill_time_scale": "fast"})
