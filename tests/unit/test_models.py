"""Scenario and runbook files: the repository's files load, and broken ones are refused with
file, line, field and what was expected, and nothing else happens."""

from __future__ import annotations

import inspect
import os
import re
import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from chaosdrill.environments.base import (
    CREDENTIAL_MEMBERS,
    DRILL_MEMBERS,
    Environment,
    LogQuery,
)
from chaosdrill.errors import InvalidInputError
from chaosdrill.monitoring.rules import alert_names, load_rule_files
from chaosdrill.runbooks.loader import load_runbook, load_runbooks
from chaosdrill.runbooks.model import (
    OPERATIONS,
    HttpCheck,
    OpAction,
    OpCheck,
    Param,
    PromqlCheck,
    ShellAction,
    find_placeholders,
    substitute,
    value_text,
)
from chaosdrill.scenarios.loader import check_references, load_scenario, load_scenarios
from chaosdrill.scenarios.model import Impact
from chaosdrill.yamlsource import MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]

RUNBOOK = """\
name: demo
title: Demo
description: A demo runbook.
params:
  replicas:
    default: 3
    description: How many replicas.
steps:
  - name: Scale
    action:
      op: scale
      args: {replicas: "{replicas}"}
    check:
      http: "{service_url}/health"
      status: 200
    timeout_s: 30
  - name: Check
    check:
      sql: select 1
      expect: {equals: 1}
    timeout_s: 10
"""

SCENARIO = """\
id: demo
title: Demo
description: A demo scenario.
symptoms: [Things fail]
alerts: [HighErrorRate]
investigation:
  - purpose: Look
    seed: kubectl get pods
    chaosdrill: chaosdrill ops deployment status
common_causes:
  - id: bad-release
    description: A bad release.
    runbooks: [rollback-deployment]
runbooks: [rollback-deployment]
severity:
  P1: {error_rate_above: 0.5}
  P2: {error_rate_above: 0.05}
  P3: {error_rate_above: 0.01}
"""


# --- the repository's own files ---------------------------------------------------------


def test_every_runbook_in_the_repository_loads() -> None:
    runbooks = load_runbooks(ROOT / "runbooks")
    seed = {"restart-service", "scale-service", "rollback-deployment", "database-failover"}
    extra = {"circuit-breaker", "add-index", "warm-cache", "terminate-blocking-sessions"}
    assert seed | extra | {"terminate-runaway-connections"} <= set(runbooks)
    for rb in runbooks.values():
        assert rb.steps and all(s.timeout_s > 0 for s in rb.steps)
        assert Path(rb.source).stem == rb.name


def test_every_scenario_in_the_repository_loads_and_references_real_names() -> None:
    scenarios = load_scenarios(ROOT / "scenarios")
    assert set(scenarios) == {"high-error-rate", "high-latency", "database-down", "memory-leak"}
    runbooks = load_runbooks(ROOT / "runbooks")
    check_references(scenarios, set(runbooks), alert_names([ROOT / "probes"]))
    causes = {c.id for sc in scenarios.values() for c in sc.common_causes}
    assert causes == {
        "bad-release",
        "pool-exhaustion",
        "missing-index",
        "cache-outage",
        "primary-crash",
        "connection-limit",
        "leaky-feature",
        "leaky-release",
    }


def test_every_alert_points_at_a_runbook_that_exists() -> None:
    runbooks = set(load_runbooks(ROOT / "runbooks"))
    for rule_file in load_rule_files([ROOT / "probes"]):
        for rule in rule_file.alerts:
            assert rule.annotations.get("runbook") in runbooks, (rule_file, rule.name)


def test_operations_are_the_environment_protocol() -> None:
    protocol = {
        name
        for name, member in vars(Environment).items()
        if callable(member) and not name.startswith("_")
    }
    assert set(OPERATIONS) == protocol - CREDENTIAL_MEMBERS - DRILL_MEMBERS
    assert protocol >= CREDENTIAL_MEMBERS
    for name, spec in OPERATIONS.items():
        params = [
            p for p in inspect.signature(getattr(Environment, name)).parameters if p != "self"
        ]
        if name == "sql":  # the bound values come from the statement's placeholders
            params.remove("params")
        expected = [f.name for f in fields(LogQuery)] if name == "logs" else params
        assert [a.name for a in spec.args] == expected, name


# --- models -----------------------------------------------------------------------------


def test_a_runbook_becomes_typed_steps(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(RUNBOOK)
    rb = load_runbook(path)
    assert rb.params == (Param("replicas", 3, "How many replicas."),)
    first, second = rb.steps
    assert first.action == OpAction("scale", {"replicas": "{replicas}"})
    assert first.check == HttpCheck("{service_url}/health", status=(200,))
    assert (first.line, second.line) == (9, 17)
    assert rb.resolve_params({"replicas": "5"}) == {"replicas": 5}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"replica": 2}, "unknown parameter 'replica'"),
        ({"replicas": "three"}, "expected an integer (like the default 3), got 'three'"),
        ({"replicas": True}, "expected an integer"),
    ],
)
def test_bad_params_are_refused(tmp_path: Path, given: dict[str, object], message: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(RUNBOOK)
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        load_runbook(path).resolve_params(given)


def test_bool_and_float_params_are_coerced_from_text() -> None:
    assert Param("on", False, "x").coerce("on") is True
    assert Param("on", True, "x").coerce("false") is False
    assert Param("share", 0.5, "x").coerce("0.25") == 0.25
    assert Param("share", 0.5, "x").coerce(1) == 1.0
    with pytest.raises(InvalidInputError, match="true or false"):
        Param("on", False, "x").coerce("maybe")


def test_severity_follows_the_thresholds(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(SCENARIO)
    model = load_scenario(path).severity
    assert model.classify(Impact(error_rate=0.6)).level == "P1"
    assert model.classify(Impact(error_rate=0.07)).reasons == ("error rate 7.0% > 5.0%",)
    assert model.classify(Impact(error_rate=0.02)).level == "P3"
    assert model.classify(Impact()).level == "P4"
    scenarios = load_scenarios(ROOT / "scenarios")
    assert scenarios["database-down"].severity.classify(Impact()).level == "P3"
    assert scenarios["high-latency"].severity.classify(Impact(p95_latency_s=1.5)).level == "P2"
    assert scenarios["high-error-rate"].severity.classify(Impact(data_loss=True)).level == "P1"
    assert scenarios["memory-leak"].severity.classify(Impact(revenue_per_hour=20_000)).level == "P1"


def test_placeholders_leave_promql_shell_and_escaped_braces_alone() -> None:
    text = 'rate(x{job="app"}[{window}]) ${HOME} {{literal}} {service_url}'
    assert find_placeholders(text) == ["window", "service_url"]
    out = substitute(text, {"window": "2s", "service_url": "http://h"})
    assert out == 'rate(x{job="app"}[2s]) ${HOME} {literal} http://h'


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (0, "0"), (2.5, "2.5"), ("True", "True"), (None, "None")],
)
def test_value_text_writes_booleans_as_yaml_does(value: object, text: str) -> None:
    assert value_text(value) == text
    assert substitute("{v}", {"v": value_text(value)}) == text


# --- broken runbooks --------------------------------------------------------------------


def _edit(old: str, new: str, base: str = RUNBOOK) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


BROKEN_RUNBOOKS = [
    # (id, text, line, field, expected text in the message)
    ("empty", "", 1, "<document>", "the file is empty; expected a YAML mapping"),
    ("only-comments", "# nothing\n", 1, "<document>", "the file is empty"),
    ("broken-yaml", "name: demo\nsteps: [\n", 3, "<document>", "expected valid YAML"),
    ("bad-indent", "name: demo\n  title: x\n", 2, "<document>", "expected valid YAML"),
    ("two-documents", RUNBOOK + "---\nname: x\n", 22, "<document>", "exactly one document"),
    ("a-list", "- name: demo\n", 1, "<document>", "expected a mapping (key: value), got a list"),
    ("missing-key", _edit("title: Demo\n", ""), 1, "title", "missing required key 'title'"),
    (
        "unknown-key",
        _edit("title: Demo", "titel: Demo"),
        2,
        "titel",
        "unknown key 'titel'; expected one of: description, name, params, requires, steps, title "
        "(did you mean 'title'?)",
    ),
    (
        "duplicate-key",
        _edit("title: Demo\n", "title: Demo\ntitle: Again\n"),
        3,
        "title",
        "duplicate key 'title' (first at line 2); expected each key once",
    ),
    (
        "wrong-type",
        _edit("timeout_s: 30", "timeout_s: thirty"),
        16,
        "steps.0.timeout_s",
        "expected a number of real seconds, more than 0 and at most 3600, got the text 'thirty'",
    ),
    (
        "negative-timeout",
        _edit("timeout_s: 30", "timeout_s: -5"),
        16,
        "steps.0.timeout_s",
        "more than 0",
    ),
    (
        "unknown-op",
        _edit("op: scale", "op: rollout_restrat"),
        11,
        "steps.0.action.op",
        "unknown operation 'rollout_restrat'; expected one of: cache_status,",
    ),
    (
        "unknown-op-suggests",
        _edit("op: scale", "op: scael"),
        11,
        "steps.0.action.op",
        "(did you mean 'scale'?)",
    ),
    (
        "unknown-placeholder",
        _edit("{service_url}/health", "{service_ur}/health"),
        14,
        "steps.0.check.http",
        "unknown placeholder {service_ur}; expected one of: {service_url}",
    ),
    (
        "window-outside-promql",
        _edit("sql: select 1", "sql: select '{window}'"),
        19,
        "steps.1.check.sql",
        "{window} only in a promql query",
    ),
    (
        "unknown-argument",
        _edit('args: {replicas: "{replicas}"}', "args: {replica: 2}"),
        12,
        "steps.0.action.args.replica",
        "unknown argument 'replica' of operation 'scale'; expected: replicas",
    ),
    (
        "missing-argument",
        _edit('      args: {replicas: "{replicas}"}\n', ""),
        10,
        "steps.0.action.args",
        "missing argument 'replicas' of operation 'scale'",
    ),
    (
        "argument-type",
        _edit('args: {replicas: "{replicas}"}', "args: {replicas: three}"),
        12,
        "steps.0.action.args.replicas",
        "expected an integer for 'replicas', got text",
    ),
    (
        "no-action-no-check",
        _edit("    check:\n      sql: select 1\n      expect: {equals: 1}\n", ""),
        17,
        "steps.1",
        "expected a step with an action, a check, or both",
    ),
    (
        "action-without-kind",
        _edit("      op: scale\n", "      run: scale\n"),
        10,
        "steps.0.action",
        "expected an action with one of the keys op, shell or http",
    ),
    (
        "two-comparisons",
        _edit("expect: {equals: 1}", "expect: {equals: 1, at_least: 0}"),
        20,
        "steps.1.check.expect",
        "expected exactly one comparison",
    ),
    (
        "same-as-in-sql",
        _edit("expect: {equals: 1}", "expect: {same_as: ready}"),
        20,
        "steps.1.check.expect.same_as",
        "same_as compares two values of an op result",
    ),
    (
        "bad-status",
        _edit("status: 200", "status: 700"),
        15,
        "steps.0.check.status",
        "expected an HTTP status (100-599) or a list of them, got 700",
    ),
    (
        "min-ok-above-count",
        _edit("status: 200", "status: 200\n      min_ok: 2"),
        16,
        "steps.0.check.min_ok",
        "expected at most count (1) requests",
    ),
    (
        "duplicate-step",
        _edit("- name: Check", "- name: Scale"),
        17,
        "steps.1.name",
        "duplicate step name 'Scale' (first at line 9)",
    ),
    (
        "param-name",
        _edit("  replicas:\n    default", "  Replicas:\n    default"),
        5,
        "params.Replicas",
        "expected a parameter name of lowercase letters, digits and _",
    ),
    (
        "param-default",
        _edit("default: 3", "default: [3]"),
        6,
        "params.replicas.default",
        "expected a default value: text, a number or true/false",
    ),
    ("name-not-file", _edit("name: demo", "name: other"), 1, "name", "expected 'demo'"),
    (
        "ordering-needs-number",
        _edit("expect: {equals: 1}", "expect: {at_least: '{service_url}'}"),
        20,
        "steps.1.check.expect.at_least",
        "expected a number (or a numeric parameter) for at_least",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "expected"),
    [case[1:] for case in BROKEN_RUNBOOKS],
    ids=[case[0] for case in BROKEN_RUNBOOKS],
)
def test_broken_runbooks_name_file_line_field_and_what_was_expected(
    tmp_path: Path, text: str, line: int, field: str, expected: str
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as info:
        load_runbook(path)
    err = info.value
    assert (err.source, err.line, err.field) == (str(path), line, field), str(err)
    assert expected in err.detail
    assert str(err).startswith(f"{path}:{line} field {field!r}: ")


def test_more_problems_are_attached_as_notes(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(_edit("timeout_s: 10", "timeout_s: 0", _edit("timeout_s: 30", "timeout_s: x")))
    with pytest.raises(InvalidInputError) as info:
        load_runbook(path)
    assert info.value.line == 16
    assert any("line 21, field 'steps.1.timeout_s'" in n for n in info.value.__notes__)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_bytes(RUNBOOK.encode().replace(b"A demo", b"A d\xe9mo"))
    with pytest.raises(InvalidInputError) as info:
        load_runbook(path)
    assert (info.value.line, info.value.field) == (3, "<document>")
    assert "byte 0xe9 is not UTF-8; expected UTF-8 text" in str(info.value)


def test_a_directory_instead_of_a_file(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").mkdir()
    with pytest.raises(InvalidInputError) as info:
        load_runbook(tmp_path / "demo.yaml")
    # a problem of the file itself has no line
    assert (info.value.source, info.value.line, info.value.field) == (
        str(tmp_path / "demo.yaml"),
        None,
        "<document>",
    )
    assert "is a directory; expected a YAML file" in str(info.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file; expected an existing YAML file"):
        load_runbook(tmp_path / "demo.yaml")


def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(RUNBOOK)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user (root) can read a file with mode 000")
        with pytest.raises(InvalidInputError, match="permission denied"):
            load_runbook(path)
    finally:
        path.chmod(0o644)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(RUNBOOK + "#" * MAX_BYTES)
    with pytest.raises(InvalidInputError) as info:
        load_runbook(path)
    assert (info.value.line, info.value.field) == (None, "<document>")
    assert "is larger than 1024 KiB; expected a small YAML file" in str(info.value)


def test_alias_bombs_and_recursive_anchors_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="more than 100000 values"):
        load_runbook(bomb)
    loop = tmp_path / "loop.yaml"
    loop.write_text("name: &x [*x]\n")
    with pytest.raises(InvalidInputError, match="nested deeper than 64 levels"):
        load_runbook(loop)


def test_an_unsafe_tag_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(_edit("title: Demo", "title: !!python/object:os.system echo"))
    with pytest.raises(InvalidInputError) as info:
        load_runbook(path)
    assert info.value.line == 2
    assert "expected valid YAML" in str(info.value)


def test_a_bad_file_fails_the_whole_directory_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(_edit("name: demo", "name: a"))
    (tmp_path / "b.yaml").write_text(_edit("name: demo", "name: b").replace("op: scale", "op: x"))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    with pytest.raises(InvalidInputError) as info:
        load_runbooks(tmp_path)
    assert info.value.source == str(tmp_path / "b.yaml")
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before
    assert capsys.readouterr() == ("", "")


def test_a_directory_loader_wants_a_directory_of_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="holds no .yaml file"):
        load_runbooks(tmp_path)
    (tmp_path / "x.yaml").write_text(RUNBOOK)
    with pytest.raises(InvalidInputError, match="not a directory"):
        load_scenarios(tmp_path / "x.yaml")


# --- broken scenarios -------------------------------------------------------------------

BROKEN_SCENARIOS = [
    (
        "severity-out-of-order",
        _edit("P1: {error_rate_above: 0.5}", "P1: {error_rate_above: 0.01}", SCENARIO),
        16,
        "severity.P1.error_rate_above",
        "P1's error_rate_above (0.01) is less severe than P2's (0.05)",
    ),
    (
        "cause-runbook-not-listed",
        _edit(
            "runbooks: [rollback-deployment]\nrunbooks", "runbooks: [add-index]\nrunbooks", SCENARIO
        ),
        13,
        "common_causes.0.runbooks.0",
        "runbook 'add-index' is not in the scenario's runbooks",
    ),
    (
        "data-loss-false",
        _edit("P1: {error_rate_above: 0.5}", "P1: {data_loss: false}", SCENARIO),
        16,
        "severity.P1.data_loss",
        "expected true (any lost or corrupted data), got false",
    ),
    (
        "alert-name",
        _edit("alerts: [HighErrorRate]", "alerts: [high_error_rate]", SCENARIO),
        5,
        "alerts.0",
        "expected an alert name from probes/*.rules.yml, such as HighErrorRate",
    ),
    (
        "missing-severity-level",
        _edit("  P3: {error_rate_above: 0.01}\n", "", SCENARIO),
        15,
        "severity.P3",
        "missing required key 'P3'; expected a mapping (key: value)",
    ),
    (
        "empty-symptoms",
        _edit("symptoms: [Things fail]", "symptoms: []", SCENARIO),
        4,
        "symptoms",
        "expected a list of at least 1 item(s), got 0",
    ),
    (
        "duplicate-cause",
        _edit(
            "runbooks: [rollback-deployment]\nrunbooks",
            "runbooks: [rollback-deployment]\n  - id: bad-release\n    description: again\n"
            "    runbooks: [rollback-deployment]\nrunbooks",
            SCENARIO,
        ),
        14,
        "common_causes.1.id",
        "duplicate cause 'bad-release' (first at line 11)",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "expected"),
    [case[1:] for case in BROKEN_SCENARIOS],
    ids=[case[0] for case in BROKEN_SCENARIOS],
)
def test_broken_scenarios_name_file_line_field_and_what_was_expected(
    tmp_path: Path, text: str, line: int, field: str, expected: str
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as info:
        load_scenario(path)
    err = info.value
    assert (err.source, err.line, err.field) == (str(path), line, field), str(err)
    assert expected in err.detail


def test_references_to_unknown_runbooks_and_alerts_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(SCENARIO)
    scenarios = {"demo": load_scenario(path)}
    with pytest.raises(InvalidInputError) as info:
        check_references(scenarios, {"restart-service"})
    assert (info.value.line, info.value.field) == (14, "runbooks.0")
    assert "no runbook named 'rollback-deployment'; expected one of: restart-service" in str(
        info.value
    )
    with pytest.raises(InvalidInputError) as info:
        check_references(scenarios, {"rollback-deployment"}, {"HighLatency"})
    assert (info.value.line, info.value.field) == (5, "alerts.0")


def test_check_kinds_and_defaults(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: kinds
        title: Kinds
        description: Every kind.
        steps:
          - name: promql
            check:
              promql: sum(rate(x[{window}]))
              expect: {less_than: 1}
            timeout_s: 5
          - name: shell
            action: {shell: '{chaosdrill} ops top --name "$CHAOSDRILL_ENV_NAME"'}
            check:
              op: deployment_status
              path: ready
              expect: {same_as: desired}
            timeout_s: 5
        """
    )
    path = tmp_path / "kinds.yaml"
    path.write_text(text)
    first, second = load_runbook(path).steps
    assert first.check == PromqlCheck(
        "sum(rate(x[{window}]))",
        first.check.expect,
        "2m",
        "fail",  # type: ignore[union-attr]
    )
    assert second.action == ShellAction('{chaosdrill} ops top --name "$CHAOSDRILL_ENV_NAME"')
    assert isinstance(second.check, OpCheck) and second.check.path == "ready"
