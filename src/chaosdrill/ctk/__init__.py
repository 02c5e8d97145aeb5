"""The Chaos Toolkit extension of chaosdrill: actions, probes and a control on the same engine.

An experiment names them as python providers (``chaosdrill.ctk.actions``,
``chaosdrill.ctk.probes``) and lists the control ``chaosdrill.ctk.control``, which sets the
drill up (environment, time scale, load), records the timeline and writes the drill result.
``chaos discover chaosdrill`` lists the activities.
"""

from __future__ import annotations

from typing import Any

__all__ = ["discover"]


def discover(discover_system: bool = True) -> dict[str, Any]:
    """Describe the extension's activities for ``chaos discover``."""
    from chaoslib.discovery.discover import (
        discover_actions,
        discover_probes,
        initialize_discovery_result,
    )

    from chaosdrill import __version__

    result: dict[str, Any] = initialize_discovery_result("chaosdrill", __version__, "chaosdrill")
    result["activities"].extend(discover_actions("chaosdrill.ctk.actions"))
    result["activities"].extend(discover_probes("chaosdrill.ctk.probes"))
    return result
