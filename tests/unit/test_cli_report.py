"""``chaosdrill report trend|compare|render`` on histories made from real drill results.

The drill results in tests/data/history/ were written by ``chaosdrill run`` at time scale 30;
the trend's variants are derived from one of them with only MTTD changed (see test_history).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from chaosdrill.cli.application import app
from chaosdrill.cli.main import cli, main
from chaosdrill.report.history import History
from tests.unit.test_history import DATA, report, result, split_result, variant


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tables as wide as they need, so rows stay on one line."""
    monkeypatch.setattr(app, "console", Console(width=250, highlight=False))
    yield


def flat(text: str) -> str:
    """Table text without box drawing and with single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃┏┓┗┛┡┩└┘━─┳┻╇╈┼┬┴]", " ", text)).strip()


def invoke(*args: str) -> Any:
    res = CliRunner().invoke(cli, ["report", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    """Four quarterly runs: bad-release's MTTD rises 150 -> 195 s; the last one fails."""
    path = tmp_path / "history.sqlite"
    h = History(path)
    base, crash = result("bad-release-pass"), result("primary-crash")
    for i, mttd in enumerate((150.0, 150.0, 180.0, 195.0)):
        runs = [variant(base, mttd_s=mttd), crash]
        if i == 3:
            runs = [variant(result("bad-release-not-recovered"), mttd_s=mttd)]
        h.record(report(f"run-{i}", *runs))
    return path


def test_trend_tables_and_direction(hist: Path) -> None:
    out = flat(invoke("trend", "--history", str(hist)).stdout)
    assert "high-error-rate run date cause MTTD s MTTR s score grade verdict" in out
    assert "run-0 " in out and " bad-release 150.0 221.2 95.2 A PASS" in out
    assert "run-3 " in out and " bad-release 195.0 not recovered " in out and " F FAIL" in out
    # 4 runs: the last 2 against the 2 before
    assert (
        "MTTD median 150 s -> 188 s (worse), MTTR median 221 s -> not recovered (worse), "
        "score median 95 -> " in out
    )
    assert "(worse): the last 2 runs against the 2 before" in out
    assert "database-down" in out and "one run so far" not in out


def test_trend_filters_and_json(hist: Path) -> None:
    out = flat(invoke("trend", "--history", str(hist), "--scenario", "database-down").stdout)
    assert "database-down" in out and "high-error-rate" not in out
    assert "the last run against the 2 before" in out  # crash ran in runs 0-2

    points = json.loads(invoke("trend", "--history", str(hist), "--json", "--limit", "2").stdout)
    errors = [p for p in points if p["scenario"] == "high-error-rate"]
    assert [(p["run_id"], p["mttd_s"], p["passed"]) for p in errors] == [
        ("run-2", 180.0, True),
        ("run-3", 195.0, False),
    ]
    assert set(errors[0]) >= {"generated_at", "cause", "mttr_s", "points", "grade"}


def test_trend_of_an_empty_history(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    out = flat(invoke("trend", "--history", str(path)).stdout)
    assert out.startswith(f"no runs recorded in {path}")
    assert json.loads(invoke("trend", "--history", str(path), "--json").stdout) == []
    assert "for scenario 'x'" in flat(
        invoke("trend", "--history", str(path), "--scenario", "x").stdout
    )
    assert not path.exists()


def test_compare_table_and_overall(hist: Path) -> None:
    out = flat(invoke("compare", "run-1", "run-3", "--history", str(hist)).stdout)
    assert "run-1 -> run-3 drill MTTD s MTTR s score grade verdict severity change" in out
    assert (
        "bad-release 150.0† -> 195.0† (+45.0) 221.2† -> not recovered 95.2 -> 45.0 (-50.2) "
        "A -> F PASS -> FAIL P1 worse: MTTD, MTTR, score, grade, verdict"
    ) in out
    assert "primary-crash 113.5† 213.7† 95.3 A PASS P1 only in run-1" in out
    assert "† computed the old way: drill seconds x K" in out  # the results predate the split
    assert (
        "overall: score 95.2 -> 45.0 (-50.3), grade A -> F, verdict PASS -> FAIL, complete, "
        "worst severity P1"
    ) in out


def test_compare_json(hist: Path) -> None:
    data = json.loads(invoke("compare", "run-0", "run-2", "--history", str(hist), "--json").stdout)
    (d,) = data["drills"][:1]
    assert d["drill_id"] == "bad-release"
    assert d["mttd_s"] == {"before": 150.0, "after": 180.0, "delta": 30.0}
    assert data["overall"]["passed"] == {"before": True, "after": True}
    assert data["only_in_a"] == [] and data["only_in_b"] == []


def test_unknown_run_exits_2(hist: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["report", "compare", "run-1", "run-9", "--history", str(hist)])
    assert info.value.code == 2
    err = re.sub(r"\s+", " ", capsys.readouterr().err)
    assert "unknown run id 'run-9'; closest known: run-3, run-2, run-1" in err


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Three runs of bad-release timed the old way (MTTD 150, 150, 180 s), then two timed
    split-v1 (MTTD 84.952 s): the split one looks faster only because of the method."""
    path = tmp_path / "mixed.sqlite"
    h = History(path)
    for i, mttd in enumerate((150.0, 150.0, 180.0)):
        h.record(report(f"old-{i}", variant(result("bad-release-pass"), mttd_s=mttd)))
    for i in range(2):
        h.record(report(f"split-{i}", split_result()))
    return path


def test_trend_marks_old_way_runs_and_leaves_them_out_of_the_direction(mixed: Path) -> None:
    out = flat(invoke("trend", "--history", str(mixed)).stdout)
    assert "old-0 † " in out and "old-2 † " in out
    assert "split-0 " in out and "split-0 †" not in out
    assert "† computed the old way: drill seconds x K" in out
    assert (
        "MTTD median 85 s -> 85 s (same), MTTR median 88 s -> 88 s (same), score median 99 -> "
        "99 (same): the last run against the one before; 3 runs timed the old way † left out, "
        "not compared with split-v1 times"
    ) in out
    assert "(better)" not in out  # 180 s -> 74 s is the method, not an improvement

    points = json.loads(invoke("trend", "--history", str(mixed), "--json").stdout)
    assert [(p["run_id"], p["timing_method"], p["old_timing"]) for p in points] == [
        ("old-0", "drill x K", True),
        ("old-1", "drill x K", True),
        ("old-2", "drill x K", True),
        ("split-0", "split-v1", False),
        ("split-1", "split-v1", False),
    ]


def test_trend_with_one_split_run_has_no_direction_across_methods(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    h = History(path)
    for i, mttd in enumerate((150.0, 180.0)):
        h.record(report(f"old-{i}", variant(result("bad-release-pass"), mttd_s=mttd)))
    h.record(report("split-0", split_result()))
    out = flat(invoke("trend", "--history", str(path)).stdout)
    assert "old-1 † " in out and "split-0 " in out
    assert (
        "one run timed this way so far; 2 runs timed the old way † left out, not compared "
        "with split-v1 times"
    ) in out
    assert "MTTD median" not in out


def test_trend_of_split_runs_only_has_no_footnote(mixed: Path) -> None:
    out = flat(invoke("trend", "--history", str(mixed), "--limit", "2").stdout)
    assert "†" not in out and "left out" not in out
    assert "the last run against the one before" in out


def test_compare_across_methods_shows_both_and_compares_neither(mixed: Path) -> None:
    out = flat(invoke("compare", "old-2", "split-0", "--history", str(mixed)).stdout)
    assert (
        "bad-release 180.0† -> 85.0 (not compared: different methods) "
        "221.2† -> 88.3 (not compared: different methods) 95.2 -> 99.3 (+4.1)"
    ) in out
    assert (
        "better: score; times the old way † -> split-v1: MTTD, MTTR not compared (the score "
        "rests on them)"
    ) in out
    assert "better: MTTD" not in out and "better: score, MTTD" not in out
    assert "-105.7" not in out  # the delta across methods is never shown
    assert "† computed the old way: drill seconds x K" in out
    assert (
        "times of bad-release computed different ways in the two runs: their MTTD and MTTR "
        "are not compared, and the scores rest on them"
    ) in out

    same = flat(invoke("compare", "split-0", "split-1", "--history", str(mixed)).stdout)
    assert "bad-release 85.0 -> 85.0 88.3 -> 88.3 99.3 -> 99.3" in same
    assert "†" not in same and "not compared" not in same

    data = json.loads(
        invoke("compare", "old-2", "split-0", "--history", str(mixed), "--json").stdout
    )
    (d,) = data["drills"]
    assert d["mttd_s"] == {"before": 180.0, "after": 84.952, "delta": None, "comparable": False}
    assert d["timing_method"] == {"before": "drill x K", "after": "split-v1", "comparable": False}


def test_trend_html_draws_each_method_as_its_own_series(mixed: Path, tmp_path: Path) -> None:
    page = tmp_path / "trend.html"
    invoke("trend", "--history", str(mixed), "--html", str(page))
    text = page.read_text()
    assert "id='old-way'" in text and "† computed the old way: drill seconds x K" in text
    chart = text.split('id="trend-high-error-rate"')[1]
    assert chart.count('"name":"MTTD s \\u2020 (old way)"') == 1  # † in plotly's JSON
    assert chart.count('"name":"MTTD s"') == 1
    # the old way's series has gaps where the split runs are, the split one the reverse
    assert '"y":[150.0,150.0,180.0,null,null]' in chart
    assert '"y":[null,null,null,84.952,84.952]' in chart
    assert '"y":[150.0,150.0,180.0,84.952,84.952]' not in chart


# -- render -----------------------------------------------------------------------------


def render(tmp_path: Path, path: Path, *extra: str) -> tuple[Path, Path]:
    out, history = tmp_path / "out", tmp_path / "h.sqlite"
    res = invoke("render", str(path), "--out", str(out), "--history", str(history), *extra)
    assert f"reports written to {out}" in flat(res.stdout)
    return out, history


def test_render_a_drill_result_then_its_report(tmp_path: Path) -> None:
    src = DATA / "primary-crash.json"
    out, history = render(tmp_path, src, "--run-id", "r1")
    assert {"report.json", "report.md", "report.html", "junit.xml"} <= {
        p.name for p in out.iterdir()
    }
    rep = json.loads((out / "report.json").read_text())
    assert rep["run_id"] == "r1" and rep["drills"][0]["result_path"] == str(src)
    (run,) = History(history).runs()
    assert (run.run_id, run.passed, run.report_dir) == ("r1", True, str(out.resolve()))

    # the report.json again, to another directory: its drill results are read back
    res = invoke(
        "render", str(out / "report.json"), "--out", str(tmp_path / "again"), "--no-history"
    )
    assert "recorded in" not in res.stdout
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert again["drills"][0]["score"] == rep["drills"][0]["score"]
    assert again["run_id"].startswith("render-")
    assert len(History(history).runs()) == 1


def test_render_defaults_to_the_reports_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSDRILL_REPORTS", str(tmp_path / "reports"))
    invoke("render", str(DATA / "leaky-feature.json"))
    (run,) = History(tmp_path / "reports" / "history.sqlite").runs()
    assert re.fullmatch(r"render-\d{8}T\d{6}Z", run.run_id)
    assert (tmp_path / "reports" / run.run_id / "report.json").is_file()


def test_render_records_beside_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "run-x"
    res = invoke("render", str(DATA / "primary-crash.json"), "--out", str(out), "--run-id", "x")
    assert f"recorded in {tmp_path / 'elsewhere' / 'history.sqlite'}" in flat(res.stdout)
    (run,) = History(tmp_path / "elsewhere" / "history.sqlite").runs()
    assert run.run_id == "x"


def _journal(**changes: Any) -> dict[str, Any]:
    """The Chaos Toolkit journal kept inside a real drill result."""
    journal = dict(result("primary-crash")["journal"])
    journal.update(changes)
    return journal


def test_render_a_journal_reads_the_result_it_names(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    ext = [{"name": "chaosdrill", "result": str(DATA / "primary-crash.json"), "failures": []}]
    path.write_text(json.dumps(_journal(extensions=ext)))
    out, _ = render(tmp_path, path)
    rep = json.loads((out / "report.json").read_text())
    assert rep["complete"] is True and rep["drills"][0]["times"]["mttd"]["production_s"] == 113.55


def test_render_an_interrupted_journal_without_a_result(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(_journal(status="interrupted")))
    res = CliRunner().invoke(
        cli,
        [
            "report",
            "render",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--history",
            str(tmp_path / "h.sqlite"),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert "the journal names no result (status 'interrupted')" in flat(res.stderr)
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    (d,) = rep["drills"]
    assert (d["scenario"], d["cause"], d["title"]) == (
        "database-down",
        "primary-crash",
        "Database down: the primary crashes",
    )
    assert rep["complete"] is False and not rep["summary"]["passed"]
    assert "Chaos Toolkit status: interrupted" in d["incomplete_reasons"]
    assert d["targets"]["mttd"]["production_s"] == 300.0
    (run,) = History(tmp_path / "h.sqlite").runs()
    assert (run.complete, run.passed) == (False, False)


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{not json", "not JSON: Expecting property name"),
        ("[1, 2]", "expected a JSON object"),
        ('{"hello": 1}', "unknown format: expected a drill result"),
        ('{"chaosdrill_result_version": 9}', "field 'chaosdrill_result_version'"),
        ('{"chaosdrill_result_version": 1, "timeline": []}', "'targets.production.mttd_s'"),
        (
            '{"chaosdrill_report_version": 1, "drills": [{"id": "a", "result_path": "gone.json"}]}',
            "field 'drills[0].result_path': result file gone.json not found",
        ),
    ],
)
def test_render_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    out, history = tmp_path / "out", tmp_path / "h.sqlite"
    with pytest.raises(SystemExit) as info:
        main(["report", "render", str(path), "--out", str(out), "--history", str(history)])
    assert info.value.code == 2
    err = re.sub(r"\s+", " ", capsys.readouterr().err)
    assert str(path) in err and needle in err
    assert not out.exists() and not history.exists()


def test_render_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["report", "render", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_trend_html_has_a_chart_per_scenario_with_every_run(hist: Path, tmp_path: Path) -> None:
    page = tmp_path / "trend.html"
    invoke("trend", "--history", str(hist), "--html", str(page))
    text = page.read_text()
    assert 'id="trend-high-error-rate"' in text and 'id="trend-database-down"' in text
    assert "http://" not in text.split("<body>")[0] and text.count("plotly.js v") == 1
    # the MTTD series of high-error-rate carries the four runs' values, the missing MTTR too
    chart = text.split('id="trend-high-error-rate"')[1].split('id="trend-')[0]
    assert '"x":["run-0","run-1","run-2","run-3"]' in chart
    assert '"y":[150.0,150.0,180.0,195.0]' in chart
