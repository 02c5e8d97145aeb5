"""Run runbooks against an environment (the executor) and render them for people.

The executor runs a runbook's steps in order. Each step may have a condition (``when``:
run only if a check currently passes or fails, tested once), an action (an Environment
operation, a shell command or HTTP requests) and a check, retried every
:data:`POLL_INTERVAL_S` until it passes or the step's timeout ends. The first failed action
or check stops the runbook; the steps after it are reported as not run. Durations are taken
on ``time.monotonic()``; the wall clock is kept only as a label. Timeouts are real seconds:
restarting a replica takes as long in a drill at time scale 60 as in production. Only the
``{window}`` of PromQL checks is divided by the time scale, as the alert rules are.

Every blocking call of a step (an operation, a SQL query) runs in a daemon thread that the
step stops waiting for at its deadline, so a hung database cannot hang the runbook; such an
operation is reported as still running, and the runbook stops there.

The renderer writes the same runbook as Markdown: numbered steps with the command a person
would type (``chaosdrill ops ...``, ``curl ...``) for every action and check, and timeouts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chaosdrill.environments.base import Environment, LogQuery
from chaosdrill.errors import InvalidInputError, OperationError
from chaosdrill.models import (
    OPERATIONS,
    Action,
    Check,
    Comparison,
    HttpCheck,
    OpAction,
    OpCheck,
    PromqlCheck,
    Runbook,
    RunbookStep,
    Scenario,
    ShellAction,
    SqlCheck,
    find_placeholders,
    substitute,
)
from chaosdrill.rules import format_duration, parse_duration

__all__ = [
    "POLL_INTERVAL_S",
    "RunbookResult",
    "StepResult",
    "chaosdrill_command",
    "describe_action",
    "describe_check",
    "operation_command",
    "render_markdown",
    "render_scenarios_markdown",
    "run_runbook",
]

POLL_INTERVAL_S = 0.2
"""Seconds between two attempts of a step's check."""
OUTPUT_LIMIT = 600
"""Characters of an action's or check's output kept in a step result."""
_MIN_ATTEMPT_S = 1.0
SEED_ORDER = ("high-error-rate", "high-latency", "database-down", "memory-leak")
"""The seed's scenarios 1-4, in its order (docs list these first)."""


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """What one step did.

    Attributes:
        index: 1-based position in the runbook.
        name: the step's name.
        action: the action in words ('' for a check-only step).
        check: the check in words ('' when the step has none).
        started_wall: wall-clock start (seconds since the epoch), a label only.
        started: monotonic start.
        ended: monotonic end.
        ok: the action succeeded and the check passed (or the step was skipped).
        skipped: the step's condition did not hold, so it did nothing.
        attempts: how many times the check ran.
        output: short output of the action and the last check attempt.
        error: why the step failed (None when ok).
    """

    index: int
    name: str
    action: str
    check: str
    started_wall: float
    started: float
    ended: float
    ok: bool
    skipped: bool = False
    attempts: int = 0
    output: str = ""
    error: str | None = None

    @property
    def duration_s(self) -> float:
        """Seconds the step took (monotonic clock)."""
        return self.ended - self.started

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the duration."""
        return {**dataclasses.asdict(self), "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class RunbookResult:
    """What a runbook run did: every step run, and the names of those not run."""

    runbook: str
    env_name: str
    params: Mapping[str, Any]
    time_scale: float
    started_wall: float
    started: float
    ended: float
    steps: tuple[StepResult, ...]
    not_run: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every step succeeded (or was skipped) and none was left out."""
        return all(s.ok for s in self.steps) and not self.not_run

    @property
    def duration_s(self) -> float:
        """Seconds the whole run took (monotonic clock)."""
        return self.ended - self.started

    @property
    def failed_step(self) -> StepResult | None:
        """The step that stopped the run, if one did."""
        return next((s for s in self.steps if not s.ok), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for reports and ``--json``)."""
        return {
            "runbook": self.runbook,
            "env_name": self.env_name,
            "params": dict(self.params),
            "time_scale": self.time_scale,
            "started_wall": self.started_wall,
            "duration_s": round(self.duration_s, 3),
            "ok": self.ok,
            "steps": [s.to_dict() for s in self.steps],
            "not_run": list(self.not_run),
        }


# --- the executor -----------------------------------------------------------------------


class _StepFailed(Exception):
    """An action or check failed; the message says how."""


def chaosdrill_command() -> str:
    """The command that runs this chaosdrill (the ``{chaosdrill}`` placeholder), shell-quoted."""
    script = Path(sys.executable).with_name("chaosdrill")
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m chaosdrill"


class _Context:
    """What the steps of one run share: the environment, placeholder values, the deadline."""

    def __init__(
        self,
        env: Environment,
        params: Mapping[str, Any],
        time_scale: float,
    ) -> None:
        self.env = env
        self.params = params
        self.time_scale = time_scale
        ep = env.endpoints()
        self.text: dict[str, str] = {
            "service_url": ep.service_url,
            "prometheus_url": ep.prometheus_url,
            "alertmanager_url": ep.alertmanager_url,
            "pager_url": ep.pager_url,
            "env_name": env.name,
            **{k: _plain(v) for k, v in params.items()},
        }
        self.shell: dict[str, str] = {k: shlex.quote(v) for k, v in self.text.items()}
        self.text["chaosdrill"] = self.shell["chaosdrill"] = chaosdrill_command()
        self.text["python"] = self.shell["python"] = shlex.quote(sys.executable)

    def window(self, production: str) -> str:
        """A PromQL window of ``production`` duration divided by the time scale."""
        return format_duration(max(1, round(parse_duration(production) / self.time_scale)))

    def value(self, raw: Any) -> Any:
        """A value with placeholders substituted; a lone ``{param}`` keeps the param's type."""
        if isinstance(raw, str):
            names = find_placeholders(raw)
            if len(names) == 1 and raw == "{" + names[0] + "}" and names[0] in self.params:
                return self.params[names[0]]
            return substitute(raw, self.text)
        if isinstance(raw, Mapping):
            return {k: self.value(v) for k, v in raw.items()}
        if isinstance(raw, list | tuple):
            return [self.value(v) for v in raw]
        return raw


def _plain(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_runbook(
    runbook: Runbook,
    env: Environment,
    params: Mapping[str, object] | None = None,
    time_scale: float = 1.0,
    on_step: Callable[[StepResult], None] | None = None,
) -> RunbookResult:
    """Run ``runbook`` against ``env``, step by step, stopping at the first failure.

    Args:
        runbook: the runbook.
        env: the environment whose operations and endpoints the steps use.
        params: values for the runbook's params (the others keep their defaults); text is
            converted to each param's type, so ``{"replicas": "3"}`` works.
        time_scale: how many times faster than production the drill runs; divides the
            ``{window}`` of PromQL checks (never the timeouts).
        on_step: called with each step's result as soon as the step ends.

    Returns:
        The result of every step run and the names of the steps not run.

    Raises:
        InvalidInputError: an unknown param, a value of the wrong type, or a time scale
            that is not a number greater than 0 (nothing has run).
    """
    if isinstance(time_scale, bool) or not isinstance(time_scale, int | float):
        raise InvalidInputError(f"expected a number, got {time_scale!r}", field="time_scale")
    if not math.isfinite(time_scale) or time_scale <= 0:
        raise InvalidInputError(
            f"expected a number greater than 0, got {time_scale!r}", field="time_scale"
        )
    values = runbook.resolve_params(params)
    ctx = _Context(env, values, float(time_scale))
    wall, started = time.time(), time.monotonic()
    results: list[StepResult] = []
    for index, step in enumerate(runbook.steps, start=1):
        result = _run_step(index, step, ctx)
        results.append(result)
        if on_step is not None:
            on_step(result)
        if not result.ok:
            break
    not_run = tuple(s.name for s in runbook.steps[len(results) :])
    return RunbookResult(
        runbook.name,
        env.name,
        values,
        float(time_scale),
        wall,
        started,
        time.monotonic(),
        tuple(results),
        not_run,
    )


def _run_step(index: int, step: RunbookStep, ctx: _Context) -> StepResult:
    wall, t0 = time.time(), time.monotonic()
    deadline = t0 + step.timeout_s
    outputs: list[str] = []
    attempts = 0
    error: str | None = None
    skipped = False
    try:
        if step.when is not None:
            holds, detail = _attempt(step.when.check, ctx, deadline)
            if holds != (step.when.when == "passes"):
                skipped = True
                outputs.append(f"skipped: the condition {'passes' if holds else 'fails'}: {detail}")
            else:
                outputs.append(f"condition {step.when.when}: {detail}")
        if not skipped and step.action is not None:
            outputs.append(_run_action(step.action, ctx, deadline))
        while not skipped and step.check is not None:
            attempts += 1
            ok, detail = _attempt(step.check, ctx, deadline)
            if ok:
                outputs.append(detail)
                break
            if time.monotonic() + POLL_INTERVAL_S > deadline:
                raise _StepFailed(
                    f"check not met within {step.timeout_s:g} s ({attempts} attempts): {detail}"
                )
            time.sleep(POLL_INTERVAL_S)
    except _StepFailed as exc:
        error = str(exc)
    except Exception as exc:  # an operation's own failure is the step's result
        error = f"{type(exc).__name__}: {exc}".strip()
    return StepResult(
        index=index,
        name=step.name,
        action=describe_action(step.action, ctx.params) if step.action else "",
        check=describe_check(step.check, ctx.params) if step.check else "",
        started_wall=wall,
        started=t0,
        ended=time.monotonic(),
        ok=error is None,
        skipped=skipped,
        attempts=attempts,
        output=_clip("\n".join(o for o in outputs if o)),
        error=_clip(error) if error else None,
    )


def _clip(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else text[: OUTPUT_LIMIT - 3] + "..."


def _bounded(fn: Callable[[], Any], timeout: float, what: str) -> Any:
    """Call ``fn`` in a daemon thread; give up waiting after ``timeout`` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"runbook {what}", daemon=True)
    thread.start()
    thread.join(max(timeout, 0.0))
    if thread.is_alive():
        raise _StepFailed(f"{what} did not finish within the step's timeout (still running)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), _MIN_ATTEMPT_S)


def _call_op(ctx: _Context, op: str, raw_args: Mapping[str, Any], deadline: float) -> Any:
    method = getattr(ctx.env, op, None)
    if op not in OPERATIONS or not callable(method):
        raise OperationError(
            f"environment {ctx.env.name!r} ({type(ctx.env).__name__}) has no operation {op!r}"
        )
    args = {k: ctx.value(v) for k, v in raw_args.items()}
    if op == "logs":
        query = LogQuery(args["component"], args.get("tail", 50), args.get("grep"))
        return _bounded(lambda: method(query), _remaining(deadline), op)
    return _bounded(lambda: method(**args), _remaining(deadline), op)


def _run_action(action: Action, ctx: _Context, deadline: float) -> str:
    if isinstance(action, OpAction):
        return _summary(_call_op(ctx, action.op, action.args, deadline))
    if isinstance(action, ShellAction):
        return _run_shell(substitute(action.command, ctx.shell), action.exit_code, deadline)
    ok, detail = _http(
        ctx.value(action.url),
        action.method,
        action.status,
        action.count,
        action.count,
        ctx.value(dict(action.json)) if action.json is not None else None,
        deadline,
    )
    if not ok:
        raise _StepFailed(detail)
    return detail


def _run_shell(command: str, exit_code: int, deadline: float) -> str:
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=_remaining(deadline))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise _StepFailed("the command did not finish within the step's timeout") from None
    tail = "\n".join(out.strip().splitlines()[-8:])
    if proc.returncode != exit_code:
        raise _StepFailed(f"exit code {proc.returncode}, expected {exit_code}: {tail}")
    return tail or f"exit code {proc.returncode}"


def _http(
    url: str,
    method: str,
    statuses: tuple[int, ...],
    count: int,
    min_ok: int,
    body: Any,
    deadline: float,
) -> tuple[bool, str]:
    seen: dict[str, int] = {}
    good = 0
    with httpx.Client(timeout=min(5.0, _remaining(deadline))) as client:
        for _ in range(count):
            try:
                status = client.request(method, url, json=body).status_code
                key = str(status)
                good += status in statuses
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            seen[key] = seen.get(key, 0) + 1
    got = ", ".join(f"{k} x{v}" for k, v in sorted(seen.items()))
    want = "/".join(map(str, statuses))
    return good >= min_ok, f"{method} {url}: {good}/{count} answered {want} (got {got})"


def _attempt(check: Check, ctx: _Context, deadline: float) -> tuple[bool, str]:
    """One try of a check: whether it holds, and what was seen."""
    try:
        if isinstance(check, HttpCheck):
            body = ctx.value(dict(check.json)) if check.json is not None else None
            url = ctx.value(check.url)
            return _http(url, check.method, check.status, check.count, check.min_ok, body, deadline)
        if isinstance(check, SqlCheck):
            query, node = ctx.value(check.query), ctx.value(check.node)
            rows = _bounded(lambda: ctx.env.sql(query, node), _remaining(deadline), "sql")
            text = "\n".join("\t".join(map(str, row)) for row in rows)
            first = rows[0][0] if rows and rows[0] else None
            return _compare(first, text, check.expect, ctx)
        if isinstance(check, OpCheck):
            result = _call_op(ctx, check.op, check.args, deadline)
            if check.expect is None:
                return True, _summary(result)
            path = ctx.value(check.path) if check.path else ""
            value = _get(result, path)
            if check.expect.operator == "same_as":
                other = _get(result, str(check.expect.value))
                return _same(
                    value, other
                ), f"{path or 'result'} = {value!r}, {check.expect.value} = {other!r}"
            return _compare(value, _summary(value), check.expect, ctx)
        return _promql(check, ctx, deadline)
    except _StepFailed as exc:
        return False, str(exc)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}".strip()


def _promql(check: PromqlCheck, ctx: _Context, deadline: float) -> tuple[bool, str]:
    query = substitute(check.query, {**ctx.text, "window": ctx.window(check.window)})
    response = httpx.get(
        f"{ctx.text['prometheus_url']}/api/v1/query",
        params={"query": query},
        timeout=min(5.0, _remaining(deadline)),
    )
    payload = response.json()
    if payload.get("status") != "success":
        return False, f"Prometheus refused {query!r}: {payload.get('error', response.text)}"
    data = payload["data"]
    result = data["result"]
    if data["resultType"] == "scalar":
        value: float | None = float(result[1])
    elif data["resultType"] == "vector" and result:
        value = float(result[0]["value"][1])
    else:
        value = None
    if value is None:
        ok = check.if_empty == "pass"
        return ok, f"{query}: no data ({'passes' if ok else 'fails'} when empty)"
    ok, detail = _compare(value, str(value), check.expect, ctx)
    return ok, f"{query}: {detail}"


def _get(result: Any, path: str) -> Any:
    """A value inside an operation's result by dotted path (attributes, keys, indices)."""
    value = result
    for part in filter(None, path.split(".")):
        if dataclasses.is_dataclass(value) and hasattr(value, part):
            value = getattr(value, part)
        elif isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise _StepFailed(f"the result has no {part!r} (path {path!r})")
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def _same(a: Any, b: Any) -> bool:
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return _plain(a) == _plain(b)


def _compare(actual: Any, text: str, expect: Comparison, ctx: _Context) -> tuple[bool, str]:
    """Whether ``actual`` (or its ``text``, for contains) satisfies ``expect``."""
    want = ctx.value(expect.value)
    op = expect.operator
    shown = f"got {actual!r}" if op not in ("contains", "not_contains") else f"got {text!r}"
    if op in ("contains", "not_contains"):
        ok = (str(want) in text) == (op == "contains")
    elif op in ("equals", "not_equals"):
        ok = _same(actual, want) == (op == "equals")
    else:
        x, y = _number(actual), _number(want)
        if x is None or y is None:
            return False, f"{shown}, not a number to compare {op.replace('_', ' ')} {want}"
        ok = {
            "at_least": x >= y,
            "at_most": x <= y,
            "greater_than": x > y,
            "less_than": x < y,
        }[op]
    return ok, f"{shown}, expected {op.replace('_', ' ')} {want!r}"


def _summary(value: Any) -> str:
    """Short text of an operation's result."""
    if value is None or (isinstance(value, list) and not value):
        return "done"
    if isinstance(value, str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json.dumps(dataclasses.asdict(value), default=str)
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return "\n".join("\t".join(map(str, row)) for row in value)
    if isinstance(value, list):
        return "\n".join(_summary(v) for v in value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


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
        "rollback": "ops deployment rollback",
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
    if op in ("stop_database", "start_database"):
        return _cli(f"ops db {op.split('_')[0]} {a['node']}")
    if op == "sql":
        return _cli(
            f"ops db sql {a['statement']}" + (f" --node {a['node']}" if "node" in a else "")
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
        pairs += [f" --flag {_arg(f'{k}={_plain(v)}')}" for k, v in args.get("flags", {}).items()]
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
    return substitute(text, {**keep, **{k: _plain(v) for k, v in params.items()}})


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
        return [cmd.replace("{chaosdrill}", "chaosdrill").replace("{python}", "python3").strip()]
    url = _fill(action.url, params)
    line = _http_command(action.method, url, _fill(action.json, params))
    want = "/".join(map(str, action.status))
    if action.count > 1:
        return [f"for i in $(seq {action.count}); do {line}; done   # each: {want}"]
    return [f"{line}   # expect {want}"]


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
        shown = _plain(value)
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
        out += [f"| `{p.name}` | `{_plain(p.default)}` | {p.description} |" for p in runbook.params]
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
