"""Drill reports: report.json, Markdown, HTML with charts, JUnit, comms and post-mortem drafts.

``write_reports`` writes every output of a run under reports/<run-id>/; ``build_report``
makes the report they all render.
"""

from chaosdrill.report.model import REPORT_VERSION, ReportSettings, build_report, drill_report

__all__ = ["REPORT_VERSION", "ReportSettings", "build_report", "drill_report"]
