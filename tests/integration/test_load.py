"""User load against a real environment: SLIs, the write ledger, the integrity check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import psutil
import pytest

from chaosdrill.environments.local import LocalEnvironment
from chaosdrill.load import LoadRun, LoadSpec
from chaosdrill.load.ledger import LedgerWriter
from chaosdrill.load.sli import ALL
from chaosdrill.probes.integrity import check_integrity

pytestmark = pytest.mark.integration
FLOWS = {"browse", "view_course", "enroll", "my_enrollment", ALL}


def _run_for(env: LocalEnvironment, seconds: float, **spec: object) -> LoadRun:
    run = env.start_load(LoadSpec(**spec))  # type: ignore[arg-type]
    time.sleep(seconds)
    run.stop()
    return run


def test_a_load_run_writes_slis_and_a_ledger_and_leaves_no_process(
    env: LocalEnvironment,
) -> None:
    run = _run_for(env, 4, rate=40, users=8)
    assert not run.running() and run.processes() == []
    points = [p for p in run.series() if p.flow == ALL]
    assert {p.flow for p in run.series()} == FLOWS
    total = sum(p.requests for p in points)
    assert 80 <= total <= 250, total  # 40 req/s for about 4 s
    assert sum(p.failures for p in points) == 0
    assert (run.run_dir / "sli.jsonl").stat().st_size > 0
    report = check_integrity(env, run)
    assert report.attempts > 10 and report.counts_add_up
    # every write acknowledged is present; only a write still in flight when the run was
    # stopped (at most one per user) may be left without an answer
    assert report.failed == 0 and report.indeterminate <= 8
    assert report.present >= report.ok >= report.attempts - 8
    assert report.passed and report.lost == [] and report.rpo_seconds is None


def test_an_acknowledged_row_deleted_behind_the_service_is_lost(env: LocalEnvironment) -> None:
    run = _run_for(env, 2, rate=30, users=5)
    assert check_integrity(env, run).passed
    victim = [
        r[0]
        for r in env.sql(
            f"select client_key from enrollments where client_key like '{run.run_id}.%' "
            "order by id desc limit 1"
        )
    ]
    env.sql(f"delete from enrollments where client_key = '{victim[0]}'")
    report = check_integrity(env, run)
    assert report.lost == victim
    assert not report.passed
    assert report.rpo_seconds is not None and report.rpo_seconds >= 0


def test_indeterminate_write_that_landed_is_recovered_and_strays_are_unexpected(
    env: LocalEnvironment,
) -> None:
    run = _run_for(env, 1, rate=10, users=2)
    ledger = LedgerWriter(run.run_dir / "ledger-999999.db")
    key = f"{run.run_id}.999999.0"
    ledger.begin(key, 5)
    r = httpx.post(
        f"{env.endpoints().service_url}/api/enrollments",
        json={"course_id": 5, "student_email": "x@load.test", "client_key": key},
        timeout=5,
    )
    assert r.status_code == 201
    ledger.finish(key, 0, error="connection lost before the answer")  # the client never knew
    ledger.close()
    stray = f"{run.run_id}.424242.0"
    env.sql(
        "insert into enrollments (course_id, student_email, price_cents, client_key) "
        f"values (5, 'stray@load.test', 100, '{stray}')"
    )
    report = check_integrity(env, run)
    assert report.recovered == [key]
    assert report.unexpected == [stray]
    assert report.lost == []
    assert not report.passed


def test_distributed_mode_with_two_workers_and_interrupted_runs_leave_nothing(
    env: LocalEnvironment,
) -> None:
    run = env.start_load(LoadSpec(rate=30, users=4, workers=2))
    time.sleep(3)
    procs = run.processes()
    assert len(procs) == 3, procs  # one master, two workers
    assert run.status().recent_rps > 0
    master = psutil.Process(int((run.run_dir / "pid").read_text()))
    os.kill(master.pid, signal.SIGKILL)  # an interrupted run: the master dies without cleanup
    run.stop(grace_s=3)
    assert run.processes() == []
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)
    worker_files = [f for f in run.run_dir.glob("sli-*.jsonl") if f.stat().st_size > 0]
    assert len(worker_files) >= 2  # the workers made the requests
    assert sum(p.requests for p in run.series() if p.flow == ALL) > 20


def test_cli_load_start_status_stop(env: LocalEnvironment) -> None:
    from tests.integration.test_local_environment import cli

    res = cli("load", "start", "--name", env.name, "--rate", "20", "--users", "4")
    assert res.returncode == 0, res.stderr
    res = cli("load", "start", "--name", env.name)
    assert res.returncode == 2 and "still running" in res.stderr
    time.sleep(2)
    res = cli("load", "status", "--name", env.name, "--json")
    assert res.returncode == 0 and '"running": true' in res.stdout
    res = cli("load", "stop", "--name", env.name)
    assert res.returncode == 0 and "stopped" in res.stdout
    res = cli("ops", "integrity", "--name", env.name)
    assert res.returncode == 0 and res.stdout.startswith("PASS"), res.stdout + res.stderr


def _reuse_pid(run: LoadRun, pid: int) -> None:
    """Point the run's record at ``pid``, as when its process died and ``pid`` was reused."""
    (run.run_dir / "pid").write_text(str(pid))
    record = run.run_dir / "process.json"
    if record.exists():  # the start time stays the run's own
        record.write_text(json.dumps({**json.loads(record.read_text()), "pid": pid}))


def _foreign_sleep() -> subprocess.Popen[bytes]:
    """A process unrelated to any load run, leading its own process group (as the run's did)."""
    return subprocess.Popen(["sleep", "120"], start_new_session=True)


def test_stopping_a_run_whose_pid_was_reused_spares_the_new_owner(env: LocalEnvironment) -> None:
    from tests.integration.test_local_environment import cli

    for via_cli in (False, True):
        run = _run_for(env, 1, rate=10, users=2)
        stranger = _foreign_sleep()
        try:
            _reuse_pid(run, stranger.pid)
            assert not run.running()
            if via_cli:
                res = cli("load", "stop", "--name", env.name)
                assert res.returncode == 0, res.stdout + res.stderr
            else:
                run.stop(grace_s=1)
            time.sleep(0.3)
            assert stranger.poll() is None, "the process that reused the pid was signalled"
            assert not (run.run_dir / "pid").exists()  # the stale record is cleared
            assert not (run.run_dir / "process.json").exists()
        finally:
            stranger.kill()
            stranger.wait()


def test_env_recover_leaves_a_live_drills_load_and_stops_an_orphaned_one(
    env: LocalEnvironment,
) -> None:
    from tests.integration.test_local_environment import cli

    run = env.start_load(LoadSpec(rate=10, users=2), drill="a-drill")  # this process: alive
    try:
        assert run.drill_owner() == os.getpid()
        res = cli("env", "recover", "--name", env.name)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"load run {run.run_id} left running" in res.stdout
        assert run.running()
    finally:
        run.stop(grace_s=3)
    orphan = env.start_load(LoadSpec(rate=10, users=2), drill="a-drill")
    record = orphan.run_dir / "process.json"
    data = json.loads(record.read_text())
    data["owner"]["create_time"] -= 3600  # the drill's pid, now another process: it is gone
    record.write_text(json.dumps(data))
    assert orphan.drill_owner() is None
    res = cli("env", "recover", "--name", env.name)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"stopped load run {orphan.run_id}" in res.stdout
    assert not orphan.running() and orphan.processes() == []
