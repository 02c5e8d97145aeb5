"""Run runbooks against an environment (the executor).

The executor runs a runbook's steps in order. Each step may have a condition (``when``:
run only if a check currently passes or fails, tested once), an action (an Environment
operation, a shell command or HTTP requests) and a check, retried every
:data:`POLL_INTERVAL_S` until it passes or the step's timeout ends. The first failed action
or check stops the runbook; the steps after it are reported as not run. Durations are taken
on ``time.monotonic()``; the wall clock is kept only as a label. Timeouts are real seconds:
restarting a replica takes as long in a drill at time scale 60 as in production. Only the
``{window}`` of PromQL checks is divided by the time scale, as the alert rules are.

Every Environment operation of a step (a rollout, a promotion, a SQL query) runs in a
worker thread (:class:`chaosdrill.runbooks.operation.Operation`, never a daemon), so a hung
database cannot hang the step past its timeout. An operation still running at the step's
timeout is not abandoned: the step fails at its timeout, the runbook stops, and the
executor waits for the operation, at most ``operation_grace_s``
(:data:`OPERATION_GRACE_S`), before it returns; the run's
:class:`~chaosdrill.runbooks.result.OperationWait` records that wait. So no later step and
nothing after the runbook (a drill's verification, its revert) acts on the environment
while the operation runs, unless the grace ran out (``RunbookResult.settled`` is then
False). A ``shell:`` command still running at the timeout has its process group killed, and
is then waited for the same way. A stop signal (Ctrl-C) during an operation stops the
runbook too, after the operation finished (the signals are held meanwhile, as during a
revert; a third Ctrl-C abandons the wait).

Results are :mod:`chaosdrill.runbooks.result`; the one-line descriptions of actions and
checks in them come from :mod:`chaosdrill.runbooks.renderer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chaosdrill.environments.base import Environment, LogQuery
from chaosdrill.errors import InvalidInputError, OperationError
from chaosdrill.monitoring.promql import format_duration, parse_duration
from chaosdrill.runbooks.binding import (
    SHELL_PROGRAMS,
    bind_sql,
    shell_problem,
    shell_variable,
    sql_problem,
)
from chaosdrill.runbooks.model import (
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
    ShellAction,
    SqlCheck,
    find_placeholders,
    substitute,
    value_text,
)
from chaosdrill.runbooks.operation import KilledCommand, Operation, Pending, settle, wait_for
from chaosdrill.runbooks.renderer import describe_action, describe_check
from chaosdrill.runbooks.result import OperationWait, RunbookResult, StepResult

__all__ = [
    "OPERATION_GRACE_S",
    "OUTPUT_LIMIT",
    "POLL_INTERVAL_S",
    "chaosdrill_command",
    "run_runbook",
]

POLL_INTERVAL_S = 0.2
"""Seconds between two attempts of a step's check."""
OUTPUT_LIMIT = 600
"""Characters of an action's or check's output kept in a step result."""
OPERATION_GRACE_S = 600.0
"""Seconds the executor waits, after a step's timeout, for the operation still running.

Longer than the local backend's slowest operation can take: a rollout starts the new
replicas together (up to 30 s each to answer and 10 s to be UP in HAProxy) and then
drains and stops the old ones one by one (up to 10 s and 10 s each), so 16 replicas take
at most about 360 s; a rebuild is a base backup (at most 120 s) and 30 s to be ready.
"""
_MIN_ATTEMPT_S = 1.0


# --- the executor -----------------------------------------------------------------------


class _StepFailed(Exception):
    """An action or check failed; the message says how."""


class _Overran(Exception):
    """The step's timeout passed while ``pending`` still ran; the message says what."""

    def __init__(self, pending: Pending, message: str) -> None:
        super().__init__(message)
        self.pending = pending


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
        grace_s: float = OPERATION_GRACE_S,
    ) -> None:
        self.env = env
        self.params = params
        self.time_scale = time_scale
        self.grace_s = grace_s
        self.hint = f"chaosdrill env recover --name {env.name}"
        ep = env.endpoints()
        self.text: dict[str, str] = {
            "service_url": ep.service_url,
            "prometheus_url": ep.prometheus_url,
            "alertmanager_url": ep.alertmanager_url,
            "pager_url": ep.pager_url,
            "env_name": env.name,
            # the LIKE pattern of the target's own database sessions ('revenue_engine %')
            "service_sessions": env.target().sessions,
            **{k: value_text(v) for k, v in params.items()},
        }
        # a shell step reads every value from its environment, never from its text
        self.environ: dict[str, str] = {
            shell_variable(k, k in params): v for k, v in self.text.items()
        }
        self.environ["CHAOSDRILL_ENV"] = env.name
        self.text["chaosdrill"] = chaosdrill_command()
        self.text["python"] = shlex.quote(sys.executable)
        self.programs = {k: self.text[k] for k in SHELL_PROGRAMS}
        # a SQL statement gets values as bound parameters, a param with its own type
        self.bound: dict[str, Any] = {**self.text, **params}

    def auth(self, url: object) -> tuple[str, str] | None:
        """Basic auth for an ``http:`` step's URL: the environment's, for its Alertmanager.

        Only a URL under ``{alertmanager_url}`` gets Alertmanager's credentials (every path
        of its server asks for them); any other URL gets none.
        """
        base = self.text["alertmanager_url"].rstrip("/")
        if not isinstance(url, str) or (
            url != base and not url.startswith((f"{base}/", f"{base}?"))
        ):
            return None
        creds = self.env.alertmanager_auth()
        return creds.pair() if creds is not None else None

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


def run_runbook(
    runbook: Runbook,
    env: Environment,
    params: Mapping[str, object] | None = None,
    time_scale: float = 1.0,
    on_step: Callable[[StepResult], None] | None = None,
    *,
    operation_grace_s: float | None = None,
) -> RunbookResult:
    """Run ``runbook`` against ``env``, step by step, stopping at the first failure.

    A step whose operation is still running at the step's timeout fails at its timeout;
    the executor then waits for the operation (at most ``operation_grace_s``) before it
    returns, and records the wait in the result's ``operation_wait``.

    Args:
        runbook: the runbook.
        env: the environment whose operations and endpoints the steps use.
        params: values for the runbook's params (the others keep their defaults); text is
            converted to each param's type, so ``{"replicas": "3"}`` works.
        time_scale: how many times faster than production the drill runs; divides the
            ``{window}`` of PromQL checks (never the timeouts).
        on_step: called with each step's result as soon as the step ends (before the wait
            for an operation that outlived it).
        operation_grace_s: the most the executor waits, after a step's timeout, for the
            step's operation to finish (default :data:`OPERATION_GRACE_S`).

    Returns:
        The result of every step run, the names of the steps not run, and the wait for an
        operation that outlived its step (``settled`` False: it is still running).

    Raises:
        InvalidInputError: an unknown param, a value of the wrong type, or a time scale or
            grace that is not a number greater than 0 (nothing has run).
    """
    grace_s = OPERATION_GRACE_S if operation_grace_s is None else operation_grace_s
    _check_positive(time_scale, "time_scale")
    _check_positive(grace_s, "operation_grace_s")
    values = runbook.resolve_params(params)
    ctx = _Context(env, values, float(time_scale), float(grace_s))
    wall, started = time.time(), time.monotonic()
    results: list[StepResult] = []
    wait: OperationWait | None = None
    for index, step in enumerate(runbook.steps, start=1):
        result, pending = _run_step(index, step, ctx)
        results.append(result)
        if on_step is not None:
            on_step(result)
        if pending is not None:
            wait = settle(pending, step.name, ctx.grace_s, ctx.hint)
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
        wait,
    )


def _check_positive(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"expected a number, got {value!r}", field=field)
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"expected a number greater than 0, got {value!r}", field=field)


def _run_step(index: int, step: RunbookStep, ctx: _Context) -> tuple[StepResult, Pending | None]:
    """One step's result, and what it left running at its timeout (to wait for)."""
    wall, t0 = time.time(), time.monotonic()
    deadline = t0 + step.timeout_s
    outputs: list[str] = []
    attempts = 0
    error: str | None = None
    skipped = False
    pending: Pending | None = None
    first_try: float | None = None
    last_try: float | None = None
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
            last_try = time.monotonic()
            first_try = last_try if first_try is None else first_try
            ok, detail = _attempt(step.check, ctx, deadline)
            if ok:
                outputs.append(detail)
                break
            if time.monotonic() + POLL_INTERVAL_S > deadline:
                raise _StepFailed(
                    f"check not met within {step.timeout_s:g} s ({attempts} attempts): {detail}"
                )
            time.sleep(POLL_INTERVAL_S)
    except _Overran as exc:  # failed at its timeout; waited for by the caller
        error, pending = str(exc), exc.pending
    except _StepFailed as exc:
        error = str(exc)
    except Exception as exc:  # an operation's own failure is the step's result
        error = f"{type(exc).__name__}: {exc}".strip()
    result = StepResult(
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
        window_wait=(first_try, last_try)
        if isinstance(step.check, PromqlCheck) and first_try is not None and last_try is not None
        else None,
    )
    return result, pending


def _clip(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else text[: OUTPUT_LIMIT - 3] + "..."


def _call(ctx: _Context, what: str, fn: Callable[[], Any], until: float) -> Any:
    """Run ``fn`` as an operation; its result once it finished by ``until``.

    Raises:
        _Overran: it was still running at ``until`` (and still is).
    """
    op = Operation(what, fn)
    if not wait_for(op, until, ctx.grace_s, ctx.hint):
        raise _Overran(op, f"{what} did not finish within the step's timeout (still running)")
    return op.result()


def _call_op(ctx: _Context, op: str, raw_args: Mapping[str, Any], until: float) -> Any:
    method = getattr(ctx.env, op, None)
    if op not in OPERATIONS or not callable(method):
        raise OperationError(
            f"environment {ctx.env.name!r} ({type(ctx.env).__name__}) has no operation {op!r}"
        )
    if op == "sql":
        statement, bound = _bind(str(raw_args["statement"]), ctx)
        node = ctx.value(raw_args.get("node"))
        return _call(ctx, op, lambda: _sql(ctx.env, statement, node, bound), until)
    args = {k: ctx.value(v) for k, v in raw_args.items()}
    if op == "logs":
        query = LogQuery(args["component"], args.get("tail", 50), args.get("grep"))
        return _call(ctx, op, lambda: method(query), until)
    return _call(ctx, op, lambda: method(**args), until)


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), _MIN_ATTEMPT_S)


def _run_action(action: Action, ctx: _Context, deadline: float) -> str:
    if isinstance(action, OpAction):
        return _summary(_call_op(ctx, action.op, action.args, deadline))
    if isinstance(action, ShellAction):
        problem = shell_problem(action.command, ctx.params)
        if problem is not None:
            raise _StepFailed(f"not run: {problem}")
        command = substitute(action.command, ctx.programs)
        return _run_shell(command, action.exit_code, deadline, ctx.environ)
    url = ctx.value(action.url)
    ok, detail = _http(
        url,
        action.method,
        action.status,
        action.count,
        action.count,
        ctx.value(dict(action.json)) if action.json is not None else None,
        deadline,
        ctx.auth(url),
    )
    if not ok:
        raise _StepFailed(detail)
    return detail


def _bind(statement: str, ctx: _Context) -> tuple[str, tuple[Any, ...] | None]:
    """The statement and the values bound to its placeholders (never spliced into it)."""
    problem = sql_problem(statement)
    if problem is not None:
        raise _StepFailed(f"not run: {problem}")
    return bind_sql(statement, ctx.bound)


def _sql(
    env: Environment, statement: str, node: str | None, bound: tuple[Any, ...] | None
) -> list[tuple[Any, ...]]:
    return env.sql(statement, node) if bound is None else env.sql(statement, node, bound)


def _run_shell(command: str, exit_code: int, deadline: float, environ: Mapping[str, str]) -> str:
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        env={**os.environ, **environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise _Overran(
            KilledCommand(proc), "the command did not finish within the step's timeout"
        ) from None
    except BaseException:  # a stop: the command, in a session of its own, goes too
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=5)
        raise
    tail = "\n".join(out.strip().splitlines()[-8:])
    if proc.returncode != exit_code:
        raise _StepFailed(f"exit code {proc.returncode}, expected {exit_code}: {tail}")
    return tail or f"exit code {proc.returncode}"


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _http(
    url: str,
    method: str,
    statuses: tuple[int, ...],
    count: int,
    min_ok: int,
    body: Any,
    deadline: float,
    auth: tuple[str, str] | None = None,
) -> tuple[bool, str]:
    seen: dict[str, int] = {}
    good = 0
    with httpx.Client(timeout=min(5.0, _remaining(deadline)), auth=auth) as client:
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
    """One try of a check: whether it holds, and what was seen.

    An operation of the check gets until the deadline, and at least a second.
    """
    until = max(deadline, time.monotonic() + _MIN_ATTEMPT_S)
    try:
        if isinstance(check, HttpCheck):
            body = ctx.value(dict(check.json)) if check.json is not None else None
            url = ctx.value(check.url)
            return _http(
                url,
                check.method,
                check.status,
                check.count,
                check.min_ok,
                body,
                deadline,
                ctx.auth(url),
            )
        if isinstance(check, SqlCheck):
            (query, bound), node = _bind(check.query, ctx), ctx.value(check.node)
            rows = _call(ctx, "sql", lambda: _sql(ctx.env, query, node, bound), until)
            text = "\n".join("\t".join(map(str, row)) for row in rows)
            first = rows[0][0] if rows and rows[0] else None
            return _compare(first, text, check.expect, ctx)
        if isinstance(check, OpCheck):
            result = _call_op(ctx, check.op, check.args, until)
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
    except _Overran:
        raise  # the step ends: nothing runs beside a running operation
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
    return value_text(a) == value_text(b)


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
