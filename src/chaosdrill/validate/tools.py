"""The checks ``chaosdrill validate`` runs with ``promtool`` and ``amtool``, and their output.

Prometheus rules (``promtool check rules``), rule unit tests (``promtool test rules``) and
Alertmanager configurations (``amtool check-config``), the project's and the one
environments get; the tools' messages become problems with the file's line and field where
they can be told.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.validate.problem import Problem, from_error
from chaosdrill.validate.refs import References
from chaosdrill.yamlsource import YamlDocument, load_yaml

__all__ = [
    "TOOL_TIMEOUT_S",
    "check_alertmanager",
    "check_generated_alertmanager",
    "check_rule_test",
    "check_rules",
    "generated_alertmanager_configs",
]

TOOL_TIMEOUT_S = 60.0
_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def _run_tool(tool: str, args: Sequence[str], shown: str) -> tuple[int, str] | Problem:
    """Run promtool or amtool; a missing tool or a timeout is a problem of ``shown``."""
    program = shutil.which(tool)
    if program is None:
        package = _PACKAGES[tool]
        return Problem(
            shown,
            None,
            None,
            f"{tool} is not installed (not found on PATH), so this file was not checked by it; "
            f"install the Debian package {package} (apt-get install {package})",
        )
    try:
        done = subprocess.run(
            [program, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=TOOL_TIMEOUT_S,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        return Problem(shown, None, None, f"{tool} did not finish in {TOOL_TIMEOUT_S:g} s")
    except OSError as exc:
        return Problem(shown, None, None, f"{tool} could not be started: {exc}")
    return done.returncode, done.stdout


_YAML_LINE = re.compile(r"yaml: line (\d+): (.*)")
_UNMARSHAL_LINE = re.compile(r"^\s*line (\d+): (.*)$")
_RULE_ERROR = re.compile(r"^(?P<file>.+?): (?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")
_RULE_WHERE = re.compile(r'^group "(?P<group>[^"]*)", rule \d+, "(?P<rule>[^"]*)": (?P<rest>.*)$')


_UNKNOWN_FIELD = re.compile(r"field (?P<key>\S+) not found in type")


def _field_at(doc: YamlDocument | None, line: int, key: str | None = None) -> str | None:
    """The dotted field written at ``line`` of ``doc`` (whose last key is ``key``, if given)."""
    if doc is None:
        return None
    for path, at in doc.lines.items():
        if at == line and path and (key is None or path[-1] == key):
            return ".".join(map(str, path))
    return None


def _field_of_value(doc: YamlDocument | None, value: str) -> tuple[int | None, str | None]:
    """Line and dotted field of the first scalar equal to ``value`` in ``doc``."""
    if doc is None:
        return None, None
    for path, at in sorted(doc.lines.items(), key=lambda item: item[1]):
        node: Any = doc.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if path and node == value:
            return at, ".".join(map(str, path))
    return None, None


def _yaml_problems(text: str, shown: str, doc: YamlDocument | None = None) -> list[Problem]:
    """Problems of the ``yaml: line N: ...`` and ``yaml: unmarshal errors:`` kinds."""
    out = []
    match = _YAML_LINE.search(text)
    if match:
        out.append(Problem(shown, int(match.group(1)), None, f"YAML: {match.group(2).strip()}"))
    if "unmarshal errors" in text:
        after = text.split("unmarshal errors:", 1)[1]
        for line in after.splitlines():
            m = _UNMARSHAL_LINE.match(line)
            if not m:
                continue
            number, message = int(m.group(1)), m.group(2).strip()
            unknown = _UNKNOWN_FIELD.search(message)
            if unknown:
                key = unknown.group("key")
                out.append(
                    Problem(
                        shown,
                        number,
                        _field_at(doc, number, key),
                        f"unknown key {key!r} ({message})",
                    )
                )
            else:
                out.append(Problem(shown, number, _field_at(doc, number), message))
    return out


def _tool_failed(tool: str, rc: int, output: str, shown: str) -> Problem:
    tail = " ".join(output.split())[-400:]
    return Problem(shown, None, None, f"{tool} failed (exit {rc}): {tail}")


def check_rules(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of a Prometheus rule file (chaosdrill's checks, then promtool)."""
    _, error = refs.load("rules", path)
    if error is not None:
        return from_error(error, shown)
    ran = _run_tool("promtool", ["check", "rules", shown], shown)
    if isinstance(ran, Problem):
        return [ran]
    rc, output = ran
    if rc == 0:
        return []
    problems = []
    for line in output.splitlines():
        m = _RULE_ERROR.match(line.strip())
        if not m:
            continue
        message = m.group("msg")
        where = _RULE_WHERE.match(message)
        field_name = None
        if where:
            key = "expr" if "expression" in where.group("rest") else None
            field_name = ".".join(p for p in (where.group("group"), where.group("rule"), key) if p)
        problems.append(Problem(shown, int(m.group("line")), field_name, message))
    if not problems:
        doc = None
        with contextlib.suppress(InvalidInputError):
            doc = load_yaml(shown)
        problems = _yaml_problems(output, shown, doc)
    return problems or [_tool_failed("promtool check rules", rc, output, shown)]


_TEST_NAME = re.compile(r"^\s*name: (?P<name>.*),\s*$", re.MULTILINE)
_ALERT_CASE = re.compile(r"alertname: (?P<alert>[^,]+), time: (?P<time>[^,]+),")
_EXPR_CASE = re.compile(r'expr: (?P<expr>".*"), time: (?P<time>[^,]+),')
_NO_MATCH = re.compile(r"WARNING: no file match pattern (?P<pattern>.+)$", re.MULTILINE)


def _same_time(a: Any, b: str) -> bool:
    from chaosdrill.monitoring.promql import parse_duration

    try:
        return parse_duration(str(a).strip()) == parse_duration(b.strip())
    except ValueError:
        return str(a).strip() == b.strip()


def _locate_case(doc: YamlDocument, block: str) -> tuple[str | int, ...] | None:
    """The path of the unit test case a promtool failure block is about."""
    tests = doc.data.get("tests") if isinstance(doc.data, dict) else None
    if not isinstance(tests, list):
        return None
    name_match = _TEST_NAME.search(block)
    name = name_match.group("name").strip() if name_match else None
    alert = _ALERT_CASE.search(block)
    expr = _EXPR_CASE.search(block)
    for i, test in enumerate(tests):
        if not isinstance(test, dict) or (name is not None and test.get("name") != name):
            continue
        if alert:
            for j, case in enumerate(test.get("alert_rule_test") or []):
                if (
                    isinstance(case, dict)
                    and case.get("alertname") == alert.group("alert").strip()
                    and _same_time(case.get("eval_time"), alert.group("time"))
                ):
                    return ("tests", i, "alert_rule_test", j)
        if expr:
            try:
                wanted = json.loads(expr.group("expr"))
            except ValueError:
                wanted = expr.group("expr").strip('"')
            for j, case in enumerate(test.get("promql_expr_test") or []):
                if (
                    isinstance(case, dict)
                    and str(case.get("expr", "")).strip() == str(wanted).strip()
                    and _same_time(case.get("eval_time"), expr.group("time"))
                ):
                    return ("tests", i, "promql_expr_test", j)
        if name is not None:
            return ("tests", i)
    return None


def check_rule_test(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of a promtool rule unit-test file (the real promtool runs it)."""
    try:
        doc = load_yaml(shown)
    except InvalidInputError as exc:
        return from_error(exc, shown)
    ran = _run_tool("promtool", ["test", "rules", shown], shown)
    if isinstance(ran, Problem):
        return [ran]
    rc, output = ran
    problems = []
    rule_files = doc.data.get("rule_files") if isinstance(doc.data, dict) else None
    for m in _NO_MATCH.finditer(output):
        pattern = m.group("pattern").strip()
        where: tuple[str | int, ...] = ("rule_files",)
        for i, entry in enumerate(rule_files if isinstance(rule_files, list) else []):
            if Path(pattern) in (Path(str(entry)), Path(shown).parent / str(entry)):
                where, pattern = ("rule_files", i), str(entry)
        problems.append(
            Problem(
                shown,
                doc.line_of(where),
                ".".join(map(str, where)),
                f"no rule file matches {pattern!r} (relative to this file's directory); "
                "expected an existing rule file",
            )
        )
    if rc == 0:
        return problems
    body = output.split("FAILED:", 1)[1] if "FAILED:" in output else output
    blocks = [b for b in re.split(r"\n\s*\n", body) if b.strip()]
    for block in blocks:
        text = block.strip()
        if text.startswith(("Unit Testing:", "SUCCESS")):
            continue
        compact = " ".join(text.split())
        yaml_found = _yaml_problems(text, shown, doc)
        if yaml_found:
            problems += yaml_found
            continue
        rule_error = _RULE_ERROR.match(text.splitlines()[0].strip())
        if rule_error:
            where = ("rule_files",)
            problems.append(
                Problem(
                    shown,
                    doc.line_of(where),
                    "rule_files",
                    f"rule file {rule_error.group('file')} line {rule_error.group('line')}: "
                    f"{rule_error.group('msg')}",
                )
            )
            continue
        case = _locate_case(doc, text)
        if case is not None or _ALERT_CASE.search(text) or _EXPR_CASE.search(text):
            problems.append(
                Problem(
                    shown,
                    doc.line_of(case) if case else None,
                    ".".join(map(str, case)) if case else "tests",
                    f"unit test failed: {compact[:600]}",
                )
            )
            continue
        problems.append(Problem(shown, None, None, f"promtool test rules: {compact[:600]}"))
    return problems or [_tool_failed("promtool test rules", rc, output, shown)]


def _amtool_problems(
    rc: int, output: str, shown: str, doc: YamlDocument | None, label: str | None = None
) -> list[Problem]:
    if rc == 0:
        return []
    file = label or shown
    problems = [
        Problem(file, p.line, p.field, p.message) for p in _yaml_problems(output, shown, doc)
    ]
    if problems:
        return problems
    failed = re.search(r"FAILED: (.*)", output)
    if failed:
        message = failed.group(1).strip()
        quoted = re.search(r'"([^"]+)"', message)
        line, where = _field_of_value(doc, quoted.group(1)) if quoted else (None, None)
        return [Problem(file, line, where, f"Alertmanager says: {message}")]
    return [_tool_failed("amtool check-config", rc, output, file)]


def check_alertmanager(path: Path, shown: str, refs: References) -> list[Problem]:
    """The problems of an Alertmanager configuration (the real amtool checks it)."""
    try:
        doc = load_yaml(shown)
    except InvalidInputError as exc:
        return from_error(exc, shown)
    ran = _run_tool("amtool", ["check-config", shown], shown)
    if isinstance(ran, Problem):
        return [ran]
    return _amtool_problems(*ran, shown, doc)


def generated_alertmanager_configs() -> list[tuple[str, str]]:
    """The Alertmanager configuration environments get, at time scale 1 and 1000."""
    from chaosdrill.environments.local.monitoring import alertmanager_config
    from chaosdrill.timescale import TimeScale

    out = []
    for k in (1.0, 1000.0):
        group_wait = TimeScale(k).group_wait_s
        label = f"<alertmanager.yml generated by chaosdrill at time scale {k:g}>"
        token_file = Path("/nonexistent/pager/token")  # amtool reads the path, not the file
        config = alertmanager_config(pager_port=9, group_wait_s=group_wait, token_file=token_file)
        out.append((label, config))
    return out


def check_generated_alertmanager(label: str, text: str) -> list[Problem]:
    """The problems amtool finds in a generated Alertmanager configuration."""
    with tempfile.TemporaryDirectory(prefix="chaosdrill-validate-") as tmp:
        file = Path(tmp) / "alertmanager.yml"
        file.write_text(text)
        ran = _run_tool("amtool", ["check-config", str(file)], label)
        if isinstance(ran, Problem):
            return [ran]
        return _amtool_problems(*ran, str(file), None, label=label)
