"""Serve the bookshop: ``python -m bookshop --port N`` (binds 127.0.0.1 only)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from bookshop.app import BookshopServer, Settings, Shop

log = logging.getLogger("bookshop")


class OneLineFormatter(logging.Formatter):
    """Keep every log record on one line (libpq's connection errors span several)."""

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then fold the newlines."""
        return " | ".join(filter(None, super().format(record).splitlines()))


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM or SIGINT, then stop serving and close the pool."""
    parser = argparse.ArgumentParser(prog="python -m bookshop", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    replica = os.environ.get("CHAOSDRILL_REPLICA") or "bookshop"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OneLineFormatter(f"bookshop {replica}: %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    log.setLevel(logging.INFO)  # our own lines; libraries stay at WARNING
    conninfo = os.environ.get("DATABASE_URL")
    if not conninfo:
        log.error("DATABASE_URL is not set")
        return 2
    password_file = os.environ.get("REDIS_PASSWORD_FILE")
    try:
        password = Path(password_file).read_text().strip() if password_file else None
    except OSError as exc:
        log.error("cannot read REDIS_PASSWORD_FILE: %s", exc.strerror)
        return 2
    settings = Settings.load(os.environ.get("CHAOSDRILL_REVISION_FILE"))
    shop = Shop(
        conninfo,
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        password,
        replica,
        settings,
    )
    try:
        server = BookshopServer(("127.0.0.1", args.port), shop)
    except OSError as exc:
        log.error("cannot listen on 127.0.0.1:%d: %s", args.port, exc.strerror)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    shop.open()
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info(
        "listening on 127.0.0.1:%d (version %s, revision %s)",
        args.port,
        settings.version,
        settings.revision,
    )
    while not stop.wait(1.0):
        pass
    log.info("stopping")
    server.shutdown()  # stop accepting, close the socket, give requests in flight 2 s
    server.server_close()
    if not server.drain(timeout=2.0):
        log.warning("requests still in flight after 2 s; closing anyway")
    shop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
