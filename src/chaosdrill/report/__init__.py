"""Drill reports: report.json, Markdown, HTML with charts, JUnit, comms and post-mortem drafts.

``write_reports`` writes every output of a run under reports/<run-id>/; ``build_report``
makes the report they all render.
"""

from chaosdrill.report.model import ReportSettings, build_report, drill_report
from chaosdrill.report.types import REPORT_VERSION, DrillSection, Report

__all__ = [
    "REPORT_VERSION",
    "DrillSection",
    "Report",
    "ReportSettings",
    "build_report",
    "drill_report",
]
