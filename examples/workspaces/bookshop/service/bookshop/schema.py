"""Create and seed the bookshop schema: ``python -m bookshop.schema``.

Idempotent: when ``books`` already has rows nothing is touched (a drill may have dropped
an index on purpose). Reads ``DATABASE_URL`` (a libpq conninfo string).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import psycopg

DDL = """
create table if not exists books (
    id serial primary key,
    title text not null,
    author text not null,
    price_cents int not null
);
create table if not exists reviews (
    id bigserial primary key,
    book_id int not null references books,
    stars int not null check (stars between 1 and 5),
    created_at timestamptz default now()
);
create index if not exists reviews_book_id_idx on reviews (book_id);
create table if not exists orders (
    id bigserial primary key,
    book_id int not null references books,
    quantity int not null check (quantity > 0),
    created_at timestamptz default now()
);
"""

SEED_BOOKS = """
insert into books (title, author, price_cents)
select 'Book ' || g, 'Author ' || (1 + g %% 50), 500 + (g * 37) %% 4500
from generate_series(1, %(books)s) g
"""

SEED_REVIEWS = """
insert into reviews (book_id, stars, created_at)
select 1 + g %% %(books)s, 1 + (g * 7 + g / 13) %% 5, now() - (g %% 2000) * interval '1 hour'
from generate_series(1, %(reviews)s) g
"""


def _has_books(conn: psycopg.Connection[Any]) -> bool:
    """Tell whether the ``books`` table exists and has at least one row."""
    row = conn.execute("select to_regclass('books') is not null").fetchone()
    if not (row and row[0]):
        return False
    row = conn.execute("select exists (select from books)").fetchone()
    return bool(row and row[0])


def create(conninfo: str, books: int, reviews: int) -> str:
    """Create the tables and seed them unless ``books`` has rows; return what happened."""
    with psycopg.connect(conninfo, autocommit=True, application_name="bookshop-schema") as conn:
        if _has_books(conn):
            return "schema present"
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('bookshop schema'))")
            conn.execute(DDL)
            if _has_books(conn):  # another run seeded it while we waited for the lock
                return "schema present"
            # books is empty, so (foreign keys) reviews and orders are too: restart ids at 1.
            conn.execute("truncate books, reviews, orders restart identity")
            conn.execute(SEED_BOOKS, {"books": books})
            conn.execute(SEED_REVIEWS, {"books": books, "reviews": reviews})
        conn.execute("analyze books, reviews, orders")
    return f"schema created: {books} books, {reviews} reviews"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit status 0 on success, 1 on a database error."""
    parser = argparse.ArgumentParser(prog="python -m bookshop.schema", description=__doc__)
    parser.add_argument("--books", type=int, default=500)
    parser.add_argument("--reviews", type=int, default=200_000)
    args = parser.parse_args(argv)
    conninfo = os.environ.get("DATABASE_URL")
    if not conninfo:
        print("bookshop.schema: DATABASE_URL is not set", file=sys.stderr)
        return 2
    if args.books < 1 or args.reviews < 0:
        parser.error("--books must be >= 1 and --reviews >= 0")
    try:
        print(create(conninfo, args.books, args.reviews))
    except psycopg.Error as exc:
        # One line, but every host's failure (libpq lists them on separate lines).
        reason = " | ".join(filter(None, map(str.strip, str(exc).splitlines())))
        print(f"bookshop.schema: error: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
