"""The summary table printed at the end of every run (rich).

Under the table: the run's line, why it did not pass, and how its times were measured in
brief: the drills whose times were computed the old way (drill seconds x K, marked in the
table), a detection much slower than its floor, and a recovery that was not the response's.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from chaosdrill.report.timing_text import (
    OLD_MARK,
    recovery_line,
    slow_detection_line,
)
from chaosdrill.report.types import Report

__all__ = ["summary_table"]


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def summary_table(report: Report) -> Group:
    """Drill, cause, MTTD, MTTR, score, grade, verdict per drill, and the run's line."""
    s = report.summary
    table = Table(title=f"{report.plan.name} {report.run_id}", title_justify="left")
    for col, justify in (
        ("drill", "left"),
        ("cause", "left"),
        ("MTTD s", "right"),
        ("MTTR s", "right"),
        ("score", "right"),
        ("grade", "center"),
        ("sev", "center"),
        ("verdict", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for d in report.drills:
        t, tg = d.times, d.targets
        passed = d.score.passed
        table.add_row(
            d.id + (f" {OLD_MARK}" if d.old_timing else ""),
            d.cause,
            f"{_s(t.mttd.production_s)}/{_s(tg.mttd.production_s)}",
            f"{_s(t.mttr.production_s)}/{_s(tg.mttr.production_s)}",
            f"{d.score.points:.1f}",
            d.score.grade,
            d.severity.level,
            Text("PASS", style="green") if passed else Text("FAIL", style="bold red"),
        )
    verdict = "PASS" if s.passed else "FAIL"
    line = Text(
        f"{verdict}: score {s.points:.1f} ({s.grade}), {s.drills_passed}/{s.drills} "
        f"drills passed; MTTD median {_s(s.mttd_s.median)} s, MTTR median "
        f"{_s(s.mttr_s.median)} s (production-equivalent; targets after the slash)",
        style="green" if s.passed else "red",
    )
    parts: list[Any] = [table, line]
    old = [d.id for d in report.drills if d.old_timing]
    split = [d for d in report.drills if not d.old_timing]
    if split:
        k = ", ".join(sorted({f"x{d.time_scale:g}" for d in split}))
        parts.append(
            Text(
                f"Times split into scaled (monitoring, {k}) and program time (not scaled); "
                "where the time went: report.md"
            )
        )
    if old:
        parts.append(
            Text(f"{OLD_MARK} times computed the old way (drill seconds x K): {', '.join(old)}")
        )
    for d in report.drills:
        for note, style in ((slow_detection_line(d), "yellow"), (recovery_line(d), "yellow")):
            if note is not None:
                parts.append(Text(f"  ! {d.id}: {note}", style=style))
    for reason in s.reasons[:8]:
        parts.append(Text(f"  - {reason}", style="red"))
    if not report.complete:
        parts.append(Text("INCOMPLETE: " + (report.interrupted or "see the report")))
    return Group(*parts)
