"""A training session's debrief: measured times, severity, comms, roles, actions, hints, score.

Everything is computed from the session's event log (:mod:`chaosdrill.training.log`): the
runner's ground truth (``injected``, ``paged``, ``mitigated``, ``recovered``) and what the
trainees recorded. Times are drill seconds from the injection, and production-equivalent
seconds (drill seconds x the time scale: a session at K > 1 compresses the person's time
as much as the monitoring's, so training is meant to run at K = 1 or close to it).

The score is out of 100, in parts whose weights a plan may change (:class:`TrainingScoring`):

- response: MTTA (page to acknowledgement) against the seed's 5 minutes;
- diagnosis: the first correct ``incident diagnose`` against its target;
- recovery: MTTR against the seed's 30 minutes (none without recovery);
- severity: the declared level against the one the measured impact gives (one level off
  earns half);
- communication: an initial notification within 5 minutes of the page, an update at
  least every 15 minutes until resolved, a resolution notice, each message with the
  template's fields;
- roles: Incident Commander, Technical Lead, Communications Lead and Scribe, each half for
  being filled and half for its checklist (:func:`role_checks`);
- actions: full points for having resolved the cause with no harmful action; each
  harmful action takes points away.

Hints then cost points (graded: the later the hint, the more it gives away).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaosdrill.faults.base import ActionRule
from chaosdrill.scoring.score import grade_for
from chaosdrill.training.log import Event, SealedCause

__all__ = [
    "ROLES",
    "TEMPLATE_FIELDS",
    "ActionRule",
    "Debrief",
    "Phase",
    "TrainingScoring",
    "classify_action",
    "debrief",
]

#: The seed's roles, as ``incident role`` takes them.
ROLES = ("incident_commander", "technical_lead", "communications_lead", "scribe")

#: The fields of the seed's notification template that an update carries.
TEMPLATE_FIELDS = ("severity", "status", "affected", "impact", "started", "actions", "eta")
STATUSES = ("investigating", "mitigating", "resolved")
LEVEL_ORDER = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class TrainingScoring:
    """The training score model (production seconds; points out of 100)."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "response": 15.0,
            "diagnosis": 20.0,
            "recovery": 25.0,
            "severity": 10.0,
            "communication": 15.0,
            "roles": 10.0,
            "actions": 5.0,
        }
    )
    mtta_s: float = 300.0
    diagnosis_s: float = 900.0
    mttr_s: float = 1800.0
    initial_update_s: float = 300.0
    update_every_s: float = 900.0
    hint_costs: tuple[float, ...] = (5.0, 10.0, 15.0)
    harmful_action_points: float = 10.0


@dataclass(frozen=True)
class Phase:
    """One measured phase: drill and production seconds from the injection, and its target."""

    name: str
    drill_s: float | None
    production_s: float | None
    target_s: float | None
    points: float
    weight: float

    @property
    def within_target(self) -> bool | None:
        """Whether it met its target (None: not reached, or no target)."""
        if self.production_s is None or self.target_s is None:
            return None
        return self.production_s <= self.target_s


@dataclass(frozen=True)
class ClassifiedAction:
    """A trainee's operation and what it did for the incident."""

    t_s: float
    who: str
    op: str
    args: str
    effect: str  # "helped", "harmed" or "neutral"


@dataclass(frozen=True)
class Debrief:
    """The whole debrief of one session."""

    cause: SealedCause
    time_scale: float
    phases: tuple[Phase, ...]
    severity_declared: str | None
    severity_measured: str | None
    severity_points: float
    comms: Mapping[str, Any]
    comms_points: float
    roles: Mapping[str, str]
    roles_points: float
    #: each role: filled, its checklist, its score (0..1)
    role_checks: Mapping[str, Mapping[str, Any]]
    actions: tuple[ClassifiedAction, ...]
    actions_points: float
    diagnoses: tuple[tuple[float, str, bool], ...]
    hints: tuple[tuple[float, int, float], ...]
    hint_cost: float
    points: float
    grade: str
    notes: tuple[str, ...] = ()

    def phase(self, name: str) -> Phase:
        """The phase called ``name``."""
        return next(p for p in self.phases if p.name == name)


def _timed(weight: float, measured: float | None, target: float) -> float:
    """Full points at or under target, falling linearly to zero at twice the target."""
    if measured is None:
        return 0.0
    if measured <= target:
        return weight
    return round(weight * max(0.0, (2 * target - measured) / target), 2)


def classify_action(
    op: str, args: str, helps: Sequence[ActionRule], harms: Sequence[ActionRule]
) -> str:
    """``harmed`` if a harm rule applies, else ``helped`` if a help rule does, else ``neutral``."""
    if any(r.applies(op, args) for r in harms):
        return "harmed"
    if any(r.applies(op, args) for r in helps):
        return "helped"
    return "neutral"


def _is(diagnosis: Event, cause: SealedCause) -> bool:
    """Whether a diagnosis names the sealed cause (its experiment id or its fault kind)."""
    said = str(diagnosis.detail.get("cause", "")).strip().lower()
    return said in {cause.experiment.lower(), cause.kind.lower()}


def _first(events: Sequence[Event], kind: str, **match: Any) -> Event | None:
    for e in events:
        if e.kind == kind and all(e.detail.get(k) == v for k, v in match.items()):
            return e
    return None


def _comms(
    events: Sequence[Event], t_page: float | None, t_end: float, k: float, s: TrainingScoring
) -> tuple[dict[str, Any], float]:
    """The communication check and its share (0..1) of the part's points."""
    updates = [e for e in events if e.kind == "update"]
    times = [e.t for e in updates]
    initial = updates[0] if updates else None
    initial_s = None if initial is None or t_page is None else (initial.t - t_page) * k
    resolved = next((e for e in updates if e.detail.get("status") == "resolved"), None)
    # the longest silence between the first update and the resolution (or the end)
    until = resolved.t if resolved is not None else t_end
    marks = [t for t in times if t <= until] + [until]
    gaps = [(b - a) * k for a, b in itertools.pairwise(marks)]
    longest = max(gaps, default=None) if initial is not None else None
    fields = [
        sum(1 for f in TEMPLATE_FIELDS if str(e.detail.get("fields", {}).get(f, "")).strip())
        for e in updates
    ]
    completeness = (sum(fields) / (len(fields) * len(TEMPLATE_FIELDS))) if fields else 0.0
    checks = {
        "initial_within_target": initial_s is not None and initial_s <= s.initial_update_s,
        "cadence_kept": longest is not None and longest <= s.update_every_s,
        "resolution_sent": resolved is not None,
    }
    share = (sum(checks.values()) / len(checks)) * (0.5 + 0.5 * completeness)
    return {
        "updates": len(updates),
        "initial_s": None if initial_s is None else round(initial_s, 3),
        "longest_silence_s": None if longest is None else round(longest, 3),
        "template_completeness": round(completeness, 3),
        **checks,
    }, share


#: how soon after a ground-truth event the scribe's note must come (production seconds)
SCRIBE_WITHIN_S = 300.0


def role_checks(
    events: Sequence[Event],
    roles: Mapping[str, str],
    helps: Sequence[ActionRule],
    harms: Sequence[ActionRule],
    k: float,
) -> dict[str, dict[str, Any]]:
    """Each role's checklist: filled (half its score), and what the role did (the other half).

    - incident commander: announced (an update went out after the IC was named) and tasks
      assigned (the IC named someone to another role);
    - technical lead: worked the problem (ran at least one operation);
    - communications lead: sent an update;
    - scribe: the timeline covers the milestones (the page, the acknowledgement, the right
      diagnosis, the first action that helped, the resolution): the share of them a note
      by the scribe followed within 5 production minutes.
    """
    ic = roles.get("incident_commander")
    named_ic = next(
        (e for e in events if e.kind == "role" and e.detail.get("role") == "incident_commander"),
        None,
    )
    updates = [e for e in events if e.kind == "update"]
    ops = [e for e in events if e.kind == "op"]
    items: dict[str, dict[str, float]] = {
        "incident_commander": {
            "announced": float(named_ic is not None and any(u.t >= named_ic.t for u in updates)),
            "tasks_assigned": float(
                any(
                    e.kind == "role"
                    and e.who == ic
                    and e.detail.get("role") != "incident_commander"
                    for e in events
                )
            ),
        },
        "technical_lead": {
            "worked_the_problem": float(any(e.who == roles.get("technical_lead") for e in ops))
        },
        "communications_lead": {
            "comms_sent": float(any(u.who == roles.get("communications_lead") for u in updates))
        },
    }
    milestones = [
        e
        for e in (
            _first(events, "paged"),
            _first(events, "ack"),
            next(
                (
                    e
                    for e in events
                    if e.kind == "op"
                    and classify_action(
                        str(e.detail.get("op", "")), str(e.detail.get("args", "")), helps, harms
                    )
                    == "helped"
                ),
                None,
            ),
            _first(events, "resolve"),
        )
        if e is not None
    ]
    notes = [e for e in events if e.kind == "note" and e.who == roles.get("scribe")]
    within = SCRIBE_WITHIN_S / k
    covered = sum(1 for m in milestones if any(0 <= n.t - m.t <= within for n in notes))
    items["scribe"] = {"timeline_coverage": covered / len(milestones) if milestones else 0.0}
    out: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        filled = role in roles
        done = items[role]
        share = sum(done.values()) / len(done) if done else 0.0
        out[role] = {
            "filled": filled,
            "checks": {name: round(v, 3) for name, v in done.items()},
            "score": round((0.5 if filled else 0.0) + (0.5 * share if filled else 0.0), 3),
        }
    return out


def debrief(
    events: Sequence[Event],
    cause: SealedCause,
    *,
    time_scale: float,
    severity_measured: str | None,
    helps: Sequence[ActionRule] = (),
    harms: Sequence[ActionRule] = (),
    scoring: TrainingScoring | None = None,
) -> Debrief:
    """The debrief of a session from its events and its sealed cause.

    ``severity_measured`` is the level the drill's measured impact gives (the same
    classification as every drill's report); ``helps`` and ``harms`` are the operations
    the cause's fault declares as resolving it and as known to harm.
    """
    s = scoring or TrainingScoring()
    k = float(time_scale)
    w = s.weights
    injected = _first(events, "injected")
    if injected is None:
        raise ValueError("the session has no injection: nothing to debrief")
    t0 = injected.t
    end = _first(events, "ended")
    t_end = end.t if end is not None else max(e.t for e in events)

    def phase(
        name: str, e: Event | None, target: float | None, weight: float, t_ref: float | None
    ) -> Phase:
        """The phase from ``t_ref`` (None: not reached) to event ``e``."""
        drill = None if e is None or t_ref is None else round(e.t - t_ref, 3)
        production = None if drill is None else round(drill * k, 3)
        points = _timed(weight, production, target) if target is not None else 0.0
        return Phase(name, drill, production, target, points, weight)

    paged = _first(events, "paged")
    ack = _first(events, "ack")
    diagnoses = tuple(
        (round(e.t - t0, 3), str(e.detail.get("cause", "")), _is(e, cause))
        for e in events
        if e.kind == "diagnose"
    )
    right = next((e for e in events if e.kind == "diagnose" and _is(e, cause)), None)
    mitigated = _first(events, "mitigated")
    recovered = _first(events, "recovered")
    phases = (
        phase("mttd", paged, None, 0.0, t0),  # the system's: no points for the trainee
        phase("mtta", ack, s.mtta_s, w["response"], None if paged is None else paged.t),
        phase("diagnosis", right, s.diagnosis_s, w["diagnosis"], t0),
        phase("time_to_mitigate", mitigated, None, 0.0, t0),
        phase("mttr", recovered, s.mttr_s, w["recovery"], t0),
    )
    declared_event = next((e for e in reversed(events) if e.kind == "severity"), None)
    declared = None if declared_event is None else str(declared_event.detail.get("level"))
    if declared in LEVEL_ORDER and severity_measured in LEVEL_ORDER:
        off = abs(LEVEL_ORDER.index(declared) - LEVEL_ORDER.index(severity_measured))
        severity_points = w["severity"] * (1.0 if off == 0 else 0.5 if off == 1 else 0.0)
    else:
        severity_points = 0.0
    comms, share = _comms(events, None if paged is None else paged.t, t_end, k, s)
    roles = {
        str(e.detail.get("role")): str(e.detail.get("name"))
        for e in events
        if e.kind == "role" and e.detail.get("role") in ROLES
    }
    checks = role_checks(events, roles, helps, harms, k)
    roles_points = w["roles"] * sum(c["score"] for c in checks.values()) / len(ROLES)
    actions = tuple(
        ClassifiedAction(
            round(e.t - t0, 3),
            e.who,
            str(e.detail.get("op", "")),
            str(e.detail.get("args", "")),
            classify_action(
                str(e.detail.get("op", "")), str(e.detail.get("args", "")), helps, harms
            ),
        )
        for e in events
        if e.kind == "op"
    )
    harmed = sum(1 for a in actions if a.effect == "harmed")
    helped = any(a.effect == "helped" for a in actions)
    actions_points = (w["actions"] if helped and not harmed else 0.0) - (
        harmed * s.harmful_action_points
    )
    hints = []
    for i, e in enumerate(x for x in events if x.kind == "hint"):
        cost = s.hint_costs[min(i, len(s.hint_costs) - 1)] if s.hint_costs else 0.0
        hints.append((round(e.t - t0, 3), int(e.detail.get("level", i + 1)), cost))
    hint_cost = sum(c for _, _, c in hints)
    total = (
        sum(p.points for p in phases)
        + severity_points
        + w["communication"] * share
        + roles_points
        + actions_points
        - hint_cost
    )
    points = round(max(0.0, min(100.0, total)), 2)
    notes = []
    if recovered is None:
        notes.append("the service did not recover during the session")
    if right is None:
        notes.append(f"the cause was never diagnosed ({len(diagnoses)} diagnoses made)")
    return Debrief(
        cause=cause,
        time_scale=k,
        phases=phases,
        severity_declared=declared,
        severity_measured=severity_measured,
        severity_points=round(severity_points, 2),
        comms=comms,
        comms_points=round(w["communication"] * share, 2),
        roles=roles,
        roles_points=round(roles_points, 2),
        role_checks=checks,
        actions=actions,
        actions_points=round(actions_points, 2),
        diagnoses=diagnoses,
        hints=tuple(hints),
        hint_cost=round(hint_cost, 2),
        points=points,
        grade=grade_for(points),
        notes=tuple(notes),
    )
