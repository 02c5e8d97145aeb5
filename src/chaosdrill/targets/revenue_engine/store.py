"""The SQL of the service: courses, course revenue statistics and enrollments.

Rows come back as plain JSON-ready dicts. Queries are single statements on autocommit
connections, so each one is its own transaction and no connection is ever returned to
the pool mid-transaction.
"""

from __future__ import annotations

from typing import TypedDict

from psycopg.rows import TupleRow

from .db import Database
from .enrollment import EnrollmentRequest

__all__ = [
    "COURSE_STATS_SQL",
    "Course",
    "CourseDetail",
    "CourseStats",
    "Enrollment",
    "Store",
]

LIST_COURSES_SQL = "SELECT id, title, price_cents, category FROM courses ORDER BY id"
GET_COURSE_SQL = "SELECT id, title, price_cents, category FROM courses WHERE id = %s"
COURSE_STATS_SQL = (
    "SELECT count(*), coalesce(sum(price_cents), 0) FROM enrollments WHERE course_id = %s"
)
"""The hot query; fast only thanks to index ``enrollments_course_id_idx``."""

_ENROLLMENT_COLUMNS = "id, course_id, student_email, price_cents, client_key, created_at"

# Reading the price and recording the revenue event is one atomic statement: the course
# row is read in the same snapshot the enrollment is inserted in.
CREATE_ENROLLMENT_SQL = f"""
WITH course AS (SELECT id, price_cents FROM courses WHERE id = %(course_id)s)
INSERT INTO enrollments (course_id, student_email, price_cents, client_key)
SELECT course.id, %(student_email)s, course.price_cents, %(client_key)s FROM course
ON CONFLICT (client_key) DO NOTHING
RETURNING {_ENROLLMENT_COLUMNS}
"""
ENROLLMENT_BY_KEY_SQL = f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments WHERE client_key = %s"
ENROLLMENT_BY_ID_SQL = f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments WHERE id = %s"


class Course(TypedDict):
    """A course as listed by ``GET /api/courses``."""

    id: int
    title: str
    price_cents: int
    category: str | None


class CourseStats(TypedDict):
    """Enrollment count and revenue of one course."""

    enrollments: int
    revenue_cents: int


class CourseDetail(Course):
    """A course with its statistics (``GET /api/courses/{course_id}``)."""

    stats: CourseStats


class Enrollment(TypedDict):
    """One enrollment: the revenue event."""

    id: int
    course_id: int
    student_email: str
    price_cents: int
    client_key: str | None
    created_at: str


def _course(row: TupleRow) -> Course:
    """Map a ``(id, title, price_cents, category)`` row."""
    course_id, title, price, category = row
    return Course(id=course_id, title=title, price_cents=price, category=category)


def _enrollment(row: TupleRow) -> Enrollment:
    """Map a row of ``_ENROLLMENT_COLUMNS`` (timestamps become ISO 8601 strings)."""
    enrollment_id, course_id, email, price, client_key, created_at = row
    return Enrollment(
        id=enrollment_id,
        course_id=course_id,
        student_email=email,
        price_cents=price,
        client_key=client_key,
        created_at=created_at.isoformat(),
    )


class Store:
    """Typed queries over a :class:`~chaosdrill.targets.revenue_engine.db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_courses(self) -> list[Course]:
        """Return every course ordered by id."""
        async with self._db.connection() as conn:
            cur = await conn.execute(LIST_COURSES_SQL)
            return [_course(row) for row in await cur.fetchall()]

    async def course_detail(self, course_id: int) -> CourseDetail | None:
        """Return the course with its enrollment count and revenue, None if unknown."""
        async with self._db.connection() as conn:
            cur = await conn.execute(GET_COURSE_SQL, (course_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            cur = await conn.execute(COURSE_STATS_SQL, (course_id,))
            stats = await cur.fetchone()
        count, revenue = stats if stats else (0, 0)
        course = _course(row)
        return CourseDetail(
            **course, stats=CourseStats(enrollments=int(count), revenue_cents=int(revenue))
        )

    async def create_enrollment(self, request: EnrollmentRequest) -> tuple[Enrollment, bool] | None:
        """Record an enrollment at the course's current price.

        Returns:
            ``(enrollment, True)`` when inserted, ``(existing, False)`` when the
            ``client_key`` was already used (idempotent replay), None if the course is
            unknown.
        """
        params = {
            "course_id": request.course_id,
            "student_email": request.student_email,
            "client_key": request.client_key,
        }
        async with self._db.connection() as conn:
            cur = await conn.execute(CREATE_ENROLLMENT_SQL, params)
            row = await cur.fetchone()
            if row is not None:
                return _enrollment(row), True
            if request.client_key is None:
                return None
            cur = await conn.execute(ENROLLMENT_BY_KEY_SQL, (request.client_key,))
            existing = await cur.fetchone()
        return (_enrollment(existing), False) if existing is not None else None

    async def get_enrollment(self, enrollment_id: int) -> Enrollment | None:
        """Return one enrollment, None if unknown."""
        async with self._db.connection() as conn:
            cur = await conn.execute(ENROLLMENT_BY_ID_SQL, (enrollment_id,))
            row = await cur.fetchone()
        return _enrollment(row) if row is not None else None
