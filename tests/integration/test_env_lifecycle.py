"""env up/down leave nothing behind, and a half-started environment cleans up after itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from chaosdrill.environments.local import EnvSettings, LocalEnvironment, components
from chaosdrill.environments.local.lifecycle import ENV_MARKER, listening_ports
from chaosdrill.environments.local.state import state_root
from chaosdrill.errors import ComponentStartError, EnvironmentNotFoundError, InvalidInputError

from ..conftest import start_env, stop_env, unique_name

pytestmark = pytest.mark.integration


def _marked(root: str) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(ENV_MARKER) == root:
                pids.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return pids


def _still_running(proc: psutil.Process) -> bool:
    """True if this very process (not a reused pid) is still running (zombies have exited)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_env_down_leaves_no_process_no_port_no_state() -> None:
    env = start_env("down", replicas=1, enrollments=1000)
    root = env.root
    ports = {*env.state.ports.values(), *(r.port for r in env.state.replicas)}
    procs = [psutil.Process(c.pid) for c in env.components() if c.pid]
    assert len(procs) >= 11
    assert _marked(str(root)), "components carry the environment marker"
    assert listening_ports(ports) == ports
    pg_dir = env.state.pg_dir
    assert pg_dir.is_dir()
    stop_env(env)
    assert not root.exists() and not pg_dir.exists()
    assert [p for p in procs if _still_running(p)] == []
    assert _marked(str(root)) == []
    assert listening_ports(ports) == set()
    env.down()  # twice is fine
    with pytest.raises(EnvironmentNotFoundError, match="no environment named"):
        LocalEnvironment.attach(env.name)


def test_a_part_that_fails_to_start_stops_everything_and_names_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = components.static_programs

    def broken_redis(ctx):  # type: ignore[no-untyped-def]
        programs = original(ctx)
        for prog in programs:
            if prog.name == "redis":
                prog.command = [*prog.command, "--no-such-directive", "yes"]
        return programs

    monkeypatch.setattr(components, "static_programs", broken_redis)
    name = unique_name("broken")
    with pytest.raises(ComponentStartError) as info:
        LocalEnvironment.up(name, EnvSettings(replicas=1, enrollments=1000))
    assert info.value.component == "redis"
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "no-such-directive" in notes, notes  # the tail of redis' own log
    env_root = state_root() / "envs" / name
    assert not env_root.exists()
    assert _marked(str(env_root)) == []


def test_invalid_settings_are_refused_before_anything_starts() -> None:
    name = unique_name("bad")
    for settings, field in [
        (EnvSettings(replicas=0), "replicas"),
        (EnvSettings(replicas=99), "replicas"),
        (EnvSettings(scrape_interval_s=0), "scrape_interval_s"),
        (EnvSettings(pool_size=0), "pool_size"),
    ]:
        with pytest.raises(InvalidInputError, match=field):
            LocalEnvironment.up(name, settings)
    with pytest.raises(InvalidInputError, match="name"):
        LocalEnvironment.up("Bad Name!", EnvSettings())
    assert not (state_root() / "envs" / name).exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``chaosdrill`` command line (wide output: one message, one line)."""
    return subprocess.run(
        [sys.executable, "-m", "chaosdrill", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "1000"},
    )


def _assert_one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 3, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _assert_taken_down(root: str, ports: set[int], name: str) -> None:
    out = _cli("env", "down", "--name", name)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert f"environment {name!r} is down" in out.stdout
    assert not os.path.exists(root)
    assert _marked(root) == []
    assert listening_ports(ports) == set()


def test_a_torn_state_file_is_named_and_env_down_still_stops_everything() -> None:
    env = start_env("torn", replicas=1, enrollments=1000)
    try:
        ports = {*env.state.ports.values(), *(r.port for r in env.state.replicas)}
        assert _marked(str(env.root))
        state = env.root / "env.json"
        state.write_bytes(state.read_bytes()[:100])  # torn mid-write
        for args in (["env", "status"], ["env", "logs", "redis"], ["ops", "top"]):
            out = _cli(*args, "--name", env.name)
            _assert_one_line_error(out, str(state), f"chaosdrill env down --name {env.name}")
        _assert_taken_down(str(env.root), ports, env.name)
    finally:
        stop_env(env)


def test_a_dead_supervisor_is_named_and_env_down_still_stops_everything() -> None:
    env = start_env("nosup", replicas=1, enrollments=1000)
    try:
        ports = {*env.state.ports.values(), *(r.port for r in env.state.replicas)}
        pid = env.ctx.supervisor.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        psutil.wait_procs([psutil.Process(pid)], timeout=5)
        for args in (["env", "status"], ["ops", "top"]):
            out = _cli(*args, "--name", env.name)
            _assert_one_line_error(out, "supervisord", "is down", str(env.root))
        assert len(_marked(str(env.root))) >= 10  # its programs run on, unsupervised
        _assert_taken_down(str(env.root), ports, env.name)
    finally:
        stop_env(env)
