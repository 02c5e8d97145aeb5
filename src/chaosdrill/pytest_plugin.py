"""pytest plugin: write drills as tests.

Installed with chaosdrill (entry point ``pytest11``), so every pytest run in an environment
that has chaosdrill installed loads it. It adds:

- the options ``--chaosdrill-env NAME``, ``--chaosdrill-time-scale K``,
  ``--chaosdrill-keep-env`` and the ini key ``chaosdrill_time_scale``;
- the session fixture ``chaosdrill_env``: the running environment of that name if there is
  one (never taken down), else one brought up at time scale K and taken down at the end;
  held by the session from start to end (its drills run under that hold; another drill or
  session on it is refused: chaosdrill.environments.holding);
- the fixture ``run_drill``: runs one experiment on that environment and returns a
  :class:`DrillReport`;
- the marker ``drill(experiment=None, time_scale=None, hold_s=None, recovery_timeout_s=None)``:
  defaults for ``run_drill()``;
- the environment's log tails and the drill's reasons on a failing test's report.

Importing this module imports nothing heavy and starts nothing; the environment code,
Chaos Toolkit and Locust are imported only when a test asks for a fixture (and Chaos Toolkit
and Locust only in the drill's own process).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pluggy

    from chaosdrill.drill.model import DrillResult
    from chaosdrill.drill.worker import WorkerRequest
    from chaosdrill.environments import Environment
    from chaosdrill.environments.holding import Hold
    from chaosdrill.environments.local import LocalEnvironment
    from chaosdrill.report.rundir import RunDir

__all__ = ["DrillReport", "DrillRunError", "DrillRunner"]

DEFAULT_ENV = "pytest"
DEFAULT_TIME_SCALE = 20.0
LOG_LINES = 40
LOG_SECTION = "chaosdrill environment logs"
MARKER_FIELDS = ("experiment", "time_scale", "hold_s", "recovery_timeout_s")
_TERMINATE_GRACE_S = 60.0  # a drill reverts its fault on SIGTERM; give it that long


@dataclass(frozen=True)
class DrillReport:
    """One drill's outcome, as a test sees it.

    Times are drill seconds (``mttd_s``, ``mttr_s``) and production-equivalent seconds
    (``*_production_s``: the monitoring pipeline's time x time scale, program time once,
    chaosdrill.drill.timing); ``None`` when the drill did not get
    that far (no page, no recovery). ``passed`` is the drill's verdict; ``score`` (0-100) and
    ``grade`` come from :func:`chaosdrill.scoring.score.score_drill`. ``result`` is the whole
    result file as a dict.
    """

    experiment: Path
    scenario: str
    cause: str
    mttd_s: float | None
    mttr_s: float | None
    mttd_production_s: float | None
    mttr_production_s: float | None
    score: float
    grade: str
    passed: bool
    lost_writes: int
    reasons: tuple[str, ...]
    result_path: Path
    result: dict[str, Any] = field(repr=False, compare=False, hash=False)
    exit_code: int = 0

    @classmethod
    def from_result(
        cls, result: DrillResult, result_path: Path, exit_code: int, experiment: Path
    ) -> DrillReport:
        """Build the report from a drill's typed result."""
        from chaosdrill.scoring.score import score_drill

        score = score_drill(result)
        integrity = result.measurements.integrity
        return cls(
            experiment=experiment,
            scenario=result.scenario,
            cause=result.cause,
            mttd_s=result.mttd_s,
            mttr_s=result.mttr_s,
            mttd_production_s=result.production_equivalent.mttd_s,
            mttr_production_s=result.production_equivalent.mttr_s,
            score=float(score.points),
            grade=str(score.grade),
            passed=result.verdict.passed,
            lost_writes=len(integrity.lost) if integrity is not None else 0,
            reasons=result.verdict.reasons,
            result_path=result_path,
            result=result.to_json(),
            exit_code=exit_code,
        )

    def summary(self) -> str:
        """One line: cause, verdict, MTTD/MTTR (production-equivalent), score and grade."""

        def secs(drill: float | None, prod: float | None) -> str:
            return "-" if drill is None else f"{drill:.1f} s ({prod or 0:.0f} s prod)"

        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{self.cause} ({self.scenario}): {verdict}, "
            f"MTTD {secs(self.mttd_s, self.mttd_production_s)}, "
            f"MTTR {secs(self.mttr_s, self.mttr_production_s)}, "
            f"score {self.score:.0f} ({self.grade}), lost writes {self.lost_writes}"
        )


class DrillRunError(RuntimeError):
    """The drill's process ended without writing a result (invalid input, broken set-up)."""


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


# -- session state --------------------------------------------------------------------------


@dataclass
class _Session:
    """What the plugin keeps for one pytest session."""

    env_name: str = DEFAULT_ENV
    time_scale: float = DEFAULT_TIME_SCALE
    keep_env: bool = False
    env: Environment | None = None
    owned: bool = False
    hold: Hold | None = None
    drills: list[tuple[str, DrillReport]] = field(default_factory=list)


_SESSION = pytest.StashKey[_Session]()
_ITEM_DRILLS = pytest.StashKey[list[DrillReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--chaosdrill-env``, ``--chaosdrill-time-scale``, ``--chaosdrill-keep-env``, ini."""
    group = parser.getgroup("chaosdrill", "chaosdrill drills")
    group.addoption(
        "--chaosdrill-env",
        dest="chaosdrill_env",
        default=None,
        metavar="NAME",
        help=f"Environment for drills: attached if up, else brought up (default: {DEFAULT_ENV}).",
    )
    group.addoption(
        "--chaosdrill-time-scale",
        dest="chaosdrill_time_scale",
        type=float,
        default=None,
        metavar="K",
        help="Run drills K times faster than production "
        f"(default: ini chaosdrill_time_scale, else {DEFAULT_TIME_SCALE:g}).",
    )
    group.addoption(
        "--chaosdrill-keep-env",
        dest="chaosdrill_keep_env",
        action="store_true",
        default=False,
        help="Leave an environment the session brought up running at the end.",
    )
    parser.addini(
        "chaosdrill_time_scale",
        help=f"Default time scale of drills (default {DEFAULT_TIME_SCALE:g}).",
        default=None,
    )


def _time_scale(config: pytest.Config) -> float:
    option = config.getoption("chaosdrill_time_scale", default=None)
    source, value = "--chaosdrill-time-scale", option
    if value is None:
        source, value = "ini chaosdrill_time_scale", config.getini("chaosdrill_time_scale")
    if value in (None, ""):
        return DEFAULT_TIME_SCALE
    try:
        k = float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{source}: expected a number, got {value!r}") from None
    if not 1 <= k <= 1000:
        raise pytest.UsageError(f"{source}: expected a number from 1 to 1000, got {value!r}")
    return k


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``drill`` marker and read the options."""
    config.addinivalue_line(
        "markers",
        "drill(experiment=None, time_scale=None, hold_s=None, recovery_timeout_s=None): "
        "defaults for the run_drill fixture (chaosdrill)",
    )
    config.stash[_SESSION] = _Session(
        env_name=config.getoption("chaosdrill_env", default=None) or DEFAULT_ENV,
        time_scale=_time_scale(config),
        keep_env=bool(config.getoption("chaosdrill_keep_env", default=False)),
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Take down an environment this session brought up, if its fixture could not; let go."""
    state = config.stash.get(_SESSION, None)
    if state is not None and state.env is not None and state.owned and not state.keep_env:
        env, state.env = state.env, None
        try:
            env.down()
        except Exception as exc:
            print(
                f"chaosdrill: could not take environment {env.name!r} down: {exc}; "
                f"run `chaosdrill env down --name {env.name}`",
                file=sys.stderr,
            )
    if state is not None and state.hold is not None:
        hold, state.hold = state.hold, None
        with contextlib.suppress(Exception):
            hold.release()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The drills of the session, one line each; where a kept environment is."""
    state = config.stash.get(_SESSION, None)
    if state is None or (not state.drills and not (state.keep_env and state.owned)):
        return
    terminalreporter.section("chaosdrill")
    for nodeid, report in state.drills:
        terminalreporter.write_line(f"{nodeid}: {report.summary()}")
    if state.env is not None and state.owned and state.keep_env:
        terminalreporter.write_line(
            f"environment {state.env_name!r} left up (--chaosdrill-keep-env); take it down "
            f"with `chaosdrill env down --name {state.env_name}`"
        )


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chaosdrill_env(pytestconfig: pytest.Config) -> Iterator[Environment]:
    """The session's environment: attached if up (and left up), else brought up and taken down.

    An environment this fixture brought up is taken down at the end of the session, also
    when tests fail or the run is interrupted, unless ``--chaosdrill-keep-env`` is given.
    The session holds the environment until then: an environment another drill, plan or
    session holds is refused (EnvironmentBusyError), and nothing else runs drills on this
    one meanwhile. Each drill re-times it for its own time scale.
    """
    from chaosdrill.environments import hold_environment
    from chaosdrill.environments.holding import Claim

    state = pytestconfig.stash[_SESSION]
    claim = Claim("test-session", f"pytest in {pytestconfig.rootpath}")
    opened = hold_environment(state.env_name, claim, time_scale=state.time_scale)
    env, owned = opened.env, opened.owns
    state.env, state.owned, state.hold = env, owned, opened.hold
    try:
        yield env
    finally:
        if owned and not state.keep_env:
            env.down()  # if interrupted, pytest_unconfigure tries again (and then lets go)
            state.env = None
        opened.hold.release()
        state.hold = None


class DrillRunner:
    """The ``run_drill`` fixture's callable: one drill per call, in its own process."""

    def __init__(
        self,
        env: Environment,
        reports: Path,
        time_scale: float,
        defaults: Mapping[str, Any],
        on_report: Callable[[DrillReport], None] = lambda _: None,
    ) -> None:
        self.env = env
        self.reports = reports
        self.time_scale = time_scale
        self.defaults = dict(defaults)
        self.runs = 0
        self._on_report = on_report

    def __call__(
        self,
        experiment: str | Path | None = None,
        *,
        time_scale: float | None = None,
        hold_s: float | None = None,
        recovery_timeout_s: float | None = None,
    ) -> DrillReport:
        """Run a drill; return its report (the verdict is ``report.passed``, not raised).

        ``experiment``: a path to an experiment file, or a name from chaosdrill's
        ``experiments/`` ("bad-release"); default: the ``drill`` marker's. ``time_scale``:
        default the marker's, else the session's. ``hold_s`` and ``recovery_timeout_s`` are
        production seconds (defaults: the marker's, else the drill's own).
        """
        experiment = experiment if experiment is not None else self.defaults.get("experiment")
        if experiment is None:
            raise ValueError(
                "run_drill() needs an experiment: pass one, or mark the test "
                '@pytest.mark.drill("bad-release")'
            )
        path = resolve_experiment(experiment)
        k = float(_pick(time_scale, self.defaults.get("time_scale"), self.time_scale))
        hold = _float_or_none(_pick(hold_s, self.defaults.get("hold_s")))
        recovery = _float_or_none(
            _pick(recovery_timeout_s, self.defaults.get("recovery_timeout_s"))
        )
        self.runs += 1
        from chaosdrill.drill.worker import run_drill_in_child
        from chaosdrill.report.rundir import RunDir

        run = RunDir.create(self.reports, path.stem)
        request = _request(path, self.env.name, run, k, hold, recovery)
        log = run.drill_log(1, path)
        outcome = run_drill_in_child(
            request, log=log, timeout=_timeout_s(k, hold, recovery), grace_s=_TERMINATE_GRACE_S
        )
        result = outcome.load_result()
        if result is None or outcome.result_path is None:
            why = f"{outcome.error_class}: {outcome.error}" if outcome.error else "no error"
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise DrillRunError(
                f"the drill {path.name} wrote no result (exit {outcome.exit_code}): {why}; "
                f"log {log}\n{tail}"
            )
        _write_run_reports(result, outcome.result_path, run)
        report = DrillReport.from_result(result, outcome.result_path, outcome.exit_code, path)
        self._on_report(report)
        return report


def _request(
    path: Path,
    env_name: str,
    run: RunDir,
    time_scale: float,
    hold_s: float | None,
    recovery_timeout_s: float | None,
) -> WorkerRequest:
    """The worker request of the run's one drill (durations in production seconds)."""
    from chaosdrill.drill.worker import WorkerRequest

    return WorkerRequest(
        experiment=path,
        result_path=run.drill_result(1, path),
        env_name=env_name,
        time_scale=time_scale,
        hold_production_s=hold_s,
        recovery_timeout_production_s=recovery_timeout_s,
        run_dir=run.path,
    )


def _write_run_reports(result: DrillResult, result_path: Path, run: RunDir) -> None:
    """The run folder's reports, as ``chaosdrill run`` writes them (no history entry)."""
    from chaosdrill.report.writer import write_reports

    write_reports([(result, str(result_path))], run.path, run_id=run.run_id, record_history=False)


def _pick(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def resolve_experiment(experiment: str | Path) -> Path:
    """A path as given; a bare name ("bad-release") is the experiment of that name.

    The name resolves in the workspace's experiments/, then in the built-in catalogue's.
    """
    from chaosdrill.workspace import current

    entries = current().entries("experiments")
    if isinstance(experiment, str) and os.sep not in experiment and "/" not in experiment:
        entry = entries.get(experiment.removesuffix(".json"))
        if entry is not None or not Path(experiment).is_file():
            experiment = entry.path if entry else Path(experiment)
    path = Path(experiment).resolve()
    if not path.is_file():
        known = ", ".join(entries)
        raise FileNotFoundError(f"no experiment file {path} (experiments by name: {known})")
    return path


def _timeout_s(k: float, hold_s: float | None, recovery_timeout_s: float | None) -> float:
    """A generous bound on one drill's wall time (steady, detect, recover, hold, verify)."""
    from chaosdrill.timescale import PRODUCTION

    hold = PRODUCTION.hold_s if hold_s is None else hold_s
    recovery = 2 * PRODUCTION.mttr_target_s if recovery_timeout_s is None else recovery_timeout_s
    return (3 * PRODUCTION.mttd_target_s + recovery + 2 * hold) / k + 300.0


def _marker_defaults(node: pytest.Item) -> dict[str, Any]:
    """The ``drill`` markers' values; the closest marker (function, class, module) wins."""
    values: dict[str, Any] = {}
    for marker in node.iter_markers("drill"):
        if len(marker.args) > 1:
            pytest.fail(
                "@pytest.mark.drill takes at most one positional argument (the experiment), "
                f"got {marker.args!r}",
                pytrace=False,
            )
        unknown = sorted(set(marker.kwargs) - set(MARKER_FIELDS))
        if unknown:
            pytest.fail(
                f"@pytest.mark.drill: unknown argument(s) {', '.join(unknown)}; "
                f"expected {', '.join(MARKER_FIELDS)}",
                pytrace=False,
            )
        given = dict(marker.kwargs)
        if marker.args:
            given["experiment"] = marker.args[0]
        for key, value in given.items():
            if value is not None:
                values.setdefault(key, value)
    return values


@pytest.fixture
def run_drill(
    request: pytest.FixtureRequest, chaosdrill_env: Environment, tmp_path: Path
) -> DrillRunner:
    """``run_drill(experiment=None, *, time_scale=None, hold_s=None, recovery_timeout_s=None)``.

    Runs the drill on the session's environment in a child process (the drill worker:
    Chaos Toolkit runs one experiment per process); each call is one run, in
    ``tmp_path/chaosdrill/<run-id>/`` with the layout of reports/ (docs/reports.md);
    returns a :class:`DrillReport`. Defaults come from the test's ``drill`` marker.
    """
    state = request.config.stash[_SESSION]
    node: pytest.Item = request.node
    record = node.stash.setdefault(_ITEM_DRILLS, [])

    def on_report(report: DrillReport) -> None:
        record.append(report)
        state.drills.append((node.nodeid, report))

    return DrillRunner(
        chaosdrill_env,
        tmp_path / "chaosdrill",
        state.time_scale,
        _marker_defaults(node),
        on_report,
    )


# -- failing tests carry the environment's logs ----------------------------------------------


def _log_names(env: LocalEnvironment) -> list[str]:
    """Every component (as of now: a drill may have replaced replicas), then any other log."""
    from chaosdrill.environments.local.state import EnvState

    with contextlib.suppress(Exception):  # else: the state as last read
        env.ctx.state = EnvState.load(env.root)
    names = env.ctx.component_names()
    logs = env.root / "logs"
    others = sorted(
        (p.stem for p in logs.glob("*.log") if p.stem not in names),
        key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)],
    )
    return names + others


def _log_section(env: Environment | None, drills: list[DrillReport]) -> str:
    from chaosdrill.environments.local import LocalEnvironment  # log tails: local only

    parts: list[str] = []
    for report in drills:
        failures = report.result.get("failures") or []
        parts.append(f"drill {report.summary()}\n  result: {report.result_path}")
        parts += [f"  reason: {r}" for r in report.reasons]
        parts += [f"  failure: {f}" for f in failures if f not in report.reasons]
    if isinstance(env, LocalEnvironment) and env.root.exists():
        quiet: list[str] = []
        for name in _log_names(env):
            tail = env.ctx.tail(name, lines=LOG_LINES)
            if tail.strip():
                parts.append(f"=== {name} ({env.ctx.log_path(name)}) ===\n{tail}")
            else:
                quiet.append(name)
        if quiet:
            parts.append(f"=== no log lines: {', '.join(quiet)} ===")
    return "\n".join(parts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """A failing test that used the environment gets its log tails and the drill's reasons."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or "chaosdrill_env" not in getattr(item, "fixturenames", ()):
        return
    state = item.config.stash.get(_SESSION, None)
    drills = item.stash.get(_ITEM_DRILLS, [])
    text = _log_section(state.env if state else None, drills)
    if text:
        report.sections.append((LOG_SECTION, text))
