"""The load process: ``python -m chaosdrill.load.runner --run-dir DIR --url URL [--role ...]``.

Roles: ``local`` (one process), ``master`` (starts N ``worker`` processes in its own process
group and drives them), ``worker``. Every process writes its own ledger and SLI files in the
run directory. The run stops by itself after ``duration_s`` or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gevent

# Locust patches the standard library for gevent; it must come first, and only here.
from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from chaosdrill.load.flows import RunContext, make_user_class
from chaosdrill.load.ledger import LedgerWriter
from chaosdrill.load.sli import SliRecorder
from chaosdrill.load.spec import LoadSpec
from chaosdrill.paths import write_atomic

WORKER_WAIT_S = 30.0


def _context(run_dir: Path, spec: LoadSpec) -> RunContext:
    pid = os.getpid()
    return RunContext(
        run_id=run_dir.name,
        spec=spec,
        ledger=LedgerWriter(run_dir / f"ledger-{pid}.db"),
        sli=SliRecorder(run_dir / f"sli-{pid}.jsonl"),
    )


def _flusher(ctx: RunContext) -> None:
    while True:
        gevent.sleep(0.25)
        ctx.sli.flush()


def _mark(run_dir: Path, name: str, **info: object) -> None:
    write_atomic(run_dir / name, json.dumps({"pid": os.getpid(), "time": time.time(), **info}))


def _spawn_workers(args: argparse.Namespace, count: int) -> list[subprocess.Popen[bytes]]:
    log = open(args.run_dir / "workers.log", "ab")  # noqa: SIM115 - inherited by the workers
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chaosdrill.load.runner",
                "--run-dir",
                str(args.run_dir),
                "--url",
                args.url,
                "--role",
                "worker",
                "--master-port",
                str(args.master_port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    """Run one load process until its duration ends or it is told to stop."""
    parser = argparse.ArgumentParser(prog="chaosdrill-load")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--role", choices=["local", "master", "worker"], default="local")
    parser.add_argument("--master-port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    spec = LoadSpec.from_file(args.run_dir / "spec.json")
    ctx = _context(args.run_dir, spec)
    user = make_user_class(ctx)
    env = Environment(user_classes=[user], host=args.url, events=events)
    workers: list[subprocess.Popen[bytes]] = []
    runner: LocalRunner | MasterRunner | WorkerRunner
    if args.role == "worker":
        runner = env.create_worker_runner("127.0.0.1", args.master_port)
    elif args.role == "master":
        runner = env.create_master_runner("127.0.0.1", args.master_port)
        workers = _spawn_workers(args, spec.workers)
    else:
        runner = env.create_local_runner()
    flusher = gevent.spawn(_flusher, ctx)

    def stop(*_: object) -> None:
        gevent.spawn(runner.quit)

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    try:
        if args.role != "worker":
            if isinstance(runner, MasterRunner):
                deadline = time.monotonic() + WORKER_WAIT_S
                while runner.worker_count < spec.workers and time.monotonic() < deadline:
                    gevent.sleep(0.1)
                if runner.worker_count < spec.workers:
                    print(
                        f"only {runner.worker_count} of {spec.workers} workers joined",
                        file=sys.stderr,
                    )
                    return 3
            runner.start(spec.users, spawn_rate=max(spec.users, 1))
            _mark(args.run_dir, "started.json", role=args.role, workers=spec.workers)
            gevent.spawn_later(spec.duration_s, stop)
        runner.greenlet.join()
    finally:
        flusher.kill()
        ctx.sli.close()
        ctx.ledger.close()
        for proc in workers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if args.role != "worker":
            _mark(args.run_dir, "finished.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
