"""The pager's HTTP side: ``POST /webhook`` (Alertmanager), ``GET /pages``, ``GET /health``."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chaosdrill.pager.store import PagerStore, PayloadError

__all__ = ["create_app", "main"]


def create_app(db: Path) -> Starlette:
    """The pager ASGI app storing into ``db``."""
    store = PagerStore(db)

    async def webhook(request: Request) -> JSONResponse:
        received = time.monotonic()
        try:
            payload = json.loads(await request.body())
            count = store.record(payload, received_monotonic=received)
        except (json.JSONDecodeError, PayloadError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"stored": count})

    async def pages(request: Request) -> JSONResponse:
        name = request.query_params.get("alertname")
        return JSONResponse([asdict(p) for p in store.pages(alertname=name)])

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/pages", pages),
            Route("/health", health),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Run the pager under uvicorn: ``python -m chaosdrill.pager.server --port P --db F``."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="chaosdrill-pager")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.db), host=args.host, port=args.port, access_log=False, log_level="warning"
    )


if __name__ == "__main__":
    main()
