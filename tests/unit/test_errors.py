import pytest

from chaosdrill.errors import (
    ComponentStartError,
    DrillError,
    EnvironmentExistsError,
    InvalidInputError,
    ProgramMissingError,
    RuntimeFailure,
    UnknownComponentError,
    UsageError,
)


def test_caller_mistakes_and_runtime_failures_are_apart() -> None:
    for cls in (InvalidInputError, UnknownComponentError, EnvironmentExistsError):
        assert issubclass(cls, UsageError) and not issubclass(cls, RuntimeFailure)
    for cls in (ProgramMissingError, ComponentStartError):
        assert issubclass(cls, RuntimeFailure) and not issubclass(cls, UsageError)
    assert UsageError.exit_code == 2 and RuntimeFailure.exit_code == 3
    assert issubclass(UsageError, DrillError) and issubclass(RuntimeFailure, DrillError)


def test_invalid_input_names_file_line_and_field() -> None:
    err = InvalidInputError(
        "expected an integer", source="drills/ci.yaml", line=7, field="targets.mttd"
    )
    assert str(err) == "drills/ci.yaml:7 field 'targets.mttd': expected an integer"
    assert InvalidInputError("bad", field="replicas").field == "replicas"
    assert str(InvalidInputError("plain")) == "plain"


def test_program_missing_lists_each_program_where_looked_and_the_fix() -> None:
    err = ProgramMissingError(
        {
            "haproxy": (["$PATH", "/usr/sbin"], "apt-get install haproxy"),
            "postgres": (["/usr/lib/postgresql/*/bin"], "apt-get install postgresql"),
        }
    )
    text = str(err)
    assert "haproxy: looked in $PATH, /usr/sbin; install with: apt-get install haproxy" in text
    assert "postgres: looked in /usr/lib/postgresql/*/bin" in text
    assert "scripts/bootstrap.sh" in text


def test_component_start_error_carries_the_log_tail_as_a_note() -> None:
    err = ComponentStartError("redis", "port refused", "FATAL bad config")
    assert err.component == "redis"
    assert str(err) == "redis did not become ready: port refused"
    assert any("FATAL bad config" in n for n in err.__notes__)
    with pytest.raises(DrillError):
        raise err


def test_unknown_component_lists_the_known_ones() -> None:
    err = UnknownComponentError("nope", ["redis", "haproxy"])
    assert str(err) == "unknown component 'nope'; expected one of: redis, haproxy"
