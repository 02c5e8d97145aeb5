"""The enrollment request: validation of ``POST /api/enrollments`` bodies.

Validation happens before any database work so that bad input costs nothing and the
client learns exactly which field is wrong (422 naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_CLIENT_KEY_LEN", "EnrollmentRequest", "RequestValidationError"]

MAX_CLIENT_KEY_LEN = 64
MAX_EMAIL_LEN = 254
MAX_INT4 = 2**31 - 1


class RequestValidationError(ValueError):
    """A request body field is missing or invalid.

    Attributes:
        field: Name of the offending field (``"body"`` when the body itself is wrong).
        detail: What was expected.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def _course_id(value: object) -> int:
    """Validate ``course_id``: a positive 32-bit integer (JSON booleans rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT4:
        raise RequestValidationError("course_id", "expected a positive integer")
    return value


def _email(value: object) -> str:
    """Validate ``student_email``: printable ``local@domain`` without spaces, <= 254 chars."""
    if not isinstance(value, str):
        raise RequestValidationError("student_email", "expected a string")
    local, at, domain = value.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or "@" in domain
        or len(value) > MAX_EMAIL_LEN
        or not value.isprintable()
        or any(ch.isspace() for ch in value)
    ):
        raise RequestValidationError("student_email", "expected an e-mail address")
    return value


def _client_key(value: object) -> str | None:
    """Validate the optional idempotency key: 1 to 64 printable characters, or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_KEY_LEN:
        raise RequestValidationError(
            "client_key", f"expected a string of 1 to {MAX_CLIENT_KEY_LEN} characters"
        )
    if not value.isprintable():
        raise RequestValidationError("client_key", "expected printable characters only")
    return value


@dataclass(frozen=True)
class EnrollmentRequest:
    """A validated enrollment request.

    Attributes:
        course_id: Course to enroll in; the price is read from the course.
        student_email: Who enrolls.
        client_key: Optional idempotency key: replaying it returns the first enrollment.
    """

    course_id: int
    student_email: str
    client_key: str | None = None

    @classmethod
    def parse(cls, body: object) -> EnrollmentRequest:
        """Validate a decoded JSON body.

        Raises:
            RequestValidationError: naming the first invalid field.
        """
        if not isinstance(body, dict):
            raise RequestValidationError("body", "expected a JSON object")
        for name in ("course_id", "student_email"):
            if name not in body:
                raise RequestValidationError(name, "required")
        return cls(
            course_id=_course_id(body["course_id"]),
            student_email=_email(body["student_email"]),
            client_key=_client_key(body.get("client_key")),
        )
