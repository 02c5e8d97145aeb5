"""Running a plan: its drills one after another on one environment, then one report.

Each drill runs in a child process (Chaos Toolkit runs one experiment per process and owns
its signal handlers) through the drill worker (chaosdrill.drill.worker); the results land in
reports/<run-id>/drills/ and the plan's report beside them (the layout: chaosdrill.report.rundir).
The environment is attached to when it is up or brought up here (at the plan's time scale)
and taken down afterwards; the plan holds it from start to end (one drill, or plan, per
environment at a time: chaosdrill.environments.holding), and each of its drills runs under
that hold.
Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops the running drill (which reverts its
fault), the environment brought up here is taken down, and a partial report marked
incomplete is still written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chaosdrill.drill.model import DrillResult
from chaosdrill.drill.worker import (
    DrillInterrupted,
    WorkerOutcome,
    WorkerRequest,
    run_drill_in_child,
)
from chaosdrill.environments import HeldEnvironment, environment_name, hold_environment
from chaosdrill.environments.holding import Claim
from chaosdrill.faults.signals import held, stop_signals
from chaosdrill.plans.model import Plan, PlanDrill
from chaosdrill.report.model import ReportSettings
from chaosdrill.report.rundir import RunDir
from chaosdrill.report.types import Report

__all__ = ["PlanRun", "adhoc_plan", "report_settings", "run_plan"]


@dataclass
class PlanRun:
    """What a plan run produced."""

    run_id: str
    out_dir: Path
    results: list[tuple[DrillResult, str | None]] = field(default_factory=list)
    report_path: Path | None = None
    report: Report | None = None
    interrupted: str | None = None
    crashed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """The plan's verdict (every drill passed, nothing interrupted)."""
        return self.report is not None and self.report.summary.passed


def adhoc_plan(
    experiments: list[Path],
    *,
    env_name: str | None = None,
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
        environment=PlanEnvironment(name=environment_name(env_name)),
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


def _environment(plan: Plan, env_name: str | None) -> HeldEnvironment:
    return hold_environment(
        environment_name(env_name, plan.environment.name),
        Claim("plan", plan.name),
        backend=plan.environment.backend,
        time_scale=plan.time_scale,
        replicas=plan.environment.replicas,
        source=str(plan.path),
        field="environment.backend",
    )


def _request(plan: Plan, drill: PlanDrill, env: str, run: RunDir, index: int) -> WorkerRequest:
    """What the worker needs to run the plan's ``index``-th drill into the run's folder."""
    targets = plan.targets_for(drill)
    return WorkerRequest(
        experiment=drill.experiment,
        result_path=run.drill_result(index, drill.experiment),
        env_name=env,
        time_scale=plan.time_scale,
        hold_production_s=plan.hold_s,
        mttd_target_s=targets.mttd_s,
        mttr_target_s=targets.mttr_s,
        load=dict(plan.load) if plan.load else None,
        run_dir=run.path,
    )


def _crash(name: str, outcome: WorkerOutcome, log: Path) -> str:
    """A line on a drill that ended without a result, with the end of its log."""
    tail = log.read_text(errors="replace")[-1500:] if log.is_file() else ""
    why = f" ({outcome.error_class}: {outcome.error})" if outcome.error else ""
    return f"{name}: exit {outcome.exit_code} without a result{why}; log {log}\n{tail}"


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
        EnvironmentBusyError: another drill or plan holds the environment; nothing ran.
    """
    import random

    from chaosdrill.report.writer import write_reports

    drills = plan.resolve_drills(random.Random(seed) if seed is not None else None)
    folder = RunDir.create(reports, plan.name, run_id)
    run = PlanRun(folder.run_id, folder.path)
    with stop_signals():
        try:
            opened = _environment(plan, env_name)
        except BaseException:
            folder.remove_if_empty()  # a plan that could not start leaves no folder
            raise
        env = opened.env
        try:
            _run_drills(plan, drills, env.name, folder, run, on_progress)
        finally:
            try:
                if opened.owns:
                    with held(f"chaosdrill env recover --name {env.name}"):
                        env.down()
            finally:
                opened.hold.release()
        if run.crashed and not run.interrupted:
            run.interrupted = f"{len(run.crashed)} drill(s) crashed without a result"
        with held():
            written = write_reports(
                run.results,
                folder.path,
                run_id=folder.run_id,
                settings=report_settings(plan),
                record_history=record_history,
                interrupted=run.interrupted,
            )
    run.report_path, run.report = written.path, written.report
    return run


def _run_drills(
    plan: Plan,
    drills: list[PlanDrill],
    env_name: str,
    folder: RunDir,
    run: PlanRun,
    on_progress: Callable[[int, int, str, DrillResult | None], None] | None,
) -> None:
    """Each drill in a child process, its result added to ``run``; a stop ends the loop."""
    i = 0
    try:
        for i, drill in enumerate(drills, 1):
            name = drill.experiment.stem
            if on_progress:
                on_progress(i, len(drills), name, None)
            log = folder.drill_log(i, drill.experiment)
            request = _request(plan, drill, env_name, folder, i)
            try:
                outcome = run_drill_in_child(request, log=log)
            except DrillInterrupted as stopped:
                partial = stopped.outcome.load_result()  # the stopped drill's, if any
                if partial is not None:
                    run.results.append((partial, str(stopped.outcome.result_path)))
                raise
            result = outcome.load_result()
            if result is None:
                run.crashed.append(_crash(name, outcome, log))
                continue
            run.results.append((result, str(outcome.result_path)))
            if on_progress:
                on_progress(i, len(drills), name, result)
    except KeyboardInterrupt as exc:
        run.interrupted = f"interrupted ({exc or 'Ctrl-C'}) during drill {i} of {len(drills)}"
