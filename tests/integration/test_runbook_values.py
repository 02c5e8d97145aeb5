"""Values given to a runbook reach shell commands and SQL as data, never as code.

A parameter holding shell or SQL syntax is run against a real environment, through the
``chaosdrill`` command: the shell never expands it, PostgreSQL never parses it, and a runbook
that would splice a value into shell or SQL text is refused before anything runs (by
``chaosdrill runbook run`` and by ``chaosdrill validate``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.runbooks.executor import run_runbook
from chaosdrill.runbooks.loader import load_runbooks

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHELL_VALUE = "$(echo INJECTED-$((6*7)))`echo TICK`;echo SEMI"


def _chaosdrill(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("chaosdrill")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def _write(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(f"name: {name}\ntitle: T\ndescription: d\n{body}")
    return path


def test_a_shell_step_gets_a_parameter_as_an_environment_variable(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        "say",
        "params:\n  msg: {default: hi, description: what to say}\nsteps:\n"
        "  - name: Say it\n"
        '    action: {shell: \'printf "said:%s|env:%s\\n" "$CHAOSDRILL_PARAM_MSG" '
        '"$CHAOSDRILL_ENV_NAME"\'}\n'
        "    timeout_s: 10\n",
    )
    run = _chaosdrill(
        "runbook", "run", "say", "--dir", str(tmp_path), "--name", env.name,
        "--param", f"msg={SHELL_VALUE}", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (step,) = json.loads(run.stdout)["steps"]
    assert step["output"] == f"said:{SHELL_VALUE}|env:{env.name}"
    assert "INJECTED-42" not in run.stdout + run.stderr
    assert "TICK" not in run.stdout.replace("`echo TICK`", "")


@pytest.mark.parametrize(
    "step",
    [
        "    action: {shell: 'echo \"{msg}\"'}\n",
        "    action: {shell: 'echo {msg}'}\n",
        "    check: {sql: \"select '{msg}'\", expect: {equals: x}}\n",
        "    action: {op: sql, args: {statement: 'select 1 -- {msg}'}}\n",
    ],
    ids=["shell-in-quotes", "shell-bare", "sql-literal", "sql-comment"],
)
def test_a_value_spliced_into_shell_or_sql_text_is_refused(
    env: LocalEnvironment, tmp_path: Path, step: str
) -> None:
    path = _write(
        tmp_path,
        "splice",
        "params:\n  msg: {default: hi, description: d}\nsteps:\n"
        f"  - name: Splice\n{step}    timeout_s: 10\n",
    )
    run = _chaosdrill(
        "runbook", "run", "splice", "--dir", str(tmp_path), "--name", env.name,
        "--param", f"msg={SHELL_VALUE}",
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "INJECTED-42" not in run.stdout + run.stderr
    assert "placeholder {msg}" in run.stdout + run.stderr
    checked = _chaosdrill("validate", str(path))
    assert checked.returncode != 0, checked.stdout + checked.stderr
    assert f"{path.name}:" in checked.stdout and "placeholder {msg}" in checked.stdout


def test_sql_gets_a_parameter_as_a_bound_value(env: LocalEnvironment, tmp_path: Path) -> None:
    table = f"injected_{uuid.uuid4().hex[:8]}"
    value = f"'a'; create table {table} (x int); select 'a'"
    _write(
        tmp_path,
        "query",
        "params:\n  msg: {default: hi, description: d}\n  n: {default: 1, description: d}\n"
        "steps:\n"
        "  - name: Ask\n"
        "    action: {op: sql, args: {statement: 'select {msg}::text, 100 % 7'}}\n"
        "    check: {sql: 'select {msg}::text', expect: {equals: '{msg}'}}\n"
        "    timeout_s: 10\n"
        "  - name: Count\n"
        "    check: {sql: 'select {n} + 1', expect: {equals: 42}}\n"
        "    timeout_s: 10\n",
    )
    rb = load_runbooks(tmp_path)["query"]
    result = run_runbook(rb, env, {"msg": value, "n": "41"})
    assert result.ok, [s.error for s in result.steps]
    assert result.steps[0].output.startswith(f"{value}\t2")
    assert env.sql("select to_regclass(%s)", None, (table,)) == [(None,)]


def test_the_shipped_runbooks_pass_validate_and_check_environment_runs(
    env: LocalEnvironment,
) -> None:
    checked = _chaosdrill("validate", str(ROOT / "runbooks"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = run_runbook(load_runbooks(ROOT / "runbooks")["check-environment"], env)
    assert result.ok, [(s.name, s.error) for s in result.steps]
