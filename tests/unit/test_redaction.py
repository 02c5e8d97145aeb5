"""Secrets never leave a fault's parameters unredacted."""

from __future__ import annotations

import json

import pytest

from chaosdrill.faults import REGISTRY, make_fault
from chaosdrill.faults.redaction import REDACTED, is_secret_key, redact, redact_text


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "db_password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "api_token",
        "apiKey",
        "api-key",
        "credentials",
        "private_key",
        "Authorization",
    ],
)
def test_secret_names_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["user", "application_name", "max_connections", "duration_s", "table", "passes", "mode"],
)
def test_ordinary_names_are_not_secrets(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://revenue:hunter2@127.0.0.1:5432/revenue",
            f"postgresql://revenue:{REDACTED}@127.0.0.1:5432/revenue",
        ),
        ("redis://:s3cret@localhost/0", f"redis://:{REDACTED}@localhost/0"),
        (
            "host=127.0.0.1 user=revenue password=hunter2 dbname=revenue",
            f"host=127.0.0.1 user=revenue password={REDACTED} dbname=revenue",
        ),
        ("password = 'a b\\'c' port=5", f"password = {REDACTED} port=5"),
        ("postgresql://revenue@127.0.0.1/revenue", "postgresql://revenue@127.0.0.1/revenue"),
        ("http://127.0.0.1:8080/health", "http://127.0.0.1:8080/health"),
        ("no secret here", "no secret here"),
    ],
)
def test_passwords_in_connection_strings_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_walks_nested_values_and_leaves_the_input_alone() -> None:
    params = {
        "user": "revenue",
        "password": "hunter2",
        "nested": {"api_token": "abc", "list": [{"secret": 1}, "x=1 password=hunter2"]},
        "dsn": "postgresql://u:hunter2@h/db",
        "token": None,
        "count": 3,
    }
    out = redact(params)
    assert "hunter2" not in json.dumps(out) and "abc" not in json.dumps(out)
    assert out["user"] == "revenue" and out["count"] == 3 and out["token"] is None
    assert out["password"] == REDACTED and out["nested"]["list"][0]["secret"] == REDACTED
    assert params["password"] == "hunter2"  # a copy: the fault keeps its real value


def test_connection_limit_writes_no_password_but_keeps_it_in_memory() -> None:
    fault = make_fault("connection-limit", {"password": "hunter2"})
    assert fault.params["password"] == "hunter2"  # what inject connects with
    assert fault.to_dict()["params"]["password"] == REDACTED
    assert "hunter2" not in json.dumps(fault.to_dict())


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_fault_can_be_rebuilt_from_its_redacted_parameters(kind: str) -> None:
    """The ledger holds redacted parameters: rebuilding a fault from them (to revert it) works."""
    params = make_fault(kind).to_dict()["params"]
    rebuilt = make_fault(kind, params)
    assert rebuilt.to_dict() == make_fault(kind).to_dict()
