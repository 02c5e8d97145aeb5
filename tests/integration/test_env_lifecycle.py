"""env up/down leave nothing behind, and a half-started environment cleans up after itself."""

from __future__ import annotations

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
    stop_env(env)
    assert not root.exists()
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
