"""What a drill's phases measured, typed: steady state, detection, runbooks, recovery, checks.

The phases (drill/phases.py) fill one ``Measurements`` as the drill goes; a part is None
until its phase has run, so an interrupted drill's result says which phases never ran. Each
part reads and writes the ``measurements`` object of result format version 1 with exactly
its keys (``to_json``/``from_json``), so result files written before these types existed
read back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject

__all__ = [
    "RECOVERY_KINDS",
    "AlertsAtEnd",
    "Check",
    "Detection",
    "Integrity",
    "Measurements",
    "OperationWaitRun",
    "Recovery",
    "Revert",
    "RunbookRun",
    "RunbookStepRun",
    "SteadyState",
]


@dataclass(frozen=True)
class SteadyState:
    """Whether the SLOs held for a window before the fault, and the last figures."""

    met: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements.steady_state``)."""
        return {"met": self.met, "detail": self.detail}

    @classmethod
    def from_json(cls, o: JsonObject) -> SteadyState:
        """Read ``measurements.steady_state``."""
        return cls(met=o.flag("met"), detail=o.text("detail", ""))


@dataclass(frozen=True)
class Detection:
    """The page: whether the expected alert paged, after how long, and Prometheus' view.

    ``webhook_starts_at`` is Alertmanager's start of the page; it exists (and is written)
    only when the alert paged.
    """

    alert: str
    paged: bool
    mttd_s: float | None
    prometheus_active_at: str | None
    webhook_starts_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements.detection``)."""
        out: dict[str, Any] = {
            "alert": self.alert,
            "paged": self.paged,
            "mttd_s": self.mttd_s,
            "prometheus_active_at": self.prometheus_active_at,
        }
        if self.paged:
            out["webhook_starts_at"] = self.webhook_starts_at
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> Detection:
        """Read ``measurements.detection``."""
        return cls(
            alert=o.text("alert", ""),
            paged=o.flag("paged"),
            mttd_s=o.opt_number("mttd_s"),
            prometheus_active_at=o.opt_text("prometheus_active_at"),
            webhook_starts_at=o.opt_text("webhook_starts_at"),
        )


@dataclass(frozen=True)
class RunbookStepRun:
    """One runbook step as the drill ran it."""

    name: str
    ok: bool
    duration_s: float | None
    output: str | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (an item of ``measurements.runbooks[].steps``)."""
        return {
            "name": self.name,
            "ok": self.ok,
            "duration_s": self.duration_s,
            "output": self.output,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> RunbookStepRun:
        """Read one step."""
        return cls(
            name=o.text("name"),
            ok=o.flag("ok"),
            duration_s=o.opt_number("duration_s"),
            output=o.opt_text("output"),
            error=o.opt_text("error"),
        )


@dataclass(frozen=True)
class OperationWaitRun:
    """The wait for a step's operation that outlived the step's timeout.

    ``finished`` False: the operation was still running when the grace ran out, so the
    environment was not settled when the runbook returned.
    """

    step: str
    operation: str
    waited_s: float
    grace_s: float
    finished: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The operation finished within the grace and succeeded."""
        return self.finished and self.error is None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements.runbooks[].operation_wait``)."""
        return {
            "step": self.step,
            "operation": self.operation,
            "waited_s": self.waited_s,
            "grace_s": self.grace_s,
            "finished": self.finished,
            "ok": self.ok,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> OperationWaitRun:
        """Read one wait."""
        return cls(
            step=o.text("step"),
            operation=o.text("operation"),
            waited_s=o.number("waited_s"),
            grace_s=o.number("grace_s"),
            finished=o.flag("finished"),
            error=o.opt_text("error"),
        )


@dataclass(frozen=True)
class RunbookRun:
    """One runbook run: ok when every step that had to run ran and succeeded.

    ``operation_wait``: the wait for an operation that outlived its step (None: none did;
    results written before it existed have none). ``file`` and ``source``: the runbook file
    the name resolved to, ``workspace`` or ``built-in`` (None in older results).
    """

    name: str
    ok: bool
    steps: tuple[RunbookStepRun, ...]
    operation_wait: OperationWaitRun | None = None
    file: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (an item of ``measurements.runbooks``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "ok": self.ok,
            "steps": [s.to_json() for s in self.steps],
        }
        if self.operation_wait is not None:
            out["operation_wait"] = self.operation_wait.to_json()
        if self.file is not None:
            out["file"], out["source"] = self.file, self.source
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> RunbookRun:
        """Read one runbook run."""
        wait = o.opt_child("operation_wait")
        return cls(
            name=o.text("name"),
            ok=o.flag("ok"),
            steps=tuple(RunbookStepRun.from_json(s) for s in o.children("steps", [])),
            operation_wait=OperationWaitRun.from_json(wait) if wait is not None else None,
            file=o.opt_text("file"),
            source=o.opt_text("source"),
        )


#: how the users saw the recovery (``Recovery.kind``)
RECOVERY_KINDS = ("restored", "held", "before_response")


@dataclass(frozen=True)
class Recovery:
    """Whether steady state returned and held, MTTR and time to mitigate (drill seconds).

    Recovery counts only once the response has begun and the fault is no longer in effect.
    ``kind``: ``restored`` (users saw the fault; their SLOs were met again once it was gone),
    ``held`` (the SLOs held through the fault: MTTR is the time until the response removed
    it) or ``before_response`` (the users' SLOs were met again before the response began:
    the runbook was not what restored health); None in results written before it existed
    and when the drill did not recover. ``users_recovered_s``: when the users' SLOs were met
    again, whatever the fault's state (None: never broken, or not again).
    ``fault_cleared_s``: the first look that found every fault of the drill gone.
    """

    recovered: bool
    mttr_s: float | None
    time_to_mitigate_s: float | None
    resolved_page: bool
    hold_s: float
    kind: str | None = None
    users_recovered_s: float | None = None
    fault_cleared_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements.recovery``)."""
        out: dict[str, Any] = {
            "recovered": self.recovered,
            "mttr_s": self.mttr_s,
            "time_to_mitigate_s": self.time_to_mitigate_s,
            "resolved_page": self.resolved_page,
            "hold_s": self.hold_s,
        }
        for key in ("kind", "users_recovered_s", "fault_cleared_s"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> Recovery:
        """Read ``measurements.recovery``."""
        kind = o.opt_text("kind")
        if kind is not None and kind not in RECOVERY_KINDS:
            raise o.fail("kind", f"expected one of {', '.join(RECOVERY_KINDS)}, got {kind!r}")
        return cls(
            recovered=o.flag("recovered"),
            mttr_s=o.opt_number("mttr_s"),
            time_to_mitigate_s=o.opt_number("time_to_mitigate_s"),
            resolved_page=o.flag("resolved_page", False),
            hold_s=o.number("hold_s", 0.0),
            kind=kind,
            users_recovered_s=o.opt_number("users_recovered_s"),
            fault_cleared_s=o.opt_number("fault_cleared_s"),
        )


@dataclass(frozen=True)
class Check:
    """One verification check: its name, whether it passed, why, and its own figures.

    ``lost`` and ``rpo_s`` belong to the data-integrity check (written whenever ``lost`` is
    set); ``growth_bytes`` (RSS growth per replica) to the memory check.
    """

    name: str
    ok: bool
    detail: str
    lost: int | None = None
    rpo_s: float | None = None
    growth_bytes: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (the value of ``measurements.verification[name]``)."""
        out: dict[str, Any] = {"ok": self.ok, "detail": self.detail}
        if self.lost is not None:
            out["lost"] = self.lost
            out["rpo_s"] = self.rpo_s
        if self.growth_bytes is not None:
            out["growth_bytes"] = dict(self.growth_bytes)
        return out

    @classmethod
    def from_json(cls, name: str, o: JsonObject) -> Check:
        """Read ``measurements.verification[name]``."""
        growth = None
        if o.has("growth_bytes"):
            raw = o.free("growth_bytes")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in raw.values()):
                raise o.fail("growth_bytes", f"expected bytes per replica, got {raw!r}")
            growth = raw
        return cls(
            name=name,
            ok=o.flag("ok"),
            detail=str(o.data.get("detail", "")),
            lost=o.opt_integer("lost"),
            rpo_s=o.opt_number("rpo_s"),
            growth_bytes=growth,
        )


@dataclass(frozen=True)
class Integrity:
    """The data-integrity check of every enrollment write the load made (probes/integrity)."""

    attempts: int
    ok: int
    failed: int
    indeterminate: int
    lost: tuple[str, ...]
    recovered: int
    unexpected: tuple[str, ...]
    duplicates: tuple[str, ...]
    rpo_s: float | None
    wal_gap_bytes: int | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements.integrity``)."""
        return {
            "attempts": self.attempts,
            "ok": self.ok,
            "failed": self.failed,
            "indeterminate": self.indeterminate,
            "lost": list(self.lost),
            "recovered": self.recovered,
            "unexpected": list(self.unexpected),
            "duplicates": list(self.duplicates),
            "rpo_s": self.rpo_s,
            "wal_gap_bytes": self.wal_gap_bytes,
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> Integrity:
        """Read ``measurements.integrity``."""
        return cls(
            attempts=o.integer("attempts", 0),
            ok=o.integer("ok", 0),
            failed=o.integer("failed", 0),
            indeterminate=o.integer("indeterminate", 0),
            lost=o.texts("lost", []),
            recovered=o.integer("recovered", 0),
            unexpected=o.texts("unexpected", []),
            duplicates=o.texts("duplicates", []),
            rpo_s=o.opt_number("rpo_s"),
            wal_gap_bytes=o.opt_integer("wal_gap_bytes"),
        )


@dataclass(frozen=True)
class Revert:
    """The revert of the drill's faults: what was reverted, what is still active."""

    reverted: tuple[str, ...]
    still_active: tuple[str, ...]
    ok: bool

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements.revert``)."""
        return {
            "reverted": list(self.reverted),
            "still_active": list(self.still_active),
            "ok": self.ok,
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> Revert:
        """Read ``measurements.revert``."""
        return cls(
            reverted=o.texts("reverted", []),
            still_active=o.texts("still_active", []),
            ok=o.flag("ok"),
        )


@dataclass(frozen=True)
class AlertsAtEnd:
    """The alerts still firing when the drill ended; ``firing`` None: Prometheus not asked."""

    firing: tuple[str, ...] | None


@dataclass
class Measurements:
    """Everything the phases measured; a part is None until its phase has run.

    Mutable because the phases fill it in turn; every part is immutable, so a copy
    (``dataclasses.replace``) is a snapshot.
    """

    steady_state: SteadyState | None = None
    detection: Detection | None = None
    runbooks: tuple[RunbookRun, ...] | None = None
    recovery: Recovery | None = None
    integrity: Integrity | None = None
    verification: tuple[Check, ...] | None = None
    revert: Revert | None = None
    alerts_at_end: AlertsAtEnd | None = field(default=None)

    def add_runbook(self, run: RunbookRun) -> None:
        """Record one more runbook run."""
        self.runbooks = (*(self.runbooks or ()), run)

    def check(self, name: str) -> Check | None:
        """The verification check ``name``, if it ran."""
        return next((c for c in self.verification or () if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """JSON form (``measurements``): only the parts that were measured."""
        out: dict[str, Any] = {}
        if self.steady_state is not None:
            out["steady_state"] = self.steady_state.to_json()
        if self.detection is not None:
            out["detection"] = self.detection.to_json()
        if self.runbooks is not None:
            out["runbooks"] = [r.to_json() for r in self.runbooks]
        if self.recovery is not None:
            out["recovery"] = self.recovery.to_json()
        if self.integrity is not None:
            out["integrity"] = self.integrity.to_json()
        if self.verification is not None:
            out["verification"] = {c.name: c.to_json() for c in self.verification}
        if self.revert is not None:
            out["revert"] = self.revert.to_json()
        if self.alerts_at_end is not None:
            firing = self.alerts_at_end.firing
            out["alerts_at_end"] = None if firing is None else list(firing)
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> Measurements:
        """Read ``measurements`` (absent parts stay None)."""
        m = cls()
        if (part := o.opt_child("steady_state")) is not None:
            m.steady_state = SteadyState.from_json(part)
        if (part := o.opt_child("detection")) is not None:
            m.detection = Detection.from_json(part)
        if o.has("runbooks"):
            m.runbooks = tuple(RunbookRun.from_json(r) for r in o.children("runbooks", []))
        if (part := o.opt_child("recovery")) is not None:
            m.recovery = Recovery.from_json(part)
        if (part := o.opt_child("integrity")) is not None:
            m.integrity = Integrity.from_json(part)
        if (part := o.opt_child("verification")) is not None:
            m.verification = tuple(Check.from_json(name, check) for name, check in part.members())
        if (part := o.opt_child("revert")) is not None:
            m.revert = Revert.from_json(part)
        if o.has("alerts_at_end"):
            firing = None if o.data["alerts_at_end"] is None else o.texts("alerts_at_end")
            m.alerts_at_end = AlertsAtEnd(firing)
        return m
