"""env up/down leave nothing behind, and a half-started environment cleans up after itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from chaosdrill.environments.holding import Claim
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


def _up_command(name: str) -> list[str]:
    return [
        *(sys.executable, "-m", "chaosdrill", "env", "up", "--name", name),
        *("--replicas", "1", "--enrollments", "1000"),
    ]


def test_two_concurrent_ups_of_one_name_bring_it_up_once_and_a_held_one_stays_up() -> None:
    name = unique_name("twice")
    root = state_root() / "envs" / name
    ups = [
        subprocess.Popen(
            _up_command(name), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    holder = subprocess.Popen(["sleep", "300"])
    try:
        outs = [up.communicate(timeout=240) for up in ups]
        assert sorted(up.returncode for up in ups) == [0, 2], outs
        [(_, refused)] = [o for up, o in zip(ups, outs, strict=True) if up.returncode == 2]
        assert "is already up" in " ".join(refused.split()), refused
        env = LocalEnvironment.attach(name)  # the winner's directory and processes are whole
        assert env.alive() and (root / "env.json").is_file()
        assert all(c.health == "ok" for c in env.components()), env.components()
        # a drill holds it: `env down` is refused, naming it; --force takes it down
        Claim("drill", "bad-release", pid=holder.pid).take(root, name)
        out = _cli("env", "down", "--name", name)
        _assert_one_line_error(out, f"held by drill 'bad-release' (pid {holder.pid},")
        assert env.alive() and root.is_dir()
        forced = _cli("env", "down", "--name", name, "--force")
        assert forced.returncode == 0, (forced.stdout, forced.stderr)
        assert not root.exists() and _marked(str(root)) == []
    finally:
        holder.kill()
        holder.wait()
        for up in ups:
            if up.poll() is None:
                up.kill()
                up.communicate()
        if root.exists():
            LocalEnvironment.take_down(name, force=True)


def test_a_down_during_an_up_waits_for_it_and_then_takes_it_down() -> None:
    name = unique_name("updown")
    root = state_root() / "envs" / name
    up = subprocess.Popen(
        _up_command(name), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (root / "env.json").exists():  # the up is under way
            assert up.poll() is None, up.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        down = _cli("env", "down", "--name", name)
        out, err = up.communicate(timeout=120)
        assert up.returncode == 0, out + err  # not cut short by the down
        assert down.returncode == 0, (down.stdout, down.stderr)
        assert not root.exists() and _marked(str(root)) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        if root.exists():
            LocalEnvironment.take_down(name, force=True)
