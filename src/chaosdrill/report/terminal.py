"""The summary table printed at the end of every run (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

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
            d.id,
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
    for reason in s.reasons[:8]:
        parts.append(Text(f"  - {reason}", style="red"))
    if not report.complete:
        parts.append(Text("INCOMPLETE: " + (report.interrupted or "see the report")))
    return Group(*parts)
