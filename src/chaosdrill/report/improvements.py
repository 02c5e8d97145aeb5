"""What to improve after a drill: one sentence per reason the score lost points.

Each reason of each score part (``Score.parts``) becomes an action for the team, naming the
drill's alert and runbooks where it helps: a page that never came points at the rule and the
Alertmanager route, slow recovery at the runbook, lost writes at replication.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaosdrill.report.drill_types import Score

__all__ = ["improvements"]


def improvements(score: Score, alert: str | None, runbooks: Sequence[str]) -> tuple[str, ...]:
    """The improvements for a drill's lost points, in score-part order.

    Args:
        score: the drill's score.
        alert: the alert the drill expected (None: "the alert").
        runbooks: the names of the runbooks it ran (none: "the runbook").
    """
    name = alert or "the alert"
    book = ", ".join(runbooks) or "the runbook"
    out = []
    for part in score.parts:
        for reason in part.reasons:
            line = _improvement(part.name, reason, name, book)
            if line is not None:
                out.append(line)
    return tuple(out)


def _improvement(part: str, reason: str, alert: str, book: str) -> str | None:
    if part == "detection" and "never paged" in reason:
        return (
            f"Detection: {reason}. Check that the {alert} rule can fire for this cause "
            "and that Alertmanager routes it to the pager (`chaosdrill validate`)."
        )
    if part == "detection":
        return (
            f"Detection: {reason}. Shorten the {alert} detection budget (rule window, "
            "`for:`, group_wait) or add an alert closer to the cause."
        )
    if part == "recovery":
        return (
            f"Recovery: {reason}. Review {book}: does it fix this cause, and can its "
            "slow steps be made faster?"
        )
    if part == "impact" and "lost" in reason:
        return f"Data: {reason}. Review replication (synchronous commit) and failover."
    if part == "impact":
        return (
            f"Impact: {reason}. Shorten the time to mitigate, or limit the blast radius "
            "(retries, a circuit breaker, a canary for releases)."
        )
    if part == "verification":
        return f"Verification: {reason}."
    if part == "hygiene":
        return f"Hygiene: {reason}."
    return None
