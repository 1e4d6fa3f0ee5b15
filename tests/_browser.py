"""Headless Chromium for the tests that need a real browser, driven by Playwright.

Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it with apt-get) is driven
with the ``playwright`` package (the ``test`` extra). Playwright's own browser builds are never
used (``playwright install`` downloads them, and downloads cannot be fetched here): every
launch passes ``executable_path``. Where chromium or playwright is absent, ``chromium_missing``
says why, for ``pytest.skip``.

Import it as ``from _browser import ...`` (``tests/`` is on ``sys.path`` under pytest's
default import mode). Usage::

    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    async with chromium_page() as (page, outside):
        await page.goto("http://127.0.0.1:PORT/page.html")
        ...
    assert outside == []  # no request left loopback
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Route, WebSocket

CHROMIUM_ENV = "REALTIME_HARNESS_CHROMIUM"
"""Environment variable naming another chromium executable (default: ``chromium`` on PATH)."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Flags for a quiet headless browser that makes no request of its own."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def chromium_path() -> str | None:
    """The chromium executable to drive, or ``None`` where there is none."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_missing() -> str | None:
    """Why no browser test can run here, or ``None`` if they can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is in the test extra: pip install -e '.[test]')"
    if chromium_path() is None:
        return (
            "chromium is not installed (Debian: apt-get install chromium; .ci/run does it), "
            f"or set {CHROMIUM_ENV}"
        )
    return None


def is_loopback(url: str) -> bool:
    """Whether ``url`` stays on this machine (a loopback host, or a ``data:``/``about:`` URL)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "about", "blob"):
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


@asynccontextmanager
async def chromium_page() -> AsyncIterator[tuple[Page, list[str]]]:
    """A page in a fresh headless chromium, and the list of off-loopback URLs it tried.

    Every HTTP request to a host other than loopback is aborted and its URL appended to the
    list; so is every WebSocket the page opens elsewhere (it cannot be stopped before it
    connects, so a test must assert the list is empty).
    """
    from playwright.async_api import async_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError(chromium_missing() or "chromium is not installed")
    outside: list[str] = []

    async def guard(route: Route, request: Request) -> None:
        if is_loopback(request.url):
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort("blockedbyclient")

    def on_websocket(ws: WebSocket) -> None:
        if not is_loopback(ws.url):
            outside.append(ws.url)

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            context = await browser.new_context(service_workers="block")
            await context.route("**/*", guard)
            page = await context.new_page()
            page.on("websocket", on_websocket)
            yield page, outside
        finally:
            await browser.close()
