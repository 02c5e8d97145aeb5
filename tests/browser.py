"""Open a local HTML file in Debian's headless Chromium and collect what a test checks.

Playwright drives /usr/bin/chromium (Playwright's own browser builds are never downloaded):
a fresh profile directory per visit, every request the page makes recorded (and any request
off the machine refused), console errors and uncaught exceptions collected, a full-page
screenshot taken, and a JavaScript expression evaluated on the loaded page.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> Path:
    """Debian's Chromium; skip the test when it is missing, except under CI=true (fail)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    why = f"{CHROMIUM} is missing (apt-get install chromium; scripts/bootstrap.sh installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; CI must run the browser tests")
    pytest.skip(why)


@dataclass
class Visit:
    """What happened when a page was opened."""

    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    value: Any = None

    @property
    def network_requests(self) -> list[str]:
        """Requests that would leave the machine (anything but the file itself)."""
        return [u for u in self.requests if not u.startswith(("file:", "data:", "blob:", "about:"))]


def open_file(
    path: Path,
    *,
    ready: str = "() => document.readyState === 'complete'",
    evaluate: str = "() => null",
    timeout_s: float = 20.0,
    width: int = 1280,
    height: int = 900,
) -> Visit:
    """Open ``path`` in headless Chromium, wait for ``ready``, then evaluate ``evaluate``.

    Args:
        path: the HTML file.
        ready: a JavaScript function returning truthy when the page is ready.
        evaluate: a JavaScript function whose JSON-able result becomes ``Visit.value``.
        timeout_s: for loading and for ``ready``.
        width, height: the viewport (the screenshot covers the full page).
    """
    from playwright.sync_api import Route, sync_playwright

    chromium = require_chromium()
    visit = Visit(url=path.resolve().as_uri())

    def refuse_network(route: Route) -> None:
        if route.request.url.startswith(("http:", "https:", "ws:", "wss:")):
            route.abort()
        else:
            route.continue_()

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": width, "height": height},
            timeout=timeout_s * 1000,
        )
        try:
            context.on("request", lambda r: visit.requests.append(r.url))
            context.route("**/*", refuse_network)
            page = context.pages[0] if context.pages else context.new_page()
            page.on("websocket", lambda ws: visit.requests.append(ws.url))
            page.on(
                "console",
                lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: visit.page_errors.append(str(e)))
            page.goto(visit.url, wait_until="load", timeout=timeout_s * 1000)
            page.wait_for_function(ready, timeout=timeout_s * 1000)
            visit.value = page.evaluate(evaluate)
            visit.screenshot = page.screenshot(full_page=True, type="png")
        finally:
            context.close()
    return visit


def distinct_colours(png: bytes, limit: int = 4096) -> tuple[int, bool]:
    """(number of distinct colours, capped at ``limit``; whether every pixel is white)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGB")
        colours = rgb.getcolors(maxcolors=limit)
        count = limit if colours is None else len(colours)
        lo = min(band[0] for band in rgb.getextrema())  # type: ignore[index]
    return count, lo >= 255
