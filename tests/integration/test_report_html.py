"""report.html rendered from committed drill results and opened in a real headless Chromium.

The results under tests/data/results/ come from real drills at time scale 30 and 60: three
passing drills with Prometheus series (bad-release, primary-crash, leaky-feature), a failing
one (bad-release-failed: the wrong runbook), and a passing one from before drills kept
Prometheus series (bad-release-no-prometheus: its Prometheus charts show "no data"). The
partial drill is made here: a result cut right after the fault was injected.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chaosdrill.drill.model import DrillResult
from chaosdrill.report import Report, build_report
from chaosdrill.report.html import CHARTS, MARKER_STYLE, chart_id, render_html
from tests import browser
from tests.browser import distinct_colours, open_file

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "results"
PASSING = ["bad-release.json", "primary-crash.json", "leaky-feature.json"]
FAILING = "bad-release-failed.json"
NO_PROMETHEUS = "bad-release-no-prometheus.json"
PLANTED = '<script>alert("planted")</script>'

# which chart is drawn from which report series: (origin, name)
SOURCES = {spec.key: [(s.origin, s.name) for s in spec.sources] for spec in CHARTS}


def load(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((DATA / name).read_text())
    return result


def partial(result: Mapping[str, Any]) -> dict[str, Any]:
    """A drill killed right after the fault: timeline cut after t_inject, only detection."""
    r = copy.deepcopy(dict(result))
    t0 = next(e["t"] for e in r["timeline"] if e["name"] == "t_inject")
    r["timeline"] = [e for e in r["timeline"] if e["t"] <= t0]
    r["measurements"] = {"detection": r["measurements"]["detection"]}
    r["complete"] = False
    r["mttr_s"] = None
    r["production_equivalent"] = {"mttd_s": r["production_equivalent"]["mttd_s"]}
    r["verdict"] = {"passed": False, "checks": {"detected": True}, "reasons": ["killed"]}
    r["cause"] = "partial-" + str(r["cause"])
    return r


def plan_report() -> dict[str, Any]:
    names = [*PASSING, FAILING, NO_PROMETHEUS]
    results: list[tuple[DrillResult, str | None]] = [
        (DrillResult.from_json(load(n)), f"tests/data/results/{n}") for n in names
    ]
    results.append((DrillResult.from_json(partial(load("primary-crash.json"))), None))
    return build_report(results, run_id="test-run").to_json()


def points_in(drill: Mapping[str, Any], key: str) -> int:
    """How many points the report has for a chart (what the page must plot)."""
    series = drill["series"]
    return sum(
        len(line.get("points") or [])
        for origin, name in SOURCES[key]
        for line in ((series.get(origin) or {}).get(name) or {}).get("series") or []
    )


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return plan_report()


@pytest.fixture(scope="module")
def page_html(report: dict[str, Any]) -> str:
    return render_html(Report.from_json(report))


def test_renders_offline_escaped_and_deterministic(report: dict[str, Any], page_html: str) -> None:
    # no reference to the network in any script, link, image or frame
    tags = r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=[^>]*>"
    refs = re.findall(tags, page_html)
    assert not [r for r in refs if re.search(r"(?:https?:)?//", r)], refs
    assert all("src" not in tag for tag in re.findall(r"<script\b[^>]*>", page_html))
    # plotly.js inlined exactly once
    assert page_html.count("window.PlotlyConfig") == 1
    # the same report renders the same page
    assert render_html(Report.from_json(report)) == page_html

    # text from the report is escaped: a <script> planted in a runbook step's output and error
    planted = copy.deepcopy(report)
    step = planted["drills"][0]["runbooks"][0]["steps"][0]
    step["output"] = f"before {PLANTED} after"
    step["error"] = PLANTED
    planted["drills"][0]["title"] = PLANTED
    out = render_html(Report.from_json(planted))
    assert PLANTED not in out
    assert "&lt;script&gt;alert(&quot;planted&quot;)&lt;/script&gt;" in out


def test_partial_drill_renders_marked_incomplete(report: dict[str, Any], page_html: str) -> None:
    assert report["complete"] is False
    partial_drill = report["drills"][-1]
    assert partial_drill["complete"] is False
    assert 'id="incomplete"' in page_html and "INCOMPLETE" in page_html
    for reason in partial_drill["incomplete_reasons"]:
        assert reason.replace("'", "&#x27;") in page_html
    # failed and incomplete drills are open, passing ones closed
    for d in report["drills"]:
        tag = re.search(rf'<details class="drill" id="drill-{re.escape(d["id"])}"[^>]*>', page_html)
        assert tag, d["id"]
        assert (" open" in tag.group(0)) == (not d["score"]["passed"]), d["id"]


def test_report_html_in_headless_chromium(
    report: dict[str, Any], page_html: str, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    charts = "Array.from(document.querySelectorAll('.plotly-graph-div'))"
    visit = open_file(
        path,
        ready=f"() => window.Plotly && {charts}.every(g => g.classList.contains('js-plotly-plot'))",
        evaluate=f"""() => ({{
            plotly: typeof window.Plotly,
            version: window.Plotly && window.Plotly.version,
            banner: (document.getElementById('incomplete') || {{}}).innerText || null,
            noData: Array.from(document.querySelectorAll('.no-data')).map(n => n.id),
            charts: Object.fromEntries({charts}.map(g => [g.id, {{
                dataPoints: Number(g.dataset.points),
                traces: (g.data || []).map(t => ({{name: t.name, n: (t.x || []).length}})),
                shapes: ((g.layout || {{}}).shapes || []).map(s => s.name),
                annotations: ((g.layout || {{}}).annotations || []).length,
                svg: g.querySelectorAll('svg.main-svg').length,
            }}])),
        }})""",
    )
    assert visit.network_requests == [], visit.network_requests
    assert visit.requests and visit.requests[0] == visit.url
    assert visit.console_errors == [] and visit.page_errors == [], (
        visit.console_errors,
        visit.page_errors,
    )
    v = visit.value
    assert v["plotly"] == "object" and v["version"], v["plotly"]
    assert v["banner"] and "INCOMPLETE" in v["banner"]

    drawn = v["charts"]
    expected_drawn = 0
    for d in report["drills"]:
        markers = [n for n in MARKER_STYLE if d["markers"].get(n) is not None]
        for spec in CHARTS:
            cid = chart_id(d["id"], spec.key)
            want = points_in(d, spec.key)
            if want == 0:
                assert cid not in drawn, cid
                assert f"nodata-{cid[len('chart-') :]}" in v["noData"], cid
                continue
            expected_drawn += 1
            chart = drawn.get(cid)
            assert chart is not None, f"{cid} missing"
            assert chart["traces"] and all(t["n"] > 0 for t in chart["traces"]), (cid, chart)
            assert sum(t["n"] for t in chart["traces"]) == chart["dataPoints"] == want, cid
            assert chart["svg"] > 0, cid
            assert chart["shapes"] == [f"marker-{n}" for n in markers], cid
            assert chart["annotations"] > 0, cid
    assert len(drawn) == expected_drawn
    # the drills without Prometheus series still plot what the users saw
    nop = next(d for d in report["drills"] if (d["result_path"] or "").endswith(NO_PROMETHEUS))
    assert drawn[chart_id(nop["id"], "error_rate")]["traces"][0]["name"] == "users (client)"

    count, white = distinct_colours(visit.screenshot)
    assert not white and count > 16, count


def test_browser_helper_records_requests_and_errors(tmp_path: Path) -> None:
    # the checks above are only as good as the recorder: a page that reaches for the network
    # and fails in JavaScript must show both
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>bad</p>"
        '<img src="http://127.0.0.1:9/pixel.png">'
        "<script>console.error('logged error'); undefinedFunction();</script>"
        "</body></html>"
    )
    visit = open_file(page, evaluate="() => document.body.innerText")
    assert visit.network_requests == ["http://127.0.0.1:9/pixel.png"]
    assert any("logged error" in e for e in visit.console_errors)
    assert any("undefinedFunction" in e for e in visit.page_errors)
    assert visit.value == "bad"


def test_missing_chromium_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium is missing"):
        browser.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        browser.require_chromium()
