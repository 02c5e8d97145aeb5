"""A workspace's own service drilled end to end: the bookshop plan of five drills.

The bookshop (examples/workspaces/bookshop) is not the reference target: its own server,
schema, routes and metrics, declared in its chaosdrill.yaml. Its plan runs from a copy of
the workspace at the suite's time scale; every drill must pass, and the two runbooks the
workspace overrides must be the ones that ran.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.repo import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

K = 20  # as the reference drills: 20x production
HOLD = 100  # production seconds of hold (5 s at K)


def _chaosdrill(*args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaosdrill", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_bookshop_plan_passes_against_its_own_service(tmp_path: Path) -> None:
    ws = tmp_path / "bookshop"
    shutil.copytree(
        ROOT / "examples" / "workspaces" / "bookshop",
        ws,
        ignore=shutil.ignore_patterns("__pycache__", "20*", "history.sqlite"),
    )
    name = unique_name("bookshop")
    try:
        run = _chaosdrill(
            "run",
            "--plan",
            "bookshop",
            "--name",
            name,
            "--time-scale",
            str(K),
            "--hold",
            str(HOLD),
            "--quiet",
            cwd=ws,
            timeout=1100,
        )
    finally:
        _chaosdrill("env", "down", "--name", name, "--force", cwd=ws, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    [result] = [p for p in (ws / "reports").iterdir() if p.is_dir()]
    report = json.loads((result / "report.json").read_text())
    assert report["summary"]["passed"], report["summary"]
    assert report["plan"]["service"] == "bookshop"
    drills = {d["id"]: d for d in report["drills"]}
    assert set(drills) == {
        "bad-release",
        "primary-crash",
        "connection-limit",
        "cache-outage",
        "missing-index",
    }
    for drill in drills.values():
        assert drill["verdict"]["passed"], (drill["id"], drill["failures"])
        assert drill["time_scale"] == K
        assert Path(drill["experiment"]).parent == ws / "experiments"  # the workspace's own
        # verified through its own routes; the reference target's integrity check is not made
        assert drill["verification"]["critical_flows"]["ok"], drill["verification"]
        assert "data_integrity" not in drill["verification"]
    # the workspace's runbooks ran where it overrides the built-in ones
    sources = {b["name"]: b["source"] for d in drills.values() for b in d["runbooks"]}
    assert sources["add-index"] == "workspace" and sources["warm-cache"] == "workspace"
    assert sources["database-failover"] == sources["rollback-deployment"] == "built-in"
    # the environment ran the bookshop, not the reference target
    assert {d["environment"]["target"] for d in drills.values()} == {"bookshop"}
