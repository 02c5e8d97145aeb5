"""The ASGI application factory.

``create_app`` reads the revision and the admin token once, builds the
:class:`~.service.Service` and wires routes, middleware and lifespan. The
database and the cache are only opened by the lifespan, so creating an app is cheap and
needs no network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from .admin import AdminApi
from .api import PublicApi
from .config import Settings, read_admin_token, read_secret
from .errors import json_error
from .middleware import ObservabilityMiddleware
from .revision import Revision
from .service import Service

__all__ = ["create_app"]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Render Starlette's HTTP errors (404 unknown path, 405 method) as JSON."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
        raise exc
    response = json_error(exc.status_code, str(exc.detail).lower())
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_app(
    settings: Settings | None = None,
    *,
    revision: Revision | None = None,
    admin_token: str | None = None,
) -> Starlette:
    """Build the service's ASGI app.

    Args:
        settings: Process wiring; read from ``RE_*`` environment variables when None.
        revision: Revision to run; read from ``settings.revision_file`` when None.
        admin_token: Admin bearer token; read from ``settings.admin_token_file`` when
            None (admin stays disabled when neither is given).

    Raises:
        ConfigError: if the environment, the token file or the password file is unusable.
        ValueError, OSError: if the revision file is invalid or unreadable.
    """
    settings = settings or Settings.from_env()
    revision = revision or Revision.from_file(settings.revision_file)
    if admin_token is None and settings.admin_token_file is not None:
        admin_token = read_admin_token(settings.admin_token_file)
    redis_password = None
    if settings.redis_password_file is not None:
        redis_password = read_secret(
            settings.redis_password_file, "RE_REDIS_PASSWORD_FILE", "a password"
        )
    service = Service.build(settings, revision, admin_token, redis_password=redis_password)
    routes = [*PublicApi(service).routes(), *AdminApi(service).routes()]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(ObservabilityMiddleware, metrics=service.metrics, routes=routes)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.service = service
    return app
