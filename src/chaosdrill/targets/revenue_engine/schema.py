"""Database schema and the set-based seed of courses and enrollments.

The seed is one transaction of a few set-based statements (``generate_series``, no row
by row inserts). Tables are created bare, filled, and only then get their keys, the
foreign key and the hot-path index ``enrollments_course_id_idx``: building an index once
is far cheaper than maintaining it per inserted row. The data is deterministic, so every
environment (and both database nodes) holds the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

__all__ = [
    "COURSE_STATS_INDEX",
    "CREATE_TABLES_SQL",
    "FINISH_SCHEMA_SQL",
    "SeedResult",
    "seed",
]

COURSE_STATS_INDEX = "enrollments_course_id_idx"
"""Index the course statistics query depends on; dropping it is a drill fault."""

CREATE_TABLES_SQL = """
CREATE TABLE courses (
    id serial,
    title text NOT NULL,
    category text,
    price_cents integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE enrollments (
    id bigserial,
    course_id integer NOT NULL,
    student_email text NOT NULL,
    price_cents integer NOT NULL,
    client_key text,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

SEED_COURSES_SQL = """
INSERT INTO courses (id, title, category, price_cents)
SELECT g,
       (ARRAY['Intro to', 'Practical', 'Advanced', 'Mastering'])[1 + g %% 4]
           || ' ' || (ARRAY['SQL', 'Python', 'Statistics', 'Design', 'Marketing',
                            'Accounting', 'Spanish', 'Photography'])[1 + (g / 4) %% 8]
           || ' #' || g,
       (ARRAY['data', 'programming', 'math', 'design', 'business',
              'finance', 'languages', 'arts'])[1 + (g / 4) %% 8],
       1900 + ((g * 7919) %% 180) * 100
FROM generate_series(1, %(courses)s) AS g
"""

# The multiplicative hash spreads enrollments evenly but deterministically over courses.
SEED_ENROLLMENTS_SQL = """
INSERT INTO enrollments (id, course_id, student_email, price_cents, created_at)
SELECT g, c.id, 'student' || g || '@example.com', c.price_cents,
       now() - (g %% 365) * interval '1 day'
FROM generate_series(1, %(enrollments)s) AS g
JOIN courses AS c ON c.id = 1 + (g * 2654435761) %% %(courses)s
"""

FINISH_SCHEMA_SQL = f"""
ALTER TABLE courses ADD CONSTRAINT courses_pkey PRIMARY KEY (id);
ALTER TABLE enrollments
    ADD CONSTRAINT enrollments_pkey PRIMARY KEY (id),
    ADD CONSTRAINT enrollments_client_key_key UNIQUE (client_key),
    ADD CONSTRAINT enrollments_course_id_fkey FOREIGN KEY (course_id) REFERENCES courses (id);
CREATE INDEX {COURSE_STATS_INDEX} ON enrollments (course_id);
SELECT setval(pg_get_serial_sequence('courses', 'id'), coalesce(max(id), 0) + 1, false)
FROM courses;
SELECT setval(pg_get_serial_sequence('enrollments', 'id'), coalesce(max(id), 0) + 1, false)
FROM enrollments;
ANALYZE courses;
ANALYZE enrollments;
"""

_SEED_LOCK_ID = 0x5EED_0001


@dataclass(frozen=True)
class SeedResult:
    """Outcome of :func:`seed`.

    Attributes:
        skipped: True when the schema already held data and nothing was done.
        courses: Courses inserted.
        enrollments: Enrollments inserted.
        seconds: Wall time of the whole seed, connection included.
    """

    skipped: bool
    courses: int
    enrollments: int
    seconds: float


def _has_data(cur: psycopg.Cursor[TupleRow]) -> bool:
    """Return whether table ``courses`` exists and holds at least one row."""
    cur.execute("SELECT to_regclass('courses') IS NOT NULL")
    row = cur.fetchone()
    if not row or not row[0]:
        return False
    cur.execute("SELECT EXISTS (SELECT 1 FROM courses)")
    row = cur.fetchone()
    return bool(row and row[0])


def seed(
    dsn: str, courses: int = 500, enrollments: int = 200_000, *, reset: bool = False
) -> SeedResult:
    """Create the schema and fill it with ``courses`` and ``enrollments`` rows.

    Idempotent: when ``courses`` already holds rows nothing happens (``skipped``), unless
    ``reset`` drops both tables first. Everything runs in one transaction under an
    advisory lock, so concurrent seeds cannot interleave and a failure leaves no trace.

    Raises:
        ValueError: if ``courses`` < 1 or ``enrollments`` < 0.
        psycopg.Error: if the database refuses.
    """
    if courses < 1:
        raise ValueError(f"courses: expected an integer >= 1, got {courses}")
    if enrollments < 0:
        raise ValueError(f"enrollments: expected an integer >= 0, got {enrollments}")
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK_ID,))
        cur.execute("SET LOCAL statement_timeout = 0")
        cur.execute("SET LOCAL maintenance_work_mem = '128MB'")
        if reset:
            cur.execute("DROP TABLE IF EXISTS enrollments, courses CASCADE")
        elif _has_data(cur):
            return SeedResult(True, 0, 0, time.perf_counter() - started)
        else:
            # Tables without rows (e.g. left by hand) are recreated with the full schema.
            cur.execute("DROP TABLE IF EXISTS enrollments, courses CASCADE")
        cur.execute(CREATE_TABLES_SQL)
        params = {"courses": courses, "enrollments": enrollments}
        cur.execute(SEED_COURSES_SQL, params)
        cur.execute(SEED_ENROLLMENTS_SQL, params)
        cur.execute(FINISH_SCHEMA_SQL)
    return SeedResult(False, courses, enrollments, time.perf_counter() - started)
