"""On-call training: a person responds to a hidden real incident; chaosdrill scores them.

:mod:`~chaosdrill.training.log` keeps a session's event log and its sealed cause;
:mod:`~chaosdrill.training.debrief` turns them into the debrief and its score.
"""

from chaosdrill.training.debrief import (
    ROLES,
    TEMPLATE_FIELDS,
    ActionRule,
    Debrief,
    TrainingScoring,
    debrief,
)
from chaosdrill.training.log import EVENT_KINDS, Event, SealedCause, SessionLog, leaks

__all__ = [
    "EVENT_KINDS",
    "ROLES",
    "TEMPLATE_FIELDS",
    "ActionRule",
    "Debrief",
    "Event",
    "SealedCause",
    "SessionLog",
    "TrainingScoring",
    "debrief",
    "leaks",
]
