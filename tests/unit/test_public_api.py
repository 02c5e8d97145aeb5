import inspect
import types

import chaosdrill
from chaosdrill.environments.base import DRILL_MEMBERS


def test_exported_names_are_exactly_the_intended_ones() -> None:
    assert sorted(chaosdrill.__all__) == sorted(
        [
            "DrillError",
            "Endpoints",
            "EnvSettings",
            "Environment",
            "LocalEnvironment",
            "RuntimeFailure",
            "UsageError",
            "__version__",
            "discover",
        ]
    )
    for name in chaosdrill.__all__:
        assert hasattr(chaosdrill, name)


def test_all_lists_every_public_name_the_package_exposes() -> None:
    # what ``import chaosdrill`` makes public, apart from its submodules (which appear as
    # attributes once imported anywhere): an export left out of __all__ fails here
    exposed = {
        name
        for name, value in vars(chaosdrill).items()
        if not isinstance(value, types.ModuleType)
        and (not name.startswith("_") or name == "__version__")
    }
    assert sorted(chaosdrill.__all__) == sorted(exposed)
    assert len(chaosdrill.__all__) == len(set(chaosdrill.__all__))  # each name once


def test_local_environment_satisfies_the_environment_protocol() -> None:
    operations = [n for n in vars(chaosdrill.Environment) if not n.startswith("_")]
    assert len(operations) >= 20
    missing = [n for n in operations if not hasattr(chaosdrill.LocalEnvironment, n)]
    assert missing == []
    for name in operations:
        wanted = vars(chaosdrill.Environment)[name]
        got = inspect.getattr_static(chaosdrill.LocalEnvironment, name)
        if isinstance(wanted, property):
            assert isinstance(got, property), f"{name} should be a property"
            continue
        params = list(inspect.signature(wanted).parameters)
        assert list(inspect.signature(got).parameters)[: len(params)] == params, name


def test_the_environment_protocol_has_what_a_drill_needs() -> None:
    drill_needs = {
        "backend",
        "root",
        "down",
        "endpoints",
        "monitoring",
        "apply_time_scale",
        "start_load",
        "active_load",
        "pages",
        "last_promotion",
    }
    assert drill_needs <= set(vars(chaosdrill.Environment))
    assert set(vars(chaosdrill.Environment)) >= DRILL_MEMBERS
    assert "name" in chaosdrill.Environment.__annotations__


def test_the_chaos_toolkit_extension_discovers_its_activities() -> None:
    found = chaosdrill.discover(discover_system=False)
    names = {a["name"] for a in found["activities"]}
    assert {
        "inject_fault",
        "run_runbook",
        "revert_faults",
        "steady_state_met",
        "wait_for_page",
        "wait_for_recovery",
        "verify",
    } <= names
    assert found["extension"]["name"] == "chaosdrill"
