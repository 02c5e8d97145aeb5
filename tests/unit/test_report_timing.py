"""Reports take their production-equivalent times from the result's split figures.

tests/data/results/bad-release-split.json and primary-crash-split-slow.json were written by
real drills after production-equivalent times were split into scaled and program time
(chaosdrill.drill.timing, method split-v1); the second paged much later than its detection
floor. tests/data/drills/bad-release.json was written before: its times are drill seconds x
K and every output must say so. Each output (report.json, report.md, report.html,
junit.xml, the post-mortem, comms.md, the terminal summary) is checked for the phases, the
floor, the method and the recovery kinds.
"""

from __future__ import annotations

import copy
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from rich.console import Console

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError
from chaosdrill.report import Report, build_report
from chaosdrill.report.comms import render_comms
from chaosdrill.report.history import History
from chaosdrill.report.html import render_html
from chaosdrill.report.junit import render_junit
from chaosdrill.report.markdown import render_markdown
from chaosdrill.report.postmortem import render_postmortem
from chaosdrill.report.terminal import summary_table
from tests.repo import ROOT as PROJECT_ROOT

DATA = Path(__file__).parent.parent / "data"
SCHEMAS = PROJECT_ROOT / "src" / "chaosdrill" / "schemas"
SCHEMA = json.loads((SCHEMAS / "report.schema.json").read_text())
JUNIT = xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd"))
SPLIT = "results/bad-release-split.json"
SLOW = "results/primary-crash-split-slow.json"
OLD = "drills/bad-release.json"
OLD_NOTE = "Times computed the old way (drill seconds x 30)"


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def make(*results: dict[str, Any]) -> Report:
    return build_report([(DrillResult.from_json(r), None) for r in results], run_id="RUN")


def as_file(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(report.to_json(), indent=2))
    return data


def terminal(report: Report) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
    console.print(summary_table(report))
    return console.export_text()


def with_kind(kind: str) -> dict[str, Any]:
    """The split result with its recovery of ``kind``."""
    r = copy.deepcopy(raw(SPLIT))
    r["measurements"]["recovery"]["kind"] = kind
    return r


@pytest.fixture(scope="module")
def mixed() -> Report:
    """A plan of a split drill, a split drill detected slowly and an old-format drill."""
    return make(raw(SPLIT), raw(SLOW), raw(OLD))


@pytest.fixture(scope="module")
def page(mixed: Report) -> str:
    return render_html(mixed)


def test_the_fixtures_are_what_the_tests_say() -> None:
    split, slow, old = (DrillResult.from_json(raw(n)) for n in (SPLIT, SLOW, OLD))
    assert split.timing is not None and split.timing.method == "split-v1"
    assert split.timing.slow_detection is None
    assert slow.timing is not None and slow.timing.slow_detection is not None
    assert old.old_timing


def test_a_split_result_gives_the_report_its_own_production_times(mixed: Report) -> None:
    d = mixed.drills[0]
    result = raw(SPLIT)
    pe = result["production_equivalent"]
    assert d.timing_method == "split-v1" and not d.old_timing
    assert (
        (d.times.mttd.drill_s, d.times.mttd.production_s)
        == (4.28, pe["mttd_s"])
        == (
            4.28,
            84.952,
        )
    )
    assert d.times.mttd.production_s != round(4.28 * 30, 3)  # not drill x K any more
    assert d.times.mttr.production_s == pe["mttr_s"] == 88.286
    assert d.times.time_to_mitigate.production_s == pe["time_to_mitigate_s"]
    assert d.times.time_to_first_impact.production_s == 1.343  # program time: not x 30
    assert d.escalation.duration_production_s == 88.286  # fault to mitigation, split
    # targets: the production targets, their drill equivalents production / K
    assert (d.targets.mttd.drill_s, d.targets.mttd.production_s) == (10.0, 300.0)
    assert (d.targets.hold.drill_s, d.targets.hold.production_s) == (2.0, 60.0)


def test_timeline_events_take_their_phase_or_segment_figure(mixed: Report) -> None:
    events = {(e.name, e.label): e for e in mixed.drills[0].timeline}
    page = events[("t_page", "page received")]
    assert (page.t_s, page.production_s) == (4.28, 84.952)
    rollback = events[("runbook_step", "Roll back to the previous version (ok)")]
    # a runbook step's own work is program time: 3.2 drill s after the response began
    assert rollback.t_s == 7.537 and rollback.production_s == pytest.approx(88.209, abs=0.002)
    steady = events[("steady_state_verified", "steady state verified")]
    assert steady.production_s == round(steady.t_s * 30, 3) == -1.86  # before the fault: x K
    assert ("t_fault_cleared", "fault gone") in events
    assert ("t_alert_pending", "alert pending in Prometheus") in events


def test_an_old_result_keeps_drill_x_k_and_says_so(mixed: Report, page: str) -> None:
    d = mixed.drills[2]
    assert d.timing_method == "drill x K" and d.old_timing and d.timing is None
    assert d.times.mttd.production_s == round(float(d.times.mttd.drill_s or 0) * 30, 3) == 143.64
    md = render_markdown(mixed)
    assert "| bad-release-2 † | high-error-rate | 144 s / 300 s |" in md
    assert "| bad-release | high-error-rate | 85 s / 300 s |" in md  # a split drill: no mark
    assert "† Times computed the old way (drill seconds x K): bad-release-2." in md
    section = md.split("## bad-release-2:")[1]
    assert f"> {OLD_NOTE}: this result was written before" in section
    text = html.unescape(page)
    assert (
        "bad-release-2</a> <span" in text
        and "Times computed the old way (drill seconds x K): bad-release-2." in text
    )
    assert f'<p class="old-way">{OLD_NOTE}' in text
    junit = render_junit(mixed)
    case = junit.split('<testcase name="bad-release-2"')[1].split("</testcase>")[0]
    assert '<property name="timing_method" value="drill x K" />' in case
    assert f"<system-out>{OLD_NOTE}" in case
    assert "† times computed the old way (drill seconds x K): bad-release-2" in terminal(mixed)
    assert f"> {OLD_NOTE}" in render_postmortem(mixed).split("## bad-release-2:")[1]
    assert f"> {OLD_NOTE}" in render_comms(mixed).split("## bad-release-2:")[1]


def test_report_md_shows_where_the_time_went(mixed: Report) -> None:
    md = render_markdown(mixed)
    section = md.split("## bad-release: ")[1].split("## primary-crash:")[0]
    assert "### Where the time went" in section
    assert (
        "Times split-v1: production-equivalent seconds are drill seconds x 30 on the scaled"
        in section
    )
    assert "| phase | drill s | production s | clock |" in section
    assert "| page received (MTTD) | 4.28 | 85 | scaled |" in section
    assert "| response begun | 4.33 | 85 | program |" in section
    assert "| fault gone | 7.61 | 88 | program |" in section
    assert (
        "| 1.50 | 4.28 | 2.782 | 83.5 | scaled | detection: scrapes, evaluations, the rule's "
        "window and for:, group wait |"
    ) in section
    assert (
        "| 4.34 | 7.54 | 3.199 | 3.2 | program | runbook step 'Roll back to the previous version' |"
        in section
    )
    assert (
        "MTTD 85 s (4.28 drill s); detection floor 74 s (3.91 drill s) = effect 1.5 s + "
        "window 12.4 s + for 30.0 s + group wait 30.0 s; rule HighErrorRate (ratio rule; "
        "error share 26.9%)."
    ) in section
    assert (
        "Resolution: Prometheus scraped every 0.5 drill s (15 s in production); slower: "
        "postgres every 2 drill s."
    ) in section
    assert "**Warning**" not in section  # its detection was not much slower than its floor
    assert "Recovery:" not in section  # restored: MTTR means what it always did


def test_each_report_says_once_how_its_times_were_measured(mixed: Report, page: str) -> None:
    md = render_markdown(mixed)
    assert md.count("## How these times were measured") == 1
    plan = md.split("## How these times were measured")[1].split("\n## ")[0]
    assert "- **method**: split-v1 for bad-release, primary-crash: the timeline split" in plan
    assert "- **method**: drill x K for bad-release-2: computed the old way" in plan
    assert "- **scaled (x K)**: the monitoring pipeline: scrape and evaluation intervals" in plan
    assert "- **not scaled**: programs: the fault taking effect" in plan
    assert "- **detection floor**: the earliest the expected alert could have paged" in plan
    assert (
        "- **resolution**: Prometheus scraped every 0.5 drill s (15 s in production); slower: "
        "postgres every 2 drill s (bad-release, primary-crash)"
    ) in plan
    assert "| t_page | the pager's receipt of Alertmanager's webhook" in plan
    assert "| t_alert_pending | Prometheus' activeAt for the alert" in plan
    text = html.unescape(page)
    assert page.count('<section id="timing">') == 1
    assert "<dt>not scaled</dt><dd>programs: the fault taking effect" in text
    assert '<table id="timing-sources">' in page and "the pager's receipt of Alertmanager" in text
    suite_out = render_junit(mixed).rsplit("</testcase>", 1)[1]
    assert "<system-out>How these times were measured:" in suite_out
    assert "  source of t_page: the pager's receipt of Alertmanager's webhook" in html.unescape(
        suite_out
    )
    timing = as_file(mixed)["timing"]
    assert timing["methods"] == {
        "split-v1": ["bad-release", "primary-crash"],
        "drill x K": ["bad-release-2"],
    }
    assert timing["time_scales"] == [30.0]
    assert timing["resolution"] == [
        {
            "drills": ["bad-release", "primary-crash"],
            "scrape_interval_s": 0.5,
            "production_scrape_interval_s": 15.0,
            "slower_jobs": {"postgres": 2.0},
        }
    ]
    assert timing["sources"]["t_page"].startswith("the pager's receipt")


def test_report_json_has_the_phases_floor_and_method(mixed: Report) -> None:
    data = as_file(mixed)
    jsonschema.validate(data, SCHEMA)
    assert Report.from_json(data).to_json() == data
    split, slow, old = data["drills"]
    assert split["timing_method"] == "split-v1" and old["timing_method"] == "drill x K"
    assert "timing" not in old and "recovery" not in old
    tm = split["timing"]
    assert [p["event"] for p in tm["phases"]] == [
        "fault_applied",
        "t_first_impact",
        "t_alert_pending",
        "t_alert_firing",
        "t_page",
        "t_response_start",
        "t_fault_cleared",
        "t_response_end",
        "t_mitigated",
        "t_recovered",
    ]
    assert tm["phases"][4] == {
        "event": "t_page",
        "label": "page received (MTTD)",
        "drill_s": 4.28,
        "production_s": 84.952,
        "clock": "scaled",
    }
    assert tm["segments"][1] == {
        "from_s": 1.498,
        "to_s": 4.28,
        "drill_s": 2.782,
        "production_s": 83.46,
        "clock": "scaled",
        "what": "detection: scrapes, evaluations, the rule's window and for:, group wait",
        "factor": None,
    }
    assert tm["floor"]["production_s"] == 73.865 and tm["floor"]["rule"] == "HighErrorRate"
    assert tm["floor"]["parts"] == {
        "effect": 1.498,
        "window": 12.366,
        "for": 30.0,
        "group_wait": 30.0,
    }
    assert tm["slow_detection"] is None
    assert slow["timing"]["slow_detection"].startswith("MTTD 155 s is 95 s above its floor of 60 s")
    assert slow["timing"]["segments"][1]["factor"] == 7.5
    assert split["recovery"] == {
        "kind": "restored",
        "note": "users saw the fault; their SLOs were met again once it was gone",
    }


def test_the_schema_refuses_a_bad_phase_and_the_reader_names_it(mixed: Report) -> None:
    data = as_file(mixed)
    data["drills"][0]["timing"]["phases"][0]["clock"] = "wall"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
    with pytest.raises(InvalidInputError) as err:
        Report.from_json(data)
    assert err.value.field == "drills[0].timing.phases[0].clock"
    data = as_file(mixed)
    data["timing"]["methods"]["split-v1"] = "bad-release"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def test_a_slow_detection_is_called_out(mixed: Report, page: str) -> None:
    md = render_markdown(mixed).split("## primary-crash:")[1].split("## bad-release-2:")[0]
    warning = "Slow detection: MTTD 155 s is 95 s above its floor of 60 s (more than 60 s)"
    assert f"> **Warning**: {warning}" in md
    assert "detection floor 60 s (2.13 drill s) = effect 0.1 s + window 0.0 s + for 30.0 s" in md
    assert f'<p class="warn" role="alert" id="slow-primary-crash"><b>Warning</b>: {warning}' in (
        html.unescape(page)
    )
    assert 'id="slow-bad-release"' not in page
    junit = html.unescape(render_junit(mixed))
    assert '<property name="slow_detection" value="MTTD 155 s is 95 s above' in junit
    assert junit.count('name="slow_detection"') == 1
    assert f"  ! primary-crash: {warning}" in terminal(mixed)
    assert f"> **Warning**: {warning}" in render_postmortem(mixed)


def test_report_html_shows_the_phases_segments_and_floor(page: str) -> None:
    text = html.unescape(page)
    phases = re.search(r'<table id="phases-bad-release">.*?</table>', page)
    assert phases is not None
    assert (
        '<tr><td>page received (MTTD)</td><td class="num">4.28 s</td>'
        '<td class="num">85.0&nbsp;s</td><td>scaled</td></tr>'
    ) in phases.group(0)
    segments = re.search(r'<table id="segments-primary-crash">.*?</table>', page)
    assert segments is not None and "<td>scaled (x7.5)</td>" in segments.group(0)
    times = re.search(r'<table id="times-bad-release">.*?</table>', page)
    assert times is not None
    assert (
        "<tr><td>detection floor (HighErrorRate: earliest page)</td>"
        '<td class="num">3.91 s</td><td class="num">73.9&nbsp;s</td>'
    ) in times.group(0)
    assert "30x (scaled time: production = drill x 30; program time is not scaled)" in text
    # still self-contained: no reference to the network
    tags = r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=[^>]*>"
    assert not [t for t in re.findall(tags, page) if re.search(r"(?:https?:)?//", t)]


def test_junit_carries_the_method_floor_and_phases(mixed: Report) -> None:
    text = render_junit(mixed)
    JUNIT.validate(text)
    case = html.unescape(text.split('<testcase name="bad-release"')[1].split("</testcase>")[0])
    assert '<property name="timing_method" value="split-v1" />' in case
    assert '<property name="detection_floor_production_s" value="73.865" />' in case
    assert '<property name="mttd_production_s" value="84.952" />' in case
    assert (
        "<system-out>Times split-v1: production-equivalent seconds are drill seconds x 30" in case
    )
    assert "MTTD 85 s (4.28 drill s); detection floor 74 s (3.91 drill s)" in case
    assert "  page received (MTTD): 4.28 s, 85 s, scaled\n" in case
    assert "  response begun: 4.33 s, 85 s, program\n" in case
    assert "+4.3 s (+85 s)  page received\n" in case


@pytest.mark.parametrize(
    ("kind", "note"),
    [
        ("held", "the SLOs held through the fault (MTTR: until the response removed the fault)"),
        (
            "before_response",
            "recovered before the response: the runbook was not what restored health",
        ),
    ],
)
def test_recovery_kinds_say_what_mttr_means(kind: str, note: str) -> None:
    report = make(with_kind(kind))
    data = as_file(report)
    jsonschema.validate(data, SCHEMA)
    assert data["drills"][0]["recovery"] == {"kind": kind, "note": note}
    line = f"Recovery: {note}."
    assert f"\n{line}\n" in render_markdown(report)
    page = html.unescape(render_html(report))
    cls = "warn" if kind == "before_response" else "old-way"
    assert f'<p class="{cls}" id="recovery-bad-release">{line}</p>' in page
    junit = render_junit(report)
    assert f'<property name="recovery_kind" value="{kind}" />' in junit
    assert line in html.unescape(junit)
    assert f"  ! bad-release: {line}" in terminal(report)
    assert f"\n{line}\n" in render_postmortem(report)


def test_a_restored_recovery_adds_no_note() -> None:
    report = make(with_kind("restored"))
    assert "Recovery:" not in render_markdown(report)
    assert 'id="recovery-' not in render_html(report)
    assert '<property name="recovery_kind" value="restored" />' in render_junit(report)


def old_report_json() -> dict[str, Any]:
    """A report.json as written before its times said how they were measured."""
    data = as_file(make(raw(OLD)))
    del data["timing"]
    for d in data["drills"]:
        for key in ("timing_method", "timing", "recovery"):
            d.pop(key, None)
    return data


def test_an_old_report_json_still_reads_and_renders_marked(tmp_path: Path) -> None:
    data = old_report_json()
    jsonschema.validate(data, SCHEMA)
    report = Report.from_json(data, source="old/report.json")
    assert report.timing is None and report.drills[0].timing_method is None
    assert report.drills[0].old_timing
    assert report.to_json() == data  # written again: the same keys, nothing added
    md = render_markdown(report)
    assert "- **method**: drill seconds x the time scale (a report written before the split)" in md
    assert f"> {OLD_NOTE}" in md
    assert '<property name="timing_method" value="drill x K" />' in render_junit(report)
    assert "times computed the old way" in html.unescape(render_html(report))
    History(tmp_path / "history.sqlite").record(report)
    (run,) = History(tmp_path / "history.sqlite").runs()
    assert run.run_id == "RUN"


def test_a_split_result_cut_short_still_renders() -> None:
    r = copy.deepcopy(raw(SPLIT))
    names = [e["name"] for e in r["timeline"]]
    r["timeline"] = r["timeline"][: names.index("t_inject") + 2]
    r["measurements"] = {"steady_state": r["measurements"]["steady_state"]}
    r["mttd_s"] = r["mttr_s"] = None
    r["production_equivalent"] = {k: None for k in r["production_equivalent"]}
    r["complete"] = False
    report = make(r)
    data = as_file(report)
    jsonschema.validate(data, SCHEMA)
    d = report.drills[0]
    assert not d.complete and d.times.mttd.production_s is None
    assert d.timing is not None and d.timing_method == "split-v1"
    assert "### Where the time went" in render_markdown(report)
    JUNIT.validate(render_junit(report))
