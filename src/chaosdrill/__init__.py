"""chaosdrill: executable incident drills.

Inject a real fault, prove the alert pages, run the runbook, prove health returns within
the targets, and score the drill.
"""

from chaosdrill.environments.base import Endpoints, Environment
from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.errors import DrillError, RuntimeFailure, UsageError

__version__ = "0.1.0"


def discover(discover_system: bool = True) -> dict[str, object]:
    """Chaos Toolkit's entry point: ``chaos discover chaosdrill`` lists the activities."""
    from chaosdrill.ctk import discover as _discover

    return _discover(discover_system)


__all__ = [
    "DrillError",
    "Endpoints",
    "EnvSettings",
    "Environment",
    "LocalEnvironment",
    "RuntimeFailure",
    "UsageError",
    "__version__",
    "discover",
]
