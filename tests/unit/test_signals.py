"""Stop signals: what SIGINT, SIGTERM and SIGHUP do around a drill and during a revert."""

from __future__ import annotations

import os
import signal
import time

import pytest

from chaosdrill.faults.signals import (
    SAME_PRESS_S,
    STOP_SIGNALS,
    RevertAbandoned,
    StopRequested,
    held,
    revert_abandoned,
    stop_reason,
    stop_signals,
)


def press(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0.01)  # the handler runs at the next bytecode of the main thread


def handlers() -> dict[int, object]:
    return {s: signal.getsignal(s) for s in STOP_SIGNALS}


@pytest.mark.parametrize("sig", STOP_SIGNALS)
def test_each_stop_signal_raises_stop_requested(sig: signal.Signals) -> None:
    before = handlers()
    with stop_signals():
        with pytest.raises(StopRequested, match=sig.name):
            press(sig)
            pytest.fail("the signal did not stop the block")
        assert stop_reason() == f"signal {sig.name}"
    assert handlers() == before
    assert stop_reason() is None


def test_a_signal_during_a_revert_is_delivered_after_it() -> None:
    done = []
    with pytest.raises(StopRequested, match="SIGHUP"), stop_signals():
        with held():
            press(signal.SIGHUP)
            done.append("revert")
        done.append("after")  # not reached: the stop comes when the revert is done
    assert done == ["revert"]


def test_a_stop_under_way_is_not_raised_again_after_the_revert() -> None:
    done = []
    with stop_signals():
        try:
            press(signal.SIGINT)
        except StopRequested:
            time.sleep(SAME_PRESS_S)
            with held():
                press(signal.SIGTERM)  # a second press, while reverting
                done.append("revert")
            done.append("clean-up")
    assert done == ["revert", "clean-up"]
    assert not revert_abandoned()


def test_signals_of_one_press_count_once_and_the_third_press_abandons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reached = []
    with stop_signals():
        with pytest.raises(RevertAbandoned), held("chaosdrill env recover --name x"):
            press(signal.SIGINT)
            press(signal.SIGTERM)  # the same Ctrl-C, forwarded a moment later
            reached.append(1)
            time.sleep(SAME_PRESS_S)
            press(signal.SIGINT)
            reached.append(2)
            time.sleep(SAME_PRESS_S)
            press(signal.SIGINT)
            reached.append(3)
        assert revert_abandoned()
    assert reached == [1, 2]
    err = capsys.readouterr().err
    assert "reverting the fault first" in err
    assert "revert abandoned" in err and "`chaosdrill env recover --name x` will finish it" in err


def test_held_blocks_nest_and_only_the_outermost_delivers() -> None:
    order = []
    with pytest.raises(StopRequested), stop_signals():
        with held():
            with held():
                press(signal.SIGTERM)
            order.append("inner done")
        order.append("outer done")
    assert order == ["inner done"]
