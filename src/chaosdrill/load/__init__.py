"""User load for drills: Locust flows in their own process, client-side SLIs, write ledger.

Locust is imported only inside the load process (``chaosdrill.load.runner``); this package's
public API never imports it.
"""

from chaosdrill.load.control import LoadRun, LoadStatus, active_run, latest_run, start_load
from chaosdrill.load.ledger import Attempt, read_ledger
from chaosdrill.load.sli import SliPoint
from chaosdrill.load.spec import FLOWS, LoadSpec

__all__ = [
    "FLOWS",
    "Attempt",
    "LoadRun",
    "LoadSpec",
    "LoadStatus",
    "SliPoint",
    "active_run",
    "latest_run",
    "read_ledger",
    "start_load",
]
