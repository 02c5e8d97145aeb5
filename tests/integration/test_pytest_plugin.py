"""chaosdrill's pytest plugin: installed by entry point, a marker, fixtures, one real drill."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import chaosdrill.pytest_plugin as plugin
from chaosdrill.environments.local import LocalEnvironment, list_environments
from chaosdrill.environments.local.state import state_root
from chaosdrill.pytest_plugin import DrillReport, DrillRunError, DrillRunner
from tests.repo import EXPERIMENTS_DIR
from tests.repo import ROOT as PROJECT_ROOT

from ..conftest import unique_name

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

EXAMPLE = PROJECT_ROOT / "examples" / "test_drill_example.py"
# pytester points HOME at its own directory; the environments stay where they are
STATE_ROOT = state_root()

# appended to the shipped example: a test that fails on purpose, so that its report must
# carry the environment's logs (it reads the first test's result instead of running a drill)
FAILING_TEST = """

def test_fails_on_purpose(chaosdrill_env, tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    [path] = {p.resolve() for p in base.glob("*/chaosdrill/*/*/bad-release.json")}
    import json
    from pathlib import Path
    report = DrillReport.from_result(json.loads(path.read_text()), path, 0, Path("bad-release"))
    assert report.mttd_s < 0
"""


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSDRILL_HOME", str(STATE_ROOT))


# -- cheap: no environment -------------------------------------------------------------------


def test_the_plugin_is_loaded_through_its_entry_point(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    assert config.pluginmanager.get_plugin("chaosdrill") is plugin
    dists = {dist.project_name for _, dist in config.pluginmanager.list_plugin_distinfo()}
    assert "chaosdrill" in dists
    off = pytester.parseconfig("-p", "no:chaosdrill")
    assert off.pluginmanager.get_plugin("chaosdrill") is None


def test_the_marker_and_the_options_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.drill(experiment=None, time_scale=None, *"])
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--chaosdrill-env=NAME*", "*--chaosdrill-time-scale=K*", "*--chaosdrill-keep-env*"]
    )
    result.stdout.fnmatch_lines(["*chaosdrill_time_scale (string):*"])


def test_importing_the_plugin_imports_no_drill_machinery() -> None:
    code = (
        "import json, sys, threading\n"
        "import chaosdrill.pytest_plugin\n"
        "print(json.dumps({'modules': sorted(sys.modules), "
        "'threads': threading.active_count()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(out.stdout)
    heavy = ("locust", "chaoslib", "chaostoolkit", "gevent", "chaosdrill.drill", "chaosdrill.ctk")
    assert [m for m in seen["modules"] if m.split(".")[0] in heavy or m.startswith(heavy)] == []
    assert seen["threads"] == 1
    assert out.stderr == ""


def test_time_scale_from_the_option_else_the_ini_else_20(pytester: pytest.Pytester) -> None:
    assert pytester.parseconfigure().stash[plugin._SESSION].time_scale == 20
    pytester.makeini("[pytest]\nchaosdrill_time_scale = 30\n")
    config = pytester.parseconfigure("--chaosdrill-env", "mine", "--chaosdrill-keep-env")
    state = config.stash[plugin._SESSION]
    assert (state.time_scale, state.env_name, state.keep_env) == (30, "mine", True)
    assert (
        pytester.parseconfigure("--chaosdrill-time-scale", "40").stash[plugin._SESSION].time_scale
        == 40
    )
    result = pytester.runpytest("--chaosdrill-time-scale", "0.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaosdrill-time-scale: expected a number from 1 to 1000*"])


def test_the_marker_gives_run_drill_its_defaults(pytester: pytest.Pytester) -> None:
    # a stand-in environment: nothing is brought up, no drill runs
    pytester.makeconftest(
        """
        import types
        import pytest

        @pytest.fixture(scope="session")
        def chaosdrill_env():
            return types.SimpleNamespace(name="stand-in")
        """
    )
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.drill(time_scale=40)

        @pytest.mark.drill("bad-release", hold_s=200)
        def test_marked(run_drill):
            # the closest marker wins; the module's fills in what it leaves out
            assert run_drill.defaults == {
                "experiment": "bad-release", "hold_s": 200, "time_scale": 40
            }
            assert run_drill.time_scale == 25  # the session's
            assert run_drill.env.name == "stand-in"

        def test_module_mark(run_drill):
            assert run_drill.defaults == {"time_scale": 40}
            with pytest.raises(ValueError, match="needs an experiment"):
                run_drill()

        @pytest.mark.drill("a", "b")
        def test_two_experiments(run_drill):
            pass

        @pytest.mark.drill("bad-release", hold=200)
        def test_unknown_argument(run_drill):
            pass
        """
    )
    result = pytester.runpytest("--chaosdrill-time-scale", "25", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*at most one positional argument*",
            "*unknown argument(s) hold; expected experiment, time_scale, hold_s, *",
        ]
    )


def test_experiments_by_name_or_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert plugin.resolve_experiment("bad-release") == EXPERIMENTS_DIR / "bad-release.json"
    assert plugin.resolve_experiment("bad-release.json") == EXPERIMENTS_DIR / "bad-release.json"
    own = tmp_path / "mine.json"
    own.write_text("{}")
    assert plugin.resolve_experiment(own) == own
    monkeypatch.chdir(tmp_path)
    assert plugin.resolve_experiment("mine.json") == own
    assert plugin.resolve_experiment("./mine.json") == own
    with pytest.raises(FileNotFoundError, match="experiments by name: .*bad-release"):
        plugin.resolve_experiment("no-such-drill")


def test_a_drill_without_a_result_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CHAOSDRILL_HOME", str(home))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    env: Any = type("Env", (), {"name": "x"})()
    reports = tmp_path / "reports"
    runner = DrillRunner(env, reports, 20.0, {"experiment": broken, "hold_s": 200})
    with pytest.raises(DrillRunError, match="wrote no result \\(exit 2\\).*not valid JSON"):
        runner(recovery_timeout_s=600)
    [run] = list(reports.iterdir())
    assert run.name.endswith("-broken")
    assert "not valid JSON" in (run / "drills" / "01-broken.log").read_text()
    assert list(home.iterdir()) == []  # refused before any environment


def test_the_worker_request_carries_the_options(tmp_path: Path) -> None:
    from chaosdrill.report.rundir import RunDir

    run = RunDir.create(tmp_path, "bad-release")
    path = EXPERIMENTS_DIR / "bad-release.json"
    request = plugin._request(path, "x", run, 20.0, 200.0, 600.0)
    assert (request.experiment, request.env_name, request.time_scale) == (path, "x", 20.0)
    assert (request.hold_production_s, request.recovery_timeout_production_s) == (200.0, 600.0)
    assert request.result_path == run.drills / "01-bad-release.json"
    assert request.run_dir == run.path


def test_attach_when_up_else_bring_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session fixture's policy, ``open_environment`` on the local backend.

    An environment attached to is not re-timed on opening: the drill that holds it does.
    """
    from chaosdrill.environments import open_environment
    from chaosdrill.errors import EnvironmentNotFoundError

    retimed: list[float] = []

    class Env:
        def __init__(self, alive: bool) -> None:
            self._alive = alive

        def alive(self) -> bool:
            return self._alive

        def apply_time_scale(self, k: float) -> None:
            retimed.append(k)

        def target(self) -> Any:  # what it runs: the reference target, as the workspace's
            from chaosdrill.targets.spec import REFERENCE

            return REFERENCE

    running, fresh, stale = Env(True), Env(True), Env(False)
    ups: list[tuple[str, float]] = []

    def up(name: str, root: Path, settings: Any, programs: Any) -> Any:
        ups.append((name, settings.time_scale))
        return fresh

    monkeypatch.setattr(LocalEnvironment, "_up", staticmethod(up))
    monkeypatch.setattr(LocalEnvironment, "attach", staticmethod(lambda name: running))
    assert open_environment("one", time_scale=20) == (running, False)
    assert ups == []
    monkeypatch.setattr(LocalEnvironment, "attach", staticmethod(lambda name: stale))
    assert open_environment("two", time_scale=20) == (fresh, True)

    def missing(name: str) -> Any:
        raise EnvironmentNotFoundError("no")

    monkeypatch.setattr(LocalEnvironment, "attach", staticmethod(missing))
    assert open_environment("three", time_scale=30) == (fresh, True)
    assert ups == [("two", 20.0), ("three", 30.0)]
    assert retimed == []


def test_the_failure_section_names_the_drills_reasons(tmp_path: Path) -> None:
    report = DrillReport(
        experiment=EXPERIMENTS_DIR / "bad-release.json",
        scenario="high-error-rate",
        cause="bad-release",
        mttd_s=None,
        mttr_s=None,
        mttd_production_s=None,
        mttr_production_s=None,
        score=12.0,
        grade="F",
        passed=False,
        lost_writes=0,
        reasons=("HighErrorRate did not page within 45 s of the fault",),
        result_path=tmp_path / "bad-release.json",
        result={"failures": ["a runbook step failed: rollback"]},
        exit_code=1,
    )
    text = plugin._log_section(None, [report])
    assert "bad-release (high-error-rate): FAIL, MTTD -, MTTR -, score 12 (F)" in text
    assert "reason: HighErrorRate did not page within 45 s" in text
    assert "failure: a runbook step failed: rollback" in text
    assert "result={" not in repr(report)  # the raw result stays out of assertion messages


# -- one real drill ---------------------------------------------------------------------------


@pytest.mark.timeout(900)
def test_a_drill_written_as_a_test(pytester: pytest.Pytester, home: None) -> None:
    name = unique_name("plug")
    pytester.makepyfile(test_drill_example=EXAMPLE.read_text() + FAILING_TEST)
    started = time.monotonic()
    try:
        result = pytester.runpytest_subprocess(
            "--chaosdrill-env", name, "-p", "no:cacheprovider", "-v", timeout=840
        )
    finally:
        if name in list_environments():  # the run was killed: leave nothing behind
            LocalEnvironment.attach(name).down()
    elapsed = time.monotonic() - started
    out = result.stdout.str()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_a_bad_release_pages_and_is_rolled_back PASSED*",
            "*test_fails_on_purpose FAILED*",
            "*- chaosdrill environment logs -*",
        ]
    )
    section = out.split("chaosdrill environment logs", 1)[1].split("short test summary")[0]
    # every component, the replicas the drill replaced included; the quiet ones named
    for component in ("postgres-1", "postgres-2", "redis", "haproxy", "supervisord", "app-1"):
        assert f"=== {component} (" in section, component
    assert "=== no log lines: " in section or "=== prometheus (" in section
    assert "Uvicorn running on http://127.0.0.1:" in section  # the replicas' own lines
    assert "INFO spawned: 'app-" in section  # supervisord's: the rollback's new replicas
    assert len(section.splitlines()) > 100, section
    result.stdout.fnmatch_lines(
        ["*test_a_bad_release_pages_and_is_rolled_back: bad-release (high-error-rate): PASS*"]
    )
    # the session brought the environment up, so it took it down
    assert not (STATE_ROOT / "envs" / name).exists()
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "chaosdrill"), "env", "list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert name not in listed.stdout
    assert elapsed < 300, elapsed
