"""Run a chaosdrill command that kills itself with SIGKILL at a chosen point of its work.

    python -m tests.killpoint [--signal NAME] [!]MODULE:ATTR[.ATTR][@SECONDS] -- ARGS...

From the moment a fault's ledger entry is written (``FaultLedger.open`` returned), the first
call of the named function kills the process with ``kill -9`` as soon as that call returns,
or, with ``@SECONDS``, that long after the call began if it is still running then: no
``finally``, no signal handler, no revert runs. With a leading ``!`` the first call of the
function kills, ledger or not (for commands that open no fault: ``ops deployment ...``).
``chaosdrill ARGS...`` is the command (a drill: ``run EXPERIMENT --name ENV ...``). Only
this process dies; what it started (the load run, a holder process) lives on, as after an
OOM kill. The point is chosen inside a fault's injection, so the kill lands after the fault
has begun to take effect and before the drill knows it has been applied.

With ``--signal INT`` (or HUP, TERM, ...) the process sends itself that signal at the
point instead, and goes on: a Ctrl-C, a closed terminal or a ``kill`` landing in the middle
of the injection.

The process writes ``killpoint armed`` and ``killpoint reached NAME`` to stderr.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
import threading
from typing import Any


def _resolve(target: str) -> tuple[Any, str]:
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, attr = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, attr


def arm(spec: str, signum: int = signal.SIGKILL) -> None:
    """Patch the target to signal this process in its first call once a fault is opened."""
    fired = threading.Event()

    def _die(target: str) -> None:
        if fired.is_set():
            return
        fired.set()
        print(f"killpoint reached {target}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signum)

    from chaosdrill.faults.ledger import FaultLedger

    target, _, delay = spec.lstrip("!").partition("@")
    armed = spec.startswith("!")
    owner, attr = _resolve(target)
    original = getattr(owner, attr)
    opener = FaultLedger.open

    @functools.wraps(opener)
    def open_then_arm(self: FaultLedger, *args: Any, **kwargs: Any) -> str:
        nonlocal armed
        entry = opener(self, *args, **kwargs)
        armed = True
        print("killpoint armed", file=sys.stderr, flush=True)
        return entry

    @functools.wraps(original)
    def call_then_die(*args: Any, **kwargs: Any) -> Any:
        if armed and delay and not fired.is_set():
            timer = threading.Timer(float(delay), _die, (spec,))
            timer.daemon = True
            timer.start()
        result = original(*args, **kwargs)
        if armed:
            _die(spec)
        return result

    FaultLedger.open = open_then_arm  # type: ignore[method-assign]
    setattr(owner, attr, call_then_die)


def main(argv: list[str]) -> int:
    """``[--signal NAME] TARGET -- ARGS...``: arm the point, then run ``chaosdrill ARGS...``."""
    signum = signal.SIGKILL
    if argv[:1] == ["--signal"]:
        signum = signal.Signals[f"SIG{argv[1]}"]
        argv = argv[2:]
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    arm(argv[0], signum)
    from chaosdrill.cli.main import main as chaosdrill

    return chaosdrill(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
