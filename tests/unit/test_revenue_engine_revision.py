from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.targets.revenue_engine import Revision
from chaosdrill.targets.revenue_engine.revision import KNOWN_FLAGS, RevisionSettings


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "1.4.0",
        "revision": 3,
        "settings": {"pool_size": 4, "checkout_failure_rate": 0.25},
        "flags": {"new_checkout": True},
    }
    doc.update(overrides)
    return doc


def test_defaults_fill_missing_settings_and_flags() -> None:
    rev = Revision.from_dict({"version": "1.0.0", "revision": 0})
    assert rev.settings == RevisionSettings()
    assert rev.settings.pool_size == 10
    assert rev.settings.pool_timeout_s == 2.0
    assert rev.settings.cache_ttl_s == 30.0
    assert rev.settings.statement_timeout_ms == 5000
    assert rev.settings.checkout_failure_rate == 0.0
    assert rev.settings.leak_kib_per_request == 256
    assert dict(rev.flags) == dict.fromkeys(KNOWN_FLAGS, False)
    assert rev.unknown_flags == []


def test_parses_settings_and_flags() -> None:
    rev = Revision.from_dict(_doc())
    assert rev.version == "1.4.0"
    assert rev.revision == 3
    assert rev.settings.pool_size == 4
    assert rev.settings.checkout_failure_rate == 0.25
    assert rev.flags["new_checkout"] is True
    assert rev.flags["circuit_breaker"] is False


def test_round_trip() -> None:
    rev = Revision.from_dict(_doc(description="bad release"))
    assert Revision.from_dict(rev.to_dict()) == rev
    assert rev.to_dict()["description"] == "bad release"
    assert json.loads(json.dumps(rev.to_dict())) == rev.to_dict()


def test_unknown_flags_are_accepted_and_reported() -> None:
    rev = Revision.from_dict(_doc(flags={"beta_ui": True, "zeta": False}))
    assert rev.unknown_flags == ["beta_ui", "zeta"]
    assert rev.flags["beta_ui"] is True


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"settings": {"pool_sise": 3}}, "unknown setting(s) pool_sise"),
        ({"settings": {"pool_size": 0}}, "settings.pool_size: expected an integer >= 1"),
        ({"settings": {"pool_size": True}}, "settings.pool_size: expected an integer"),
        ({"settings": {"pool_size": 2.5}}, "settings.pool_size: expected an integer"),
        ({"settings": {"pool_timeout_s": 0}}, "settings.pool_timeout_s: expected a number > 0"),
        ({"settings": {"cache_ttl_s": "30"}}, "settings.cache_ttl_s: expected a number"),
        (
            {"settings": {"checkout_failure_rate": 1.5}},
            "settings.checkout_failure_rate: expected a number >= 0.0 and <= 1.0",
        ),
        ({"settings": {"leak_kib_per_request": -1}}, "settings.leak_kib_per_request"),
        ({"settings": {"statement_timeout_ms": "5s"}}, "settings.statement_timeout_ms"),
        ({"settings": []}, "settings: expected an object"),
        ({"flags": {"new_checkout": "yes"}}, "flags.new_checkout: expected true or false"),
        ({"flags": ["new_checkout"]}, "flags: expected an object"),
        ({"version": ""}, "version: expected a non-empty string"),
        ({"version": 2}, "version: expected a non-empty string"),
        ({"revision": -1}, "revision: expected an integer >= 0"),
        ({"revision": "3"}, "revision: expected an integer"),
        ({"extra": 1}, "revision: unknown key(s) extra"),
    ],
)
def test_validation_names_field(doc: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        Revision.from_dict(_doc(**doc))
    assert fragment in str(info.value)


def test_missing_revision_number() -> None:
    with pytest.raises(ValueError, match="revision: expected an integer >= 0, the field is"):
        Revision.from_dict({"version": "1"})


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match="expected a JSON object, got list"):
        Revision.from_dict([])


def test_from_file(tmp_path: Path) -> None:
    path = tmp_path / "rev.json"
    path.write_text(json.dumps(_doc()), encoding="utf-8")
    assert Revision.from_file(path).revision == 3


def test_from_file_errors_name_the_file(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON"):
        Revision.from_file(bad_json)
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(_doc(settings={"pool_size": -2})), encoding="utf-8")
    with pytest.raises(ValueError, match=r"invalid\.json: settings\.pool_size"):
        Revision.from_file(invalid)
