"""The pager: chaosdrill's receiver of Alertmanager's webhook (payload version 4).

Every notification is committed to SQLite with its receive time (wall clock as a label,
the system-wide monotonic clock for durations) before the webhook is answered, so a page is
never lost to a crash of the drill that waits for it.
"""

from chaosdrill.pager.store import Page, PagerStore

__all__ = ["Page", "PagerStore"]
