"""The drill worker: its request and outcome files, and a real child that refuses bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdrill.drill.worker import (
    WorkerOutcome,
    WorkerRequest,
    read_outcome,
    read_request,
    run_drill_in_child,
    write_outcome,
    write_request,
)
from chaosdrill.errors import InvalidInputError
from tests.repo import EXPERIMENTS_DIR


def test_a_request_survives_its_file(tmp_path: Path) -> None:
    request = WorkerRequest(
        experiment=tmp_path / "x.json",
        result_path=tmp_path / "run" / "drills" / "01-x.json",
        env_name="drill",
        time_scale=60.0,
        hold_production_s=200.0,
        mttd_target_s=300.0,
        mttr_target_s=1800.0,
        recovery_timeout_production_s=600.0,
        load={"rate": 40, "users": 3},
        run_dir=tmp_path / "run",
        outcome_path=tmp_path / "outcome.json",
    )
    path = tmp_path / "request.json"
    write_request(path, request)
    assert read_request(path) == request
    minimal = WorkerRequest(experiment=Path("a.json"), result_path=Path("b.json"))
    write_request(path, minimal)
    assert read_request(path) == minimal
    assert not list(tmp_path.glob(".*.tmp"))  # written through a rename


def test_an_outcome_survives_its_file(tmp_path: Path) -> None:
    path = tmp_path / "outcome.json"
    for outcome in (
        WorkerOutcome(0, tmp_path / "r.json", True),
        WorkerOutcome(2, None, None, "bad input", "InvalidInputError"),
        WorkerOutcome(130, tmp_path / "r.json", None, None, None, "signal SIGTERM"),
    ):
        write_outcome(path, outcome)
        assert read_outcome(path) == outcome


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"result_path": "r.json"}, "experiment"),
        ({"experiment": "x.json", "result_path": "r.json", "time_scale": "fast"}, "time_scale"),
        ({"experiment": "x.json", "result_path": "r.json", "load": [1]}, "load"),
        ({"experiment": "x.json", "result_path": "r.json", "colour": "red"}, "colour"),
        ({"experiment": "x.json", "result_path": "r.json", "time_scale": True}, "time_scale"),
    ],
)
def test_a_bad_request_names_its_field(tmp_path: Path, data: dict[str, object], field: str) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"chaosdrill_worker_request": 1, **data}))
    with pytest.raises(InvalidInputError) as caught:
        read_request(path)
    assert caught.value.field == field and caught.value.source == str(path)


def test_a_request_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"chaosdrill_worker_request": 2, "experiment": "x"}))
    with pytest.raises(InvalidInputError, match="expected 1"):
        read_request(path)


def _no_extension(tmp_path: Path) -> Path:
    """A valid Chaos Toolkit experiment without the chaosdrill extension."""
    data = json.loads((EXPERIMENTS_DIR / "bad-release.json").read_text())
    data["extensions"] = []
    path = tmp_path / "plain.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.json", "cannot read the file"),
        (_no_extension, "expected an extension named 'chaosdrill'"),
    ],
)
def test_an_invalid_experiment_exits_2_in_a_real_child_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object, message: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CHAOSDRILL_HOME", str(home))
    experiment = make(tmp_path)  # type: ignore[operator]
    run = tmp_path / "run"
    request = WorkerRequest(
        experiment=experiment,
        result_path=run / "drills" / "01-x.json",
        env_name="worker-test",
        time_scale=60.0,
        run_dir=run,
    )
    log = run / "drills" / "01-x.log"
    outcome = run_drill_in_child(request, log=log, timeout=120)
    assert outcome.exit_code == 2, log.read_text()
    assert outcome.error_class == "InvalidInputError"
    assert outcome.error is not None and message in outcome.error
    assert str(experiment) in outcome.error
    assert outcome.result_path is None and outcome.load_result() is None
    assert outcome.interrupted is None
    assert message in log.read_text()  # the child's own output, for people
    assert list(home.iterdir()) == []  # no environment was brought up
    assert not (run / "drills" / "01-x.json").exists()
