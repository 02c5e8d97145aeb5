"""The debrief as a session ends it: computed once, kept as JSON and Markdown, printed.

:func:`build_debrief` scores the session's event log (chaosdrill.training.debrief) and puts
beside each phase what the automatic responder measured for the same cause: the newest
automatic run of that experiment in the report history (``chaosdrill run
experiments/<cause>.json`` makes one). :func:`write_debrief` writes ``debrief.json`` and
``debrief.md`` into the run folder's ``training/``; :func:`render_debrief` is the terminal's
text (``chaosdrill train debrief``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from chaosdrill.faults import make_fault
from chaosdrill.paths import write_atomic
from chaosdrill.training.debrief import debrief
from chaosdrill.training.session import Session

__all__ = ["automatic_times", "build_debrief", "render_debrief", "write_debrief"]

DEBRIEF_FILE = "debrief.json"


def automatic_times(experiment: str, cause: str, skip_plan: str) -> dict[str, Any] | None:
    """MTTD and MTTR (production seconds) of the newest automatic run of this cause.

    Training runs are not in the history (a person's times are not the runbook's); runs of
    the plan ``skip_plan`` are skipped all the same.
    """
    from chaosdrill.paths import reports_dir
    from chaosdrill.report.history import History

    db = reports_dir() / "history.sqlite"
    if not db.exists():
        return None
    history = History(db)
    for run in history.runs():
        if run.plan == skip_plan:
            continue
        for d in history.drills(run.run_id):
            if d.cause in (cause, experiment) or d.drill_id == experiment:
                return {
                    "run_id": run.run_id,
                    "mttd_s": d.mttd_s,
                    "mttr_s": d.mttr_s,
                    "points": d.points,
                    "grade": d.grade,
                }
    return None


def build_debrief(
    session: Session,
    *,
    severity_measured: str | None,
    plan: Any,
    drill_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The session's debrief as JSON-ready data (the cause revealed).

    ``drill_report``: the session's own drill report's figures (MTTD and MTTR as every
    drill's report computes them, its points and its path), shown beside the debrief's.
    """
    info = session.info()
    cause = session.log.unseal()
    fault = make_fault(cause.kind, dict(cause.params))
    events = session.log.events()
    result = debrief(
        events,
        cause,
        time_scale=info.time_scale,
        severity_measured=severity_measured,
        helps=fault.resolved_by,
        harms=fault.harms,
        scoring=plan.training.scoring,
    )
    data = dataclasses.asdict(result)
    data["session"] = info.id
    data["environment"] = info.env_name
    data["end_reason"] = info.end_reason
    data["automatic"] = automatic_times(cause.experiment, cause.cause, plan.name)
    data["people"] = sorted({e.who for e in events if e.who})
    data["per_person"] = _per_person(data)
    data["run_dir"] = info.run_dir
    data["drill_report"] = drill_report
    return data


def _per_person(data: dict[str, Any]) -> dict[str, Any]:
    """What each person did: their roles and their actions by effect (the team's split)."""
    out: dict[str, dict[str, Any]] = {}
    for role, name in (data.get("roles") or {}).items():
        out.setdefault(name, {"roles": [], "helped": 0, "harmed": 0, "neutral": 0})
        out[name]["roles"].append(role)
    for a in data.get("actions") or []:
        person = out.setdefault(a["who"], {"roles": [], "helped": 0, "harmed": 0, "neutral": 0})
        person[a["effect"]] += 1
    return out


def write_debrief(data: dict[str, Any], folder: Path) -> None:
    """``debrief.json`` and ``debrief.md`` in ``folder``."""
    write_atomic(folder / DEBRIEF_FILE, json.dumps(data, indent=2, default=str), mode=0o600)
    write_atomic(folder / "debrief.md", render_debrief(data, markdown=True), mode=0o600)


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.0f} s"


PHASE_NAMES = {
    "mttd": "MTTD (fault to page)",
    "mtta": "MTTA (page to ack)",
    "diagnosis": "first correct diagnosis",
    "time_to_mitigate": "time to mitigate",
    "mttr": "MTTR (fault to recovered)",
}


def render_debrief(data: dict[str, Any], *, markdown: bool = False) -> str:
    """The debrief as text (Markdown tables when ``markdown``)."""
    c = data["cause"]
    auto = data.get("automatic") or {}
    lines = [
        f"# Debrief of training session {data.get('session')}" if markdown else "DEBRIEF",
        "",
        f"Cause: {c['title']} (experiment {c['experiment']}, fault {c['kind']}, "
        f"scenario {c['scenario']})",
        f"Ended: {data.get('end_reason')}; time scale {data['time_scale']:g} "
        "(times below are production-equivalent)",
        f"Score: {data['points']:.1f} / 100 ({data['grade']})",
        "",
        "| phase | trainee | target | points | automatic responder |",
        "|---|---|---|---|---|",
    ]
    for p in data["phases"]:
        auto_s = auto.get(f"{p['name']}_s") if p["name"] in ("mttd", "mttr") else None
        lines.append(
            f"| {PHASE_NAMES.get(p['name'], p['name'])} | {_s(p['production_s'])} | "
            f"{_s(p['target_s'])} | {p['points']:.1f} / {p['weight']:g} | {_s(auto_s)} |"
        )
    if auto:
        lines.append(f"(automatic responder: run {auto['run_id']}, {auto.get('grade')})")
    else:
        lines.append(
            f"(no automatic run of {c['experiment']} on record: `chaosdrill run "
            f"{c['path'] or c['experiment']}` makes one)"
        )
    report = data.get("drill_report") or {}
    if report:
        lines.append(
            f"(the session's drill report, which scales only the monitoring's time: MTTD "
            f"{_s(report.get('mttd_s'))}, MTTR {_s(report.get('mttr_s'))}; {report.get('report')})"
        )
    comms = data["comms"]
    lines += [
        "",
        f"Severity: declared {data['severity_declared'] or '-'}, measured "
        f"{data['severity_measured'] or '-'} ({data['severity_points']:.1f} points)",
        f"Communication ({data['comms_points']:.1f} points): {comms['updates']} update(s); "
        f"initial {_s(comms['initial_s'])} after the page (within 5 min: "
        f"{'yes' if comms['initial_within_target'] else 'no'}); longest silence "
        f"{_s(comms['longest_silence_s'])} (at most 15 min: "
        f"{'yes' if comms['cadence_kept'] else 'no'}); resolution notice "
        f"{'sent' if comms['resolution_sent'] else 'not sent'}; template fields "
        f"{comms['template_completeness']:.0%}",
        f"Roles ({data['roles_points']:.1f} points):",
    ]
    for role, check in (data.get("role_checks") or {}).items():
        person = data["roles"].get(role, "not filled")
        items = ", ".join(
            f"{k} {'yes' if v == 1 else 'no' if v == 0 else f'{v:.0%}'}"
            for k, v in check["checks"].items()
        )
        lines.append(f"- {role}: {person}; {items}; {check['score']:.0%} of its share")
    lines.append(f"Actions ({data['actions_points']:.1f} points):")
    for a in data["actions"]:
        lines.append(
            f"- +{_s(a['t_s'] * data['time_scale'])} {a['who']}: {a['op']} "
            f"{a['args']} -> {a['effect']}"
        )
    lines.append(f"Diagnoses: {len(data['diagnoses'])}")
    for t, said, right in data["diagnoses"]:
        lines.append(f"- +{_s(t * data['time_scale'])} {said}: {'right' if right else 'wrong'}")
    lines.append(f"Hints: {len(data['hints'])} (cost {data['hint_cost']:.1f} points)")
    for t, level, cost in data["hints"]:
        lines.append(f"- +{_s(t * data['time_scale'])} level {level}: -{cost:g}")
    if data.get("per_person"):
        lines.append("People:")
        for name, p in data["per_person"].items():
            lines.append(
                f"- {name}: roles {', '.join(p['roles']) or '-'}; actions helped "
                f"{p['helped']}, harmed {p['harmed']}, neutral {p['neutral']}"
            )
    for note in data.get("notes") or ():
        lines.append(f"Note: {note}")
    if data.get("run_dir"):
        lines.append(f"Reports: {data['run_dir']}")
    return "\n".join(lines) + "\n"
