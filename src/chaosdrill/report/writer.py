"""Write every output of a run under reports/<run-id>/ and record it in the history.

report.json, report.md, report.html, junit.xml, comms.md and postmortem.md; each written to
a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaosdrill.drill.model import DrillResult
from chaosdrill.paths import write_atomic
from chaosdrill.report.comms import render_comms
from chaosdrill.report.junit import render_junit
from chaosdrill.report.markdown import render_markdown
from chaosdrill.report.model import ReportSettings, build_report
from chaosdrill.report.postmortem import render_postmortem
from chaosdrill.report.types import Report

__all__ = ["OUTPUTS", "WrittenReport", "write_report_files", "write_reports"]

OUTPUTS = ("report.json", "report.md", "report.html", "junit.xml", "comms.md", "postmortem.md")


@dataclass(frozen=True)
class WrittenReport:
    """What :func:`write_reports` wrote: the report (as in report.json) and its files.

    Callers print the summary from ``report`` instead of reading report.json back.
    """

    report: Report
    files: dict[str, Path]

    @property
    def path(self) -> Path:
        """report.json."""
        return self.files["report.json"]

    @property
    def out_dir(self) -> Path:
        """The run's folder (reports/<run-id>/)."""
        return self.path.parent


def _html(report: Report) -> str:
    from chaosdrill.report.html import render_html

    return render_html(report)


def write_report_files(report: Report, out_dir: Path) -> dict[str, Path]:
    """Render ``report`` into every output file in ``out_dir``; return name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    renderers: dict[str, Callable[[Report], str]] = {
        "report.json": lambda r: json.dumps(r.to_json(), indent=2, default=str) + "\n",
        "report.md": render_markdown,
        "report.html": _html,
        "junit.xml": render_junit,
        "comms.md": render_comms,
        "postmortem.md": render_postmortem,
    }
    written = {}
    for name, render in renderers.items():
        path = out_dir / name
        write_atomic(path, render(report))
        written[name] = path
    return written


def write_reports(
    results: Sequence[tuple[DrillResult, str | None]],
    out_dir: Path,
    *,
    run_id: str,
    settings: ReportSettings | None = None,
    record_history: bool = True,
    history_path: Path | None = None,
    interrupted: str | None = None,
) -> WrittenReport:
    """Build the run's report, write every output, record it in the history.

    The history is ``history.sqlite`` beside the run's folder (reports/history.sqlite for
    the default reports/ directory) unless ``history_path`` says otherwise.

    Returns:
        The report and the paths of the files written.
    """
    report = build_report(results, run_id=run_id, settings=settings, interrupted=interrupted)
    written = write_report_files(report, out_dir)
    if record_history:
        from chaosdrill.report.history import History

        History(history_path or out_dir.parent / "history.sqlite").record(report, out_dir)
    return WrittenReport(report, written)
