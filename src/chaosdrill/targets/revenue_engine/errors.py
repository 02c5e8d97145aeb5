"""Error responses: how failures become JSON answers.

Dependency failures (the database) are the service's normal bad weather and answer 503,
so load balancers and clients retry elsewhere; anything unexpected answers 500. Messages
are short and never carry SQL parameters, connection strings or secrets.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from starlette.responses import JSONResponse

from .db import DatabaseNotReadyError, PoolExhaustedError

__all__ = ["CheckoutFailureError", "error_response", "json_error", "short_reason"]

MAX_REASON_LEN = 160


class CheckoutFailureError(RuntimeError):
    """The faulty ``new_checkout`` code path failed (the simulated bad release)."""


def short_reason(exc: BaseException) -> str:
    """Return the first line of ``exc``'s message, truncated, or its type if empty."""
    text = str(exc).strip().splitlines()
    reason = text[0].strip() if text else ""
    if not reason:
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
    return reason if len(reason) <= MAX_REASON_LEN else reason[: MAX_REASON_LEN - 3] + "..."


def json_error(status: int, message: str, **extra: object) -> JSONResponse:
    """Return ``{"error": message, **extra}`` with ``status``."""
    return JSONResponse({"error": message, **extra}, status_code=status)


def error_response(exc: Exception) -> JSONResponse:
    """Map an exception escaping a route to its JSON response (503 or 500)."""
    if isinstance(exc, PoolExhaustedError):
        return json_error(503, "database pool exhausted", detail=exc.detail)
    if isinstance(exc, PoolTimeout):
        return json_error(503, "database pool exhausted")
    if isinstance(exc, DatabaseNotReadyError):
        return json_error(503, "database unavailable: pool is not open")
    if isinstance(exc, pg_errors.QueryCanceled):
        return json_error(503, "database statement timeout")
    if isinstance(exc, psycopg.OperationalError):
        return json_error(503, f"database unavailable: {short_reason(exc)}")
    if isinstance(exc, psycopg.Error):
        code = exc.sqlstate or type(exc).__name__
        return json_error(503, f"database error: {code}")
    return json_error(500, "internal server error")
