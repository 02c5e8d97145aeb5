"""Workspaces: which one is in force, how names resolve, init, catalogue list, refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from chaosdrill import workspace
from chaosdrill.cli.main import cli, main
from chaosdrill.errors import InvalidInputError
from chaosdrill.plans.model import load_plan
from chaosdrill.scenarios.catalogue import Catalogue
from chaosdrill.workspace import Workspace, builtin_root, locate
from chaosdrill.workspace.init import init_workspace
from tests.repo import ROOT, RUNBOOKS_DIR, make_workspace


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSDRILL_WORKSPACE", raising=False)
    monkeypatch.delenv("CHAOSDRILL_REPORTS", raising=False)


def test_the_builtin_catalogue_is_package_data_with_every_kind() -> None:
    base = builtin_root()
    assert base.parts[-2:] == ("chaosdrill", "catalogue")
    assert len(list((base / "scenarios").glob("*.yaml"))) == 4
    for kind in workspace.KINDS:
        assert Workspace(None).entries(kind), kind


def test_resolution_order_option_then_variable_then_nearest_then_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = make_workspace(tmp_path / "a")
    b = make_workspace(tmp_path / "b")
    deep = a / "x" / "y"
    deep.mkdir(parents=True)
    lone = tmp_path / "lone"
    lone.mkdir()
    assert locate(cwd=deep).root == a  # the nearest chaosdrill.yaml above
    assert locate(cwd=lone).root is None  # none: the built-in catalogue alone
    monkeypatch.setenv("CHAOSDRILL_WORKSPACE", str(b))
    assert locate(cwd=deep).root == b  # the variable beats the nearest
    assert locate(a, cwd=lone).root == a  # the option beats the variable


def test_without_a_workspace_reports_go_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert workspace.current().root is None
    assert workspace.current().reports_dir() == tmp_path / "reports"
    ws = make_workspace(tmp_path / "ws")
    (ws / "chaosdrill.yaml").write_text("version: 1\nreports: out/results\n")
    assert locate(ws).reports_dir() == ws / "out" / "results"
    monkeypatch.setenv("CHAOSDRILL_REPORTS", str(tmp_path / "env"))
    assert locate(ws).reports_dir() == tmp_path / "env"  # the variable beats the file


def test_a_workspace_file_overrides_the_builtin_one_of_its_name(tmp_path: Path) -> None:
    book = (RUNBOOKS_DIR / "rollback-deployment.yaml").read_text()
    ws = locate(
        make_workspace(
            tmp_path / "ws",
            {"runbooks/rollback-deployment.yaml": book.replace("Roll back the deployment", "Ours")},
        )
    )
    entry = ws.find("runbooks", "rollback-deployment")
    assert entry is not None and entry.source == "workspace"
    assert entry.path == ws.root / "runbooks" / "rollback-deployment.yaml"  # type: ignore[operator]
    other = ws.find("runbooks", "add-index")
    assert other is not None and other.source == "built-in"
    assert set(ws.overridden("runbooks")) == {"rollback-deployment"}
    catalogue = Catalogue(ws)
    runbook = catalogue.runbook("rollback-deployment")
    assert runbook is not None and runbook.title == "Ours"
    assert catalogue.used["runbook", "rollback-deployment"].source == "workspace"
    assert ws.find("runbooks", "../runbooks/add-index") is None  # a name, not a path


def test_a_broken_workspace_file_names_its_line_and_field(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    (ws / "chaosdrill.yaml").write_text("version: 1\nenvironment:\n  replicas: many\n")
    with pytest.raises(InvalidInputError) as err:
        locate(ws)
    text = str(err.value)
    assert "chaosdrill.yaml" in text and ":3" in text and "environment.replicas" in text
    (ws / "chaosdrill.yaml").write_text("version: 1\ntarget: bookshop\n")
    with pytest.raises(InvalidInputError, match="target"):
        locate(ws)


def test_a_named_directory_without_a_workspace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="has no chaosdrill.yaml"):
        locate(tmp_path)


@pytest.mark.parametrize(
    ("variable", "replacement"),
    [("CHAOSDRILL_ROOT", "CHAOSDRILL_WORKSPACE"), ("CHAOSDRILL_PROBES_DIR", "probes/")],
)
def test_a_variable_of_earlier_versions_is_refused_with_its_replacement(
    variable: str, replacement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "/somewhere")
    with pytest.raises(InvalidInputError, match=f"{variable} is no longer read.*{replacement}"):
        locate()
    result = CliRunner().invoke(cli, ["validate", str(ROOT / "drills" / "ci-gate.yaml")])
    assert result.exit_code == 2, result.output
    assert variable in result.output


def test_init_writes_a_valid_workspace_and_never_over_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "team"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    names = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert names == {
        "chaosdrill.yaml",
        "README.md",
        "reports/.gitignore",
        "scenarios/example-error-rate.yaml",
        "runbooks/example-rollback.yaml",
        "probes/example.rules.yml",
        "probes/example.test.yml",
        "experiments/example-bad-release.json",
        "drills/example.yaml",
    }
    ws = locate(target)
    assert ws.config.target == "revenue_engine"
    assert ws.config.environment["name"] == "team"
    monkeypatch.setenv("CHAOSDRILL_WORKSPACE", str(target))
    plan = load_plan(target / "drills" / "example.yaml")
    assert plan.environment.name == "team"  # from chaosdrill.yaml
    # a second init changes nothing
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exit_:
        main(["init", str(target)])
    assert exit_.value.code == 2
    assert "already holds chaosdrill.yaml" in capsys.readouterr().err.replace("\n", " ")
    assert {p: p.read_bytes() for p in target.rglob("*") if p.is_file()} == before


def test_init_from_reference_copies_the_whole_catalogue(tmp_path: Path) -> None:
    result = init_workspace(tmp_path / "ref", from_reference=True)
    ws = locate(result.root)
    for kind in ("scenarios", "runbooks", "rules", "experiments", "plans"):
        entries = ws.entries(kind)
        assert entries and all(e.source == "workspace" for e in entries.values()), kind
        assert set(Workspace(None).entries(kind)) <= set(entries)


def test_catalogue_list_shows_each_name_with_its_source(tmp_path: Path) -> None:
    book = (RUNBOOKS_DIR / "add-index.yaml").read_text()
    ws = make_workspace(tmp_path / "ws", {"runbooks/add-index.yaml": book})
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "catalogue", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by = {(r["kind"], r["name"]): r for r in rows}
    assert by["runbook", "add-index"]["source"] == "workspace"
    assert by["runbook", "rollback-deployment"]["source"] == "built-in"
    assert by["cause", "database-down/primary-crash"]["source"] == "built-in"
    assert by["alert", "DatabaseDown"]["file"].endswith("database.rules.yml")
    assert len([r for r in rows if r["kind"] == "scenario"]) == 4
    assert len([r for r in rows if r["kind"] == "cause"]) >= 8
    text = CliRunner().invoke(cli, ["--workspace", str(ws), "catalogue", "list"])
    assert "the workspace's runbooks add-index overrides the built-in one" in text.output
    os.environ.pop("CHAOSDRILL_WORKSPACE", None)  # the option set it for this process


def test_validate_checks_the_workspace_and_lists_what_each_name_resolved_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "team"
    init_workspace(target)
    monkeypatch.chdir(target)
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "9 files checked, 0 problems"  # chaosdrill.yaml + 8 catalogue files
    used = {tuple(line.split()[:2]): line.split()[2] for line in lines[1:-1]}
    assert used["runbook", "example-rollback"] == "workspace"
    assert used["runbook", "rollback-deployment"] == "built-in"
    assert used["alert", "ExampleHighErrorRate"] == "workspace"
    assert used["alert", "HighErrorRate"] == "built-in"
    # a name that resolves nowhere is a problem with its file and line
    exp = target / "experiments" / "example-bad-release.json"
    exp.write_text(exp.read_text().replace('"runbook": "example-rollback"', '"runbook": "nope"'))
    broken = CliRunner().invoke(cli, ["validate"])
    assert broken.exit_code == 2
    assert "experiments/example-bad-release.json" in broken.output
    assert "no runbook named 'nope'" in broken.output
