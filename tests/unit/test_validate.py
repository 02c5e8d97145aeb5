"""``chaosdrill validate``: the shipped project is clean, and every kind of broken input in
tests/data/broken/ (laid out in the directories the kind detection expects) is reported with
its file, line and field. promtool and amtool run for real (skipped when not installed)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chaosdrill.cli.main import cli
from chaosdrill.environments.local import monitoring
from chaosdrill.validate.runner import (
    PROJECT_DIRS,
    Problem,
    ValidationReport,
    kind_of,
    run_validation,
    validate_paths,
)
from chaosdrill.yamlsource import MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "data" / "broken"
HAVE_TOOLS = bool(shutil.which("promtool") and shutil.which("amtool"))
needs_tools = pytest.mark.skipif(
    not HAVE_TOOLS,
    reason="promtool/amtool not installed (apt-get install prometheus prometheus-alertmanager)",
)

# (file under tests/data/broken, line, field, a fragment of the message)
CASES: list[tuple[str, int | None, str | None, str]] = [
    ("scenarios/wrong-type.yaml", 10, "alerts", "expected a list, got the text"),
    ("scenarios/missing-field.yaml", 1, "severity", "missing required key 'severity'"),
    ("scenarios/unknown-runbook.yaml", 40, "runbooks.4", "no runbook named 'no-such-runbook'"),
    ("scenarios/unknown-alert.yaml", 10, "alerts.1", "no alert named 'NoSuchAlert'"),
    ("scenarios/empty.yaml", 1, None, "the file is empty"),
    ("scenarios/broken-yaml.yaml", 5, "<document>", "expected valid YAML"),
    ("runbooks/unknown-operation.yaml", 16, "steps.1.action.op", "did you mean 'rollout_restart'"),
    ("runbooks/wrong-type.yaml", 17, "steps.1.timeout_s", "got the text 'soon'"),
    ("experiments/broken-json.json", 6, None, "not valid JSON"),
    ("experiments/ctk-invalid.json", 58, "method.0", "Chaos Toolkit says"),
    (
        "experiments/unknown-scenario.json",
        20,
        "extensions[chaosdrill].scenario",
        "no scenario named 'no-such-scenario'",
    ),
    (
        "experiments/unknown-runbook.json",
        93,
        "method.2.provider.arguments.name",
        "no runbook named 'no-such-runbook'",
    ),
    (
        "experiments/unknown-alert.json",
        22,
        "extensions[chaosdrill].alert",
        "no alert named 'NoSuchAlert'",
    ),
    (
        "experiments/unknown-alert.json",
        81,
        "method.1.provider.arguments.alert",
        "no alert named 'NoSuchAlert'",
    ),
    (
        "experiments/missing-extension-field.json",
        17,
        "extensions[chaosdrill].cause",
        "expected a non-empty string",
    ),
    ("experiments/bad-load.json", 29, "extensions[chaosdrill].load.threads", "unknown key"),
    (
        "experiments/bad-fault-params.json",
        68,
        "method.0.provider.arguments.params.failure_rate",
        "expected a number from 0 to 1, got 7",
    ),
    (
        "experiments/bad-runbook-params.json",
        95,
        "method.2.provider.arguments.params.speed",
        "unknown parameter 'speed'",
    ),
    ("drills/bad-field.yaml", 5, "time_scale", "expected a number >= 1 and <= 1000, got 0"),
    ("drills/unknown-experiment.yaml", 6, "drills.1.experiment", "no experiment file"),
    ("drills/unknown-alert.yaml", 8, "gates.alerts_must_page.1", "no alert named 'NoSuchAlert'"),
    ("drills/weights.yaml", 7, "scoring.weights", "sum to 110"),
    (
        "probes/bad-promql.rules.yml",
        6,
        "broken.BrokenExpression.expr",
        "unclosed left parenthesis",
    ),
    (
        "probes/unknown-key.rules.yml",
        7,
        "broken.MisplacedSeverity.severity",
        "unknown key 'severity'",
    ),
    ("probes/failing.test.yml", 14, "tests.0.alert_rule_test.1", "unit test failed"),
    (
        "probes/missing-rule-file.test.yml",
        3,
        "rule_files.0",
        "no rule file matches 'no-such.rules.yml'",
    ),
    (
        "alertmanager/undefined-receiver.alertmanager.yml",
        3,
        "route.receiver",
        'undefined receiver "pagr"',
    ),
    (
        "alertmanager/unknown-key.alertmanager.yml",
        4,
        "route.group_wiat",
        "unknown key 'group_wiat'",
    ),
    ("misc/notes.txt", None, None, "cannot tell what kind of file this is"),
]
TOOL_CASES = {"probes/bad-promql.rules.yml", "probes/failing.test.yml"}
TOOL_CASES |= {"probes/missing-rule-file.test.yml"}
TOOL_CASES |= {c[0] for c in CASES if c[0].startswith("alertmanager/")}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def corpus() -> Iterator[tuple[ValidationReport, bool]]:
    """One validation of the whole corpus, run from the repository root."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        before = _snapshot(BROKEN)
        report = run_validation([BROKEN.relative_to(ROOT)])
        unchanged = _snapshot(BROKEN) == before
        yield report, unchanged


def _problems_of(report: ValidationReport, name: str) -> list[Problem]:
    return [p for p in report.problems if p.file == f"tests/data/broken/{name}"]


@pytest.mark.parametrize(
    "name, line, field, fragment", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES]
)
def test_each_broken_input_is_reported_with_file_line_and_field(
    corpus: tuple[ValidationReport, bool],
    name: str,
    line: int | None,
    field: str | None,
    fragment: str,
) -> None:
    if name in TOOL_CASES and not HAVE_TOOLS:
        pytest.skip("promtool/amtool not installed")
    report, _ = corpus
    found = _problems_of(report, name)
    assert any(p.line == line and p.field == field and fragment in p.message for p in found), (
        f"no problem at line {line}, field {field!r} with {fragment!r} in:\n"
        + "\n".join(map(str, found))
    )


def test_every_corpus_file_is_checked_and_has_a_problem(
    corpus: tuple[ValidationReport, bool],
) -> None:
    report, unchanged = corpus
    files = {str(p.relative_to(BROKEN)) for p in BROKEN.rglob("*") if p.is_file()}
    assert len(files) >= 25
    assert {f"tests/data/broken/{f}" for f in files} == set(report.files)
    assert {p.file for p in report.problems} == set(report.files)
    assert {c[0] for c in CASES} == files  # every corpus file has its case above
    assert unchanged, "validation changed the files it checked"
    # the problems of one file come together, in the order the files were found
    order = [p.file for p in report.problems]
    assert order == sorted(order, key=report.files.index)


def test_every_problem_of_one_file_is_reported(tmp_path: Path) -> None:
    plan = tmp_path / "drills" / "many.yaml"
    plan.parent.mkdir()
    plan.write_text(
        "version: 1\nname: many\ntime_scale: 0\nhold_s: -1\n"
        "drills:\n  - experiment: experiments/bad-release.json\n"
        "gates: {alerts_must_page: [HighErorRate]}\n"
    )
    problems = validate_paths([plan])
    assert [(p.line, p.field) for p in problems] == [
        (3, "time_scale"),
        (4, "hold_s"),
        (7, "gates.alerts_must_page.0"),
    ]
    assert "did you mean 'HighErrorRate'?" in problems[2].message


@needs_tools
def test_the_shipped_project_is_valid_and_the_cli_exits_0() -> None:
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    shipped = [p for d in PROJECT_DIRS for p in (ROOT / d).iterdir() if not p.name.startswith(".")]
    assert len(shipped) > 30
    # chaosdrill.yaml, every shipped file, and the Alertmanager config at time scales 1 and 1000
    assert lines[-1] == f"{len(shipped) + 3} files checked, 0 problems"
    # each name used, with the file it resolved to (the repository is the workspace)
    assert lines[0] == "names used, and the file each resolved to:"
    used = {tuple(line.split()[:2]): line.split()[2:] for line in lines[1:-1]}
    assert used["runbook", "rollback-deployment"] == [
        "workspace",
        "runbooks/rollback-deployment.yaml",
    ]
    assert used["alert", "DatabaseDown"] == ["workspace", "probes/database.rules.yml"]
    assert used["scenario", "memory-leak"] == ["workspace", "scenarios/memory-leak.yaml"]
    assert used["experiment", "primary-crash"] == ["workspace", "experiments/primary-crash.json"]


@needs_tools
def test_the_generated_alertmanager_config_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = "route:\n  receiver: nobody\nreceivers:\n  - name: pager\n"
    monkeypatch.setattr(monitoring, "alertmanager_config", lambda **_: broken)
    monkeypatch.setattr("chaosdrill.validate.runner.PROJECT_DIRS", ())  # only the generated ones
    report = run_validation([])
    assert report.files[0] == "chaosdrill.yaml"  # the workspace's own file
    generated = report.files[1:]
    assert len(generated) == 2
    assert all(f.startswith("<alertmanager.yml generated by chaosdrill") for f in generated)
    assert [p.file for p in report.problems] == list(generated)
    assert all('undefined receiver "nobody"' in p.message for p in report.problems)


def test_cli_prints_problems_and_a_summary_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "empty.yaml").write_text("   \n")
    (tmp_path / "drills").mkdir()
    (tmp_path / "drills" / "bad.yaml").write_text("version: 1\nname: bad\ndrills: []\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"{tmp_path}/drills/bad.yaml:3: drills: expected a list of at least 1 item(s), got 0",
        f"{tmp_path}/scenarios/empty.yaml:1: the file is empty; expected a scenario "
        "(scenarios/*.yaml)",
        "2 files checked, 2 problems",
    ]
    as_json = runner.invoke(cli, ["validate", "--json", str(tmp_path)])
    assert as_json.exit_code == 2
    data = json.loads(as_json.stdout)
    assert data[0] == {
        "file": f"{tmp_path}/drills/bad.yaml",
        "line": 3,
        "field": "drills",
        "message": "expected a list of at least 1 item(s), got 0",
    }
    assert len(data) == 2
    assert "2 files checked, 2 problems" in as_json.stderr


def test_a_clean_path_exits_0_and_says_so() -> None:
    result = CliRunner().invoke(cli, ["validate", str(ROOT / "drills" / "ci-gate.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "names used, and the file each resolved to:",
        "  experiment bad-release    workspace experiments/bad-release.json",
        "  experiment primary-crash  workspace experiments/primary-crash.json",
        "1 file checked, 0 problems",
    ]


# --- limits of the files themselves --------------------------------------------------------


def test_a_directory_named_like_a_file(tmp_path: Path) -> None:
    (tmp_path / "runbooks" / "restart.yaml").mkdir(parents=True)
    (tmp_path / "runbooks" / "restart.yaml" / "inside.yaml").write_text("x: 1\n")
    for target in (tmp_path, tmp_path / "runbooks" / "restart.yaml"):
        (problem,) = validate_paths([target])
        assert problem.file == str(tmp_path / "runbooks" / "restart.yaml")
        assert problem.message == "is a directory; expected a runbook (runbooks/*.yaml) file"


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root reads a file even with mode 000, so an unreadable file cannot be made as root",
)
def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "scenarios" / "secret.yaml"
    path.parent.mkdir()
    path.write_text("id: secret\n")
    path.chmod(0)
    try:
        (problem,) = validate_paths([path])
    finally:
        path.chmod(0o644)
    assert (problem.file, problem.line) == (str(path), None)
    assert "permission denied" in problem.message


def test_a_refused_read_is_a_problem_also_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path as test_an_unreadable_file, reached by making open() refuse."""
    path = tmp_path / "scenarios" / "secret.yaml"
    path.parent.mkdir()
    path.write_text("id: secret\n")
    real_open = Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    (problem,) = validate_paths([path])
    assert problem == Problem(
        str(path), None, None, "permission denied; expected a file this user can read"
    )


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "experiments" / "huge.json"
    path.parent.mkdir()
    path.write_bytes(b" " * (MAX_BYTES + 1))
    (problem,) = validate_paths([path])
    assert problem.file == str(path)
    assert f"is {MAX_BYTES + 1} bytes, larger than 1024 KiB" in problem.message


def test_missing_paths_and_broken_links_are_problems(tmp_path: Path) -> None:
    link = tmp_path / "drills" / "gone.yaml"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "nowhere.yaml")
    problems = validate_paths([tmp_path / "missing", link])
    assert [(p.file, p.line, p.message) for p in problems] == [
        (
            str(tmp_path / "missing"),
            None,
            "no such file or directory; expected a file or directory",
        ),
        (str(link), None, "a broken symbolic link; expected a file or directory"),
    ]


def test_a_missing_tool_is_a_problem_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    shutil.copy(ROOT / "probes" / "cache.rules.yml", probes)
    am = tmp_path / "pager.alertmanager.yml"
    am.write_text(monitoring.alertmanager_config(9, 30, tmp_path / "pager-token"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    problems = validate_paths([probes, am])
    assert [(p.file, p.line) for p in problems] == [
        (str(probes / "cache.rules.yml"), None),
        (str(am), None),
    ]
    assert "promtool is not installed" in problems[0].message
    assert "apt-get install prometheus)" in problems[0].message
    assert "amtool is not installed" in problems[1].message
    assert "apt-get install prometheus-alertmanager" in problems[1].message


# --- the pieces ----------------------------------------------------------------------------


def test_problem_text_is_file_line_field_message() -> None:
    assert str(Problem("a.yaml", 3, "steps.0", "bad")) == "a.yaml:3: steps.0: bad"
    assert str(Problem("a.yaml", None, None, "bad")) == "a.yaml: bad"
    assert str(Problem("a.yaml", 1, None, "bad")) == "a.yaml:1: bad"


@pytest.mark.parametrize(
    "path, kind",
    [
        ("scenarios/x.yaml", "scenario"),
        ("runbooks/x.yaml", "runbook"),
        ("experiments/x.json", "experiment"),
        ("drills/x.yaml", "plan"),
        ("probes/x.rules.yml", "rules"),
        ("probes/x.test.yml", "rule-test"),
        ("anywhere/team.alertmanager.yml", "alertmanager"),
        ("anywhere/alertmanager.yml", "alertmanager"),
        ("scenarios/x.yml", None),
        ("experiments/x.yaml", None),
        ("probes/x.yml", None),
        ("x.yaml", None),
    ],
)
def test_kind_follows_directory_and_name(path: str, kind: str | None) -> None:
    assert kind_of(Path(path)) == kind


# --- recognition by content ------------------------------------------------------------


@pytest.mark.parametrize(
    "source, kind",
    [
        ("experiments/bad-release.json", "experiment"),
        ("runbooks/rollback-deployment.yaml", "runbook"),
        ("scenarios/database-down.yaml", "scenario"),
        ("drills/ci-gate.yaml", "plan"),
        ("probes/service.rules.yml", "rules"),
    ],
)
def test_a_file_is_recognised_by_its_content_wherever_it_lives(
    tmp_path: Path, source: str, kind: str
) -> None:
    copy = tmp_path / "elsewhere" / f"my{Path(source).suffix}"
    copy.parent.mkdir()
    copy.write_text((ROOT / source).read_text())
    assert kind_of(copy) == kind


def test_validate_checks_an_experiment_outside_experiments(tmp_path: Path) -> None:
    copy = tmp_path / "my.json"
    copy.write_text((ROOT / "experiments" / "bad-release.json").read_text())
    result = CliRunner().invoke(cli, ["validate", str(copy)])
    assert result.exit_code == 0, result.output
    assert "cannot tell what kind" not in result.output


def test_validate_refuses_what_run_refuses(tmp_path: Path) -> None:
    """The drill spec runs in validate too: a negative hold is a problem in both."""
    data = json.loads((ROOT / "experiments" / "bad-release.json").read_text())
    data["configuration"]["chaosdrill_hold_s"] = -5
    copy = tmp_path / "my.json"
    copy.write_text(json.dumps(data, indent=2))
    (problem,) = validate_paths([copy])
    assert problem.field == "configuration.chaosdrill_hold_s"
    assert problem.line == 13 and "at least 0, got -5" in problem.message


def test_every_drill_spec_problem_of_an_experiment_is_reported(tmp_path: Path) -> None:
    data = json.loads((ROOT / "experiments" / "bad-release.json").read_text())
    data["configuration"]["chaosdrill_hold_s"] = -5
    data["extensions"][0]["alert"] = "HighErorRate"
    data["method"][0]["provider"]["arguments"]["params"] = {"failure_rate": 7}
    copy = tmp_path / "my.json"
    copy.write_text(json.dumps(data, indent=2))
    problems = validate_paths([copy])
    text = copy.read_text().splitlines()
    assert [p.field for p in problems] == [
        "extensions[chaosdrill].alert",
        "method.0.provider.arguments.params.failure_rate",
        "configuration.chaosdrill_hold_s",
    ]
    assert all(p.file == str(copy) for p in problems)
    assert '"alert": "HighErorRate"' in text[problems[0].line - 1]
    assert "(did you mean 'HighErrorRate'?)" in problems[0].message
    assert '"failure_rate": 7' in text[problems[1].line - 1]
    assert "expected a number from 0 to 1, got 7" in problems[1].message
    assert '"chaosdrill_hold_s": -5' in text[problems[2].line - 1]
