"""The chaosdrill control: sets the drill up, records it, writes the result, cleans up.

Listed in an experiment as ``{"name": "chaosdrill", "provider": {"type": "python",
"module": "chaosdrill.ctk.control"}}``. When the drill is run by ``chaosdrill run``, the
drill is already set up and the control only records; under the stock ``chaos run`` it
sets the drill up itself. Hooks may be called more than once (chaostoolkit-lib #242): they
are idempotent.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import current_or_none
from chaosdrill.drill.model import DrillResult
from chaosdrill.drill.phases import revert
from chaosdrill.drill.setup import cleanup_drill, finish_drill, start_drill
from chaosdrill.errors import DrillError
from chaosdrill.faults.signals import stop_signals

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "before_experiment_control",
    "cleanup_control",
    "configure_control",
]

_STATE: dict[str, Any] = {"owned": False, "error": None, "signals": None}


def configure_control(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Set the drill up unless ``chaosdrill run`` already did.

    Under the stock ``chaos run`` the drill's stop handlers are installed here, until
    ``cleanup_control``: SIGINT, SIGTERM and SIGHUP (a closed terminal, which Chaos Toolkit
    leaves to Python's default of dying on the spot) each stop the experiment like Ctrl-C,
    and a revert, once begun, runs to its end. The drill spec is resolved first, so a
    mistake in the experiment starts nothing; an environment another drill holds is refused
    before anything is touched. Chaos Toolkit swallows any error raised here (and then
    drops the control), so the error is logged at ERROR level and kept;
    ``before_experiment_control`` ends the run with it.
    """
    from chaosdrill.scenarios.spec import resolve_spec

    _STATE["error"] = None
    if current_or_none() is not None or experiment is None:
        return
    source = _experiment_path() or _experiment_name(experiment)
    signals = contextlib.ExitStack()
    signals.enter_context(stop_signals())  # as under `chaosdrill run`: SIGHUP stops too
    try:
        spec = resolve_spec(experiment, source, configuration)
        start_drill(spec)
    except DrillError as exc:
        signals.close()
        _STATE["error"] = str(exc)
        logging.getLogger("chaostoolkit").error("chaosdrill: %s", exc)
        return
    except BaseException:
        signals.close()
        raise
    _STATE["owned"] = True
    _STATE["signals"] = signals


def _experiment_name(experiment: dict[str, Any]) -> str:
    ext: dict[str, Any] = next(
        (
            e
            for e in experiment.get("extensions") or []
            if isinstance(e, dict) and e.get("name") == "chaosdrill"
        ),
        {},
    )
    return str(ext.get("id") or ext.get("cause") or "experiment")


def _experiment_path() -> str | None:
    """The experiment file the stock ``chaos run`` was given, if its command line names one.

    Chaos Toolkit does not hand the path to controls; errors then name the file anyway.
    """
    import sys

    args = [a for a in sys.argv[1:] if a.endswith(".json") and Path(a).is_file()]
    return args[-1] if args else None


def before_experiment_control(context: Any = None, **kwargs: Any) -> None:
    """End the run when the drill could not be set up, with the reason as its message.

    Under ``chaosdrill run`` the drill's stop handlers take SIGTERM back from Chaos
    Toolkit's, so every stop signal is counted the same way (chaosdrill.faults.signals).
    """
    from chaoslib.exceptions import InterruptExecution

    from chaosdrill.faults.signals import take_over

    take_over()
    if _STATE["error"] is not None:
        raise InterruptExecution(f"chaosdrill: {_STATE['error']}")


def after_activity_control(context: Any = None, state: Any = None, **kwargs: Any) -> None:
    """Put every activity's outcome on the drill's timeline."""
    ctx = current_or_none()
    if ctx is None or not isinstance(state, dict):
        return
    activity = state.get("activity") or {}
    ctx.timeline.mark(
        "activity",
        activity=activity.get("name"),
        status=state.get("status"),
        duration_s=state.get("duration"),
    )


def after_experiment_control(context: Any = None, state: Any = None, **kwargs: Any) -> None:
    """Revert a fault the rollbacks left, stop the load, write the result; note its path.

    Chaos Toolkit plays the rollbacks (``revert_faults``) before this hook, or skips them
    (``--rollback-strategy never``, ``deviated`` or ``default`` after a failure, SIGUSR2).
    A fault they left open is reverted here, before the result is written, so the result
    records the revert when it happened (and ``rollbacks_not_played`` on the timeline)
    instead of leaving it to the cleanup after the result.
    """
    ctx = current_or_none()
    if ctx is None or not isinstance(state, dict) or ctx.result is not None:
        return
    left = ctx.ledger.open_entries(ctx.fault_entries)  # this drill's own, not a leftover
    if ctx.measurements.revert is None and left:
        ctx.timeline.mark("rollbacks_not_played", faults=[e.kind for e in left])
        with contextlib.suppress(Exception):  # the result must still be written
            revert(ctx)
    if ctx.aborted is not None and state.get("status") == "completed":
        state["status"] = "failed"  # the stock `chaos run` then exits 1
    path = finish_drill(ctx, state)
    ext: dict[str, Any] = {
        "name": "chaosdrill",
        "result": str(path),
        "failures": list(ctx.failures),
    }
    if _STATE["owned"] and ctx.result is not None:  # the stock `chaos run`: reports too
        ext.update(_write_reports(ctx.result, path))
    state.setdefault("extensions", []).append(ext)


def _write_reports(result: DrillResult, result_path: Path) -> dict[str, Any]:
    """Every report of the drill in its run folder (reports/<run-id>/); never raises.

    The result is the run folder's drills/01-<experiment>.json (chaosdrill.report.rundir); a
    result put elsewhere by ``chaosdrill_result`` gets its reports beside it.
    """
    from chaosdrill.report.writer import write_reports

    folder = result_path.parent
    if folder.name == "drills":
        folder = folder.parent
    try:
        written = write_reports([(result, str(result_path))], folder, run_id=folder.name)
        return {"report": str(written.path)}
    except Exception as exc:  # the journal must still be written
        return {"report_error": f"{type(exc).__name__}: {exc}"}


def cleanup_control() -> None:
    """Revert anything still open; take down an environment the drill brought up."""
    ctx = current_or_none()
    if ctx is None or not _STATE["owned"]:
        return
    try:
        with contextlib.suppress(Exception):
            if ctx.result is None:
                finish_drill(ctx, None)
        cleanup_drill(ctx)
    finally:
        _STATE["owned"] = False
        signals, _STATE["signals"] = _STATE["signals"], None
        if signals is not None:
            signals.close()
