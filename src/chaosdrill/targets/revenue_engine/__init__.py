"""revenue_engine: the reference target service of chaosdrill's drills.

A small, real ASGI service modelled on an education revenue engine (courses,
enrollments, revenue) on PostgreSQL and Redis, whose behaviour is set by a revision so
drills can ship a faulty release, watch it page, and roll it back.
"""

from .app import create_app
from .revision import Revision

__all__ = ["Revision", "__version__", "create_app"]

__version__ = "0.1.0"
