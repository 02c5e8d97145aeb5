"""``chaosdrill run``: a drill through Chaos Toolkit's own engine, set up by chaosdrill.

The experiment runs with ``chaoslib.run_experiment`` on the main thread, rollbacks with
strategy ``always`` (so Ctrl-C and SIGTERM still revert), and the same chaosdrill actions,
probes and control that the stock ``chaos run`` uses; the result file is the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosdrill.drill.context import DrillContext
from chaosdrill.drill.setup import cleanup_drill, config_from_experiment, finish_drill, start_drill
from chaosdrill.errors import InvalidInputError

__all__ = ["DrillOutcome", "load_experiment", "run_drill"]

MAX_EXPERIMENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class DrillOutcome:
    """What ``chaosdrill run`` reports for one experiment."""

    experiment: Path
    result_path: Path
    result: dict[str, Any]

    @property
    def passed(self) -> bool:
        """The drill's verdict."""
        return bool(self.result["verdict"]["passed"])


def load_experiment(path: Path) -> dict[str, Any]:
    """Read and validate an experiment file (JSON), with Chaos Toolkit's own validation."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    source = str(path)
    if path.is_dir():
        raise InvalidInputError("expected an experiment file, got a directory", source=source)
    try:
        size = path.stat().st_size
        if size > MAX_EXPERIMENT_BYTES:
            raise InvalidInputError(
                f"file is {size} bytes; at most {MAX_EXPERIMENT_BYTES}", source=source
            )
        text = path.read_text()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the file: {exc.strerror}", source=source) from None
    if not text.strip():
        raise InvalidInputError("the file is empty; expected a JSON experiment", source=source)
    try:
        experiment = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg}", source=source, line=exc.lineno
        ) from None
    if not isinstance(experiment, dict):
        raise InvalidInputError("expected a JSON object", source=source, line=1)
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise InvalidInputError(f"Chaos Toolkit says: {exc}", source=source) from None
    return experiment


def run_drill(
    path: Path,
    *,
    env_name: str | None = None,
    time_scale: float | None = None,
    hold_production_s: float | None = None,
    reports: Path | None = None,
    result_path: Path | None = None,
    recovery_timeout_production_s: float | None = None,
    mttd_target_s: float | None = None,
    mttr_target_s: float | None = None,
    load: dict[str, Any] | None = None,
    on_context: Any = None,
) -> DrillOutcome:
    """Run one experiment file as a drill; return its result (always reverted).

    The result is written to ``result_path`` when given (the run folder's
    drills/<NN>-<experiment>.json, chaosdrill.rundir), else to a new run folder under
    ``reports``.
    """
    from chaoslib.experiment import run_experiment

    experiment = load_experiment(path)
    configuration = dict(experiment.get("configuration") or {})
    overrides = {
        "chaosdrill_env": env_name,
        "chaosdrill_time_scale": time_scale,
        "chaosdrill_hold_s": hold_production_s,
        "chaosdrill_reports": str(reports) if reports else None,
        "chaosdrill_result": str(result_path) if result_path else None,
        "chaosdrill_recovery_timeout_s": recovery_timeout_production_s,
        "chaosdrill_mttd_target_s": mttd_target_s,
        "chaosdrill_mttr_target_s": mttr_target_s,
        "chaosdrill_load": load or None,
    }
    configuration.update({k: v for k, v in overrides.items() if v is not None})
    experiment["configuration"] = configuration
    cfg = config_from_experiment(experiment, configuration, str(path))
    ctx: DrillContext = start_drill(cfg)
    if on_context is not None:
        on_context(ctx)
    try:
        settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
        journal = run_experiment(experiment, settings=settings)
        before = (journal.get("steady_states") or {}).get("before") or {}
        if before and not before.get("steady_state_met", True):
            ctx.failures.append(
                "the steady-state hypothesis failed before the fault; " "the method did not run"
            )
        result_path = ctx.result_path or finish_drill(ctx, journal)
    finally:
        cleanup_drill(ctx)
    return DrillOutcome(path, result_path, json.loads(result_path.read_text()))
