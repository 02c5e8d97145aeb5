"""The terminal tables and lines of ``chaosdrill report trend`` and ``report compare``.

Built from the run history (``History.trend`` and ``History.compare``): a table per
scenario across runs and the line saying which way MTTD, MTTR and the score move; a table of
what changed drill by drill between two runs and the line with the runs' overall change.
Better is green, worse red.

Times computed the old way (drill seconds x K) are marked ``OLD_MARK`` (†), with a footnote
under the table, and are never set against split times as a change: the trend's direction
line takes only the runs timed like the latest one and says how many it left out, and a
comparison shows such a drill's MTTD and MTTR side by side as "not compared".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from chaosdrill.report.history import Comparison, Delta, DrillRow, TrendPoint
from chaosdrill.report.history_rows import is_old_method, method_of
from chaosdrill.report.timing_text import OLD_MARK

__all__ = [
    "OLD_FOOTNOTE",
    "RECENT_RUNS",
    "compare_table",
    "direction_line",
    "overall_line",
    "short_date",
    "trend_table",
]

#: how many of the latest runs the direction line of ``report trend`` sets against the rest
RECENT_RUNS = 3

#: the footnote under a table with a time computed the old way
OLD_FOOTNOTE = (
    f"{OLD_MARK} computed the old way: drill seconds x K (from a result written before "
    "production-equivalent times were split into scaled and program time); not compared with "
    "split times"
)

_STYLE = {"better": "green", "worse": "red", "same": "", "incomparable": "yellow"}


def _method_name(timing_method: str | None) -> str:
    """How a row's times were computed, in a few words."""
    return f"the old way {OLD_MARK}" if is_old_method(timing_method) else method_of(timing_method)


def _num(value: float | None, none: str = "-", digits: int = 1) -> str:
    return none if value is None else f"{value:.{digits}f}"


def _verdict(passed: bool | None) -> Text:
    if passed is None:
        return Text("-")
    return Text("PASS", style="green") if passed else Text("FAIL", style="bold red")


def short_date(label: str | None) -> str:
    """A wall-clock label shortened for a table (never parsed)."""
    return "-" if not label else label[:16].replace("T", " ")


# -- trend ------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    """Median with None (no page, not recovered) as the worst value; None when that wins."""
    if not values:
        return None
    mid = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(mid) else round(mid, 3)


def _signed(value: float | None, sign: int) -> float | None:
    return None if value is None else sign * value


def direction_line(points: Sequence[TrendPoint]) -> Text:
    """Which way MTTD, MTTR and the score move: the latest runs against the ones before.

    Only the runs whose times were computed like the latest one's count (the score rests on
    the times too); the line says how many were left out. Of those, the latest
    ``min(3, n // 2)`` runs are set against all earlier ones (medians; a drill that never
    paged or never recovered counts as the worst).
    """
    method = method_of(points[-1].timing_method) if points else None
    others = [p for p in points if method_of(p.timing_method) != method]
    points = [p for p in points if method_of(p.timing_method) == method]
    left_out = ""
    if others:
        other_names = sorted({_method_name(p.timing_method) for p in others})
        left_out = (
            f"; {len(others)} {'run' if len(others) == 1 else 'runs'} timed "
            f"{' or '.join(other_names)} left out, not compared with "
            f"{_method_name(method)} times"
        )
    n = len(points)
    if n < 2:
        return Text(
            ("one run so far: no trend yet" if not others else "one run timed this way so far")
            + left_out,
            style="dim",
        )
    w = max(1, min(RECENT_RUNS, n // 2))
    old, new = points[:-w], points[-w:]
    text = Text()
    for i, (label, attr, lower, unit, none) in enumerate(
        (
            ("MTTD median", "mttd_s", True, " s", "no page"),
            ("MTTR median", "mttr_s", True, " s", "not recovered"),
            ("score median", "points", False, "", "-"),
        )
    ):
        sign = 1 if lower else -1  # the worst (None) sorts last either way
        d = Delta(
            _median([_signed(getattr(p, attr), sign) for p in old]),
            _median([_signed(getattr(p, attr), sign) for p in new]),
        )
        if not lower:
            d = Delta(_signed(d.before, -1), _signed(d.after, -1))
        way = d.direction(lower_is_better=lower)
        before = none if d.before is None else f"{d.before:.0f}{unit}"
        after = none if d.after is None else f"{d.after:.0f}{unit}"
        if i:
            text.append(", ")
        text.append(f"{label} {before} -> {after} ({way})", style=_STYLE[way])
    latest = "the last run" if w == 1 else f"the last {w} runs"
    earlier = "the one before" if len(old) == 1 else f"the {len(old)} before"
    text.append(f": {latest} against {earlier}{left_out}")
    return text


def trend_table(scenario: str, points: Sequence[TrendPoint]) -> Table:
    """One scenario's runs, oldest first: MTTD, MTTR, score, grade and verdict.

    A run whose times were computed the old way is marked ``OLD_MARK``, with the footnote.
    """
    old = any(p.old_timing for p in points)
    table = Table(
        title=scenario,
        title_justify="left",
        caption=OLD_FOOTNOTE if old else None,
        caption_justify="left",
    )
    for col, justify in (
        ("run", "left"),
        ("date", "left"),
        ("cause", "left"),
        ("MTTD s", "right"),
        ("MTTR s", "right"),
        ("score", "right"),
        ("grade", "center"),
        ("verdict", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for p in points:
        table.add_row(
            p.run_id + (f" {OLD_MARK}" if p.old_timing else ""),
            short_date(p.generated_at),
            p.cause,
            _num(p.mttd_s, "no page"),
            _num(p.mttr_s, "not recovered"),
            _num(p.points),
            p.grade or "-",
            _verdict(p.passed),
        )
    return table


# -- compare ----------------------------------------------------------------------------


def _marked(value: float | None, none: str, old: bool, digits: int = 1) -> str:
    """A time as a table shows it, marked ``OLD_MARK`` when computed the old way."""
    text = _num(value, none, digits)
    return f"{text}{OLD_MARK}" if old and value is not None else text


def _change(
    d: Delta,
    *,
    lower_is_better: bool,
    none: str,
    digits: int = 1,
    old: tuple[bool, bool] = (False, False),
) -> tuple[Text, str]:
    """``before -> after (+delta)`` styled by its direction; ``old``: mark either side †."""
    way = d.direction(lower_is_better=lower_is_better)
    before = _marked(d.before, none, old[0], digits)
    after = _marked(d.after, none, old[1], digits)
    text = f"{before} -> {after}"
    if not d.comparable:
        text += " (not compared: different methods)"
    elif d.delta:
        text += f" ({d.delta:+.{digits}f})"
    return Text(text, style=_STYLE[way]), way


def _pair(before: Any, after: Any, way: str) -> Text:
    text = f"{before}" if before == after else f"{before} -> {after}"
    return Text(text, style=_STYLE[way])


def _severity_way(before: str | None, after: str | None) -> str:
    """P1 is the most severe level: a lower level after is worse."""
    if before == after or before is None or after is None:
        return "same"
    return "worse" if after < before else "better"


def _grade_way(before: str | None, after: str | None) -> str:
    if before == after or before is None or after is None:
        return "same"
    return "worse" if after > before else "better"  # "A" < "B"


def _passed_way(before: bool, after: bool) -> str:
    return "same" if before == after else ("better" if after else "worse")


def compare_table(c: Comparison) -> Table:
    """Drill by drill, what changed from run A to run B, and the drills only one of them ran.

    Times computed the old way are marked ``OLD_MARK`` (with the footnote); a drill the two
    runs timed different ways has its MTTD and MTTR shown but not compared, and its change
    column says so (its score is compared, but rests on those times).
    """
    old_rows = [*c.only_in_a, *c.only_in_b]
    old = any(r.old_timing for r in old_rows) or any(
        is_old_method(d.timing_method_before) or is_old_method(d.timing_method_after)
        for d in c.drills
    )
    table = Table(
        title=f"{c.run_a.run_id} -> {c.run_b.run_id}",
        title_justify="left",
        caption=OLD_FOOTNOTE if old else None,
        caption_justify="left",
    )
    for col in ("drill", "MTTD s", "MTTR s", "score", "grade", "verdict", "severity", "change"):
        table.add_column(col, overflow="fold")
    for d in c.drills:
        marks = (is_old_method(d.timing_method_before), is_old_method(d.timing_method_after))
        mttd, w_mttd = _change(d.mttd_s, lower_is_better=True, none="no page", old=marks)
        mttr, w_mttr = _change(d.mttr_s, lower_is_better=True, none="not recovered", old=marks)
        pts, w_pts = _change(d.points, lower_is_better=False, none="-")
        w_grade = _grade_way(d.grade_before, d.grade_after)
        w_pass = _passed_way(d.passed_before, d.passed_after)
        w_sev = _severity_way(d.severity_before, d.severity_after)
        ways = {
            "MTTD": w_mttd,
            "MTTR": w_mttr,
            "score": w_pts,
            "grade": w_grade,
            "verdict": w_pass,
            "severity": w_sev,
        }
        summary = Text()
        for way in ("worse", "better"):
            names = [k for k, v in ways.items() if v == way]
            if names:
                if summary:
                    summary.append("; ")
                summary.append(f"{way}: {', '.join(names)}", style=_STYLE[way])
        if not d.times_comparable:
            if summary:
                summary.append("; ")
            summary.append(
                f"times {_method_name(d.timing_method_before)} -> "
                f"{_method_name(d.timing_method_after)}: MTTD, MTTR not compared (the score "
                "rests on them)",
                style=_STYLE["incomparable"],
            )
        name = (
            d.drill_id
            if d.drill_id == d.drill_id_before
            else f"{d.drill_id_before} -> {d.drill_id}"
        )
        table.add_row(
            name,
            mttd,
            mttr,
            pts,
            _pair(d.grade_before or "-", d.grade_after or "-", w_grade),
            _pair(
                "PASS" if d.passed_before else "FAIL", "PASS" if d.passed_after else "FAIL", w_pass
            ),
            _pair(d.severity_before or "-", d.severity_after or "-", w_sev),
            summary or Text("unchanged", style="dim"),
        )
    for rows, where in ((c.only_in_a, c.run_a.run_id), (c.only_in_b, c.run_b.run_id)):
        for r in rows:
            table.add_row(*_only_row(r, where))
    return table


def _only_row(r: DrillRow, run_id: str) -> list[Any]:
    return [
        r.drill_id,
        _marked(r.mttd_s, "no page", r.old_timing),
        _marked(r.mttr_s, "not recovered", r.old_timing),
        _num(r.points),
        r.grade or "-",
        _verdict(r.passed),
        r.severity or "-",
        Text(f"only in {run_id}", style="yellow"),
    ]


def overall_line(c: Comparison) -> Text:
    """The runs' overall score, grade, verdict, completeness and worst severity, before -> after.

    When a drill's times were computed different ways in the two runs, the line says the
    overall score compares them across methods.
    """
    a, b = c.run_a, c.run_b
    pts, _ = _change(c.points, lower_is_better=False, none="-")
    text = Text("overall: score ")
    text.append_text(pts)
    text.append(", grade ")
    text.append_text(_pair(a.grade or "-", b.grade or "-", _grade_way(a.grade, b.grade)))
    text.append(", verdict ")
    text.append_text(
        _pair(
            "PASS" if a.passed else "FAIL",
            "PASS" if b.passed else "FAIL",
            _passed_way(a.passed, b.passed),
        )
    )
    text.append(", ")
    text.append_text(
        _pair(
            "complete" if a.complete else "incomplete",
            "complete" if b.complete else "incomplete",
            _passed_way(a.complete, b.complete),
        )
    )
    text.append(", worst severity ")
    text.append_text(
        _pair(
            a.worst_severity or "-",
            b.worst_severity or "-",
            _severity_way(a.worst_severity, b.worst_severity),
        )
    )
    if not c.times_comparable:
        mixed = [d.drill_id for d in c.drills if not d.times_comparable]
        text.append(
            f"; times of {', '.join(mixed)} computed different ways in the two runs: their "
            "MTTD and MTTR are not compared, and the scores rest on them",
            style=_STYLE["incomparable"],
        )
    return text
