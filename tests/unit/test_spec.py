"""The drill spec: every broken experiment is refused before anything starts.

``chaosdrill run`` (and the stock ``chaos run``) run for real as subprocesses with a fresh
CHAOSDRILL_HOME and CHAOSDRILL_REPORTS; a refusal must exit 2 (1 for ``chaos run``, which
has one failure code), name the file and the field, and leave both directories absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.faults import REGISTRY
from chaosdrill.scenarios.experiment import load_experiment
from chaosdrill.scenarios.settings import SpecOverrides
from chaosdrill.scenarios.spec import load_spec, resolve_spec, spec_problems
from tests.repo import EXPERIMENTS_DIR

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
Edit = Callable[[dict[str, Any]], None]


def _method(data: dict[str, Any], func: str) -> dict[str, Any]:
    args: dict[str, Any] = next(
        a["provider"]["arguments"] for a in data["method"] if a["provider"]["func"] == func
    )
    return args


def _set(func: str, key: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        _method(data, func)[key] = value

    return edit


def _hold(data: dict[str, Any]) -> None:
    data["configuration"]["chaosdrill_hold_s"] = -5


def _extensions(data: dict[str, Any]) -> None:
    data["extensions"] = {"name": "chaosdrill"}


# (id, edit of bad-release.json, the field named, a fragment of the message)
BROKEN: list[tuple[str, Edit, str, str]] = [
    (
        "unknown-fault-kind",
        _set("inject_fault", "kind", "meteor-strike"),
        "method[0].provider.arguments.kind",
        "unknown fault kind 'meteor-strike'",
    ),
    (
        "unknown-runbook",
        _set("run_runbook", "name", "pray"),
        "method[2].provider.arguments.name",
        "no runbook named 'pray'",
    ),
    (
        "undefined-alert",
        _set("wait_for_page", "alert", "MeteorStrike"),
        "method[1].provider.arguments.alert",
        "no alert named 'MeteorStrike'",
    ),
    (
        "wrong-parameter-type",
        _set("inject_fault", "params", {"failure_rate": "lots"}),
        "method[0].provider.arguments.params.failure_rate",
        "expected a number",
    ),
    ("negative-hold", _hold, "configuration.chaosdrill_hold_s", "at least 0, got -5"),
    ("extensions-not-a-list", _extensions, "extensions", "expected a list of extensions"),
]


def _broken(tmp_path: Path, edit: Edit) -> Path:
    data = json.loads((EXPERIMENTS_DIR / "bad-release.json").read_text())
    edit(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def _non_utf8(tmp_path: Path) -> Path:
    text = (EXPERIMENTS_DIR / "bad-release.json").read_bytes()
    at = text.index(b"A release")
    path = tmp_path / "latin1.json"
    path.write_bytes(text[:at] + b"\xe9" + text[at:])
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CHAOSDRILL_HOME=str(tmp_path / "home"),
        CHAOSDRILL_REPORTS=str(tmp_path / "reports"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT / "src"),
    )
    return env


def _run(cmd: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    return proc, time.monotonic() - start


def _nothing_created(tmp_path: Path) -> None:
    assert not (tmp_path / "home").exists(), "a state directory was created"
    assert not (tmp_path / "reports").exists(), "a reports directory was created"


@pytest.mark.parametrize(
    "edit, field, message", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_a_broken_experiment_is_refused_by_the_spec(
    tmp_path: Path, edit: Edit, field: str, message: str
) -> None:
    path = _broken(tmp_path, edit)
    start = time.monotonic()
    with pytest.raises(InvalidInputError) as info:
        load_spec(path)
    assert time.monotonic() - start < 2.0
    assert info.value.source == str(path)
    assert info.value.field == field
    assert message in info.value.detail


@pytest.mark.parametrize(
    "edit, field, message", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_chaosdrill_run_refuses_a_broken_experiment_and_starts_nothing(
    tmp_path: Path, edit: Edit, field: str, message: str
) -> None:
    path = _broken(tmp_path, edit)
    proc, elapsed = _run([str(BIN / "chaosdrill"), "run", str(path), "--quiet"], tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())  # rich wraps long lines
    assert proc.returncode == 2, out
    assert str(path) in out and f"field '{field}'" in out and message in out
    # the process's own start-up dominates; a drill that set anything up takes minutes
    assert elapsed < 15, elapsed
    _nothing_created(tmp_path)


def test_a_non_utf8_experiment_names_the_byte_offset(tmp_path: Path) -> None:
    path = _non_utf8(tmp_path)
    with pytest.raises(InvalidInputError, match=r"not UTF-8: byte 0xe9 at byte offset \d+"):
        load_experiment(path)
    proc, _ = _run([str(BIN / "chaosdrill"), "run", str(path), "--quiet"], tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2 and str(path) in out and "not UTF-8" in out, out
    _nothing_created(tmp_path)


def test_hold_minus_one_on_the_command_line_is_refused(tmp_path: Path) -> None:
    path = EXPERIMENTS_DIR / "bad-release.json"
    proc, _ = _run([str(BIN / "chaosdrill"), "run", str(path), "--hold", "-1"], tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2 and "field '--hold'" in out, out
    _nothing_created(tmp_path)


def test_several_experiments_are_all_resolved_before_the_first_runs(tmp_path: Path) -> None:
    bad = _broken(tmp_path, _set("run_runbook", "name", "pray"))
    good = EXPERIMENTS_DIR / "bad-release.json"
    proc, _ = _run([str(BIN / "chaosdrill"), "run", str(good), str(bad), "--quiet"], tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2 and "no runbook named 'pray'" in out, out
    _nothing_created(tmp_path)


def test_stock_chaos_run_ends_with_the_spec_error_and_starts_nothing(tmp_path: Path) -> None:
    path = _broken(tmp_path, _set("inject_fault", "kind", "meteor-strike"))
    proc, _ = _run([str(BIN / "chaos"), "run", str(path)], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "unknown fault kind 'meteor-strike'" in out and "ERROR" in out, out
    assert "method[0].provider.arguments.kind" in out
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert journal["run"] == []  # not one activity of the method ran
    _nothing_created(tmp_path)


def test_the_spec_holds_every_part_of_a_shipped_experiment() -> None:
    path = EXPERIMENTS_DIR / "connection-limit.json"
    spec = load_spec(path, SpecOverrides(time_scale=30, hold_production_s=60, load={"rate": 5}))
    assert (spec.scenario, spec.cause) == ("database-down", "connection-limit")
    assert spec.fault.kind == "connection-limit" and isinstance(
        spec.fault.fault, REGISTRY["connection-limit"]
    )
    assert spec.alert == "DatabaseConnectionLimitReached"
    assert "DatabaseConnectionsExhausted" in spec.alerts  # from wait_for_recovery
    assert [r.name for r in spec.runbooks] == ["terminate-runaway-connections"]
    assert spec.time_scale.k == 30 and spec.hold_production_s == 60 and spec.load.rate == 5
    assert spec.hold_s == 2.0 and spec.load_settings["rate"] == 5
    assert spec.slo_window_s == 2.0 and spec.detection_timeout_s == 30.0  # 3 x 300 s / 30


def test_a_cause_the_scenario_does_not_list_is_refused() -> None:
    data = load_experiment(EXPERIMENTS_DIR / "bad-release.json")
    data["extensions"][0]["cause"] = "primary-crash"
    with pytest.raises(InvalidInputError, match="has no cause 'primary-crash'") as info:
        resolve_spec(data, "x.json")
    assert info.value.field == "extensions[chaosdrill].cause"


@pytest.mark.parametrize(
    "overrides, field",
    [
        (SpecOverrides(time_scale=0), "--time-scale"),
        (SpecOverrides(time_scale=float("inf")), "--time-scale"),
        (SpecOverrides(mttd_target_s=-1), "--mttd-target"),
        (SpecOverrides(recovery_timeout_production_s=float("nan")), "--recovery-timeout"),
        (SpecOverrides(load={"rate": -3}), "--load.rate"),
        (SpecOverrides(load={"colour": "blue"}), "--load.colour"),
    ],
)
def test_bad_overrides_name_their_option(overrides: SpecOverrides, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        load_spec(EXPERIMENTS_DIR / "bad-release.json", overrides)
    assert info.value.field == field


def _many_problems(data: dict[str, Any]) -> None:
    data["extensions"][0]["alert"] = "MeteorStrike"
    data["extensions"][0]["load"] = {"rate": 5, "threads": 4}
    _set("inject_fault", "kind", "meteor-strike")(data)
    _set("run_runbook", "name", "pray")(data)
    _hold(data)


def test_spec_problems_finds_every_independent_problem_and_the_first_is_raised(
    tmp_path: Path,
) -> None:
    path = _broken(tmp_path, _many_problems)
    experiment = load_experiment(path)
    problems = spec_problems(experiment, str(path))
    assert [p.field for p in problems] == [
        "extensions[chaosdrill].alert",
        "method[0].provider.arguments.kind",
        "method[2].provider.arguments.name",
        "configuration.chaosdrill_hold_s",
        "extensions[chaosdrill].load.threads",
    ]
    assert all(p.source == str(path) for p in problems)
    with pytest.raises(InvalidInputError) as info:
        resolve_spec(experiment, str(path))
    assert (info.value.field, info.value.detail) == (problems[0].field, problems[0].detail)


def test_a_check_that_needs_a_failed_value_adds_no_problem() -> None:
    data = load_experiment(EXPERIMENTS_DIR / "bad-release.json")
    data["extensions"][0]["scenario"] = "no-such-scenario"
    data["extensions"][0]["cause"] = "no-such-cause"  # not judged: the scenario is unknown
    _set("run_runbook", "name", "pray")(data)
    _set("run_runbook", "params", {"speed": 3})(data)  # not judged: the runbook is unknown
    problems = spec_problems(data, "x.json")
    assert [(p.field, p.detail.split(";")[0]) for p in problems] == [
        (
            "extensions[chaosdrill].scenario",
            "no scenario named 'no-such-scenario' in " f"{ROOT / 'scenarios' / '*.yaml'}",
        ),
        (
            "method[2].provider.arguments.name",
            f"no runbook named 'pray' in {ROOT / 'runbooks' / '*.yaml'}",
        ),
    ]


@pytest.mark.parametrize("path", sorted(EXPERIMENTS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_a_shipped_experiment_has_no_spec_problem(path: Path) -> None:
    assert spec_problems(load_experiment(path), str(path)) == []
