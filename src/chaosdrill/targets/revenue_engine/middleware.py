"""Request middleware: metrics by route template, error mapping and 5xx logging.

A pure ASGI middleware (cheaper than ``BaseHTTPMiddleware``) sitting outside the router:
it times every request, labels it with the route *template* (bounded label values even
under scans of random paths), turns exceptions that escape a route into JSON 503/500
answers, and logs one WARNING line per 5xx in place of an access log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import CheckoutFailureError, error_response, short_reason
from .metrics import Metrics

__all__ = ["UNMATCHED_ROUTE", "ObservabilityMiddleware", "route_template"]

logger = logging.getLogger(__name__)

UNMATCHED_ROUTE = "unmatched"
"""Route label of requests no route matches (one label value for all of them)."""


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """Return the template of the route matching ``scope``, e.g. ``/api/courses/{course_id}``.

    A route matching the path but not the method (a 405) still names its template.
    """
    partial: str | None = None
    for route in routes:
        match, _ = route.matches(scope)
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        if match is Match.FULL:
            return path
        if match is Match.PARTIAL and partial is None:
            partial = path
    return partial or UNMATCHED_ROUTE


class ObservabilityMiddleware:
    """Times, labels and error-maps every HTTP request of the wrapped app."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self._app = app
        self._metrics = metrics
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call; non-HTTP scopes (lifespan) pass straight through."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started_at = time.perf_counter()
        status = 500
        response_started = False

        async def send_and_record(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
            await send(message)

        error: Exception | None = None
        try:
            await self._app(scope, receive, send_and_record)
        except Exception as exc:
            error = exc
            if response_started:
                status = 500
                raise
            response = error_response(exc)
            status = response.status_code
            await response(scope, receive, send)
        finally:
            elapsed = time.perf_counter() - started_at
            route = route_template(self._routes, scope)
            self._metrics.observe_request(route, scope["method"], status, elapsed)
            if status >= 500:
                _log_server_error(scope, status, elapsed, error)


def _log_server_error(scope: Scope, status: int, elapsed: float, error: Exception | None) -> None:
    """Log one WARNING line for a 5xx answer (with a traceback only for real bugs)."""
    cause = f" ({type(error).__name__}: {short_reason(error)})" if error else ""
    unexpected = error is not None and status == 500
    logger.warning(
        "%s %s -> %d in %.1f ms%s",
        scope["method"],
        scope["path"],
        status,
        elapsed * 1000,
        cause,
        exc_info=error if unexpected and not isinstance(error, CheckoutFailureError) else None,
    )
