"""The drill result, typed: what ``chaosdrill run`` writes and the scorer and reports read.

``DrillResult`` is result format version 1 as dataclasses. ``to_json`` writes exactly the
version-1 JSON (same keys, same values), and ``from_json`` reads it back, so
``DrillResult.from_json(x).to_json() == x`` for every file a drill writes. A result cut short
(an interrupted drill, or ``result_from_journal``) reads too: the measurement parts, the
series, the load, the environment and the write time it lacks stay None and are left out
again. Normalisation of such partial files, the only one: a missing ``targets`` hold time,
``production_equivalent`` figure, ``verdict`` part, list or flag is written with its default
(null, empty, false), and keys this format does not know are dropped.

Times are drill seconds on the monotonic clock; production-equivalents come from the
timeline split into scaled and program time (``timing``; results without one: drill
seconds x the time scale). The journal stays Chaos Toolkit's dict: it is Chaos Toolkit's format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.drill.measurements import Measurements
from chaosdrill.drill.timing import Timing
from chaosdrill.errors import InvalidInputError
from chaosdrill.load.sli import SliPoint

__all__ = [
    "RESULT_VERSION",
    "Chart",
    "ChartLine",
    "DrillResult",
    "Environment",
    "LoadSli",
    "ProductionEquivalent",
    "ProductionTargets",
    "Series",
    "Targets",
    "TimelineEvent",
    "Verdict",
]

RESULT_VERSION = 1


@dataclass(frozen=True)
class Environment:
    """Where the drill ran, and the target it ran against ("" in results of before)."""

    backend: str
    name: str
    target: str = ""


@dataclass(frozen=True)
class ProductionTargets:
    """The production MTTD, MTTR and hold targets (seconds)."""

    mttd_s: float
    mttr_s: float
    hold_s: float | None


@dataclass(frozen=True)
class Targets:
    """The targets in drill seconds, and the production ones they were scaled from."""

    mttd_s: float | None
    mttr_s: float | None
    hold_s: float | None
    production: ProductionTargets

    def to_json(self) -> dict[str, Any]:
        """JSON form (``targets``)."""
        p = self.production
        return {
            "mttd_s": self.mttd_s,
            "mttr_s": self.mttr_s,
            "hold_s": self.hold_s,
            "production": {"mttd_s": p.mttd_s, "mttr_s": p.mttr_s, "hold_s": p.hold_s},
        }

    @classmethod
    def from_json(cls, o: JsonObject) -> Targets:
        """Read ``targets`` (the production MTTD and MTTR targets are required)."""
        p = o.child("production")
        return cls(
            o.opt_number("mttd_s"),
            o.opt_number("mttr_s"),
            o.opt_number("hold_s"),
            ProductionTargets(p.number("mttd_s"), p.number("mttr_s"), p.opt_number("hold_s")),
        )


@dataclass(frozen=True)
class ProductionEquivalent:
    """The drill's times in production-equivalent seconds (None: not reached)."""

    mttd_s: float | None = None
    mttr_s: float | None = None
    time_to_mitigate_s: float | None = None
    time_to_first_impact_s: float | None = None

    @classmethod
    def from_json(cls, o: JsonObject) -> ProductionEquivalent:
        """Read ``production_equivalent``."""
        return cls(
            o.opt_number("mttd_s"),
            o.opt_number("mttr_s"),
            o.opt_number("time_to_mitigate_s"),
            o.opt_number("time_to_first_impact_s"),
        )


@dataclass(frozen=True)
class Verdict:
    """The drill's own pass/fail: its checks (name -> passed) and the reasons it failed."""

    passed: bool
    checks: dict[str, bool]
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form (``verdict``)."""
        return {"passed": self.passed, "checks": dict(self.checks), "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, o: JsonObject) -> Verdict:
        """Read ``verdict``."""
        checks = o.free("checks", {})
        if not all(isinstance(v, bool) for v in checks.values()):
            raise o.fail("checks", f"expected check name -> true or false, got {checks!r}")
        return cls(o.flag("passed", False), checks, o.texts("reasons", []))


@dataclass(frozen=True)
class TimelineEvent:
    """One timeline event: monotonic ``t``, wall-clock label, offset from the origin."""

    name: str
    t: float
    wall: str | None
    detail: dict[str, Any]
    offset_s: float | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (an item of ``timeline``)."""
        out: dict[str, Any] = {"name": self.name, "t": self.t, "wall": self.wall}
        out["detail"] = dict(self.detail)
        if self.offset_s is not None:
            out["offset_s"] = self.offset_s
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> TimelineEvent:
        """Read one event (its detail is free-form: each event has its own)."""
        return cls(
            o.text("name"),
            o.number("t"),
            o.opt_text("wall"),
            o.free("detail", {}),
            o.opt_number("offset_s"),
        )


@dataclass(frozen=True)
class LoadSli:
    """The load run and its users' SLIs, one point per second over every flow."""

    run_id: str | None
    sli: tuple[SliPoint, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form (``load``)."""
        return {"run_id": self.run_id, "sli": [dict(p.__dict__) for p in self.sli]}

    @classmethod
    def from_json(cls, o: JsonObject) -> LoadSli:
        """Read ``load``."""
        return cls(
            o.opt_text("run_id"),
            tuple(
                SliPoint(
                    second=p.integer("second"),
                    wall=p.number("wall", 0.0),
                    flow=p.text("flow", "all"),
                    requests=p.integer("requests"),
                    failures=p.integer("failures"),
                    p50_ms=p.number("p50_ms", 0.0),
                    p95_ms=p.number("p95_ms"),
                    p99_ms=p.number("p99_ms", 0.0),
                )
                for p in o.children("sli", [])
            ),
        )


@dataclass(frozen=True)
class ChartLine:
    """One line of a chart: its label and (t, value) points (t relative to the fault)."""

    label: str
    points: tuple[tuple[float, float | None], ...]


@dataclass(frozen=True)
class Chart:
    """One Prometheus query over the drill, for the report's charts."""

    name: str
    unit: str
    query: str | None
    lines: tuple[ChartLine, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form (``series[name]``)."""
        out: dict[str, Any] = {"unit": self.unit}
        if self.query is not None:
            out["query"] = self.query
        out["series"] = [
            {"label": ln.label, "points": [list(p) for p in ln.points]} for ln in self.lines
        ]
        return out

    @classmethod
    def from_json(cls, name: str, o: JsonObject) -> Chart:
        """Read ``series[name]``."""
        lines = []
        for ln in o.children("series", []):
            points = []
            for p in ln.array("points", []):
                ok = isinstance(p, list) and len(p) == 2
                if not ok or not all(v is None or isinstance(v, int | float) for v in p):
                    raise ln.fail("points", f"expected [t, value] pairs, got {p!r}")
                points.append((p[0], p[1]))
            lines.append(ChartLine(ln.text("label", ""), tuple(points)))
        return cls(name, o.text("unit", ""), o.opt_text("query"), tuple(lines))


@dataclass(frozen=True)
class Series:
    """Prometheus' series over the drill, and the queries that could not be read."""

    charts: tuple[Chart, ...]
    errors: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form (``series``)."""
        return {"errors": list(self.errors), **{c.name: c.to_json() for c in self.charts}}

    @classmethod
    def from_json(cls, o: JsonObject) -> Series:
        """Read ``series``."""
        charts = tuple(
            Chart.from_json(name, JsonObject.of(v, o.source, o.at(name)))
            for name, v in o.data.items()
            if name != "errors"
        )
        return cls(charts, o.texts("errors", []))


@dataclass(frozen=True)
class DrillResult:
    """One drill's result (format version 1): what was asked, measured and concluded.

    Attributes:
        experiment: the experiment file the drill ran.
        title, scenario, cause: the experiment's title, scenario and cause ids.
        environment: where it ran (None: not recorded).
        written_at: when the result was written (ISO 8601; None: not recorded).
        time_scale: production seconds per drill second.
        targets: MTTD, MTTR and hold targets.
        mttd_s, mttr_s: measured MTTD and MTTR in drill seconds (None: not reached).
        production_equivalent: the measured times in production seconds.
        verdict: the drill's own checks.
        failures: what went wrong, phase by phase.
        complete: the drill got as far as reverting its fault.
        measurements: what each phase measured.
        timeline: every event, in order.
        load: the users' SLIs (None: not recorded).
        series: Prometheus' series (None: not captured).
        journal: Chaos Toolkit's journal (its own format), if there was one.
        timing: how the times were measured, split into scaled and program time, with the
            detection floor (chaosdrill.drill.timing); None in results written before it
            existed, whose production-equivalents are drill seconds x the time scale.
    """

    experiment: str
    title: str
    scenario: str
    cause: str
    environment: Environment | None
    written_at: str | None
    time_scale: float
    targets: Targets
    mttd_s: float | None
    mttr_s: float | None
    production_equivalent: ProductionEquivalent
    verdict: Verdict
    failures: tuple[str, ...]
    complete: bool
    measurements: Measurements
    timeline: tuple[TimelineEvent, ...]
    load: LoadSli | None
    series: Series | None
    journal: dict[str, Any] | None
    timing: Timing | None = None

    @property
    def old_timing(self) -> bool:
        """Its production-equivalents were computed the old way (drill seconds x K)."""
        return self.timing is None

    def event(self, name: str) -> TimelineEvent | None:
        """The first timeline event ``name``, if any."""
        return next((e for e in self.timeline if e.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """The version-1 JSON of this result."""
        out: dict[str, Any] = {
            "chaosdrill_result_version": RESULT_VERSION,
            "experiment": self.experiment,
            "title": self.title,
            "scenario": self.scenario,
            "cause": self.cause,
        }
        if self.environment is not None:
            env = self.environment
            out["environment"] = {"backend": env.backend, "name": env.name}
            if env.target:
                out["environment"]["target"] = env.target
        if self.written_at is not None:
            out["written_at"] = self.written_at
        pe = self.production_equivalent
        out |= {
            "time_scale": self.time_scale,
            "targets": self.targets.to_json(),
            "mttd_s": self.mttd_s,
            "mttr_s": self.mttr_s,
            "production_equivalent": {
                "mttd_s": pe.mttd_s,
                "mttr_s": pe.mttr_s,
                "time_to_mitigate_s": pe.time_to_mitigate_s,
                "time_to_first_impact_s": pe.time_to_first_impact_s,
            },
            "verdict": self.verdict.to_json(),
            "failures": list(self.failures),
            "complete": self.complete,
            "measurements": self.measurements.to_json(),
            "timeline": [e.to_json() for e in self.timeline],
        }
        if self.load is not None:
            out["load"] = self.load.to_json()
        if self.series is not None:
            out["series"] = self.series.to_json()
        out["journal"] = self.journal
        if self.timing is not None:
            out["timing"] = self.timing.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> DrillResult:
        """Read a result of format version 1 (or a partial one, see the module docstring).

        Raises:
            InvalidInputError: not a version-1 result, or a field of the wrong type; the
                error names ``source`` and the dotted field.
        """
        o = JsonObject.of(data, source)
        version = o.data.get("chaosdrill_result_version")
        if isinstance(version, bool) or not isinstance(version, int) or version > RESULT_VERSION:
            raise InvalidInputError(
                f"expected a drill result of version {RESULT_VERSION} or lower, got {version!r}",
                source=source,
                field="chaosdrill_result_version",
            )
        env = o.opt_child("environment")
        pe, verdict, m, load, series = (
            o.opt_child(k)
            for k in ("production_equivalent", "verdict", "measurements", "load", "series")
        )
        journal = o.data.get("journal")
        if journal is not None and not isinstance(journal, dict):
            raise o.fail(
                "journal", f"expected a Chaos Toolkit journal (an object) or null, got {journal!r}"
            )
        return cls(
            experiment=o.text("experiment"),
            title=o.text("title", ""),
            scenario=o.text("scenario", ""),
            cause=o.text("cause", ""),
            environment=None
            if env is None
            else Environment(env.text("backend", ""), env.text("name", ""), env.text("target", "")),
            written_at=o.opt_text("written_at"),
            time_scale=o.number("time_scale", 1.0),
            targets=Targets.from_json(o.child("targets")),
            mttd_s=o.opt_number("mttd_s"),
            mttr_s=o.opt_number("mttr_s"),
            production_equivalent=ProductionEquivalent()
            if pe is None
            else ProductionEquivalent.from_json(pe),
            verdict=Verdict(False, {}, ()) if verdict is None else Verdict.from_json(verdict),
            failures=o.texts("failures", []),
            complete=o.flag("complete", False),
            measurements=Measurements() if m is None else Measurements.from_json(m),
            timeline=tuple(TimelineEvent.from_json(e) for e in o.children("timeline", [])),
            load=None if load is None else LoadSli.from_json(load),
            series=None if series is None else Series.from_json(series),
            journal=journal,
            timing=None if (tm := o.opt_child("timing")) is None else Timing.from_json(tm),
        )
