"""Rule files: durations, the PromQL duration scanner, loading, scaling, writing, the probes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosdrill.errors import InvalidInputError
from chaosdrill.monitoring.promql import (
    PromQLError,
    check_expr,
    format_duration,
    parse_duration,
    scale_duration,
    scale_expr,
)
from chaosdrill.monitoring.rules import (
    Rule,
    alert_names,
    load_rule_file,
    load_rule_files,
    scale_rules,
    write_rules,
)
from chaosdrill.yamlsource import MAX_BYTES

PROBES = Path(__file__).resolve().parents[2] / "probes"
PRODUCTION_SCRAPE_S = 15.0
SEVERITIES = {"critical", "warning"}
SCENARIOS = {"high-error-rate", "high-latency", "database-down", "memory-leak", "environment"}


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("0", 0),
        ("0s", 0),
        ("500ms", 500),
        ("15s", 15_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("1m30s250ms", 90_250),
        ("2d", 2 * 86_400_000),
        ("1w", 7 * 86_400_000),
        ("1y", 365 * 86_400_000),
    ],
)
def test_parse_duration_reads_prometheus_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "5", "1.5m", "5M", "m", "1m1h", "-5m", "5 m", "5mm", "1h 2m"])
def test_parse_duration_refuses_what_prometheus_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (1, "1ms"),
        (250, "250ms"),
        (1500, "1500ms"),
        (2000, "2s"),
        (90_000, "1m30s"),
        (7_200_000, "2h"),
        (3_723_000, "1h2m3s"),
        (90_000_000, "25h"),
    ],
)
def test_format_duration_writes_prometheus_durations(ms: int, text: str) -> None:
    assert format_duration(ms) == text
    assert parse_duration(text) == ms


def test_format_duration_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(-1)


@pytest.mark.parametrize(
    ("text", "k", "scaled"),
    [
        ("2m", 60, "2s"),
        ("15s", 60, "250ms"),
        ("15s", 10, "1500ms"),
        ("5m", 10, "30s"),
        ("1h", 10, "6m"),
        ("1m", 7, "8571ms"),  # 8571.43 rounded to the millisecond
        ("1m", 0.5, "2m"),  # K < 1 slows a drill down
        ("3ms", 2, "2ms"),  # 1.5 rounds half up
        ("0s", 60, "0s"),
    ],
)
def test_scale_duration_divides_by_k(text: str, k: float, scaled: str) -> None:
    assert scale_duration(text, k) == scaled


@pytest.mark.parametrize("k", [0, -1, math.nan, math.inf, True, "60"])
def test_a_time_scale_must_be_a_number_above_zero(k: Any) -> None:
    with pytest.raises(InvalidInputError, match="greater than 0") as info:
        scale_duration("1m", k)
    assert info.value.field == "k"


# --- the PromQL scanner -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "scaled"),
    [
        ("rate(x[5m])", "rate(x[5s])"),
        ("up == 0", "up == 0"),
        # subqueries: range and resolution, resolution omitted, spaces kept
        ("max_over_time(deriv(y[5m])[10m:1m])", "max_over_time(deriv(y[5s])[10s:1s])"),
        ("avg_over_time(x[10m:])", "avg_over_time(x[10s:])"),
        ("avg_over_time(x[ 10m : 1m ])", "avg_over_time(x[ 10s : 1s ])"),
        # offsets: any case, negative, after a range and after a subquery
        ("x offset 1h", "x offset 1m"),
        ("x OFFSET 1h", "x OFFSET 1m"),
        ("x offset -30m", "x offset -30s"),
        ("rate(x[5m] offset 1h)", "rate(x[5s] offset 1m)"),
        ("max_over_time(x[10m:1m] offset 2m)", "max_over_time(x[10s:1s] offset 2s)"),
        # strings are never touched, whatever quotes and escapes they use
        ('rate(x{a="[5m]"}[5m])', 'rate(x{a="[5m]"}[5s])'),
        ("rate(x{a='offset 1h'}[5m])", "rate(x{a='offset 1h'}[5s])"),
        ('rate(x{a=`[5m] "offset 1h`}[5m])', 'rate(x{a=`[5m] "offset 1h`}[5s])'),
        ('rate(x{a="\\"[5m]\\" offset 1h"}[10m])', 'rate(x{a="\\"[5m]\\" offset 1h"}[10s])'),
        ("rate(x{a='it\\'s [5m]'}[10m])", "rate(x{a='it\\'s [5m]'}[10s])"),
        # nor comments
        ("rate(x[5m]) # not [5m] or offset 1h\n > 0", "rate(x[5s]) # not [5m] or offset 1h\n > 0"),
        # offset as part of a name or as a label name is not the keyword
        ("rate(pg_offset_seconds[5m])", "rate(pg_offset_seconds[5s])"),
        ("sum by (offset) (rate(x[5m]))", "sum by (offset) (rate(x[5s]))"),
        ('x{offset="5m"} offset 5m', 'x{offset="5m"} offset 5s'),
        ("xoffset", "xoffset"),
        ("offset_total[5m]", "offset_total[5s]"),
        # recording-rule names with colons and digits
        ("job:requests:rate5m[10m]", "job:requests:rate5m[10s]"),
        # numbers (thresholds, seconds as numbers, timestamps) are never touched
        ("x > 300 * 1024 and y < 1e3 or z == 0x1f", "x > 300 * 1024 and y < 1e3 or z == 0x1f"),
        ("predict_linear(x[1h], 3600) < 0", "predict_linear(x[1m], 3600) < 0"),
        ("x @ 1609746000 offset 5m", "x @ 1609746000 offset 5s"),
        ("time() - x > 300", "time() - x > 300"),
        # line breaks and indentation kept
        ("sum(\n  rate(x[2m])\n)\n  > 0.05\n", "sum(\n  rate(x[2s])\n)\n  > 0.05\n"),
        ("rate(x[1h30m])", "rate(x[1m30s])"),
    ],
)
def test_scale_expr_divides_only_time_durations(expr: str, scaled: str) -> None:
    assert scale_expr(expr, 60) == scaled


def test_scale_expr_by_one_changes_nothing() -> None:
    expr = 'rate(x{a="[5m]"}[90s] offset 1h30m)[1d:1h] # [5m]'
    assert scale_expr(expr, 1) == expr


def test_scale_expr_keeps_milliseconds() -> None:
    assert scale_expr("rate(x[15s])", 60) == "rate(x[250ms])"
    assert scale_expr("rate(x[1m])", 7) == "rate(x[8571ms])"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("rate(x[5])", "range: '5' is not a Prometheus duration"),
        ("rate(x[1.5m])", "range: '1.5m' is not a Prometheus duration"),
        ("rate(x[5m+1m])", "is not a Prometheus duration"),
        ("rate(x[])", "range: '' is not a Prometheus duration"),
        ("x[10m:1.5m]", "subquery resolution: '1.5m'"),
        ("rate(x[5m)", "cannot read"),
        ("x offset 5", "offset: '5' is not a Prometheus duration"),
        ('x{a="unterminated}', 'unterminated string starting with "'),
        ("x{a=`raw}", "unterminated string starting with `"),
    ],
)
def test_scale_expr_refuses_what_it_cannot_read(expr: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match="at character") as info:
        scale_expr(expr, 60)
    assert message in str(info.value)


def test_check_expr_gives_the_reason_and_offset_of_the_problem() -> None:
    check_expr('rate(x{a="[5]"}[5m]) offset 1h')  # readable: nothing raised
    expr = "sum(rate(x[5m])) / sum(rate(y[5]))"
    with pytest.raises(PromQLError) as info:
        check_expr(expr)
    assert info.value.pos == expr.index("5]")
    assert (
        info.value.reason
        == "range: '5' is not a Prometheus duration (expected e.g. 30s, 5m, 1h30m, 500ms)"
    )
    assert str(info.value).endswith(f"(at character {info.value.pos + 1} of {expr!r})")
    assert isinstance(info.value, InvalidInputError)


def test_scale_expr_refuses_windows_below_the_minimum() -> None:
    assert scale_expr("rate(x[1m])", 60, min_window_s=1) == "rate(x[1s])"
    with pytest.raises(InvalidInputError) as info:
        scale_expr("rate(x[1m])", 60, min_window_s=2)
    assert "range [1m] divided by K=60 is 1s, shorter than the minimum window 2s" in str(info.value)
    with pytest.raises(InvalidInputError, match="subquery range"):
        scale_expr("max_over_time(x[1m:1s])", 60, min_window_s=2)


def test_the_minimum_applies_to_windows_not_to_resolutions_or_offsets() -> None:
    assert (
        scale_expr("max_over_time(x[10m:15s] offset 15s)", 60, min_window_s=1)
        == "max_over_time(x[10s:250ms] offset 250ms)"
    )


def test_a_window_that_rounds_to_zero_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"range 1ms divided by K=10 rounds to 0 ms"):
        scale_expr("rate(x[1ms])", 10)


# --- loading --------------------------------------------------------------------------------

GOOD = """\
groups:
  - name: service
    rules:
      - record: job:requests:rate2m
        expr: sum by (job) (rate(http_requests_total[2m]))
      - alert: HighErrorRate
        expr: |
          sum(rate(errors_total{route="/api/[x]"}[2m]))
            /
          (sum(rate(requests_total[2m])) > 0) > 0.05
        for: 1m
        keep_firing_for: 30s
        labels:
          severity: critical
          scenario: high-error-rate
        annotations:
          summary: "{{ $value }} of [5m] requests offset 1h"
          runbook: rollback-deployment
  - name: slow
    interval: 1m
    limit: 10
    rules:
      - alert: Other
        expr: up offset 10m == 0
"""


def _write(tmp_path: Path, text: str, name: str = "x.rules.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_reads_groups_rules_and_lines(tmp_path: Path) -> None:
    rule_file = load_rule_file(_write(tmp_path, GOOD))
    assert [g.name for g in rule_file.groups] == ["service", "slow"]
    record, alert = rule_file.groups[0].rules
    assert (record.kind, record.name, record.line) == ("record", "job:requests:rate2m", 4)
    assert (alert.kind, alert.name, alert.line) == ("alert", "HighErrorRate", 6)
    assert alert.for_ == "1m"
    assert alert.keep_firing_for == "30s"
    assert alert.labels == {"severity": "critical", "scenario": "high-error-rate"}
    assert alert.annotations["runbook"] == "rollback-deployment"
    assert alert.expr.startswith("sum(rate(errors_total")
    assert alert.lines["expr"] == 8  # the first line of the block, not its "|"
    assert alert.lines["for"] == 11
    assert rule_file.groups[1].interval == "1m"
    assert rule_file.groups[1].limit == 10
    assert [a.name for a in rule_file.alerts] == ["HighErrorRate", "Other"]


def test_load_rule_files_expands_directories_and_alert_names_collects(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "b.rules.yml")
    _write(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n",
        "a.rules.yml",
    )
    _write(tmp_path, "not: rules\n", "ignored.yml")
    files = load_rule_files([tmp_path])
    assert [f.path.name for f in files] == ["a.rules.yml", "b.rules.yml"]
    assert alert_names([tmp_path]) == {"A", "HighErrorRate", "Other"}


def test_an_empty_file_has_no_groups(tmp_path: Path) -> None:
    assert load_rule_file(_write(tmp_path, "")).groups == ()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInputError, match="no such file; expected an existing YAML file"
    ) as info:
        load_rule_file(tmp_path / "nope.rules.yml")
    assert info.value.source == str(tmp_path / "nope.rules.yml")


def test_yaml_syntax_errors_give_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n       expr: [\n")
    with pytest.raises(InvalidInputError, match="expected valid YAML") as info:
        load_rule_file(path)
    assert info.value.source == str(path)
    assert info.value.line == 5
    assert str(info.value).startswith(f"{path}:5")


def _error(tmp_path: Path, text: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        load_rule_file(_write(tmp_path, text))
    return info.value


def test_an_unknown_rule_key_names_group_alert_field_and_line(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n",
    )
    assert err.line == 6
    assert err.field == "g.A.fro"
    assert "group 'g', alert 'A': unknown key 'fro'" in str(err)


def test_a_bad_for_names_the_field(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5\n",
    )
    assert (err.line, err.field) == (6, "g.A.for")
    assert "duration" in str(err)


def test_an_unreadable_expression_names_its_line(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n"
        "          sum(\n            rate(x[5])\n          )\n",
    )
    assert (err.line, err.field) == (7, "g.A.expr")
    assert "range: '5' is not a Prometheus duration" in str(err)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n", "missing 'expr'"),
        (
            "groups:\n  - name: g\n    rules:\n      - expr: up\n",
            "exactly one of 'alert' or 'record'",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        record: b\n"
            "        expr: up\n",
            "exactly one of 'alert' or 'record'",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n"
            "        for: 1m\n",
            "a recording rule cannot have 'for'",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        labels:\n          severity: [a]\n",
            "expected a string",
        ),
        ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", "repeated"),
        ("groups:\n  - rules: []\n", "expected a non-empty 'name'"),
        ("groups:\n  - name: g\n    rules: []\n    evaluation: 1m\n", "unknown key 'evaluation'"),
        (
            "groups:\n  - name: g\n    name: h\n    rules: []\n",
            "duplicate key 'name' (first at line 2); expected each key once",
        ),
        ("- just a list\n", "expected a mapping with 'groups'"),
        ("groups: {a: 1}\n", "expected a list of groups"),
    ],
)
def test_structure_errors_are_explained(tmp_path: Path, body: str, message: str) -> None:
    err = _error(tmp_path, body)
    assert message in str(err)
    assert err.source is not None and err.source.endswith("x.rules.yml")


ONE_RULE = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"


def test_a_rule_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = _write(tmp_path, ONE_RULE + "#" * MAX_BYTES)
    with pytest.raises(InvalidInputError) as info:
        load_rule_file(path)
    assert (info.value.source, info.value.line) == (str(path), None)
    assert "is larger than 1024 KiB" in str(info.value)
    # the same rule without the padding loads: the size alone was refused
    assert [r.name for r in load_rule_file(_write(tmp_path, ONE_RULE)).alerts] == ["A"]


def test_an_alias_bomb_in_a_rule_file_is_refused(tmp_path: Path) -> None:
    # 10 ** 7 label values once expanded, from a file of a few hundred bytes
    anchors = ["          a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    anchors += [f"          a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    path = _write(tmp_path, ONE_RULE + "        labels:\n" + "\n".join(anchors) + "\n")
    with pytest.raises(InvalidInputError, match="more than 100000 values") as info:
        load_rule_file(path)
    assert info.value.source == str(path)
    assert info.value.line == 7  # the anchored list the expansion was copying


def test_a_recursive_anchor_in_a_rule_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, ONE_RULE + "        labels: &x {loop: [*x]}\n")
    with pytest.raises(InvalidInputError, match="nested deeper than 64 levels") as info:
        load_rule_file(path)
    assert info.value.line == 6


def test_an_expression_below_its_key_is_located_by_its_own_line(tmp_path: Path) -> None:
    # "expr:" on line 5, the (plain, multi-line) expression from line 6
    err = _error(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr:\n"
        "          rate(x[5])\n",
    )
    assert (err.line, err.field) == (6, "g.A.expr")
    assert "range: '5' is not a Prometheus duration" in str(err)


# --- scaling and writing -------------------------------------------------------------------


def test_scale_rules_divides_every_time_and_nothing_else(tmp_path: Path) -> None:
    original = load_rule_file(_write(tmp_path, GOOD))
    scaled = scale_rules(original, 60)
    record, alert = scaled.groups[0].rules
    assert record.expr == "sum by (job) (rate(http_requests_total[2s]))"
    assert alert.expr == (
        'sum(rate(errors_total{route="/api/[x]"}[2s]))\n  /\n'
        "(sum(rate(requests_total[2s])) > 0) > 0.05\n"
    )
    assert (alert.for_, alert.keep_firing_for) == ("1s", "500ms")
    assert alert.annotations == original.groups[0].rules[1].annotations  # "[5m]", "offset 1h"
    assert alert.labels == original.groups[0].rules[1].labels
    other = scaled.groups[1]
    assert (other.interval, other.limit) == ("1s", 10)
    assert other.rules[0].expr == "up offset 10s == 0"
    assert scaled.time_scale == 60
    assert scaled.path == original.path
    # the original is unchanged (frozen dataclasses)
    assert original.groups[0].rules[1].for_ == "1m"


def test_scaling_twice_multiplies_the_scales(tmp_path: Path) -> None:
    original = load_rule_file(_write(tmp_path, GOOD))
    twice = scale_rules(scale_rules(original, 2), 30)
    assert twice.time_scale == 60
    assert twice.groups[0].rules[1].for_ == "1s"


def test_a_too_short_window_names_file_line_group_alert_and_field(tmp_path: Path) -> None:
    # without the recording rule, the alert's expression starts on line 6
    record = (
        "      - record: job:requests:rate2m\n"
        "        expr: sum by (job) (rate(http_requests_total[2m]))\n"
    )
    assert record in GOOD
    path = _write(tmp_path, GOOD.replace(record, ""))
    with pytest.raises(InvalidInputError) as info:
        scale_rules(load_rule_file(path), 60, min_window_s=4 * PRODUCTION_SCRAPE_S / 10)
    err = info.value
    assert err.source == str(path)
    assert err.line == 6
    assert err.field == "service.HighErrorRate.expr"
    assert str(err) == (
        f"{path}:6 field 'service.HighErrorRate.expr': group 'service', alert 'HighErrorRate':"
        " range [2m] divided by K=60 is 2s, shorter than the minimum window 6s"
    )


def test_a_recording_rule_error_says_record(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    with pytest.raises(InvalidInputError, match="record 'job:requests:rate2m'"):
        scale_rules(load_rule_file(path), 60, min_window_s=3)


def test_a_for_that_rounds_to_zero_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 1ms\n",
    )
    with pytest.raises(InvalidInputError, match="rounds to 0 ms") as info:
        scale_rules(load_rule_file(path), 10)
    assert info.value.field == "g.A.for"


@pytest.mark.parametrize("k", [0, -2, math.nan])
def test_scale_rules_refuses_a_bad_k(tmp_path: Path, k: float) -> None:
    with pytest.raises(InvalidInputError, match="greater than 0"):
        scale_rules(load_rule_file(_write(tmp_path, GOOD)), k)


def test_scale_rules_refuses_a_negative_minimum(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="minimum window"):
        scale_rules(load_rule_file(_write(tmp_path, GOOD)), 10, min_window_s=-1)


def test_write_rules_writes_files_that_load_back_the_same(tmp_path: Path) -> None:
    scaled = scale_rules(load_rule_file(_write(tmp_path, GOOD)), 60)
    out = tmp_path / "out"
    written = write_rules([scaled], out)
    assert written == [out / "x.rules.yml"]
    text = written[0].read_text()
    assert text.startswith("# generated by chaosdrill from ")
    assert "at time scale K=60" in text
    assert "expr: |\n" in text  # multi-line expressions stay readable
    again = load_rule_file(written[0])
    assert [g.to_dict() for g in again.groups] == [g.to_dict() for g in scaled.groups]
    assert sorted(p.name for p in out.iterdir()) == ["x.rules.yml"]  # no temporary left


def test_write_rules_refuses_two_files_with_one_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = load_rule_file(_write(tmp_path / "a", GOOD))
    two = load_rule_file(_write(tmp_path / "b", GOOD))
    with pytest.raises(InvalidInputError, match="both be written"):
        write_rules([one, two], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_rule_to_dict_keeps_prometheus_key_order() -> None:
    rule = Rule(name="A", kind="alert", expr="up", for_="1m", labels={"severity": "warning"})
    assert list(rule.to_dict()) == ["alert", "expr", "for", "labels"]


# --- the project's probes -------------------------------------------------------------------


def _probe_alerts() -> list[tuple[str, Rule]]:
    return [(f.path.name, rule) for f in load_rule_files([PROBES]) for rule in f.alerts]


def test_the_seed_alerts_exist() -> None:
    names = alert_names([PROBES])
    assert {"HighErrorRate", "HighLatency", "DatabaseDown", "HighMemoryUsage"} <= names
    assert {"ReplicationBroken", "CacheDown", "DatabaseConnectionsExhausted"} <= names


def test_every_probe_alert_has_severity_scenario_and_annotations() -> None:
    alerts = _probe_alerts()
    assert alerts
    for file_name, rule in alerts:
        where = f"{file_name} {rule.name}"
        assert rule.labels.get("severity") in SEVERITIES, where
        assert rule.labels.get("scenario") in SCENARIOS, where
        for key in ("summary", "description", "runbook"):
            assert rule.annotations.get(key), f"{where} has no {key}"
        assert " " not in rule.annotations["runbook"], where


def test_every_probe_runbook_exists() -> None:
    runbooks = {path.stem for path in (PROBES.parent / "runbooks").glob("*.yaml")}
    if not runbooks:
        pytest.skip("no runbooks/ in this checkout")
    for file_name, rule in _probe_alerts():
        assert rule.annotations["runbook"] in runbooks, f"{file_name} {rule.name}"


def test_probes_scale_for_fast_drills() -> None:
    for k in (10, 60, 120):
        for rule_file in load_rule_files([PROBES]):
            scaled = scale_rules(rule_file, k, min_window_s=4 * PRODUCTION_SCRAPE_S / k)
            assert scaled.time_scale == k
    database = next(f for f in load_rule_files([PROBES]) if f.path.name == "database.rules.yml")
    down = next(r for r in scale_rules(database, 60).groups[0].rules if r.name == "DatabaseDown")
    assert down.for_ == "500ms"


def _unit_tests() -> dict[str, dict[str, set[bool]]]:
    """Per test file: alert name -> the kinds of expectation (True: fires, False: silent)."""
    out: dict[str, dict[str, set[bool]]] = {}
    for path in sorted(PROBES.glob("*.test.yml")):
        seen: dict[str, set[bool]] = {}
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                seen.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
        out[path.name] = seen
    return out


def test_every_alert_has_promtool_tests_that_fire_and_stay_silent() -> None:
    tests = _unit_tests()
    for file_name, rule in _probe_alerts():
        test_file = file_name.replace(".rules.yml", ".test.yml")
        assert test_file in tests, f"{file_name} has no {test_file}"
        kinds = tests[test_file].get(rule.name, set())
        assert kinds == {True, False}, f"{rule.name}: fires and silent cases needed, got {kinds}"


def test_every_test_file_loads_its_own_rule_file() -> None:
    for path in sorted(PROBES.glob("*.test.yml")):
        rule_files = yaml.safe_load(path.read_text())["rule_files"]
        assert rule_files == [path.name.replace(".test.yml", ".rules.yml")]
