"""The chaosdrill control: sets the drill up, records it, writes the result, cleans up.

Listed in an experiment as ``{"name": "chaosdrill", "provider": {"type": "python",
"module": "chaosdrill.ctk.control"}}``. When the drill is run by ``chaosdrill run``, the
drill is already set up and the control only records; under the stock ``chaos run`` it
sets the drill up itself. Hooks may be called more than once (chaostoolkit-lib #242): they
are idempotent.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from chaosdrill.drill import context as drill_context
from chaosdrill.drill.setup import cleanup_drill, config_from_experiment, finish_drill, start_drill

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "cleanup_control",
    "configure_control",
]

_STATE: dict[str, Any] = {"owned": False}


def configure_control(
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    experiment: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Set the drill up unless ``chaosdrill run`` already did."""
    if drill_context._CURRENT is not None or experiment is None:
        return
    ext: dict[str, Any] = next(
        (e for e in experiment.get("extensions") or [] if e.get("name") == "chaosdrill"), {}
    )
    source = str(ext.get("id") or ext.get("cause") or "experiment")
    cfg = config_from_experiment(experiment, configuration, source)
    start_drill(cfg)
    _STATE["owned"] = True


def after_activity_control(context: Any = None, state: Any = None, **kwargs: Any) -> None:
    """Put every activity's outcome on the drill's timeline."""
    ctx = drill_context._CURRENT
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
    """Stop the load and write the result; note its path in the journal."""
    ctx = drill_context._CURRENT
    if ctx is None or not isinstance(state, dict) or ctx.result_path is not None:
        return
    path = finish_drill(ctx, state)
    ext: dict[str, Any] = {
        "name": "chaosdrill",
        "result": str(path),
        "failures": list(ctx.failures),
    }
    if _STATE["owned"]:  # the stock `chaos run`: write the reports here too
        ext.update(_write_reports(path))
    state.setdefault("extensions", []).append(ext)


def _write_reports(result_path: Path) -> dict[str, Any]:
    """Every report of the drill in its run folder (reports/<run-id>/); never raises.

    The result is the run folder's drills/01-<experiment>.json (chaosdrill.rundir); a
    result put elsewhere by ``chaosdrill_result`` gets its reports beside it.
    """
    import json

    from chaosdrill.report.writer import write_reports

    folder = result_path.parent
    if folder.name == "drills":
        folder = folder.parent
    try:
        result = json.loads(result_path.read_text())
        written = write_reports([(result, str(result_path))], folder, run_id=folder.name)
        return {"report": str(written.path)}
    except Exception as exc:  # the journal must still be written
        return {"report_error": f"{type(exc).__name__}: {exc}"}


def cleanup_control() -> None:
    """Revert anything still open; take down an environment the drill brought up."""
    ctx = drill_context._CURRENT
    if ctx is None or not _STATE["owned"]:
        return
    with contextlib.suppress(Exception):
        if ctx.result_path is None:
            finish_drill(ctx, None)
    cleanup_drill(ctx)
    _STATE["owned"] = False
