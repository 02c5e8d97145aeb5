"""The run folder layout, and the reports writer telling what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from chaosdrill.drill.model import DrillResult
from chaosdrill.report.rundir import RunDir, new_run_id
from chaosdrill.report.writer import OUTPUTS, write_reports

DATA = Path(__file__).resolve().parents[1] / "data" / "results"


def test_runs_of_one_name_in_one_second_get_their_own_folders(tmp_path: Path) -> None:
    runs = [RunDir.create(tmp_path, "bad release") for _ in range(3)]
    ids = [r.run_id for r in runs]
    assert len(set(ids)) == 3
    assert all(" " not in i and i.split("-", 1)[1].startswith("bad-release") for i in ids)
    for run in runs:
        assert run.path == tmp_path / run.run_id and run.drills.is_dir()
    first = runs[0]
    assert first.drill_result(1, Path("x/bad-release.json")) == first.drills / "01-bad-release.json"
    assert first.drill_log(12, "primary-crash") == first.drills / "12-primary-crash.log"


def test_a_given_run_id_is_kept(tmp_path: Path) -> None:
    rid = new_run_id("gate")
    (tmp_path / rid).mkdir()  # named first (the gate writes there on failure too)
    assert RunDir.create(tmp_path, "ignored", rid).path == tmp_path / rid


def test_an_empty_run_folder_can_be_removed_and_a_used_one_stays(tmp_path: Path) -> None:
    empty, used = RunDir.create(tmp_path, "a"), RunDir.create(tmp_path, "a")
    used.drill_result(1, "a").write_text("{}")
    empty.remove_if_empty()
    used.remove_if_empty()
    assert not empty.path.exists() and used.drill_result(1, "a").is_file()


def test_write_reports_returns_what_report_json_holds(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "reports", "bad-release")
    source = DATA / "bad-release.json"
    result = DrillResult.from_json(json.loads(source.read_text()), source=str(source))
    written = write_reports([(result, str(source))], run.path, run_id=run.run_id)
    assert written.out_dir == run.path and written.path == run.path / "report.json"
    assert sorted(written.files) == sorted(OUTPUTS)
    assert all(p.is_file() for p in written.files.values())
    assert written.report.to_json() == json.loads(written.path.read_text())
    assert written.report.run_id == run.run_id
    assert (tmp_path / "reports" / "history.sqlite").is_file()
