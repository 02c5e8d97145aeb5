"""The cells of report.html: escaped text, numbers, durations, badges, tables and lists.

Shared by the page (``html``), its drill-downs (``drilldown``) and its charts (``charts``).
Every function returns HTML; text from the report is escaped, "-" when unknown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "bullets",
    "drill_slug",
    "dur",
    "esc",
    "html_table",
    "num",
    "pct",
    "verdict_badge",
]


def esc(value: Any) -> str:
    """Text from the report, escaped for HTML ("-" when unknown)."""
    return "-" if value is None else html.escape(str(value), quote=True)


def drill_slug(value: str) -> str:
    """A drill id made safe for an HTML id."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-") or "drill"


def num(value: Any, digits: int = 1, unit: str = "") -> str:
    """A number with ``digits`` decimals and ``unit`` ("-" when unknown, never "-0.0")."""
    if value is None:
        return "-"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return esc(value)
    text = f"{f:.{digits}f}"
    if text.startswith("-") and float(text) == 0:  # no "-0.0"
        text = text[1:]
    return f"{text}{unit}"


def dur(value: Any) -> str:
    """A production-equivalent duration: seconds, with minutes past two minutes."""
    if value is None:
        return "-"
    v = float(value)
    if abs(v) >= 120:
        return f"{v:.0f}&nbsp;s ({v / 60:.1f}&nbsp;min)"
    return f"{v:.1f}&nbsp;s"


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage."""
    return "-" if value is None else f"{float(value) * 100:.{digits}f} %"


def verdict_badge(passed: bool) -> str:
    """A PASS or FAIL badge."""
    return (
        '<span class="badge pass">PASS</span>' if passed else '<span class="badge fail">FAIL</span>'
    )


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    failed: Sequence[bool] = (),
    table_id: str | None = None,
) -> str:
    """A table of already escaped cells; rows flagged in ``failed`` are highlighted."""
    attr = f' id="{esc(table_id)}"' if table_id else ""
    head = "".join(
        f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for n, row in enumerate(rows):
        tr = '<tr class="failed">' if n < len(failed) and failed[n] else "<tr>"
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"{tr}{cells}</tr>")
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bullets(items: Iterable[Any], cls: str = "reasons") -> str:
    """A list of escaped items; empty when there are none."""
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f'<ul class="{cls}">{lis}</ul>' if lis else ""
