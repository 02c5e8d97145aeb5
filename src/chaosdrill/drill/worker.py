"""The drill worker: one drill in a child process, asked and answered through files.

Plans and the pytest plugin run each drill in a child process: Chaos Toolkit runs one
experiment per process and installs its signal handlers on the main thread. The parent
writes a :class:`WorkerRequest` as JSON and starts ``python -m chaosdrill.drill.worker
REQUEST.json``; the child runs the drill in-process (chaosdrill.drill.engine.run_drill),
writes the result where the request says, and writes a :class:`WorkerOutcome` as JSON,
atomically, at the request's ``outcome_path``. The child's output goes to a log file.

Stopping: the child runs in a session of its own, so a terminal's Ctrl-C or hang-up reaches
only the parent. On Ctrl-C, SIGTERM or SIGHUP in the parent (or a timeout),
:func:`run_drill_in_child` sends SIGTERM to the child, which reverts its fault and still
writes its result and outcome; while it does, further stop signals are passed on to it (a
third Ctrl-C abandons its revert). After a grace period (long enough for a runbook
operation the drill was running to end first) the child is killed.

Exit codes of the child: 0 the drill passed, 1 it failed, 2 invalid input (nothing was
started), 3 the drill could not run (environment, tools), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import DrillError, Exit, InvalidInputError
from chaosdrill.faults.signals import forwarding
from chaosdrill.paths import write_atomic
from chaosdrill.runbooks.executor import OPERATION_GRACE_S

__all__ = [
    "DrillInterrupted",
    "WorkerOutcome",
    "WorkerRequest",
    "main",
    "read_outcome",
    "read_request",
    "run_drill_in_child",
    "run_request",
    "write_outcome",
    "write_request",
]

REQUEST_VERSION = 1
OUTCOME_VERSION = 1
#: how long a stopped drill may take before it is killed: to wait for a runbook operation it
#: was running (the executor's grace) and then revert its fault
STOP_GRACE_S = OPERATION_GRACE_S + 120.0


@dataclass(frozen=True)
class WorkerRequest:
    """One drill to run: the experiment, how to run it, and where to write what.

    Durations are production seconds; ``None`` means the experiment's own value.
    ``outcome_path`` is filled in by :func:`run_drill_in_child` when not given.
    """

    experiment: Path
    result_path: Path
    env_name: str | None = None
    time_scale: float | None = None
    hold_production_s: float | None = None
    mttd_target_s: float | None = None
    mttr_target_s: float | None = None
    recovery_timeout_production_s: float | None = None
    load: dict[str, Any] | None = None
    run_dir: Path | None = None
    outcome_path: Path | None = None


@dataclass(frozen=True)
class WorkerOutcome:
    """How a drill's process ended.

    ``result_path`` is set when the result file was written (also for a stopped drill,
    whose result is partial); ``error`` and ``error_class`` when the drill could not run;
    ``interrupted`` when the parent stopped it (Ctrl-C, SIGTERM or a timeout).
    """

    exit_code: int
    result_path: Path | None = None
    passed: bool | None = None
    error: str | None = None
    error_class: str | None = None
    interrupted: str | None = None

    def load_result(self) -> DrillResult | None:
        """The drill's result, if its file was written (partial for a stopped drill)."""
        if self.result_path is None or not self.result_path.is_file():
            return None
        data = json.loads(self.result_path.read_text())
        return DrillResult.from_json(data, source=str(self.result_path))


class DrillInterrupted(KeyboardInterrupt):
    """The parent was interrupted while a drill ran; the drill was stopped and reverted.

    A KeyboardInterrupt, so callers that stop on Ctrl-C (pytest, plans) still do;
    ``outcome`` is what the stopped drill left (its partial result, if any).
    """

    def __init__(self, reason: str, outcome: WorkerOutcome) -> None:
        super().__init__(reason)
        self.outcome = outcome


# -- the channel: JSON files -----------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def write_request(path: Path, request: WorkerRequest) -> None:
    """Write ``request`` as JSON (atomically)."""
    data = {k: _jsonable(v) for k, v in dataclasses.asdict(request).items()}
    _write_json_atomic(path, {"chaosdrill_worker_request": REQUEST_VERSION, **data})


def write_outcome(path: Path, outcome: WorkerOutcome) -> None:
    """Write ``outcome`` as JSON (atomically: a reader never sees half of it)."""
    data = {k: _jsonable(v) for k, v in dataclasses.asdict(outcome).items()}
    _write_json_atomic(path, {"chaosdrill_worker_outcome": OUTCOME_VERSION, **data})


def _read_object(path: Path, version_key: str, version: int) -> dict[str, Any]:
    source = str(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInputError(f"cannot read the file: {exc.strerror}", source=source) from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg}", source=source, line=exc.lineno
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError("expected a JSON object", source=source)
    if data.pop(version_key, None) != version:
        raise InvalidInputError(f"expected {version}", source=source, field=version_key)
    return data


def _typed(data: dict[str, Any], key: str, kind: Any, source: str, *, required: bool) -> Any:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInputError("missing", source=source, field=key)
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidInputError(
            f"expected {getattr(kind, '__name__', kind)}, got {value!r}", source=source, field=key
        )
    return value


def read_request(path: Path) -> WorkerRequest:
    """Read a request file written by :func:`write_request`.

    Raises:
        InvalidInputError: the file is missing, not JSON, or a field has the wrong type.
    """
    data, source = _read_object(path, "chaosdrill_worker_request", REQUEST_VERSION), str(path)
    known = {f.name for f in dataclasses.fields(WorkerRequest)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInputError("unknown field", source=source, field=unknown[0])

    def opt_path(key: str, required: bool = False) -> Path | None:
        value = _typed(data, key, str, source, required=required)
        return None if value is None else Path(value)

    def opt_float(key: str) -> float | None:
        value: float | None = _typed(data, key, float, source, required=False)
        return value

    experiment, result_path = opt_path("experiment", True), opt_path("result_path", True)
    assert experiment is not None and result_path is not None
    return WorkerRequest(
        experiment=experiment,
        result_path=result_path,
        env_name=_typed(data, "env_name", str, source, required=False),
        time_scale=opt_float("time_scale"),
        hold_production_s=opt_float("hold_production_s"),
        mttd_target_s=opt_float("mttd_target_s"),
        mttr_target_s=opt_float("mttr_target_s"),
        recovery_timeout_production_s=opt_float("recovery_timeout_production_s"),
        load=_typed(data, "load", dict, source, required=False),
        run_dir=opt_path("run_dir"),
        outcome_path=opt_path("outcome_path"),
    )


def read_outcome(path: Path) -> WorkerOutcome:
    """Read an outcome file written by :func:`write_outcome`."""
    data, source = _read_object(path, "chaosdrill_worker_outcome", OUTCOME_VERSION), str(path)
    result = _typed(data, "result_path", str, source, required=False)
    return WorkerOutcome(
        exit_code=_typed(data, "exit_code", int, source, required=True),
        result_path=None if result is None else Path(result),
        passed=_typed(data, "passed", bool, source, required=False),
        error=_typed(data, "error", str, source, required=False),
        error_class=_typed(data, "error_class", str, source, required=False),
        interrupted=_typed(data, "interrupted", str, source, required=False),
    )


# -- the child -------------------------------------------------------------------------------


class _Terminated(BaseException):
    """SIGTERM outside Chaos Toolkit's own handler (setting up or taking down)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated(f"signal {signal.Signals(signum).name}")


def run_request(request: WorkerRequest) -> WorkerOutcome:
    """Run the requested drill in this process; never raises for a drill that went wrong.

    SIGTERM stops the drill: inside the experiment Chaos Toolkit interrupts it and runs the
    rollbacks; before or after it, the set-up or clean-up is cut short and reverted.
    """
    from chaosdrill.drill.engine import run_drill
    from chaosdrill.scenarios.settings import SpecOverrides

    written = request.result_path

    def existing() -> Path | None:
        return written if written.is_file() else None

    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        overrides = SpecOverrides(
            env_name=request.env_name,
            time_scale=request.time_scale,
            hold_production_s=request.hold_production_s,
            reports=request.run_dir,
            recovery_timeout_production_s=request.recovery_timeout_production_s,
            mttd_target_s=request.mttd_target_s,
            mttr_target_s=request.mttr_target_s,
            load=request.load,
        )
        drill = run_drill(request.experiment, overrides, result_path=request.result_path)
    except DrillError as exc:
        return WorkerOutcome(exc.exit_code, existing(), None, str(exc), type(exc).__name__)
    except (KeyboardInterrupt, _Terminated) as exc:
        reason = str(exc) or "Ctrl-C"
        return WorkerOutcome(Exit.INTERRUPTED, existing(), None, None, None, reason)
    except Exception as exc:  # a bug: say so in the outcome (the log has the traceback)
        import traceback

        traceback.print_exc()
        return WorkerOutcome(
            Exit.RUNTIME, existing(), None, f"{type(exc).__name__}: {exc}", "Exception"
        )
    finally:
        signal.signal(signal.SIGTERM, old)
    if drill.stopped is not None:
        return WorkerOutcome(
            Exit.INTERRUPTED, drill.result_path, drill.passed, interrupted=drill.stopped
        )
    code = Exit.OK if drill.passed else Exit.FAILED
    return WorkerOutcome(code, drill.result_path, drill.passed)


def main(argv: list[str] | None = None) -> int:
    """``python -m chaosdrill.drill.worker REQUEST.json``: run it, write the outcome."""
    import logging

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m chaosdrill.drill.worker REQUEST.json", file=sys.stderr)
        return Exit.USAGE
    try:
        request = read_request(Path(args[0]))
    except InvalidInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    if request.outcome_path is None:
        print(f"error: {args[0]}: field 'outcome_path': missing", file=sys.stderr)
        return Exit.USAGE
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("chaostoolkit").setLevel(logging.INFO)
    outcome = run_request(request)
    if outcome.error:
        print(f"error: {outcome.error}", file=sys.stderr)
    write_outcome(request.outcome_path, outcome)
    return outcome.exit_code


# -- the parent ------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> int:
    """SIGTERM (the drill reverts its fault); SIGKILL after ``grace_s``; the exit code.

    Stop signals arriving meanwhile are passed on to the child (which counts them).
    """
    with forwarding(proc.pid):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


def _finished(request: WorkerRequest, code: int, log: Path) -> WorkerOutcome:
    """The child's outcome file, or what can be said without one (it was killed)."""
    assert request.outcome_path is not None
    if request.outcome_path.is_file():
        return read_outcome(request.outcome_path)
    written = request.result_path if request.result_path.is_file() else None
    exit_code = 128 - code if code < 0 else code
    message = f"the drill's process ended (exit {exit_code}) without an outcome; log {log}"
    return WorkerOutcome(exit_code, written, None, message, "WorkerCrashed")


def run_drill_in_child(
    request: WorkerRequest,
    *,
    log: Path,
    timeout: float | None = None,
    grace_s: float = STOP_GRACE_S,
) -> WorkerOutcome:
    """Run ``request`` in a child process (its output to ``log``); return how it ended.

    A drill running longer than ``timeout`` seconds is stopped (reverted) and its outcome
    says so in ``interrupted``.

    Raises:
        DrillInterrupted: Ctrl-C, SIGTERM turned into an exception, or any other exception
            arrived while the drill ran; the drill was stopped first (SIGTERM, then SIGKILL
            after ``grace_s``). Its ``outcome`` holds the partial result, if any.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chaosdrill-worker-") as tmp:
        if request.outcome_path is None:
            request = dataclasses.replace(request, outcome_path=Path(tmp) / "outcome.json")
        request_file = Path(tmp) / "request.json"
        write_request(request_file, request)
        cmd = [sys.executable, "-m", "chaosdrill.drill.worker", str(request_file)]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh, start_new_session=True
            )
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = _stop(proc, grace_s)
                outcome = _finished(request, code, log)
                reason = f"ran longer than {timeout:.0f} s; stopped"
                return dataclasses.replace(outcome, interrupted=reason)
            except BaseException as exc:
                code = _stop(proc, grace_s)
                outcome = _finished(request, code, log)
                reason = str(exc) or type(exc).__name__
                stopped = dataclasses.replace(outcome, interrupted=reason)
                raise DrillInterrupted(str(exc), stopped) from exc
        return _finished(request, code, log)


if __name__ == "__main__":
    sys.exit(main())
