"""Stop signals around a drill: Ctrl-C, SIGTERM and a closed terminal end it the same way.

A drill that receives SIGINT, SIGTERM or SIGHUP stops: inside :func:`stop_signals` each of
them raises :class:`StopRequested` (a KeyboardInterrupt, so Chaos Toolkit interrupts the
experiment and plays its rollbacks, and every ``finally`` runs). SIGHUP is what a closed
terminal or a dropped SSH connection sends; Python's default for it (and for SIGTERM) is to
die at once, skipping every revert.

A revert, once begun, runs to its end: inside :func:`held` the stop signals are deferred.
The first one and the second (a second Ctrl-C) are noted and answered on stderr; a third
abandons the revert (:class:`RevertAbandoned`), saying that ``chaosdrill env recover`` will
finish it. Signals that arrive within :data:`SAME_PRESS_S` of each other count as one press
(a terminal's Ctrl-C reaches every process of its group; a parent may forward it a
millisecond later). When the block ends the deferred signal is delivered to the handler
that was there before, unless a stop is already under way: then there is nothing more to
stop, and the drill ends as it was ending. The runbook executor holds the stop signals the
same way while it waits for an operation that a stop cut short (a rollout is not left half
done under the revert that follows).

Only the main thread handles signals; elsewhere these blocks just run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

__all__ = [
    "SAME_PRESS_S",
    "STOP_SIGNALS",
    "RevertAbandoned",
    "StopRequested",
    "forwarding",
    "held",
    "revert_abandoned",
    "stop_reason",
    "stop_signals",
    "take_over",
]

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: signals this close together are one press of Ctrl-C
SAME_PRESS_S = 0.5
#: presses during a revert that abandon it
ABANDON_AT = 3
RECOVER_HINT = "chaosdrill env recover"

Handler = Callable[[int, FrameType | None], Any] | int | None


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived: the drill stops, reverts and writes what it has."""


class RevertAbandoned(KeyboardInterrupt):
    """A third stop during a revert: it was left unfinished (``chaosdrill env recover``)."""


@dataclass
class _State:
    reason: str | None = None  # why the process is stopping, once it is
    presses: int = 0  # distinct presses since the stop signals were installed
    last_press: float = float("-inf")
    depth: int = 0  # nesting of held blocks
    deferred: list[int] = field(default_factory=list)
    hint: str = RECOVER_HINT
    doing: str = "reverting the fault"  # what the held block does, in words
    at_risk: str = "revert abandoned ({signal}): a fault may still be in effect"
    abandoned: bool = False


_STATE = _State()


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"chaosdrill: {text}\n")
        sys.stderr.flush()


def _hung_up(signum: int) -> None:
    """After SIGHUP the terminal is gone: send what is still written to it to /dev/null."""
    if signum != signal.SIGHUP:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                if os.isatty(fd):
                    os.dup2(null, fd)
    finally:
        os.close(null)


def _new_press() -> bool:
    """Count a press unless it belongs to the last one (within SAME_PRESS_S)."""
    now = time.monotonic()
    same = now - _STATE.last_press < SAME_PRESS_S
    _STATE.last_press = now
    if not same:
        _STATE.presses += 1
    return not same


def _handle(signum: int, frame: FrameType | None) -> None:
    """The one handler of the stop signals (what it does depends on :func:`held`)."""
    _hung_up(signum)
    new = _new_press()
    if _STATE.depth > 0:
        _defer(signum, new)
        return
    if new or _STATE.reason is None:
        _stop(signum)


def _stop(signum: int) -> None:
    if _STATE.reason is None:
        _STATE.reason = f"signal {_name(signum)}"
    logger.warning("%s received: stopping; the fault is reverted first", _name(signum))
    raise StopRequested(f"signal {_name(signum)}")


def _defer(signum: int, new: bool) -> None:
    _STATE.deferred.append(signum)
    if not new:
        return
    if _STATE.presses >= ABANDON_AT:
        _STATE.abandoned = True
        _say(f"{_STATE.at_risk.format(signal=_name(signum))}; `{_STATE.hint}` will finish it")
        raise RevertAbandoned(f"abandoned on signal {_name(signum)}: {_STATE.doing}")
    left = ABANDON_AT - _STATE.presses
    _say(
        f"{_name(signum)}: {_STATE.doing} first; it runs to its end "
        f"({left} more Ctrl-C abandon{'s' if left == 1 else ''} it; "
        f"`{_STATE.hint}` would then finish it)"
    )


def stop_reason() -> str | None:
    """Why this process is stopping (``"signal SIGHUP"``), or None while it is not."""
    return _STATE.reason


def revert_abandoned() -> bool:
    """True once a revert was abandoned by a third Ctrl-C: do not start another."""
    return _STATE.abandoned


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install() -> dict[int, Handler]:
    return {sig: signal.signal(sig, _handle) for sig in STOP_SIGNALS}


def _restore(previous: dict[int, Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise :class:`StopRequested` inside the block.

    The stop is counted: a signal of the same press as the one that started the stop is
    ignored. The previous handlers (and what was known of a stop before) are put back on
    leaving. Main thread only.
    """
    if not _main_thread():
        yield
        return
    previous = _install()
    saved = (_STATE.reason, _STATE.presses, _STATE.abandoned, _STATE.last_press)
    _STATE.reason, _STATE.presses, _STATE.abandoned = None, 0, False
    _STATE.last_press = float("-inf")
    try:
        yield
    finally:
        _restore(previous)
        _STATE.reason, _STATE.presses, _STATE.abandoned, _STATE.last_press = saved


def take_over() -> None:
    """Put the stop handlers back over others installed meanwhile (Chaos Toolkit's SIGTERM).

    Does nothing unless a :func:`stop_signals` block is active on the main thread; the one
    who installed the other handler puts its predecessor (ours) back when it is done.
    """
    if _main_thread() and signal.getsignal(signal.SIGINT) is _handle:
        signal.signal(signal.SIGTERM, _handle)
        signal.signal(signal.SIGHUP, _handle)


@contextlib.contextmanager
def held(
    hint: str = RECOVER_HINT,
    *,
    doing: str = "reverting the fault",
    at_risk: str = "revert abandoned ({signal}): a fault may still be in effect",
) -> Iterator[None]:
    """Defer the stop signals during the block (a revert); see the module's docstring.

    Args:
        hint: the command that finishes an abandoned revert (printed on the third press).
        doing: what the block does, in words (printed when a stop is deferred).
        at_risk: what an abandon leaves behind (printed on the third press; ``{signal}``
            is the signal's name).

    Raises:
        RevertAbandoned: on the third press of Ctrl-C (from wherever the block was).
    """
    if not _main_thread():
        yield
        return
    if _STATE.depth > 0:  # the outermost block decides
        _STATE.depth += 1
        try:
            yield
        finally:
            _STATE.depth -= 1
        return
    stopping, outer = _STATE.reason is not None, (_STATE.hint, _STATE.doing, _STATE.at_risk)
    previous = _install()
    _STATE.depth, _STATE.deferred = 1, []
    _STATE.hint, _STATE.doing, _STATE.at_risk = hint, doing, at_risk
    try:
        yield
    finally:
        _STATE.depth = 0
        _STATE.hint, _STATE.doing, _STATE.at_risk = outer
        _restore(previous)
        _redeliver(previous, stopping)


def _redeliver(previous: dict[int, Handler], stopping: bool) -> None:
    deferred, _STATE.deferred = _STATE.deferred, []
    if not deferred or _STATE.abandoned or sys.exc_info()[0] is not None:
        return  # abandoned, or the block is already leaving on an exception
    if stopping:
        logger.warning("%s during the revert: already stopping", _name(deferred[0]))
        return
    if previous[deferred[0]] is _handle:
        _stop(deferred[0])
    signal.raise_signal(deferred[0])  # to the handler that was there before


@contextlib.contextmanager
def forwarding(pid: int) -> Iterator[None]:
    """Inside the block the stop signals are passed on to process ``pid`` (a drill child).

    The child, in a session of its own, counts them itself (a third Ctrl-C abandons its
    revert). Main thread only.
    """
    if not _main_thread():
        yield
        return

    def forward(signum: int, frame: FrameType | None) -> None:
        _hung_up(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous: dict[int, Handler] = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        _restore(previous)
