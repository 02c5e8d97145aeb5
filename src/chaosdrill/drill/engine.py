"""``chaosdrill run``: a drill through Chaos Toolkit's own engine, set up by chaosdrill.

The experiment runs with ``chaoslib.run_experiment`` on the main thread, rollbacks with
strategy ``always``, and the same chaosdrill actions, probes and control that the stock
``chaos run`` uses; the result file is the same. SIGINT, SIGTERM and SIGHUP (a closed
terminal) stop the drill the same way, from its set-up to its clean-up: the fault is
reverted, the load stopped, an environment the drill brought up taken down, and the
result, marked as stopped, written (chaosdrill.faults.signals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.model import DrillResult
from chaosdrill.drill.phases import note_stop
from chaosdrill.drill.setup import cleanup_drill, finish_drill, start_drill
from chaosdrill.faults.signals import RevertAbandoned, StopRequested, held, stop_signals
from chaosdrill.scenarios.experiment import load_experiment
from chaosdrill.scenarios.settings import SpecOverrides
from chaosdrill.scenarios.spec import DrillSpec, load_spec

__all__ = ["DrillOutcome", "run_drill"]


@dataclass(frozen=True)
class DrillOutcome:
    """What ``chaosdrill run`` reports for one experiment."""

    experiment: Path
    result_path: Path
    result: DrillResult
    #: why the drill was stopped before its end (``"signal SIGHUP"``), if it was
    stopped: str | None = None

    @property
    def passed(self) -> bool:
        """The drill's verdict."""
        return self.result.verdict.passed


def run_drill(
    path: Path,
    overrides: SpecOverrides | None = None,
    *,
    result_path: Path | None = None,
    on_context: Any = None,
    spec: DrillSpec | None = None,
) -> DrillOutcome:
    """Run one experiment file as a drill; return its result (always reverted).

    Args:
        path: the experiment file.
        overrides: command-line or plan settings over the experiment's configuration.
        result_path: where the result goes (the run folder's drills/<NN>-<experiment>.json,
            chaosdrill.report.rundir); default: a new run folder under the reports directory.
        on_context: called with the drill's context once it is set up (a live view).
        spec: the drill spec, when already resolved from ``path`` with ``overrides``;
            otherwise it is resolved here, so a mistake in the experiment raises
            InvalidInputError before anything starts.
    """
    overrides = overrides or SpecOverrides()
    if spec is None:
        spec = load_spec(path, overrides)
    experiment = load_experiment(path)
    experiment["configuration"] = {
        **(experiment.get("configuration") or {}),
        **overrides.configuration(),
    }
    with stop_signals():
        ctx: DrillContext = start_drill(spec, result_path=result_path)
        if on_context is not None:
            on_context(ctx)
        _run(ctx, experiment)
    assert ctx.result is not None and ctx.result_path is not None
    return DrillOutcome(path, ctx.result_path, ctx.result, ctx.stopped)


def _run(ctx: DrillContext, experiment: dict[str, Any]) -> None:
    """The experiment through Chaos Toolkit, then the result and the clean-up, always.

    A stop outside the experiment (Chaos Toolkit handles those inside it) still writes the
    result; a revert abandoned by a third Ctrl-C leaves at once: nothing more is tried.
    """
    from chaoslib.experiment import run_experiment

    try:
        settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
        journal = run_experiment(experiment, settings=settings)
        before = (journal.get("steady_states") or {}).get("before") or {}
        if before and not before.get("steady_state_met", True):
            ctx.failures.append(
                "the steady-state hypothesis failed before the fault; " "the method did not run"
            )
        if ctx.result is None:
            finish_drill(ctx, journal)
    except RevertAbandoned:
        raise
    except StopRequested:
        with held():
            note_stop(ctx)
            if ctx.result is None:
                finish_drill(ctx, None)
    finally:
        cleanup_drill(ctx)
