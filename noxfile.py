"""Developer sessions. They run in the project's .venv (made by scripts/bootstrap.sh).

.venv/bin/nox -s tests       the whole test suite (the README's test command)
.venv/bin/nox -s lint        ruff check + ruff format --check
.venv/bin/nox -s typecheck   mypy --strict
.venv/bin/nox -s drill       the main job: env up, smoke drive, env down
.venv/bin/nox -s bench       benchmarks, JSON results under benchmarks/results/
.venv/bin/nox -s bench-timescale   production-equivalent times against K = 1 drills (long)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "typecheck", "tests"]
ROOT = Path(__file__).parent
PY = sys.executable


@nox.session
def tests(session: nox.Session) -> None:
    session.run(str(ROOT / "scripts" / "test.sh"), *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    paths = ["src", "tests", "benchmarks", "examples", "noxfile.py"]
    session.run(PY, "-m", "ruff", "check", *paths)
    session.run(PY, "-m", "ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.run(PY, "-m", "mypy")


@nox.session
def drill(session: nox.Session) -> None:
    session.run(str(ROOT / "scripts" / "main.sh"), *session.posargs, external=True)


@nox.session
def bench(session: nox.Session) -> None:
    for script in ("bench_env.py", "bench_load.py", "bench_drills.py", "bench_reports.py"):
        session.run(PY, str(ROOT / "benchmarks" / script), *session.posargs)


@nox.session(name="bench-timescale")
def bench_timescale(session: nox.Session) -> None:
    """Production-equivalent MTTD/MTTR at K = 20 and 30 against K = 1 (about 50 minutes)."""
    session.run(PY, str(ROOT / "benchmarks" / "bench_timescale.py"), *session.posargs)
