"""Every fault kind is undone whatever ends its drill (the table in docs/faults.md).

kill -9 of a drill while its fault is being injected, then ``chaosdrill env recover``; a
stop signal landing at the same point; and a drill whose runbook fails while HAProxy and a
service replica crash under it.

For every fault kind the drill (the real ``chaosdrill run`` of its experiment) is killed
with SIGKILL at a point inside the injection (:mod:`tests.killpoint`): after the fault has
begun to take effect and before the drill knows it has been applied, so nothing of the
drill's own clean-up runs and whatever it started (the load run, a holder process) lives
on. ``env recover`` must then leave the environment as it was before the drill: the
ledger closed, the fault gone, the same number of replicas serving the same release, each
of them known to the supervisor, HAProxy and the state alike, one writable database with
its standby streaming, the cache answering, the flags as they were, no load left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.environments.local.state import EnvState
from chaosdrill.faults import make_fault
from chaosdrill.faults.holder import find_holders
from chaosdrill.faults.ledger import FaultLedger, LedgerEntry
from chaosdrill.load import active_run
from tests.repo import EXPERIMENTS_DIR

from ..conftest import start_env, stop_env, wait_for

pytestmark = pytest.mark.e2e
K = 30
REPO = Path(__file__).resolve().parents[2]
LOCAL = "chaosdrill.environments.local"

KILL_POINTS: dict[str, str] = {
    # a new replica is UP in HAProxy, the state does not know it yet
    "bad-release": f"{LOCAL}.haproxy:HAProxy.add_server",
    "leaky-release": f"{LOCAL}.haproxy:HAProxy.add_server",
    # the primary is dead, the fault has not seen it go down yet
    "primary-crash": f"{LOCAL}.database:DatabaseOps.crash_primary",
    # Redis is frozen
    "cache-outage": f"{LOCAL}.cache:CacheOps.freeze_cache",
    # the index is dropped
    "missing-index": f"{LOCAL}.database:DatabaseOps.sql",
    # the flag is on in the first replica only
    "leaky-feature": "httpx:put",
    # the holder holds the lock, the fault has not heard back from it
    "pool-exhaustion": "subprocess:run",
    # the holder is still opening connections (one second into its flood)
    "connection-limit": "subprocess:run@1.0",
}
# the kill lands while replicas are being retired: half the old ones are gone
MID_RETIRE = f"{LOCAL}.deployment:DeploymentOps._retire_replica"


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    environment = start_env("e2e-kill", **EnvSettings.for_time_scale(K).__dict__)
    try:
        yield environment
    finally:
        stop_env(environment)


@dataclass(frozen=True)
class Picture:
    """What a whole environment looks like, as far as the faults can change it."""

    replicas: int
    version: str
    flags: tuple[tuple[str, bool], ...]
    writable: int
    standby_streaming: bool
    cache_up: bool
    index_valid: bool


def _served_versions(env: LocalEnvironment) -> dict[str, str]:
    """What each replica HAProxy routes to actually runs (asked over its admin API)."""
    headers = {"Authorization": f"Bearer {env.admin_token()}"}
    st = EnvState.load(env.root)
    ports = {r.name: r.port for r in st.replicas}
    out = {}
    for name in env.ctx.haproxy.stats():
        port = ports.get(name)
        if port is None:
            out[name] = "<not in the state>"
            continue
        r = httpx.get(f"http://127.0.0.1:{port}/admin/revision", headers=headers, timeout=5)
        out[name] = r.json()["version"]
    return out


def _consistent(env: LocalEnvironment) -> dict[str, Any]:
    """Replica names as the state, the supervisor and HAProxy know them."""
    st = EnvState.load(env.root)
    programs = {
        i["name"]
        for i in env.ctx.supervisor.all_info()
        if i["name"].startswith("app-") and i["statename"] == "RUNNING"
    }
    return {
        "state": sorted(r.name for r in st.replicas),
        "supervisor": sorted(programs),
        "haproxy": sorted(env.ctx.haproxy.stats()),
    }


def picture(env: LocalEnvironment) -> Picture:
    status = env.deployment_status()
    nodes = env.database_status().nodes
    index = env.sql(
        "select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid "
        "where c.relname = 'enrollments_course_id_idx'"
    )
    versions = set(_served_versions(env).values())
    return Picture(
        replicas=status.ready,
        version=versions.pop() if len(versions) == 1 else f"mixed: {sorted(versions)}",
        flags=tuple(sorted(env.get_flags().items())),
        writable=sum(1 for n in nodes if n.up and n.in_recovery is False),
        standby_streaming=any(n.up and n.in_recovery for n in nodes),
        cache_up=env.cache_status().up,
        index_valid=bool(index and index[0][0]),
    )


def _drill_cmd(env: LocalEnvironment, kind: str, point: str, tmp_path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.killpoint",
        point,
        "--",
        "run",
        str(EXPERIMENTS_DIR / f"{kind}.json"),
        "--name",
        env.name,
        "--time-scale",
        str(K),
        "--reports",
        str(tmp_path / "reports"),
        "--quiet",
    ]


def _kill_mid_injection(
    env: LocalEnvironment, kind: str, point: str, tmp_path: Path
) -> tuple[LedgerEntry, str]:
    cmd = _drill_cmd(env, kind, point, tmp_path)
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert f"killpoint reached {point}" in proc.stderr, proc.stderr
    [entry] = [e for e in FaultLedger(env.root / "faults.jsonl").open_entries() if e.kind == kind]
    return entry, proc.stderr


def _recover(env: LocalEnvironment) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "chaosdrill", "env", "recover", "--name", env.name],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _whole_again(env: LocalEnvironment, before: Picture) -> None:
    try:
        wait_for(lambda: picture(env) == before, 60, interval=1.0)
    except AssertionError:
        assert picture(env) == before
    sets = _consistent(env)
    assert sets["state"] == sets["supervisor"] == sets["haproxy"], sets
    assert active_run(env.root / "load") is None, "the killed drill's load still runs"
    for kind in ("pool-exhaustion", "connection-limit"):
        assert find_holders(env.root, kind) == []
    assert env.ctx.supervisor.alive()


CASES = [pytest.param(kind, point, id=kind) for kind, point in KILL_POINTS.items()]
CASES += [
    pytest.param(kind, MID_RETIRE, id=f"{kind}-mid-retire")
    for kind in ("bad-release", "leaky-release")
]


@pytest.mark.parametrize(("kind", "point"), CASES)
def test_env_recover_after_kill_mid_injection(
    env: LocalEnvironment, kind: str, point: str, tmp_path: Path
) -> None:
    before = wait_for(lambda: (p := picture(env)).replicas == 2 and p.standby_streaming and p, 60)
    entry, _ = _kill_mid_injection(env, kind, point, tmp_path)

    out = _recover(env)
    assert f"{entry.id} {kind}" in out and "reverted" in out, out
    assert not [e for e in FaultLedger(env.root / "faults.jsonl").open_entries()]
    assert not make_fault(kind, entry.params).is_active(env)
    _whole_again(env, before)


SIGNALS = {
    "bad-release": "INT",
    "leaky-release": "HUP",
    "pool-exhaustion": "TERM",
    "connection-limit": "INT",
    "missing-index": "HUP",
    "primary-crash": "TERM",
    "cache-outage": "INT",
    "leaky-feature": "TERM",
}


@pytest.mark.parametrize(
    ("kind", "sig"), [pytest.param(k, s, id=f"{k}-SIG{s}") for k, s in SIGNALS.items()]
)
def test_a_stop_signal_mid_injection_reverts_before_the_drill_ends(
    env: LocalEnvironment, kind: str, sig: str, tmp_path: Path
) -> None:
    """Ctrl-C, a closed terminal or SIGTERM in the middle of the injection: all undone."""
    before = wait_for(lambda: (p := picture(env)).replicas == 2 and p.standby_streaming and p, 60)
    ledger = FaultLedger(env.root / "faults.jsonl")
    known = {e.id for e in ledger.entries()}
    cmd = _drill_cmd(env, kind, KILL_POINTS[kind], tmp_path)
    cmd[3:3] = ["--signal", sig]
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert f"killpoint reached {KILL_POINTS[kind]}" in proc.stderr, proc.stderr
    [entry] = [e for e in ledger.entries() if e.id not in known]
    assert entry.kind == kind and not entry.is_open, entry
    assert not make_fault(kind, entry.params).is_active(env)
    _whole_again(env, before)
    [result_file] = (tmp_path / "reports").glob("*/drills/*.json")
    result = json.loads(result_file.read_text())
    assert not result["complete"] and f"SIG{sig}" in result["failures"][0], result["failures"]
    assert result["measurements"]["revert"]["ok"], result["measurements"]["revert"]


FAILING_RUNBOOK = """\
name: fails-at-once
title: A runbook that cannot work
description: Its only check can never pass; it fails after one second.
steps:
  - name: Wait for 99 replicas
    check:
      op: deployment_status
      path: ready
      expect: {equals: 99}
    timeout_s: 1
"""


def _catalogue_with_failing_runbook(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """A workspace with the runbook ``fails-at-once``, and its experiment for kind.

    Everything else (scenarios, rules, the other runbooks) resolves in the built-in catalogue.
    """
    from tests.repo import make_workspace

    root = make_workspace(tmp_path / "root", {"runbooks/fails-at-once.yaml": FAILING_RUNBOOK})
    (root / "experiments").mkdir()
    data = json.loads((EXPERIMENTS_DIR / f"{kind}.json").read_text())
    data["extensions"][0]["runbook"] = "fails-at-once"
    data["extensions"][0]["runbooks"] = ["fails-at-once"]
    for activity in data["method"]:
        if activity["provider"]["func"] == "run_runbook":
            activity["provider"]["arguments"] = {"name": "fails-at-once", "params": {}}
    experiment = root / "experiments" / f"{kind}.json"
    experiment.write_text(json.dumps(data))
    return root, experiment


# one fault of each way of reverting: a release (rolled back), the database (failed over),
# a holder process (killed, its sessions terminated) and the cache (thawed); every fault's
# own revert after a kill -9 is tested above
@pytest.mark.parametrize(
    "kind", ["bad-release", "primary-crash", "connection-limit", "cache-outage"]
)
def test_a_failed_runbook_and_crashing_components_still_end_reverted(
    env: LocalEnvironment, kind: str, tmp_path: Path
) -> None:
    """The runbook fails, HAProxy and a replica are SIGKILLed mid-drill: all undone."""
    before = wait_for(lambda: (p := picture(env)).replicas == 2 and p.standby_streaming and p, 60)
    root, experiment = _catalogue_with_failing_runbook(tmp_path, kind)
    ledger = FaultLedger(env.root / "faults.jsonl")
    known = {e.id for e in ledger.entries()}
    cmd = [
        sys.executable,
        "-m",
        "chaosdrill",
        "run",
        str(experiment),
        "--name",
        env.name,
        "--time-scale",
        str(K),
        "--hold",
        "30",
        "--recovery-timeout",
        "60",
        "--reports",
        str(tmp_path / "reports"),
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CHAOSDRILL_WORKSPACE": str(root)},
    )
    try:
        wait_for(lambda: [e for e in ledger.open_entries() if e.id not in known], 240)
        # in effect, and its rollout (for a release) finished: the crashes come after it
        wait_for(
            lambda: make_fault(kind, {}).is_active(env) and EnvState.load(env.root).rollout is None,
            60,
            interval=0.2,
        )
        api = env.ctx.supervisor.api.supervisor
        api.signalProcess("haproxy", "KILL")
        api.signalProcess(EnvState.load(env.root).replicas[0].name, "KILL")
        out, err = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out + err  # the drill failed, and said so
    [entry] = [e for e in ledger.entries() if e.id not in known]
    assert entry.kind == kind and not entry.is_open, entry
    assert not make_fault(kind, entry.params).is_active(env)
    _whole_again(env, before)
    [result_file] = (tmp_path / "reports").glob("*/drills/*.json")
    result = json.loads(result_file.read_text())
    assert result["measurements"]["revert"]["ok"], result["measurements"]["revert"]
    assert not result["verdict"]["passed"]
    assert any("fails-at-once" in f or "runbook" in f for f in result["failures"]), result[
        "failures"
    ]
