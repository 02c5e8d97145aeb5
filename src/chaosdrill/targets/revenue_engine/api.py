"""Public HTTP routes: health, metrics, courses and enrollments.

Handlers stay thin: they validate, call the store or the cache, and shape JSON. Database
exceptions are left to escape and are mapped to 503 by the middleware.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .enrollment import EnrollmentRequest, RequestValidationError
from .errors import CheckoutFailureError, json_error
from .health import HealthChecker
from .service import Service

__all__ = ["COURSES_CACHE_KEY", "HEALTH_CHECK_TIMEOUT_S", "PublicApi", "parse_id"]

COURSES_CACHE_KEY = "revenue_engine:courses:v1"
HEALTH_CHECK_TIMEOUT_S = 1.5
"""Time budget of ``/health``: probes run concurrently and are never awaited longer."""
MAX_BODY_BYTES = 16 * 1024
MAX_BIGINT = 2**63 - 1


def parse_id(raw: str, maximum: int = MAX_BIGINT) -> int | None:
    """Return ``raw`` as a positive integer id no larger than ``maximum``, else None."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 1 <= value <= maximum else None


class PublicApi:
    """Handlers of the public routes, bound to one :class:`Service`."""

    def __init__(self, service: Service) -> None:
        self._service = service

        async def database() -> None:
            await service.db.ping(HEALTH_CHECK_TIMEOUT_S)

        self._health = HealthChecker(
            {"database": database, "cache": service.cache.ping}, HEALTH_CHECK_TIMEOUT_S
        )

    def routes(self) -> list[Route]:
        """Return the public routes."""
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/api/courses", self.list_courses, methods=["GET"]),
            Route("/api/courses/{course_id}", self.course_detail, methods=["GET"]),
            Route("/api/enrollments", self.create_enrollment, methods=["POST"]),
            Route("/api/enrollments/{enrollment_id}", self.get_enrollment, methods=["GET"]),
        ]

    async def health(self, request: Request) -> JSONResponse:
        """Check the database (``SELECT 1``) and the cache (``PING``) within ~1.5 s."""
        svc = self._service
        checks = await self._health.check()
        healthy = all(result == "ok" for result in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "checks": checks,
            "version": svc.revision.version,
            "revision": svc.revision.revision,
            "replica": svc.settings.replica,
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(self, request: Request) -> Response:
        """Serve the Prometheus text exposition of this app's registry."""
        payload, content_type = self._service.metrics.render()
        return Response(payload, headers={"Content-Type": content_type})

    async def list_courses(self, request: Request) -> Response:
        """List all courses through the Redis cache (``X-Cache`` says hit/miss/error)."""
        svc = self._service
        svc.note_api_request()

        async def load() -> bytes:
            courses = await svc.store.list_courses()
            return json.dumps({"courses": courses}, separators=(",", ":")).encode()

        body, outcome = await svc.cache.get_or_load(
            COURSES_CACHE_KEY, load, svc.revision.settings.cache_ttl_s
        )
        return Response(body, media_type="application/json", headers={"X-Cache": outcome.value})

    async def course_detail(self, request: Request) -> JSONResponse:
        """Return one course with its enrollment count and revenue (the hot query)."""
        self._service.note_api_request()
        course_id = parse_id(request.path_params["course_id"], maximum=2**31 - 1)
        detail = await self._service.store.course_detail(course_id) if course_id else None
        if detail is None:
            return json_error(404, "course not found")
        return JSONResponse(detail)

    async def create_enrollment(self, request: Request) -> JSONResponse:
        """Enroll a student at the course's price: 201 new, 200 idempotent replay."""
        svc = self._service
        if svc.flags.enabled("circuit_breaker"):
            return json_error(503, "circuit open")
        svc.note_api_request()
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return json_error(413, "request body too large")
        try:
            enrollment = EnrollmentRequest.parse(json.loads(raw))
        except ValueError as exc:
            field, detail = (
                (exc.field, exc.detail)
                if isinstance(exc, RequestValidationError)
                else ("body", "expected a JSON object")
            )
            return json_error(422, "invalid request", field=field, detail=detail)
        rate = svc.revision.settings.checkout_failure_rate
        if svc.flags.enabled("new_checkout") and svc.rng.random() < rate:
            raise CheckoutFailureError("new_checkout: pricing the cart failed")
        result = await svc.store.create_enrollment(enrollment)
        if result is None:
            return json_error(404, "course not found")
        row, created = result
        return JSONResponse(row, status_code=201 if created else 200)

    async def get_enrollment(self, request: Request) -> JSONResponse:
        """Return one enrollment or 404."""
        self._service.note_api_request()
        enrollment_id = parse_id(request.path_params["enrollment_id"])
        row = await self._service.store.get_enrollment(enrollment_id) if enrollment_id else None
        if row is None:
            return json_error(404, "enrollment not found")
        return JSONResponse(row)
