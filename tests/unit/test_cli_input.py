"""The CLI refuses bad input with exit code 2 before touching anything."""

import pytest
from click.testing import CliRunner

from chaosdrill.cli.main import cli, main
from chaosdrill.environments.base import LogQuery
from chaosdrill.errors import InvalidInputError
from tests.repo import EXPERIMENTS_DIR


@pytest.mark.parametrize(
    "args, needle",
    [
        (["env", "up", "--replicas", "0", "--name", "cli-bad"], "replicas"),
        (["env", "up", "--replicas", "x"], "'x' is not a valid integer"),
        (["env", "up", "--name", "Bad Name!"], "name"),
        (["env", "up", "--scrape-interval", "0", "--name", "cli-bad"], "scrape_interval_s"),
        (["ops", "flags", "set", "circuit_breaker", "maybe"], "'maybe' is not one of"),
        (
            [
                "run",
                "--name",
                "cli-bad",
                "--load",
                '{"rate": "x"}',
                str(EXPERIMENTS_DIR / "cache-outage.json"),
            ],
            "'--load.rate'",
        ),
        (
            ["run", "--name", "cli-bad", "--load", '{"weights": {"browse": "x"}}', "--all"],
            "'--load.weights'",
        ),
        (["env", "logs", "redis", "--name", "cli-bad", "--grep", "("], "--grep"),
        # the command line's settings go over a plan's, checked as the plan's are
        (["run", "--plan", "ci-gate", "--name", "cli-bad", "--time-scale", "-3"], "time_scale"),
        (["run", "--plan", "ci-gate", "--name", "cli-bad", "--hold", "-1"], "hold"),
        (["run", "--plan", "ci-gate", "--recovery-timeout", "5"], "applies to experiments"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    out = capsys.readouterr()
    assert needle in out.err + out.out


def test_an_environment_that_is_not_up_is_a_runtime_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["env", "status", "--name", "never-started-here"])
    assert info.value.code == 3
    assert "no environment named 'never-started-here'" in capsys.readouterr().err


def test_help_lists_the_command_groups() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for group in ("env", "ops"):
        assert group in result.output


@pytest.mark.parametrize(
    "kwargs, field", [({"grep": "("}, "grep"), ({"grep": "[a-"}, "grep"), ({"tail": -1}, "tail")]
)
def test_a_bad_log_query_names_its_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        LogQuery("redis", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
