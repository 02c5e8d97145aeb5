"""The fault registry and parameter validation (no processes)."""

from __future__ import annotations

from typing import Any

import pytest

from chaosdrill.environments.base import Environment
from chaosdrill.errors import InvalidInputError
from chaosdrill.faults import REGISTRY, make_fault
from chaosdrill.faults.connections import ConnectionLimit
from chaosdrill.faults.holder import _parser
from chaosdrill.faults.redaction import redact

KINDS = {
    "bad-release": "high-error-rate",
    "pool-exhaustion": "high-error-rate",
    "missing-index": "high-latency",
    "cache-outage": "high-latency",
    "primary-crash": "database-down",
    "connection-limit": "database-down",
    "leaky-feature": "memory-leak",
    "leaky-release": "memory-leak",
}


def test_every_kind_is_registered_under_its_scenario() -> None:
    make_fault("missing-index")  # imports the built-in faults
    assert {k: REGISTRY[k].scenario for k in KINDS} == KINDS
    for kind in KINDS:
        fault = make_fault(kind)
        assert fault.kind == kind
        assert fault.description
        assert fault.params == REGISTRY[kind].defaults
        # what is written (ledger, reports) is the defaults with secrets redacted
        assert fault.to_dict() == {"kind": kind, "params": redact(REGISTRY[kind].defaults)}


def test_defaults_are_the_documented_ones() -> None:
    assert make_fault("bad-release").params == {
        "version": "1.1.0-bad",
        "failure_rate": 0.6,
        "revert_to_revision": None,  # filled in by bind() before the ledger entry
        "revert_to_replicas": None,
    }
    assert make_fault("leaky-release").params["leak_kib_per_request"] == 512
    assert make_fault("cache-outage").params == {"mode": "freeze"}
    assert make_fault("pool-exhaustion").params["application_name"] == "nightly-revenue-report"
    assert make_fault("pool-exhaustion").params["duration_s"] == 3600
    assert make_fault("primary-crash").params == {"node": None}
    assert make_fault("leaky-feature").params == {}


def test_parameters_round_trip_through_to_dict() -> None:
    fault = make_fault("bad-release", {"failure_rate": 0.25, "version": "2.0.0-rc1"})
    again = make_fault(**fault.to_dict())
    assert again.params == fault.params
    assert again.params["failure_rate"] == 0.25 and again.params["version"] == "2.0.0-rc1"


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="unknown fault 'disk-full'") as info:
        make_fault("disk-full")
    assert info.value.field == "fault.kind"
    assert "bad-release" in str(info.value) and "primary-crash" in str(info.value)


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown parameter.*rate") as info:
        make_fault("bad-release", {"rate": 0.5})
    assert info.value.field == "fault.params"
    assert "failure_rate" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("bad-release", {"failure_rate": 1.5}, "failure_rate"),
        ("bad-release", {"failure_rate": "high"}, "failure_rate"),
        ("bad-release", {"failure_rate": True}, "failure_rate"),
        ("bad-release", {"failure_rate": float("nan")}, "failure_rate"),
        ("bad-release", {"version": ""}, "version"),
        ("bad-release", {"version": "1.0 bad"}, "version"),
        ("leaky-release", {"leak_kib_per_request": 0}, "leak_kib_per_request"),
        ("leaky-release", {"leak_kib_per_request": 1.5}, "leak_kib_per_request"),
        ("missing-index", {"index": "x; drop table enrollments"}, "index"),
        ("missing-index", {"table": "Enrollments"}, "table"),
        ("missing-index", {"columns": "course_id)"}, "columns"),
        ("cache-outage", {"mode": "pause"}, "mode"),
        ("primary-crash", {"node": "node 1"}, "node"),
        ("pool-exhaustion", {"application_name": "report'; --"}, "application_name"),
        ("pool-exhaustion", {"duration_s": 0}, "duration_s"),
        ("pool-exhaustion", {"table": "a.b"}, "table"),
        ("connection-limit", {"max_connections": 0}, "max_connections"),
        ("connection-limit", {"user": "Revenue"}, "user"),
        ("connection-limit", {"password": ""}, "password"),
    ],
)
def test_bad_values_name_their_field(kind: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        make_fault(kind, params)
    assert info.value.field == f"fault.params.{field}"
    assert str(info.value).startswith(f"field 'fault.params.{field}': fault {kind!r}: expected")


def test_good_values_are_accepted() -> None:
    assert make_fault("primary-crash", {"node": "postgres-2"}).params["node"] == "postgres-2"
    assert make_fault("missing-index", {"columns": "course_id, created_at"}).params
    assert make_fault("bad-release", {"failure_rate": 1}).params["failure_rate"] == 1
    assert make_fault("cache-outage", {"mode": "stop"}).params["mode"] == "stop"


class _DsnOnly:
    """A fake environment that only knows its primary's connection strings."""

    def database_dsn(self, node: str | None = None, user: str | None = None) -> str:
        return (
            f"host=127.0.0.1 port=54321 dbname=revenue user={user or 'chaosdrill'} "
            "passfile=/env/secrets/pgpass connect_timeout=2"
        )


def _parts(dsn: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in dsn.split())


def test_connection_limit_connects_as_the_application_role_to_the_primary() -> None:
    fault = make_fault("connection-limit")
    assert isinstance(fault, ConnectionLimit)
    assert fault.params["password"] is None
    # the environment's own credentials for the role: its password file, no password
    assert _parts(fault._dsn(_DsnOnly())) == {  # type: ignore[arg-type]
        "host": "127.0.0.1",
        "port": "54321",
        "dbname": "revenue",
        "user": "revenue",
        "passfile": "/env/secrets/pgpass",
        "connect_timeout": "2",
    }
    assert isinstance(_DsnOnly(), Environment) is False  # a fake, not an environment


def test_connection_limit_sends_a_given_password_instead_of_the_environments() -> None:
    fault = make_fault("connection-limit", {"user": "batch", "password": "s3cret"})
    assert _parts(fault._dsn(_DsnOnly())) == {  # type: ignore[arg-type]
        "host": "127.0.0.1",
        "port": "54321",
        "dbname": "revenue",
        "user": "batch",
        "password": "s3cret",
        "connect_timeout": "2",
    }
    assert fault.to_dict()["params"]["password"] == "<redacted>"


def test_holder_command_line() -> None:
    args = _parser().parse_args(
        ["flood", "--application-name", "reporting-batch", "--log", "/tmp/x.log"]
    )
    assert (args.mode, args.duration, args.limit, args.terminate_like) == (
        "flood",
        3600.0,
        500,
        "",
    )
    with pytest.raises(SystemExit):
        _parser().parse_args(["lock", "--application-name", "x", "--log", "/tmp/x.log"])
