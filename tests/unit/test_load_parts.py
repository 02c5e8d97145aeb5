"""Load parts that need no process: spec validation, ledger outcomes, SLI merging."""

import json
from pathlib import Path

import pytest

from chaosdrill.errors import InvalidInputError
from chaosdrill.load.ledger import LedgerWriter, classify, read_ledger
from chaosdrill.load.sli import ALL, merge, percentile
from chaosdrill.load.spec import LoadSpec


def test_locust_is_not_imported_by_the_framework() -> None:
    import subprocess
    import sys

    code = (
        "import chaosdrill, chaosdrill.cli.main, chaosdrill.load, sys; "
        "print('locust' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"rate": 0}, "rate"),
        ({"users": 0}, "users"),
        ({"workers": -1}, "workers"),
        ({"workers": 4, "users": 2}, "users"),
        ({"duration_s": 0}, "duration_s"),
        ({"weights": {"browse": 0}}, "weights"),
        ({"weights": {"nope": 1}}, "weights"),
        ({"rate": True}, "rate"),
        ({"rate": "x"}, "rate"),
        ({"users": "2"}, "users"),
        ({"users": 2.5}, "users"),
        ({"timeout_s": None}, "timeout_s"),
        ({"weights": "browse"}, "weights"),
        ({"weights": {"browse": "x"}}, "weights"),
        ({"weights": {"browse": 1, "enroll": -1}}, "weights"),
    ],
)
def test_bad_specs_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        LoadSpec(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_spec_round_trips_and_splits_the_rate(tmp_path: Path) -> None:
    spec = LoadSpec(rate=50, users=10, workers=2)
    (tmp_path / "s.json").write_text(spec.to_json())
    assert LoadSpec.from_file(tmp_path / "s.json") == spec
    assert spec.per_user_rate == 5.0


@pytest.mark.parametrize(
    "status, outcome",
    [
        (201, "ok"),
        (200, "ok"),
        (500, "failed"),
        (503, "failed"),
        (422, "failed"),
        (0, "indeterminate"),
        (502, "indeterminate"),
        (504, "indeterminate"),
    ],
)
def test_outcomes(status: int, outcome: str) -> None:
    assert classify(status) == outcome


def test_ledger_pending_attempts_read_as_indeterminate(tmp_path: Path) -> None:
    ledger = LedgerWriter(tmp_path / "ledger-1.db")
    ledger.begin("r1.1.0", 3)
    ledger.finish("r1.1.0", 201, enrollment_id=10, price_cents=900)
    ledger.begin("r1.1.1", 4)  # the process died before the answer
    ledger.begin("r1.1.2", 5)
    ledger.finish("r1.1.2", 503, error="pool exhausted")
    ledger.close()
    attempts = {a.client_key: a for a in read_ledger([tmp_path / "ledger-1.db"])}
    assert attempts["r1.1.0"].outcome == "ok" and attempts["r1.1.0"].enrollment_id == 10
    assert attempts["r1.1.1"].outcome == "indeterminate"
    assert attempts["r1.1.2"].outcome == "failed"
    assert attempts["r1.1.0"].done_monotonic is not None
    assert attempts["r1.1.1"].done_monotonic is None


def test_percentile_is_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 95) == 0.0


def test_merge_combines_processes_exactly(tmp_path: Path) -> None:
    a = tmp_path / "sli-1.jsonl"
    b = tmp_path / "sli-2.jsonl"
    a.write_text(
        json.dumps({"second": 7, "wall": 1.0, "flow": "browse", "failures": 1, "ms": [10.0, 20.0]})
        + "\n"
        + "{cut by a kill"
    )
    b.write_text(
        json.dumps({"second": 7, "wall": 1.0, "flow": "enroll", "failures": 0, "ms": [30.0, 40.0]})
        + "\n"
    )
    points = {(p.second, p.flow): p for p in merge([a, b])}
    assert points[(7, "browse")].requests == 2 and points[(7, "browse")].failures == 1
    everything = points[(7, ALL)]
    assert (everything.requests, everything.failures) == (4, 1)
    assert (everything.p50_ms, everything.p95_ms) == (20.0, 40.0)
