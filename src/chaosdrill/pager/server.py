"""The pager's HTTP side: ``POST /webhook`` (Alertmanager), ``GET /pages``, ``GET /health``.

Only Alertmanager may page: ``POST /webhook`` needs ``Authorization: Bearer <token>``, the
environment's generated pager token (a 0600 file that Alertmanager's webhook configuration
names as its ``credentials_file``), compared in constant time; anything else is 401 and
nothing is stored. A body over :data:`MAX_BODY_BYTES` is 413, one that is not an
Alertmanager payload of version 4 is 400. The token is never logged nor echoed.
"""

from __future__ import annotations

import argparse
import hmac
import json
import time
from dataclasses import asdict
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chaosdrill.pager.store import PagerStore, PayloadError

__all__ = ["MAX_BODY_BYTES", "create_app", "main", "read_token"]

MAX_BODY_BYTES = 1 << 20
"""The largest webhook body the pager reads (1 MiB)."""


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The request's body, refused (``_TooLarge``) past the limit, declared or streamed."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _TooLarge
    return bytes(body)


def _authorized(request: Request, expected: bytes) -> bool:
    given = request.headers.get("authorization", "").encode("latin-1")
    return hmac.compare_digest(given, expected)


def create_app(db: Path, token: str) -> Starlette:
    """The pager ASGI app storing into ``db``; pages must carry ``token`` as a bearer token."""
    if not token.strip():
        raise ValueError("the pager needs a non-empty token")
    store = PagerStore(db)
    expected = f"Bearer {token.strip()}".encode()

    async def webhook(request: Request) -> JSONResponse:
        received = time.monotonic()
        if not _authorized(request, expected):
            return JSONResponse(
                {"error": "a page needs the pager's bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            payload = json.loads(await _body(request))
            count = store.record(payload, received_monotonic=received)
        except _TooLarge:
            return JSONResponse({"error": f"body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        except (ValueError, PayloadError) as exc:  # JSONDecodeError and UnicodeDecodeError too
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


def read_token(path: Path) -> str:
    """The pager token kept in ``path``."""
    return path.read_text().strip()


def main(argv: list[str] | None = None) -> None:
    """Run the pager: ``python -m chaosdrill.pager.server --port P --db F --token-file T``."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="chaosdrill-pager")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.db, token=read_token(args.token_file)),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
