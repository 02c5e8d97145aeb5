"""Render runbooks and scenarios as Markdown for people.

The renderer writes the same runbook as Markdown: numbered steps with the command a person
would type (``chaosdrill ops ...``, ``curl ...``) for every action and check, and timeouts.
:func:`describe_action` and :func:`describe_check` give the one-line descriptions kept in
runbook results; :func:`render_scenarios_markdown` writes docs/scenarios.md.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from chaosdrill.runbooks.binding import shell_variable
from chaosdrill.runbooks.model import (
    ENVIRONMENT_PLACEHOLDERS,
    Action,
    Check,
    Comparison,
    HttpCheck,
    OpAction,
    OpCheck,
    Runbook,
    ShellAction,
    SqlCheck,
    find_placeholders,
    substitute,
    value_text,
)
from chaosdrill.scenarios.model import Scenario

__all__ = [
    "SEED_ORDER",
    "describe_action",
    "describe_check",
    "operation_command",
    "render_markdown",
    "render_scenarios_markdown",
]

SEED_ORDER = ("high-error-rate", "high-latency", "database-down", "memory-leak")
"""The seed's scenarios 1-4, in its order (docs list these first)."""

# --- describing and rendering for people ------------------------------------------------

_STATUS = "curl -s -o /dev/null -w '%{{http_code}}\\n'"


def _cli(text: str) -> str:
    return "chaosdrill " + text + " --name {env_name}"


def _arg(value: Any) -> str:
    """An argument as a person types it in a shell."""
    text = "on" if value is True else "off" if value is False else str(value)
    if re.fullmatch(r"[\w@%+=:,./{}-]+", text):
        return text
    if not re.search(r'["$`!]|\\["$`\\]|\\$', text):
        return f'"{text}"'  # inside double quotes a backslash is literal before other chars
    return shlex.quote(text)


def operation_command(op: str, args: Mapping[str, Any]) -> str:
    """The ``chaosdrill`` command a person types for an Environment operation."""
    simple = {
        "endpoints": "ops endpoints",
        "components": "env status",
        "deployment_status": "ops deployment status",
        "rollout_restart": "ops deployment restart",
        "reconcile": "ops deployment reconcile",
        "rollout_history": "ops deployment history",
        "top": "ops top",
        "database_status": "ops db status",
        "crash_primary": "ops db crash-primary",
        "promote_replica": "ops db promote",
        "rebuild_replica": "ops db rebuild-replica",
        "check_database": "ops db check",
        "cache_status": "ops cache status",
        "flush_cache": "ops cache flush",
        "stop_cache": "ops cache stop",
        "start_cache": "ops cache start",
        "restart_cache": "ops cache restart",
        "freeze_cache": "ops cache freeze",
        "thaw_cache": "ops cache thaw",
        "check_cache": "ops cache check",
        "get_flags": "ops flags get",
    }
    if op in simple:
        return _cli(simple[op])
    a = {k: _arg(" ".join(v.split()) if isinstance(v, str) else v) for k, v in args.items()}
    if op == "scale":
        return _cli(f"ops deployment scale {a['replicas']}")
    if op == "rollback":
        to = f" --to-revision {a['to_revision']}" if "to_revision" in a else ""
        return _cli(f"ops deployment rollback{to}")
    if op in ("stop_database", "start_database"):
        return _cli(f"ops db {op.split('_')[0]} {a['node']}")
    if op == "sql":
        return _cli(
            f"ops db sql {a['statement']}"
            + (f" --node {a['node']}" if "node" in a else "")
            + (f" --timeout {a['timeout_s']}" if "timeout_s" in a else "")
        )
    if op == "clear_flag":
        return _cli(f"ops flags clear {a['name']}")
    if op == "set_flag":
        return _cli(f"ops flags set {a['name']} {a['enabled']}")
    if op == "logs":
        extra = "".join(f" --{k} {a[k]}" for k in ("tail", "grep") if k in a)
        return _cli(f"env logs {a['component']}{extra}")
    if op == "deploy_revision":
        pairs = [f" --setting {_arg(f'{k}={v}')}" for k, v in args.get("settings", {}).items()]
        pairs += [
            f" --flag {_arg(f'{k}={value_text(v)}')}" for k, v in args.get("flags", {}).items()
        ]
        return _cli(f"ops deployment deploy {a['version']}{''.join(pairs)}")
    raise KeyError(op)


def _http_command(method: str, url: str, body: Mapping[str, Any] | None) -> str:
    parts = [_STATUS.format()]
    if method != "GET":
        parts.append(f"-X {method}")
    if body is not None:
        parts.append(f"-H 'content-type: application/json' -d '{json.dumps(dict(body))}'")
    return " ".join([*parts, url])


def describe_action(action: Action, params: Mapping[str, Any] | None = None) -> str:
    """One line saying what an action does (for result tables), params filled in."""
    p = params or {}
    if isinstance(action, OpAction):
        args = ", ".join(f"{k}={v!r}" for k, v in _fill(dict(action.args), p).items())
        return f"op {action.op}({' '.join(args.split())})"
    if isinstance(action, ShellAction):
        return "shell: " + " ".join(_with_defaults(action.command, p).split())
    return f"{action.method} {_fill(action.url, p)} x{action.count}"


def describe_check(check: Check, params: Mapping[str, Any] | None = None) -> str:
    """One line saying what a check requires (for result tables), params filled in."""
    p = params or {}
    if isinstance(check, HttpCheck):
        want = "/".join(map(str, check.status))
        return f"{check.method} {_fill(check.url, p)} -> {want} ({check.min_ok} of {check.count})"
    expect = (
        Comparison(check.expect.operator, _fill(check.expect.value, p)) if check.expect else None
    )
    if isinstance(check, SqlCheck):
        query = " ".join(_with_defaults(check.query, p).split())
        return f"sql {query!r} {expect.describe() if expect else ''}".strip()
    if isinstance(check, OpCheck):
        what = f"op {check.op}" + (f" .{_with_defaults(check.path, p)}" if check.path else "")
        return what + (f" {expect.describe()}" if expect else " succeeds")
    query = " ".join(_with_defaults(check.query, p).split())
    return f"promql {query!r} {expect.describe() if expect else ''}".strip()


def _with_defaults(text: str, params: Mapping[str, Any]) -> str:
    """Params replaced by their defaults, environment placeholders kept for the reader."""
    keep = {n: "{" + n + "}" for n in find_placeholders(text) if n not in params}
    return substitute(text, {**keep, **{k: value_text(v) for k, v in params.items()}})


def _fill(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        names = find_placeholders(value)
        if len(names) == 1 and value == "{" + names[0] + "}" and names[0] in params:
            return params[names[0]]
        return _with_defaults(value, params)
    if isinstance(value, Mapping):
        return {k: _fill(v, params) for k, v in value.items()}
    return value


def _action_lines(action: Action, params: Mapping[str, Any]) -> list[str]:
    if isinstance(action, OpAction):
        return [operation_command(action.op, _fill(dict(action.args), params))]
    if isinstance(action, ShellAction):
        cmd = _with_defaults(action.command, params)
        cmd = cmd.replace("{chaosdrill}", "chaosdrill").replace("{python}", "python3").strip()
        return [*_shell_exports(action.command, params), cmd]
    url = _fill(action.url, params)
    line = _http_command(action.method, url, _fill(action.json, params))
    want = "/".join(map(str, action.status))
    if action.count > 1:
        return [f"for i in $(seq {action.count}); do {line}; done   # each: {want}"]
    return [f"{line}   # expect {want}"]


def _shell_exports(command: str, params: Mapping[str, Any]) -> list[str]:
    """``export`` lines for the variables a shell step reads its values from."""
    values = {shell_variable(n, False): "{" + n + "}" for n in ENVIRONMENT_PLACEHOLDERS}
    values |= {shell_variable(n, True): shlex.quote(value_text(v)) for n, v in params.items()}
    used = dict.fromkeys(re.findall(r"\$\{?(CHAOSDRILL_[A-Z0-9_]+)", command))
    return [f"export {var}={values[var]}" for var in used if var in values]


_VERBS = {
    "equals": "equals",
    "not_equals": "does not equal",
    "at_least": "is at least",
    "at_most": "is at most",
    "greater_than": "is greater than",
    "less_than": "is less than",
    "contains": "contains",
    "not_contains": "does not contain",
    "same_as": "is the same as",
}


def _expect_words(expect: Comparison, params: Mapping[str, Any], subject: str) -> str:
    value = _fill(expect.value, params)
    if expect.operator == "same_as":
        shown = f"`{value}`"
    elif isinstance(value, str) and expect.operator not in ("at_least", "at_most"):
        shown = f"'{value}'"
    else:
        shown = value_text(value)
    return f"{subject} {_VERBS[expect.operator]} {shown}"


def _check_lines(check: Check, params: Mapping[str, Any]) -> tuple[list[str], str]:
    """The commands of a check and what their output must show."""
    if isinstance(check, HttpCheck):
        url = _fill(check.url, params)
        line = _http_command(check.method, url, _fill(check.json, params))
        want = " or ".join(map(str, check.status))
        if check.count == 1:
            return [line], f"it prints {want}"
        return (
            [f"for i in $(seq {check.count}); do {line}; done"],
            f"at least {check.min_ok} of the {check.count} lines show {want}",
        )
    if isinstance(check, SqlCheck):
        args = {"statement": _with_defaults(check.query, params)}
        if check.node:
            args["node"] = check.node
        subject = "the output" if "contains" in check.expect.operator else "the first value"
        return [operation_command("sql", args)], _expect_words(check.expect, params, subject)
    if isinstance(check, OpCheck):
        line = operation_command(check.op, _fill(dict(check.args), params))
        if check.expect is None:
            return [line], "the command succeeds"
        path = _with_defaults(check.path or "result", params)
        return [line], _expect_words(check.expect, params, f"`{path}`")
    query = " ".join(_with_defaults(check.query, params).split())
    line = (
        f"curl -s {{prometheus_url}}/api/v1/query --data-urlencode {shlex.quote('query=' + query)}"
    )
    words = _expect_words(check.expect, params, "the value")
    empty = "passes" if check.if_empty == "pass" else "fails"
    note = (
        f" (no data {empty}; `{{window}}` is {check.window} in production,"
        " divided by the drill's time scale)"
    )
    return [line], words + (note if "{window}" in query else f" (no data {empty})")


def _code(lines: Iterable[str]) -> list[str]:
    return ["```bash", *lines, "```"]


def render_markdown(runbook: Runbook) -> str:
    """The runbook as Markdown for people: parameters, then numbered steps with commands."""
    params = {p.name: p.default for p in runbook.params}
    out = [
        f"<!-- Generated by `chaosdrill runbook render` from runbooks/{runbook.name}.yaml;"
        " edit that file, not this one. -->",
        "",
        f"# Runbook: {runbook.title}",
        "",
        " ".join(runbook.description.split()),
        "",
        f"Run it automatically: `chaosdrill runbook run {runbook.name} --name {{env_name}}`"
        + (" (`--param NAME=VALUE` to change a parameter)." if params else "."),
        "",
        "`{env_name}` is the environment's name; `{service_url}`, `{prometheus_url}` and the "
        "other URLs are printed by `chaosdrill ops endpoints --name {env_name}`.",
        "",
    ]
    if runbook.params:
        out += ["## Parameters", "", "| parameter | default | meaning |", "|---|---|---|"]
        out += [
            f"| `{p.name}` | `{value_text(p.default)}` | {p.description} |" for p in runbook.params
        ]
        out += ["", "The commands below show the defaults.", ""]
    out += ["## Steps", ""]
    for i, step in enumerate(runbook.steps, start=1):
        out += [f"### {i}. {step.name}", ""]
        if step.note:
            out += [" ".join(step.note.split()), ""]
        if step.when is not None:
            lines, words = _check_lines(step.when.check, params)
            state = "passes" if step.when.when == "passes" else "fails"
            out += [
                f"Only if this check {state} now (it passes when {words}); otherwise skip "
                "this step:",
                "",
            ]
            out += [*_code(lines), ""]
        if step.action is not None:
            out += ["Do:", "", *_code(_action_lines(step.action, params)), ""]
        if step.check is not None:
            lines, words = _check_lines(step.check, params)
            out += [f"Check, repeated until {words}:", "", *_code(lines), ""]
        out += [f"Timeout: {step.timeout_s:g} s.", ""]
    return "\n".join(out).rstrip() + "\n"


def render_scenarios_markdown(
    scenarios: Mapping[str, Scenario], runbooks: Mapping[str, Runbook]
) -> str:
    """docs/scenarios.md: one section per scenario, from the scenario files."""
    out = [
        "<!-- Generated by `chaosdrill runbook render` from scenarios/*.yaml;"
        " edit those files, not this one. -->",
        "",
        "# Scenarios",
        "",
        "The symptom classes of the seed's *Common Incident Scenarios*. Each names the alerts "
        "that page, how to investigate (the seed's command and its chaosdrill equivalent), "
        "its common causes with the runbooks that fix them, and how measured impact maps to "
        "a severity. Severity levels follow the seed: P1 respond in < 5 min (escalate to VP "
        "Engineering, CTO), P2 < 15 min (Engineering Manager), P3 < 1 hour (Team Lead), "
        "P4 < 24 hours. A level applies when any of its thresholds is met; the most severe "
        "level that applies wins.",
        "",
    ]
    ordered = sorted(
        scenarios.values(),
        key=lambda sc: (SEED_ORDER.index(sc.id) if sc.id in SEED_ORDER else len(SEED_ORDER), sc.id),
    )
    for sc in ordered:
        out += [f"## {sc.title} (`{sc.id}`)", "", " ".join(sc.description.split()), ""]
        out += ["**Symptoms**", "", *[f"- {s}" for s in sc.symptoms], ""]
        out += [f"**Alerts**: {', '.join(f'`{a}`' for a in sc.alerts)}", ""]
        out += ["**Investigation**", "", "| purpose | seed | chaosdrill | note |"]
        out.append("|---|---|---|---|")
        for inv in sc.investigation:
            seed, cmd = (
                " ".join(t.split()).replace("|", "\\|") for t in (inv.seed, inv.chaosdrill)
            )
            note = " ".join(inv.note.split())
            out.append(f"| {inv.purpose} | `{seed}` | `{cmd}` | {note} |")
        out += ["", "**Common causes**", "", "| cause | what happens | runbooks | alerts |"]
        out.append("|---|---|---|---|")
        for c in sc.common_causes:
            links = ", ".join(f"[{r}](runbooks/{r}.md)" for r in c.runbooks)
            alerts = ", ".join(f"`{a}`" for a in (c.alerts or sc.alerts))
            out.append(f"| `{c.id}` | {c.description} | {links} | {alerts} |")
        out += [
            "",
            "**Runbooks**: "
            + ", ".join(
                f"[{r}](runbooks/{r}.md)" + (f" ({runbooks[r].title})" if r in runbooks else "")
                for r in sc.runbooks
            ),
            "",
        ]
        out += ["**Severity**", "", "| level | any of |", "|---|---|"]
        for level in sc.severity.levels:
            out.append(f"| {level.level} | {_level_words(level)} |")
        out.append(f"| P4 | none of the above{_floor_words(sc)} |")
        if sc.severity.note:
            out += ["", " ".join(sc.severity.note.split())]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _level_words(level: Any) -> str:
    words = []
    if level.availability_below is not None:
        words.append(f"availability < {level.availability_below:.0%}")
    if level.error_rate_above is not None:
        words.append(f"error rate > {level.error_rate_above:.0%}")
    if level.p95_latency_s_above is not None:
        words.append(f"p95 latency > {level.p95_latency_s_above:g} s")
    if level.data_loss:
        words.append("any data loss or corruption")
    if level.revenue_per_hour_above is not None:
        words.append(f"revenue impact > ${level.revenue_per_hour_above:,.0f}/hour")
    return "; ".join(words)


def _floor_words(sc: Scenario) -> str:
    floor = sc.severity.floor
    return f" (but never below {floor} for this scenario)" if floor != "P4" else ""
