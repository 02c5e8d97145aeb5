"""Placeholder values are data: shell steps read them from variables, SQL binds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.runbooks.binding import bind_sql, shell_problem, sql_problem
from chaosdrill.runbooks.loader import load_runbook


@pytest.mark.parametrize(
    ("statement", "inside"),
    [
        ("select '{x}'", "a quoted literal"),
        ("select 'it''s {x}'", "a quoted literal"),
        ("select E'a\\'{x}'", "a quoted literal"),
        ('select 1 as "{x}"', "a quoted name"),
        ("select $$ {x} $$", "a dollar-quoted string"),
        ("select $q$ '' {x} $q$", "a dollar-quoted string"),
        ("select 1 -- {x}", "a comment"),
        ("select /* {x} */ 1", "a comment"),
    ],
)
def test_a_placeholder_inside_sql_text_is_refused(statement: str, inside: str) -> None:
    problem = sql_problem(statement)
    assert problem is not None and f"inside {inside}" in problem, problem


@pytest.mark.parametrize(
    "statement",
    [
        "select {x}",
        "select 'a', {x}, 'b' where y = {x}",
        "select '{{x}}', $$ {{x}} $$ -- {{x}}",
        "select 'it''s' || {x}",
        "select like'a' || {x}",
        "select 1 -- a comment\n where y = {x}",
    ],
)
def test_a_placeholder_where_a_value_goes_is_accepted(statement: str) -> None:
    assert sql_problem(statement) is None


def test_bound_statements_double_their_percent_signs() -> None:
    assert bind_sql("select 100 % 7, '{{x}}'", {}) == ("select 100 % 7, '{x}'", None)
    assert bind_sql("select {a} % {b}, '{{x}} %'", {"a": 7, "b": "q'"}) == (
        "select %s %% %s, '{x} %%'",
        (7, "q'"),
    )


def test_only_the_programs_may_be_placeholders_of_a_shell_command() -> None:
    assert shell_problem('{python} -c 1 && {chaosdrill} --help "$CHAOSDRILL_PARAM_X"', {}) is None
    assert '"$CHAOSDRILL_PARAM_X"' in (shell_problem('echo "{x}"', {"x": "v"}) or "")
    assert '"$CHAOSDRILL_SERVICE_URL"' in (shell_problem("curl {service_url}", {}) or "")


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ("    action: {shell: 'echo \"{msg}\"'}\n", "steps.0.action.shell"),
        ("    check: {sql: \"select '{msg}'\", expect: {equals: x}}\n", "steps.0.check.sql"),
        (
            "    when: {passes: {sql: 'select 1 /* {msg} */', expect: {equals: 1}}}\n"
            "    action: {op: get_flags}\n",
            "steps.0.when.passes.sql",
        ),
        (
            "    action: {op: sql, args: {statement: \"select '{msg}'\"}}\n",
            "steps.0.action.args.statement",
        ),
    ],
)
def test_the_loader_refuses_a_value_spliced_into_code(
    tmp_path: Path, step: str, field: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\ntitle: T\ndescription: d\nparams:\n  msg: {default: hi, description: d}\n"
        f"steps:\n  - name: S\n{step}    timeout_s: 5\n"
    )
    with pytest.raises(InvalidInputError, match="placeholder {msg}") as caught:
        load_runbook(path)
    assert f"field '{field}'" in str(caught.value)
