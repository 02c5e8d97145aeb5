"""Running a plan: its drills one after another on one environment, then one report.

Each drill runs in a child process (Chaos Toolkit runs one experiment per process and owns
its signal handlers) with ``chaosdrill run EXP --result-only``; the results land under
reports/<run-id>/drills/ and the plan's report beside them. The environment is attached to
when it is up (at the plan's time scale) or brought up here and taken down afterwards.
Ctrl-C or SIGTERM stops the running drill (which reverts its fault), and a partial report
marked incomplete is still written.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from chaosdrill.drill.model import DrillResult
from chaosdrill.drill.result import named_results
from chaosdrill.environments import Environment, open_environment
from chaosdrill.paths import reports_dir
from chaosdrill.plans.model import Plan, PlanDrill
from chaosdrill.report.model import ReportSettings

__all__ = ["PlanRun", "adhoc_plan", "new_run_id", "report_settings", "run_plan"]


@dataclass
class PlanRun:
    """What a plan run produced."""

    run_id: str
    out_dir: Path
    results: list[tuple[DrillResult, str | None]] = field(default_factory=list)
    report_path: Path | None = None
    report: dict[str, Any] | None = None
    interrupted: str | None = None
    crashed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """The plan's verdict (every drill passed, nothing interrupted)."""
        return bool(self.report and self.report["summary"]["passed"])


def adhoc_plan(
    experiments: list[Path],
    *,
    env_name: str = "drill",
    time_scale: float | None = None,
    hold_s: float | None = None,
    mttd_target_s: float | None = None,
    mttr_target_s: float | None = None,
) -> Plan:
    """A plan for ``chaosdrill run A.json B.json`` (defaults everywhere else)."""
    from chaosdrill.plans.model import (
        Baseline,
        Gates,
        PlanEnvironment,
        Revenue,
        Roles,
        Scoring,
        Targets,
    )
    from chaosdrill.timescale import PRODUCTION

    targets = Targets(
        mttd_s=mttd_target_s or PRODUCTION.mttd_target_s,
        mttr_s=mttr_target_s or PRODUCTION.mttr_target_s,
    )
    return Plan(
        name="ad hoc",
        description="drills given on the command line",
        path=Path.cwd(),
        environment=PlanEnvironment(name=env_name),
        time_scale=time_scale or 1.0,
        hold_s=hold_s if hold_s is not None else PRODUCTION.hold_s,
        load={},
        mode="auto",
        drills=tuple(PlanDrill(p.resolve()) for p in experiments),
        targets=targets,
        scoring=Scoring(),
        revenue=Revenue(),
        roles=Roles(),
        gates=Gates(),
        baseline=Baseline(source="none"),
    )


def report_settings(plan: Plan) -> ReportSettings:
    """The report settings a plan asks for."""
    from chaosdrill.scoring.score import Scoring, ScoringWeights
    from chaosdrill.scoring.severity import Revenue

    sc = plan.scoring
    return ReportSettings(
        name=plan.name,
        source=str(plan.path),
        mode=plan.mode,
        scoring=Scoring(
            weights=ScoringWeights(**sc.weights.__dict__),
            pass_mark=sc.pass_mark,
            lost_write_cap=sc.lost_write_cap,
            error_budget_limit_pct=sc.error_budget_limit_pct,
        ),
        revenue=Revenue(**plan.revenue.__dict__),
        roles=dict(plan.roles.__dict__),
    )


def new_run_id(name: str) -> str:
    """A sortable, unique-enough id: UTC time and the plan's name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{''.join(c if c.isalnum() or c in '-_' else '-' for c in name)}"


class _Stop(Exception):
    """SIGTERM arrived: stop the plan like Ctrl-C."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stop(f"signal {signal.Signals(signum).name}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _environment(plan: Plan, env_name: str | None) -> tuple[Environment, bool]:
    return open_environment(
        env_name or plan.environment.name,
        backend=plan.environment.backend,
        time_scale=plan.time_scale,
        replicas=plan.environment.replicas,
        source=str(plan.path),
        field="environment.backend",
    )


def _command(plan: Plan, drill: PlanDrill, env: str, out: Path) -> list[str]:
    targets = plan.targets_for(drill)
    cmd = [
        sys.executable,
        "-m",
        "chaosdrill",
        "run",
        str(drill.experiment),
        "--env",
        env,
        "--time-scale",
        str(plan.time_scale),
        "--hold",
        str(plan.hold_s),
        "--reports",
        str(out),
        "--mttd-target",
        str(targets.mttd_s),
        "--mttr-target",
        str(targets.mttr_s),
        "--quiet",
        "--result-only",
    ]
    if plan.load:
        cmd += ["--load", json.dumps(dict(plan.load))]
    return cmd


def _run_child(cmd: list[str], log: Path) -> tuple[int, str | None]:
    """Run one drill process; on interruption stop it (it reverts its fault) and re-raise."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, text=True)
        try:
            code = proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    return code, _result_in(log)


def _result_in(log: Path) -> str | None:
    """The result file a drill process named on its output, if it got that far."""
    found = named_results(log.read_text(errors="replace"))
    return found[-1] if found else None


def _read_result(path: str) -> DrillResult:
    """The drill result a drill process wrote at ``path``."""
    return DrillResult.from_json(json.loads(Path(path).read_text()), source=path)


def run_plan(
    plan: Plan,
    *,
    env_name: str | None = None,
    reports: Path | None = None,
    run_id: str | None = None,
    record_history: bool = True,
    on_progress: Callable[[int, int, str, DrillResult | None], None] | None = None,
    seed: int | None = None,
) -> PlanRun:
    """Run every drill of ``plan`` and write the plan's report.

    Args:
        plan: the loaded plan.
        env_name: run on this environment instead of the plan's.
        reports: the reports directory (default: reports/).
        run_id: the run's id (default: UTC time and the plan's name).
        record_history: append the run to the report history.
        on_progress: called with (index, total, drill name, result or None) before and
            after each drill.
        seed: seed of the random picks (for a repeatable training plan).

    Raises:
        RuntimeFailure: the environment could not be brought up.
    """
    import random

    from chaosdrill.report.writer import write_reports

    drills = plan.resolve_drills(random.Random(seed) if seed is not None else None)
    rid = run_id or new_run_id(plan.name)
    out_dir = (reports or reports_dir()) / rid
    drill_dir = out_dir / "drills"
    drill_dir.mkdir(parents=True, exist_ok=True)
    run = PlanRun(rid, out_dir)
    env, owned = _environment(plan, env_name)
    i = 0
    try:
        with _sigterm_as_interrupt():
            for i, drill in enumerate(drills, 1):
                name = drill.experiment.stem
                if on_progress:
                    on_progress(i, len(drills), name, None)
                log = drill_dir / f"{i:02d}-{name}.log"
                try:
                    code, path = _run_child(_command(plan, drill, env.name, drill_dir), log)
                except (KeyboardInterrupt, _Stop):
                    path = _result_in(log)  # the stopped drill's partial result, if any
                    if path is not None:
                        run.results.append((_read_result(path), path))
                    raise
                if path is None:
                    tail = log.read_text(errors="replace")[-1500:]
                    run.crashed.append(f"{name}: exit {code} without a result; log {log}\n{tail}")
                    continue
                result = _read_result(path)
                run.results.append((result, path))
                if on_progress:
                    on_progress(i, len(drills), name, result)
    except (KeyboardInterrupt, _Stop) as exc:
        run.interrupted = f"interrupted ({exc or 'Ctrl-C'}) during drill {i} of {len(drills)}"
    finally:
        if owned:
            env.down()
    if run.crashed and not run.interrupted:
        run.interrupted = f"{len(run.crashed)} drill(s) crashed without a result"
    run.report_path = write_reports(
        run.results,
        out_dir,
        run_id=rid,
        settings=report_settings(plan),
        record_history=record_history,
        interrupted=run.interrupted,
    )
    run.report = json.loads(run.report_path.read_text())
    return run
