"""Admin HTTP routes: feature flags and the running revision, behind a bearer token.

The admin API is how an operator (or a drill's runbook) flips a feature off during an
incident. Every route requires ``Authorization: Bearer <token>``; the token is compared
in constant time and never echoed, logged or exported.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import json_error
from .service import Service

__all__ = ["AdminApi", "bearer_token_matches"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def bearer_token_matches(authorization: str | None, token: str | None) -> bool:
    """Return whether an ``Authorization`` header carries ``token`` as a bearer token.

    False when no token is configured (admin disabled) or the header is missing,
    malformed or wrong; the comparison itself is constant-time.
    """
    if not token or not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


class AdminApi:
    """Handlers of the admin routes, bound to one :class:`Service`."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def routes(self) -> list[Route]:
        """Return the admin routes, each wrapped in the token check."""
        return [
            Route("/admin/flags", self._guard(self.get_flags), methods=["GET"]),
            Route("/admin/flags/{name}", self._guard(self.put_flag), methods=["PUT"]),
            Route("/admin/revision", self._guard(self.get_revision), methods=["GET"]),
        ]

    def _guard(self, handler: Handler) -> Handler:
        """Wrap ``handler`` so it runs only for requests with the admin token."""

        async def guarded(request: Request) -> Response:
            header = request.headers.get("authorization")
            if not bearer_token_matches(header, self._service.admin_token):
                response = json_error(401, "unauthorized")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
            return await handler(request)

        guarded.__doc__ = handler.__doc__
        return guarded

    async def get_flags(self, request: Request) -> JSONResponse:
        """Return the live feature flags of this process."""
        return JSONResponse({"flags": self._service.flags.snapshot()})

    async def put_flag(self, request: Request) -> JSONResponse:
        """Turn one flag on or off in this process (body ``{"enabled": bool}``)."""
        name = request.path_params["name"]
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        enabled = body.get("enabled") if isinstance(body, dict) else None
        if not isinstance(enabled, bool):
            return json_error(422, "invalid request", field="enabled", detail="expected a boolean")
        try:
            self._service.flags.set(name, enabled)
        except ValueError as exc:
            return json_error(422, "invalid request", field="name", detail=str(exc))
        logger.info("admin: flag %s set to %s", name, "on" if enabled else "off")
        return JSONResponse({"flags": self._service.flags.snapshot()})

    async def get_revision(self, request: Request) -> JSONResponse:
        """Return the running revision (and which of its flags are unknown)."""
        revision = self._service.revision
        return JSONResponse({**revision.to_dict(), "unknown_flags": revision.unknown_flags})
