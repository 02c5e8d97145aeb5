"""Run runbooks and render them for people, under their first import path.

The executor lives in :mod:`chaosdrill.runbook_executor`, its results in
:mod:`chaosdrill.runbook_result` and the Markdown renderer in
:mod:`chaosdrill.runbook_renderer`. This module re-exports every name it has always
exported, so ``from chaosdrill.runbooks import ...`` keeps working.
"""

from __future__ import annotations

from chaosdrill.runbook_executor import OUTPUT_LIMIT as OUTPUT_LIMIT
from chaosdrill.runbook_executor import (
    POLL_INTERVAL_S,
    chaosdrill_command,
    run_runbook,
)
from chaosdrill.runbook_renderer import SEED_ORDER as SEED_ORDER
from chaosdrill.runbook_renderer import (
    describe_action,
    describe_check,
    operation_command,
    render_markdown,
    render_scenarios_markdown,
)
from chaosdrill.runbook_result import RunbookResult, StepResult

__all__ = [
    "POLL_INTERVAL_S",
    "RunbookResult",
    "StepResult",
    "chaosdrill_command",
    "describe_action",
    "describe_check",
    "operation_command",
    "render_markdown",
    "render_scenarios_markdown",
    "run_runbook",
]
