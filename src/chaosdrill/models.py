"""Typed scenario and runbook models and their loaders, under their first import path.

The code lives in :mod:`chaosdrill.runbook_model` (operations, placeholders, params,
actions, checks, steps, :class:`Runbook`), :mod:`chaosdrill.scenario_model`
(:class:`Scenario`, causes, impact and the severity model) and
:mod:`chaosdrill.model_loader` (:func:`load_scenario`, :func:`load_scenarios`,
:func:`load_runbook`, :func:`load_runbooks`, :func:`check_references`). This module
re-exports every name it has always exported, so ``from chaosdrill.models import ...``
keeps working.
"""

from __future__ import annotations

from chaosdrill.model_loader import (
    check_references,
    load_runbook,
    load_runbooks,
    load_scenario,
    load_scenarios,
)
from chaosdrill.runbook_model import (
    COMPARATORS,
    ENVIRONMENT_PLACEHOLDERS,
    OPERATIONS,
    Action,
    Check,
    Comparison,
    Condition,
    HttpAction,
    HttpCheck,
    OpAction,
    OpCheck,
    OperationArg,
    OperationSpec,
    Param,
    PromqlCheck,
    Runbook,
    RunbookStep,
    ShellAction,
    SqlCheck,
    find_placeholders,
    substitute,
)
from chaosdrill.runbook_model import ParamValue as ParamValue
from chaosdrill.runbook_model import Scalar as Scalar
from chaosdrill.scenario_model import (
    Cause,
    Impact,
    Investigation,
    Scenario,
    Severity,
    SeverityLevel,
    SeverityModel,
)

__all__ = [
    "COMPARATORS",
    "ENVIRONMENT_PLACEHOLDERS",
    "OPERATIONS",
    "Action",
    "Cause",
    "Check",
    "Comparison",
    "Condition",
    "HttpAction",
    "HttpCheck",
    "Impact",
    "Investigation",
    "OpAction",
    "OpCheck",
    "OperationArg",
    "OperationSpec",
    "Param",
    "PromqlCheck",
    "Runbook",
    "RunbookStep",
    "Scenario",
    "Severity",
    "SeverityLevel",
    "SeverityModel",
    "ShellAction",
    "SqlCheck",
    "check_references",
    "find_placeholders",
    "load_runbook",
    "load_runbooks",
    "load_scenario",
    "load_scenarios",
    "substitute",
]
