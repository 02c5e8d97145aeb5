"""``chaosdrill train``, ``pager`` and ``incident``: on-call training with a person responding.

``train`` is the facilitator's (start, status, watch, hint, stop, debrief); ``pager`` and
``incident`` are the trainees' (the page, and the response they record). Everything a
trainee runs prints nothing of the sealed cause (chaosdrill.training.views); the library
does the work (chaosdrill.training).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chaosdrill.cli.application import app, env_option
from chaosdrill.errors import InvalidInputError
from chaosdrill.training import views
from chaosdrill.training.debrief import ROLES, STATUSES, TEMPLATE_FIELDS
from chaosdrill.training.session import TRAINEE_VARIABLE, Session, SessionInfo, trainee

__all__ = ["incident", "pager", "train"]

F = TypeVar("F", bound=Callable[..., Any])

ROLE_ALIASES = {
    "ic": "incident_commander",
    "tl": "technical_lead",
    "comms": "communications_lead",
    "cl": "communications_lead",
    "scribe": "scribe",
    **{r: r for r in ROLES},
}
START_TIMEOUT_S = 900.0


def as_option(func: F) -> F:
    """``--as NAME``: who runs the command (else ``$CHAOSDRILL_TRAINEE``, else the OS user)."""

    def keep(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value:
            os.environ[TRAINEE_VARIABLE] = value
        return value

    return click.option(
        "--as",
        "as_name",
        default=None,
        metavar="NAME",
        expose_value=False,
        callback=keep,
        help=f"Who you are in the session (default: ${TRAINEE_VARIABLE}, else your user name).",
    )(func)


def _session(name: str | None, *, running: bool = True) -> tuple[Session, SessionInfo]:
    """The session of environment ``name``; one under way unless ``running`` is False."""
    session = Session(app.env_name(name))
    info = session.info()
    if running and not session.running():
        raise InvalidInputError(
            f"the training session on environment {session.env_name!r} has ended "
            f"({info.end_reason or info.error or 'its runner is gone'}): see `chaosdrill "
            f"train debrief --name {session.env_name}`",
            field="name",
        )
    return session, info


def _injected(info: SessionInfo) -> None:
    if info.status in ("starting", "steady"):
        raise InvalidInputError(
            "the incident has not started yet (the session is waiting for the steady "
            "state): wait for the page",
            field="session",
        )


# train ----------------------------------------------------------------------------------
@click.group()
def train() -> None:
    """On-call training: a hidden real incident, a person responds, the response is scored."""


def _pool(plan: Any, scenario: str | None, experiment: str | None) -> list[Path]:
    """The experiments a session may draw from: the plan's, within one scenario if asked."""
    from chaosdrill.plans.model import PlanDrill

    pool: list[Path] = []
    for item in plan.drills:
        pool.extend([item.experiment] if isinstance(item, PlanDrill) else item.pool)
    pool = list(dict.fromkeys(pool))
    if experiment is not None:
        chosen = [p for p in pool if p.stem == experiment]
        if not chosen:
            from chaosdrill.workspace import current

            entry = current().find("experiments", experiment)
            if entry is None:
                raise InvalidInputError(
                    f"no experiment named {experiment!r}; expected one of: "
                    f"{', '.join(sorted(p.stem for p in pool))}",
                    field="experiment",
                )
            chosen = [entry.path]
        return chosen
    if scenario is not None:
        from chaosdrill.scenarios.experiment import load_experiment

        def scenario_of(p: Path) -> str:
            ext: dict[str, Any] = next(
                (
                    e
                    for e in load_experiment(p).get("extensions") or []
                    if e.get("name") == "chaosdrill"
                ),
                {},
            )
            return str(ext.get("scenario", ""))

        found = [p for p in pool if scenario_of(p) == scenario]
        if not found:
            known = sorted({scenario_of(p) for p in pool})
            raise InvalidInputError(
                f"no experiment of scenario {scenario!r} in the plan; expected one of: "
                f"{', '.join(known)}",
                field="scenario",
            )
        return found
    return pool


@train.command("start")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=Path("training"),
    show_default=True,
    help="The training plan (a file, or the name of one in the workspace or built in).",
)
@click.option("--seed", type=int, default=None, help="Seed of the draw (a repeatable session).")
@click.option("--scenario", default=None, help="Draw only among this scenario's causes.")
@click.option(
    "--experiment",
    default=None,
    metavar="NAME",
    help="The facilitator picks the cause instead of drawing it (kept sealed all the same).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=1, max=1000),
    default=None,
    help="Run K times faster than production (default: the plan's; training is meant for 1).",
)
@click.option(
    "--time-limit",
    "time_limit",
    type=click.FloatRange(min=1, min_open=False),
    default=None,
    help="End the session this long after the fault, production seconds (default: the plan's).",
)
@click.option(
    "--hold",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="How long recovery must hold, production seconds (default: the plan's hold_s).",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Return once the runner started, not once the incident is live.",
)
@env_option
def train_start(
    plan_path: Path,
    seed: int | None,
    scenario: str | None,
    experiment: str | None,
    time_scale: float | None,
    time_limit: float | None,
    hold: float | None,
    no_wait: bool,
    name: str | None,
) -> None:
    """Start a session: draw a cause, seal it, inject it under load, and return.

    The session runner (a background process) holds the environment (it brings it up when
    it is not up), waits for the steady state, injects the sealed cause, and then re-sends
    and escalates the page until someone acknowledges it. The session ends at `incident
    resolve`, at the time limit, or at `train stop`; the fault is reverted whatever ends it.
    """
    from chaosdrill.cli.run import named_file
    from chaosdrill.faults import make_fault
    from chaosdrill.plans.model import load_plan
    from chaosdrill.scenarios.settings import SpecOverrides
    from chaosdrill.scenarios.spec import load_spec
    from chaosdrill.training.log import SealedCause

    plan = load_plan(named_file(plan_path, "plans"))
    env_name = app.env_name(name, plan.environment.name)
    session = Session(env_name)
    if session.running():
        info = session.info()
        raise InvalidInputError(
            f"a training session ({info.id}) is under way on environment {env_name!r}: join "
            f"it (`chaosdrill train status --name {env_name}`) or end it (`chaosdrill train "
            f"stop --name {env_name}`)",
            field="name",
        )
    _refuse_if_held(env_name)
    k = time_scale if time_scale is not None else plan.time_scale
    pool = _pool(plan, scenario, experiment)
    path = random.Random(seed).choice(sorted(pool))
    overrides = SpecOverrides(
        env_name=env_name,
        time_scale=k,
        hold_production_s=hold if hold is not None else plan.hold_s,
        mttd_target_s=plan.targets.mttd_s,
        mttr_target_s=plan.targets.mttr_s,
        load=dict(plan.load) if plan.load else None,
    )
    spec = load_spec(path, overrides)  # a mistake is refused here, before anything starts
    fault = make_fault(spec.fault.kind, dict(spec.fault.params))
    training = plan.training
    limit = time_limit if time_limit is not None else training.time_limit_s
    roles = dict(plan.roles.__dict__)
    escalation = sorted(
        ([role, roles.get(role, role), after / k] for role, after in training.escalation.items()),
        key=lambda r: r[2],
    )
    everything = [*_pool(plan, None, None), path]  # a diagnosis may name any of them
    causes = sorted({p.stem for p in everything} | {make_fault_kind(p) for p in everything})
    session.clear()  # an ended (or killed) session's files: its run folder keeps the record
    info = SessionInfo(
        id=uuid.uuid4().hex[:8],
        env_name=env_name,
        plan=str(plan.path),
        plan_name=plan.name,
        time_scale=k,
        seed=seed,
        scenario=scenario,
        started_wall=time.time(),
        time_limit_s=limit / k,
        resend_s=training.resend_s / k,
        escalation=escalation,
        roles=roles,
        causes=causes,
        hold_production_s=hold if hold is not None else plan.hold_s,
    )
    session.write(info)
    session.log.seal(
        SealedCause(
            experiment=path.stem,
            kind=fault.kind,
            title=spec.title,
            scenario=spec.scenario,
            params=fault.to_dict()["params"],
            path=str(path.resolve()),
            cause=spec.cause,
        )
    )
    with open(session.runner_log, "ab") as log:
        os.chmod(session.runner_log, 0o600)
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosdrill.training.runner", env_name],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a closed terminal does not end the session
        )
    import psutil

    session.update(runner_pid=proc.pid, runner_create_time=psutil.Process(proc.pid).create_time())
    app.console.print(
        f"training session {info.id} on environment {env_name!r}: the cause is drawn and "
        f"sealed (time scale {k:g}, time limit {limit / 60:g} min)",
        markup=False,
    )
    if no_wait:
        return
    with app.console.status("bringing the incident up (environment, load, steady state)"):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            now = session.info()
            if now.status in ("injected", "ending", "ended") or proc.poll() is not None:
                break
            time.sleep(0.5)
    now = session.info()
    if now.status != "injected":
        sealed = session.log.unseal()
        why = views.mask(now.error or now.end_reason or now.status, sealed)
        app.err_console.print(
            f"[red]the session did not start:[/] {why} (the facilitator's log: "
            f"{session.runner_log})"
        )
        app.exit(3)
    app.console.print(
        "the incident is live. Watch for the page: " f"`chaosdrill pager watch --name {env_name}`",
        markup=False,
    )


def _refuse_if_held(env_name: str) -> None:
    """A drill, plan or test session holding the environment refuses the session at once."""
    from chaosdrill.environments.holding import current_holder
    from chaosdrill.environments.local.state import state_root
    from chaosdrill.errors import EnvironmentBusyError

    holder = current_holder(state_root() / "envs" / env_name)
    if holder is not None and not holder.is_ancestor_of(os.getpid()):
        raise EnvironmentBusyError(env_name, holder)


def make_fault_kind(path: Path) -> str:
    """The fault kind an experiment injects (a diagnosis may name either)."""
    from chaosdrill.scenarios.experiment import load_experiment

    for activity in load_experiment(path).get("method") or []:
        provider = activity.get("provider") or {}
        if provider.get("func") == "inject_fault":
            return str((provider.get("arguments") or {}).get("kind", path.stem))
    return path.stem


@train.command("status")
@env_option
def train_status(name: str | None) -> None:
    """Elapsed time, what has been done and what the session still expects (never the cause)."""
    session, info = _session(name, running=False)
    app.console.print(views.status_text(session, info), markup=False)


@train.command("watch")
@click.option(
    "--facilitator",
    is_flag=True,
    required=True,
    help="Show the cause: for the person running the session only.",
)
@click.option("--once", is_flag=True, help="Print the view once and return.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True)
@env_option
def train_watch(facilitator: bool, once: bool, interval: float, name: str | None) -> None:
    """The facilitator's live view: the cause, the ground truth and the trainees' actions."""
    session, _ = _session(name, running=False)
    views.live(lambda: views.facilitator_text(session), once=once, interval=interval)


@train.command("hint")
@as_option
@env_option
def train_hint(name: str | None) -> None:
    """The next hint (symptom, then subsystem, then the runbook), at a cost in points."""
    session, info = _session(name)
    _injected(info)
    level, text, cost = views.next_hint(session, info)
    session.log.record("hint", who=trainee(), level=level, cost=cost)
    app.console.print(f"hint {level} (-{cost:g} points): {text}", markup=False)


@train.command("stop")
@click.option("--timeout", type=float, default=600.0, show_default=True)
@env_option
def train_stop(timeout: float, name: str | None) -> None:
    """End the session now: the fault is reverted and the session scored as it stands."""
    session, info = _session(name)
    assert info.runner_pid is not None
    os.kill(info.runner_pid, signal.SIGTERM)
    _wait_end(session, timeout, "stopping the session (the fault is reverted)")


def _wait_end(session: Session, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    with app.console.status(what):
        while time.monotonic() < deadline and session.running():
            time.sleep(0.5)
    info = session.info()
    if session.running():
        app.err_console.print(f"the session has not ended after {timeout:g} s")
        app.exit(3)
    app.console.print(
        f"session {info.id} ended: {info.end_reason or info.error}. "
        f"The debrief: `chaosdrill train debrief --name {session.env_name}`",
        markup=False,
    )


@train.command("debrief")
@click.option("--json", "as_json", is_flag=True, help="The debrief as JSON.")
@env_option
def train_debrief(as_json: bool, name: str | None) -> None:
    """Reveal the cause and score the session (once it has ended)."""
    import json

    from chaosdrill.training.debrief_view import DEBRIEF_FILE, render_debrief

    session, info = _session(name, running=False)
    if session.running():
        raise InvalidInputError(
            "the session is under way: the debrief reveals the cause, so it opens once the "
            f"session has ended (`chaosdrill incident resolve` or `chaosdrill train stop "
            f"--name {session.env_name}`)",
            field="session",
        )
    path = Path(info.run_dir or "") / "training" / DEBRIEF_FILE
    if not info.run_dir or not path.is_file():
        raise InvalidInputError(
            f"session {info.id} ended without a debrief ({info.error or info.end_reason}); "
            f"the runner's log: {session.runner_log}",
            field="session",
        )
    data = json.loads(path.read_text())
    if not data.get("automatic"):  # an automatic run of the cause may have come since
        from chaosdrill.training.debrief_view import automatic_times

        c = data["cause"]
        data["automatic"] = automatic_times(c["experiment"], c["cause"], info.plan_name)
    click.echo(json.dumps(data, indent=2) if as_json else render_debrief(data))


# pager ----------------------------------------------------------------------------------
@click.group()
def pager() -> None:
    """The pager: watch pages as they arrive, acknowledge them."""


@pager.command("watch")
@click.option("--once", is_flag=True, help="Print the pages once and return.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True)
@env_option
def pager_watch(once: bool, interval: float, name: str | None) -> None:
    """A live view of pages: firing/resolved, alert, summary, re-sends, escalations, links."""
    environment = app.environment(name)
    session = Session(environment.name)
    views.live(lambda: views.pager_text(environment, session), once=once, interval=interval)


@pager.command("ack")
@click.argument("alert", required=False)
@as_option
@env_option
def pager_ack(alert: str | None, name: str | None) -> None:
    """Acknowledge the page (ALERT, default: the latest one firing)."""
    session, info = _session(name)
    _injected(info)
    paged = [e for e in session.log.events() if e.kind == "paged"]
    if not paged:
        raise InvalidInputError("no page has arrived yet: nothing to acknowledge", field="alert")
    chosen = alert or str(paged[-1].detail.get("alert", ""))
    session.log.record("ack", who=trainee(), alert=chosen)
    app.console.print(f"acknowledged {chosen} as {trainee()}", markup=False)


# incident -------------------------------------------------------------------------------
@click.group()
def incident() -> None:
    """Record the response: roles, severity, updates, notes, diagnoses, resolution."""


def _role(ctx: click.Context, param: click.Parameter, value: str) -> str:
    role = ROLE_ALIASES.get(value.lower())
    if role is None:
        raise click.BadParameter(
            f"{value!r}; expected one of: {', '.join(ROLES)} (or ic, tl, comms, scribe)"
        )
    return role


@incident.command("role")
@click.argument("role", callback=_role)
@click.argument("person")
@as_option
@env_option
def incident_role(role: str, person: str, name: str | None) -> None:
    """Name PERSON as ROLE (incident_commander, technical_lead, communications_lead, scribe)."""
    session, _ = _session(name)
    session.log.record("role", who=trainee(), role=role, name=person)
    app.console.print(f"{role}: {person}", markup=False)


@incident.command("severity")
@click.argument("level", type=click.Choice(["P1", "P2", "P3", "P4"], case_sensitive=False))
@as_option
@env_option
def incident_severity(level: str, name: str | None) -> None:
    """Declare the incident's severity (the seed's P1-P4)."""
    session, info = _session(name)
    _injected(info)
    session.log.record("severity", who=trainee(), level=level.upper())
    app.console.print(f"severity {level.upper()} declared", markup=False)


def _fields(text: str, given: tuple[str, ...], status: str) -> dict[str, str]:
    """The template's fields an update carries: ``Field: value`` lines and --field K=V."""
    out: dict[str, str] = {"status": status}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower().replace(" ", "_")
        if sep and key in TEMPLATE_FIELDS and value.strip():
            out[key] = value.strip()
    for item in given:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in TEMPLATE_FIELDS:
            raise InvalidInputError(
                f"expected FIELD=VALUE with FIELD one of {', '.join(TEMPLATE_FIELDS)}, "
                f"got {item!r}",
                field="--field",
            )
        out[key] = value.strip()
    return out


@incident.command("update")
@click.option("--status", type=click.Choice(STATUSES), required=True)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="FIELD=VALUE",
    help=f"A template field ({', '.join(TEMPLATE_FIELDS)}); lines 'Field: value' count too.",
)
@click.argument("text")
@as_option
@env_option
def incident_update(status: str, fields: tuple[str, ...], text: str, name: str | None) -> None:
    """Send a status update in the seed's notification template.

    Its fields: severity, status, affected, impact, started, actions, ETA.
    """
    session, info = _session(name)
    _injected(info)
    found = _fields(text, fields, status)
    session.log.record("update", who=trainee(), status=status, text=text, fields=found)
    missing = [f for f in TEMPLATE_FIELDS if f not in found]
    app.console.print(
        f"update sent ({status}); template fields: {len(found)}/{len(TEMPLATE_FIELDS)}"
        + (f", missing: {', '.join(missing)}" if missing else ""),
        markup=False,
    )


@incident.command("note")
@click.argument("text")
@as_option
@env_option
def incident_note(text: str, name: str | None) -> None:
    """Add a line to the scribe's timeline."""
    session, _ = _session(name)
    session.log.record("note", who=trainee(), text=text)
    app.console.print("noted", markup=False)


@incident.command("diagnose")
@click.argument("cause")
@as_option
@env_option
def incident_diagnose(cause: str, name: str | None) -> None:
    """Declare what you believe the cause is (an experiment or fault name; any number of times).

    Whether it is right is only told at the debrief.
    """
    session, info = _session(name)
    _injected(info)
    if cause not in info.causes:
        raise InvalidInputError(
            f"unknown cause {cause!r}; expected one of: {', '.join(info.causes)}",
            field="cause",
        )
    session.log.record("diagnose", who=trainee(), cause=cause)
    n = sum(1 for e in session.log.events() if e.kind == "diagnose")
    app.console.print(f"diagnosis recorded ({n} so far)", markup=False)


@incident.command("resolve")
@click.option("--no-wait", is_flag=True, help="Return at once instead of waiting for the end.")
@click.option("--timeout", type=float, default=900.0, show_default=True)
@as_option
@env_option
def incident_resolve(no_wait: bool, timeout: float, name: str | None) -> None:
    """Declare the incident resolved: the session ends, recovery and verification are checked."""
    session, info = _session(name)
    _injected(info)
    session.log.record("resolve", who=trainee())
    app.console.print("resolution recorded: the session is ending", markup=False)
    if not no_wait:
        _wait_end(session, timeout, "checking recovery and verifying")
