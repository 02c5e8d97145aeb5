"""A workspace's own target: what chaosdrill.yaml declares, and what drills may ask of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdrill.cli.main import main
from chaosdrill.errors import InvalidInputError
from chaosdrill.load.spec import LoadSpec
from chaosdrill.runbooks.loader import load_runbook
from chaosdrill.scenarios.catalogue import Catalogue
from chaosdrill.scenarios.spec import load_spec
from chaosdrill.targets.revenue_engine.revision import KNOWN_FLAGS
from chaosdrill.targets.spec import REFERENCE, REFERENCE_FLAGS, TargetSpec
from chaosdrill.workspace import builtin_root, locate
from tests.repo import ROOT, make_workspace

BOOKSHOP = ROOT / "examples" / "workspaces" / "bookshop"

SHOP = """\
version: 1
target:
  name: shop
  title: The Shop
  directory: app
  command: "{python} -m shop --port {port} --name {replica}"
  setup: ["{python}", "-m", "shop.schema"]
  capabilities: [cache]
  tables: [items]
  indexes: [items_kind_idx]
  revisions:
    environment: {SHOP_VERSION: "{version}"}
  flows:
    list: {path: /items, weight: 3}
    item: {path: "/items/{id}", ids: 40}
"""


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # set, then removed: monkeypatch then removes what `--workspace` exports, afterwards
    monkeypatch.setenv("CHAOSDRILL_WORKSPACE", "")
    monkeypatch.delenv("CHAOSDRILL_WORKSPACE")
    monkeypatch.delenv("CHAOSDRILL_REPORTS", raising=False)


def _shop(tmp_path: Path, text: str = SHOP) -> Path:
    ws = make_workspace(tmp_path / "ws")
    (ws / "chaosdrill.yaml").write_text(text)
    return ws


def test_the_reference_flags_are_the_reference_targets() -> None:
    assert REFERENCE_FLAGS == KNOWN_FLAGS
    assert REFERENCE.reference and REFERENCE.has("flag:new_checkout")
    assert locate(ROOT).target() is REFERENCE  # the repository drills the reference target


def test_a_declared_target_is_read_with_its_capabilities(tmp_path: Path) -> None:
    ws = _shop(tmp_path)
    target = locate(ws).target()
    assert not target.reference and target.name == "shop" and target.service == "The Shop"
    assert target.command == ("{python}", "-m", "shop", "--port", "{port}", "--name", "{replica}")
    assert target.setup == ("{python}", "-m", "shop.schema")
    assert target.directory == str(ws / "app")
    assert target.sessions == "shop %"  # the default pattern: its name, then the replica
    assert target.capabilities == {"cache", "table:items", "index:items_kind_idx", "api:shop"}
    assert not target.has("revisions") and not target.has("runtime-flags")
    assert target.flow_weights() == {"list": 3, "item": 1}
    assert TargetSpec.from_dict(target.to_dict()) == target  # as the environment keeps it


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("--name {replica}", "--name {replicas}", 6, "target.command", "{replicas}"),
        ("name: shop", "name: revenue_engine", 3, "target.name", "not revenue_engine"),
        ("    item: {path", "    item: {path: items, x", 15, "target.flows.item.path", "URL path"),
        ("capabilities: [cache]", "capabilities: [cash]", 8, "target.capabilities.0", "cache"),
        ('"{python}", "-m", "shop.schema"', '"{port}"', 7, "target.setup.0", "{port}"),
    ],
)
def test_a_wrong_target_names_line_field_and_what_was_expected(
    tmp_path: Path, old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in SHOP
    ws = _shop(tmp_path, SHOP.replace(old, new))
    with pytest.raises(InvalidInputError) as err:
        locate(ws)
    assert (err.value.line, err.value.field) == (line, field), err.value
    assert message in str(err.value)


def test_a_target_without_flows_is_refused(tmp_path: Path) -> None:
    ws = _shop(tmp_path, SHOP.split("  flows:")[0])
    with pytest.raises(InvalidInputError, match="missing required key 'flows'") as err:
        locate(ws)
    assert err.value.field == "target.flows"


def _experiment(name: str) -> Path:
    return builtin_root() / "experiments" / f"{name}.json"


@pytest.mark.parametrize(
    ("experiment", "missing"),
    [
        ("bad-release", "'revisions'"),  # its runbook rolls back: the target has no revisions
        ("leaky-feature", "'runtime-flags'"),
        ("missing-index", "'api:revenue_engine', 'index:enrollments_course_id_idx'"),
        ("pool-exhaustion", "'table:enrollments'"),
    ],
)
def test_a_drill_the_target_cannot_support_is_refused_naming_the_capability(
    tmp_path: Path, experiment: str, missing: str
) -> None:
    catalogue = Catalogue(locate(_shop(tmp_path)))
    with pytest.raises(InvalidInputError) as err:
        load_spec(_experiment(experiment), catalogue=catalogue)
    assert f"needs the target's capability {missing}" in str(err.value)
    assert "which target 'shop'" in str(err.value)
    assert err.value.line is not None  # file and line of the experiment


def test_a_fault_is_refused_for_what_it_needs_itself(tmp_path: Path) -> None:
    warm = "name: warm-cache\ntitle: t\ndescription: d\nsteps:\n  - name: s\n    timeout_s: 1\n"
    warm += '    check: {http: "{service_url}/health", status: 200}\n'
    ws = make_workspace(tmp_path / "ws", {"runbooks/warm-cache.yaml": warm})
    text = SHOP.replace("capabilities: [cache]", "capabilities: []")
    (ws / "chaosdrill.yaml").write_text(text)
    with pytest.raises(InvalidInputError, match="fault 'cache-outage' needs") as err:
        load_spec(_experiment("cache-outage"), catalogue=Catalogue(locate(ws)))
    assert "'cache'" in str(err.value)


def test_the_drills_the_target_supports_resolve(tmp_path: Path) -> None:
    catalogue = Catalogue(locate(_shop(tmp_path)))
    for name in ("primary-crash", "connection-limit"):
        spec = load_spec(_experiment(name), catalogue=catalogue)
        assert spec.load is not None and spec.load.flows is not None
        assert spec.load.weights == {"list": 3, "item": 1}  # the target's, not the reference's


def test_a_run_the_target_cannot_support_exits_2_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _shop(tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("CHAOSDRILL_HOME", str(home))
    monkeypatch.chdir(ws)
    with pytest.raises(SystemExit) as exit_:
        main(["run", "bad-release", "--time-scale", "30"])
    assert exit_.value.code == 2
    assert not home.exists() or not any(home.rglob("*.json"))  # no environment
    assert not (ws / "reports").exists()


def test_runbooks_need_what_their_operations_need() -> None:
    runbooks = builtin_root() / "runbooks"
    assert load_runbook(runbooks / "rollback-deployment.yaml").needs() == ("revisions",)
    assert load_runbook(runbooks / "circuit-breaker.yaml").needs() == ("runtime-flags",)
    assert load_runbook(runbooks / "database-failover.yaml").needs() == ()
    warm = load_runbook(runbooks / "warm-cache.yaml").needs()
    assert warm == ("api:revenue_engine", "cache")  # declared, then its cache operations


def test_load_weights_name_the_targets_flows() -> None:
    flows = [{"name": "list", "path": "/items", "weight": 2}, {"name": "item", "path": "/i"}]
    assert LoadSpec(flows=flows).weights == {"list": 2, "item": 1}
    assert LoadSpec(flows=flows, weights={"item": 1}).weights == {"item": 1}
    with pytest.raises(InvalidInputError, match="for list, item"):
        LoadSpec(flows=flows, weights={"browse": 1})
    with pytest.raises(InvalidInputError, match="for browse, view_course"):
        LoadSpec(weights={"list": 1})  # the reference target's flows


def test_the_bookshop_workspace_validates_and_overrides_two_runbooks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--workspace", str(BOOKSHOP), "validate"])  # exit 0: it returns
    out = capsys.readouterr().out
    assert "0 problems" in out, out
    for name in ("add-index", "warm-cache"):
        line = next(x for x in out.splitlines() if f"runbook {name} " in x)
        assert "workspace" in line and "bookshop" in line, line
    main(["--workspace", str(BOOKSHOP), "catalogue", "list"])
    listed = " ".join(capsys.readouterr().out.split())
    assert f"target bookshop ({BOOKSHOP / 'chaosdrill.yaml'}); it supports: api:bookshop," in listed
    plan = json.loads((BOOKSHOP / "experiments" / "missing-index.json").read_text())
    [inject] = [a for a in plan["method"] if a["provider"].get("func") == "inject_fault"]
    assert inject["provider"]["arguments"]["params"]["index"] == "reviews_book_id_idx"


def test_a_replica_of_a_declared_target_runs_its_command_for_its_version(
    tmp_path: Path,
) -> None:
    from dataclasses import fields

    from chaosdrill.environments.local import components, lifecycle
    from chaosdrill.environments.local.context import LocalContext
    from chaosdrill.environments.local.programs import Programs
    from chaosdrill.environments.local.state import EnvSettings, Replica

    text = SHOP.replace(
        '  revisions:\n    environment: {SHOP_VERSION: "{version}"}\n',
        '  revisions:\n    environment: {SHOP_VERSION: "{version}"}\n'
        '    commands: {"2.0.0": "{python} -m shop --port {port} --fast"}\n',
    )
    target = locate(_shop(tmp_path, text)).target()
    settings = EnvSettings(target=target.to_dict())
    root = tmp_path / "env"
    root.mkdir()
    state = lifecycle.new_state("t", root, settings, None)
    state.revisions.append({"version": "2.0.0", "revision": 2, "settings": {}, "flags": {}})
    programs = Programs(**{f.name: Path("/bin/true") for f in fields(Programs)})
    ctx = LocalContext(state, programs)
    one = components.app_program(ctx, Replica("app-1", 41001, 1))
    two = components.app_program(ctx, Replica("app-2", 41002, 2))
    assert list(one.command)[1:] == ["-m", "shop", "--port", "41001", "--name", "app-1"]
    assert list(two.command)[1:] == ["-m", "shop", "--port", "41002", "--fast"]
    assert one.directory == two.directory == Path(target.directory or "")
    assert (one.env["SHOP_VERSION"], two.env["SHOP_VERSION"]) == ("1.0.0", "2.0.0")
    assert two.env["CHAOSDRILL_REVISION"] == "2" and two.env["PORT"] == "41002"
    assert "target_session_attrs=read-write" in one.env["DATABASE_URL"]
    assert "password=" not in one.env["DATABASE_URL"]  # the password file, never a password
    assert json.loads(Path(two.env["CHAOSDRILL_REVISION_FILE"]).read_text())["version"] == "2.0.0"
    assert not any(k.startswith("RE_") for k in one.env)  # the reference target's variables


def test_a_flow_fills_its_id_in_the_path_and_the_body() -> None:
    target = locate(BOOKSHOP).target()
    order = next(f for f in target.flows if f.name == "order")
    assert order.path_for(7) == "/orders" and order.body_for(7) == {"book_id": 7, "quantity": 1}
    view = next(f for f in target.flows if f.name == "view_book")
    assert view.path_for(42) == "/books/42" and view.body_for(42) is None
