"""Command line: ``python -m chaosdrill.targets.revenue_engine {serve,seed,check-revision}``.

``serve`` runs the service under uvicorn (settings from ``RE_*`` variables), ``seed``
creates and fills the schema, ``check-revision`` validates a revision file before it is
shipped. Exit status 2 means bad configuration or input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m chaosdrill.targets.revenue_engine", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service under uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--replica", help="replica label (default: $RE_REPLICA or host-port)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.add_argument("--access-log", action="store_true", help="log every request")
    seed = commands.add_parser("seed", help="create and fill the schema (idempotent)")
    seed.add_argument("--dsn", default=os.environ.get("RE_DSN"), help="default: $RE_DSN")
    seed.add_argument("--courses", type=int, default=500)
    seed.add_argument("--enrollments", type=int, default=200_000)
    seed.add_argument("--reset", action="store_true", help="drop existing tables first")
    check = commands.add_parser("check-revision", help="validate a revision file")
    check.add_argument("path")
    return parser


def _serve(args: argparse.Namespace) -> int:
    """Run uvicorn until interrupted."""
    import uvicorn

    from chaosdrill.targets.revenue_engine.app import create_app
    from chaosdrill.targets.revenue_engine.config import Settings

    settings = Settings.from_env(port=args.port)
    if args.replica:
        settings = dataclasses.replace(settings, replica=args.replica)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def _seed(args: argparse.Namespace) -> int:
    """Seed the database and print what was done and how long it took."""
    import psycopg

    from chaosdrill.targets.revenue_engine.schema import seed

    if not args.dsn:
        print("error: --dsn or RE_DSN is required", file=sys.stderr)
        return 2
    try:
        result = seed(
            args.dsn, courses=args.courses, enrollments=args.enrollments, reset=args.reset
        )
    except psycopg.Error as exc:
        print(f"error: database: {exc}", file=sys.stderr)
        return 1
    if result.skipped:
        print("schema already holds data; nothing done (use --reset to recreate)")
    else:
        print(
            f"seeded {result.courses} courses and {result.enrollments} enrollments "
            f"in {result.seconds:.2f} s"
        )
    return 0


def _check_revision(args: argparse.Namespace) -> int:
    """Validate a revision file and print it normalised (defaults filled in)."""
    from chaosdrill.targets.revenue_engine.revision import Revision

    revision = Revision.from_file(args.path)
    print(json.dumps(revision.to_dict(), indent=2, sort_keys=True))
    for name in revision.unknown_flags:
        print(f"warning: unknown flag {name!r} is ignored", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args = _parser().parse_args(argv)
    commands = {"serve": _serve, "seed": _seed, "check-revision": _check_revision}
    try:
        return commands[args.command](args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
