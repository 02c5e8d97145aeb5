"""junit.xml: one test case per drill, for CI systems (schema: schemas/junit.xsd).

A drill that did not pass is a ``<failure>`` whose message says which target was missed and
by how much ("MTTD 412 s; target 300 s (112 s over)"); a drill that did not finish is an
``<error>``. MTTD, MTTR, score, grade and severity ride along as properties. Gate checks
(``chaosdrill gate``) add their own failures to the drill they concern, or to a
``plan gates`` test case when they concern the whole plan.

How the times were measured rides along too: each case's ``system-out`` starts with its
method (or that its times were computed the old way, drill seconds x K), MTTD beside the
detection floor, a slow detection, what its MTTR means and where the time went, phase by
phase; the suite's ``system-out`` is the report's "How these times were measured".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from chaosdrill.report.timing_text import (
    HOW_MEASURED,
    floor_line,
    method_line,
    plan_items,
    plan_sources,
    recovery_line,
    slow_detection_line,
)
from chaosdrill.report.timing_types import OLD_METHOD
from chaosdrill.report.types import DrillSection, Report

__all__ = ["drill_failures", "render_junit"]

#: properties left out when they have no value
_OPTIONAL = ("detection_floor_production_s", "slow_detection", "recovery_kind")


def drill_failures(d: DrillSection) -> list[str]:
    """Sentences for each way a drill fell short (empty when it passed)."""
    out: list[str] = []
    t, tg = d.times, d.targets
    for key, name in (("mttd", "MTTD"), ("mttr", "MTTR")):
        got, want = getattr(t, key).production_s, getattr(tg, key).production_s
        if got is None:
            out.append(f"{name}: not measured ({'no page' if key == 'mttd' else 'not recovered'})")
        elif want is not None and got > want:
            out.append(f"{name} {got:.0f} s; target {want:.0f} s ({got - want:.0f} s over)")
    for reason in d.score.reasons:
        if reason not in out:
            out.append(reason)
    if d.score.passed and not out:
        return []
    out += [r for r in d.failures if r not in out]
    return out


def _timing_text(d: DrillSection) -> list[str]:
    """The lines of a case's output on how its times were measured, and where they went."""
    lines = [method_line(d)]
    lines += [x for x in (floor_line(d), slow_detection_line(d), recovery_line(d)) if x]
    if d.timing is not None:
        lines.append("where the time went (seconds since the fault: drill, production, clock):")
        lines += [
            f"  {p.label}: {p.drill_s:.2f} s, {p.production_s:.0f} s, {p.clock}"
            for p in d.timing.phases
        ]
    return lines


def _plan_text(report: Report) -> str:
    """The suite's output: how the report's times were measured."""
    lines = [f"{HOW_MEASURED}:"]
    lines += [f"  {what}: {how}" for what, how in plan_items(report)]
    lines += [f"  source of {event}: {source}" for event, source in plan_sources(report)]
    return "\n".join(lines)


def _case(
    suite: ET.Element, classname: str, d: DrillSection, extra: Sequence[str]
) -> tuple[bool, bool]:
    span = [e.t_s for e in d.timeline]
    case = ET.SubElement(
        suite,
        "testcase",
        name=d.id,
        classname=classname,
        time=f"{(max(span) - min(span)) if span else 0.0:.3f}",
    )
    props = ET.SubElement(case, "properties")
    floor = d.timing.floor if d.timing else None
    for name, value in (
        ("scenario", d.scenario),
        ("cause", d.cause),
        ("mttd_production_s", d.times.mttd.production_s),
        ("mttr_production_s", d.times.mttr.production_s),
        ("score", d.score.points),
        ("grade", d.score.grade),
        ("severity", d.severity.level),
        ("time_scale", d.time_scale),
        ("timing_method", d.timing_method or OLD_METHOD),
        ("detection_floor_production_s", floor.production_s if floor else None),
        ("slow_detection", d.timing.slow_detection if d.timing else None),
        ("recovery_kind", d.recovery.kind if d.recovery else None),
    ):
        if value is None and name in _OPTIONAL:
            continue
        ET.SubElement(props, "property", name=name, value="" if value is None else str(value))
    problems = [*drill_failures(d), *extra]
    failed = bool(problems) and d.complete
    errored = not d.complete
    if errored:
        err = ET.SubElement(case, "error", message="drill incomplete", type="incomplete")
        err.text = "\n".join([*d.incomplete_reasons, *problems])
    elif failed:
        fail = ET.SubElement(case, "failure", message=problems[0], type="drill")
        fail.text = "\n".join(problems)
    out = ET.SubElement(case, "system-out")
    timeline = [f"{e.t_s:+.1f} s ({e.production_s:+.0f} s)  {e.label}" for e in d.timeline]
    out.text = "\n".join(
        [*_timing_text(d), "timeline (drill seconds since the fault, production):", *timeline]
    )
    return failed, errored


def render_junit(
    report: Report | None,
    extra: Mapping[str, Sequence[str]] | None = None,
    plan_failures: Sequence[str] = (),
    *,
    plan_name: str = "",
) -> str:
    """junit.xml for a run.

    Args:
        report: the run's report; None when the run made none (the gate's invalid input or
            environment failure), for a ``plan gates`` case alone.
        extra: more failures per drill id (the gate's checks and regressions).
        plan_failures: failures of the plan as a whole (a ``plan gates`` test case).
        plan_name: the plan's name when there is no report.
    """
    name = report.plan.name if report else plan_name
    generated_at = report.generated_at if report else "1970-01-01T00:00:00"
    root = ET.Element("testsuites", name=f"chaosdrill {name}")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"chaosdrill.{name}",
        timestamp=generated_at[:19],
        hostname="localhost",
        id="0",
        package="chaosdrill",
    )
    failures = errors = 0
    for d in report.drills if report else ():
        f, e = _case(suite, f"chaosdrill.{name}.{d.scenario}", d, (extra or {}).get(d.id, ()))
        failures += f
        errors += e
    if plan_failures or extra is not None:
        case = ET.SubElement(suite, "testcase", name="plan gates", classname=f"chaosdrill.{name}")
        case.set("time", "0.000")
        if plan_failures:
            fail = ET.SubElement(case, "failure", message=plan_failures[0], type="gate")
            fail.text = "\n".join(plan_failures)
            failures += 1
    tests = len(suite.findall("testcase"))
    total = sum(float(c.get("time", "0")) for c in suite.findall("testcase"))
    for el in (suite, root):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
        el.set("time", f"{total:.3f}")
    suite.set("skipped", "0")
    if report is not None:
        ET.SubElement(suite, "system-out").text = _plan_text(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
